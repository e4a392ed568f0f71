"""Helpers shared by the resources: reading JSON bodies and query parameters."""

from __future__ import annotations

import json
from typing import Any

import falcon

from ..core.errors import InvalidRequest, PayloadTooLarge


def read_json(req: falcon.Request, max_bytes: int) -> Any:
    """Read and decode a JSON body of at most max_bytes; 413 past that, 400 when malformed."""
    length = req.content_length
    if length is not None and length > max_bytes:
        raise PayloadTooLarge(f"the request body is larger than {max_bytes} bytes")
    raw = req.bounded_stream.read(max_bytes + 1)
    if len(raw) > max_bytes:
        raise PayloadTooLarge(f"the request body is larger than {max_bytes} bytes")
    if not raw.strip():
        raise InvalidRequest("the request body is empty; send a JSON object")
    # The content type is not checked: `curl -d` sends form-urlencoded by default, and the
    # body is accepted whenever it is JSON.
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


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in JSON")


def int_param(req: falcon.Request, name: str, default: int, lo: int, hi: int) -> int:
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
