"""Helpers shared by the resources: reading JSON bodies and query parameters."""

from __future__ import annotations

import json
from typing import Any

import falcon

from ..core.errors import InvalidRequest, PayloadTooLarge, UnsupportedMediaType


def read_json(req: falcon.Request, max_bytes: int) -> Any:
    """Read and decode a JSON body of at most max_bytes; 415 unless it says JSON, 413, 400."""
    check_json_content_type(req.content_type)
    length = req.content_length
    if length is not None and length > max_bytes:
        raise PayloadTooLarge(f"the request body is larger than {max_bytes} bytes")
    raw = req.bounded_stream.read(max_bytes + 1)
    if len(raw) > max_bytes:
        raise PayloadTooLarge(f"the request body is larger than {max_bytes} bytes")
    if not raw.strip():
        raise InvalidRequest("the request body is empty; send a JSON object")
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
        # "\ud800" is valid JSON but no text: it could never be stored or sent back.
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeError:
        raise InvalidRequest(
            "the request body is not valid UTF-8 text (lone surrogates are not allowed)"
        ) from None
    except (ValueError, RecursionError) as exc:
        raise InvalidRequest(f"the request body is not valid JSON: {exc}") from None
    return data


def check_json_content_type(content_type: str | None) -> None:
    """Refuse (415) a body not labelled application/json, in UTF-8 if a charset is named.

    A cross-site form or a ``fetch`` without a CORS preflight can send only text/plain,
    form-urlencoded or multipart bodies, so insisting on JSON keeps other web pages from
    queueing runs in a visitor's name.
    """
    media_type, *params = (content_type or "").split(";")
    media_type = media_type.strip().lower()
    if media_type != "application/json":
        shown = f"{media_type!r}" if media_type else "none"
        raise UnsupportedMediaType(
            f"the request body must be JSON sent with 'Content-Type: application/json'"
            f" (got {shown[:100]}); with curl, add -H 'Content-Type: application/json'"
        )
    for param in params:
        name, _, value = param.partition("=")
        charset = value.strip().strip('"').lower()
        if name.strip().lower() == "charset" and charset not in ("utf-8", "utf8"):
            raise UnsupportedMediaType(
                f"the request body must be UTF-8 JSON (got charset {charset[:40]!r})"
            )


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in JSON")


def int_param(req: falcon.Request, name: str, default: int, lo: int, hi: int) -> int:
    """Read a whole-number query parameter from lo to hi; 400 otherwise."""
    raw = req.get_param(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidRequest(f"query parameter {name!r} must be a whole number") from None
    if not lo <= value <= hi:
        raise InvalidRequest(f"query parameter {name!r} must be from {lo} to {hi}")
    return value
