"""Helpers shared by the resources: reading JSON bodies and query parameters."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import falcon

from ..core.decks import DeckFile
from ..core.errors import Forbidden, InvalidRequest, PayloadTooLarge, UnsupportedMediaType

if TYPE_CHECKING:
    from ..store.uploads import Uploads

# Form fields of a deck upload whose values are JSON (numbers, booleans, lists); others are text.
JSON_FIELDS = ("num_slides", "fps", "title_slide", "burn_captions", "narrations", "skip")


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


@dataclass(frozen=True)
class DeckForm:
    """The rules of a multipart deck upload: its sizes, and the origins that may send one."""

    max_deck_bytes: int
    max_field_bytes: int
    origins: tuple[str, ...] = ()  # VIDEOFORGE_CORS_ORIGINS: other sites' pages allowed


def is_multipart(req: falcon.Request) -> bool:
    return (req.content_type or "").split(";")[0].strip().lower() == "multipart/form-data"


def check_origin(req: falcon.Request, origins: tuple[str, ...]) -> None:
    """Refuse (403) a form another site's page sends in a visitor's browser.

    A multipart body needs no CORS preflight, so a browser would send one from any page;
    it names that page's origin, which must be this service's own or an allowed one.
    Clients such as curl send no Origin and are not affected.
    """
    origin = req.get_header("Origin")
    if origin is None or "*" in origins or origin in origins:
        return
    host = (req.get_header("Host") or "").lower()
    if origin == "null" or urlsplit(origin).netloc.lower() != host:
        raise Forbidden(
            f"a deck upload from a page of another site ({origin[:100]}) is refused; add"
            " that origin to VIDEOFORGE_CORS_ORIGINS to allow it"
        )


def read_deck_form(
    req: falcon.Request,
    uploads: Uploads,
    form: DeckForm,
    refused: Callable[[DeckFile, bool], None],
) -> tuple[dict[str, Any], DeckFile, bool]:
    """Read a multipart deck upload: store its `deck` file, return its fields as a request body.

    Fields are text; those that are numbers, booleans or lists (JSON_FIELDS) are JSON, such
    as `fps=30`, `title_slide=true` or `narrations=["First slide.", null]`. Returns the
    body, the stored deck and whether its file is new; a form refused after its deck was
    stored hands the deck to `refused` first.
    """
    check_origin(req, form.origins)
    limit = form.max_deck_bytes + form.max_field_bytes
    if req.content_length is not None and req.content_length > limit:
        raise PayloadTooLarge(
            f"the request body is larger than {limit:,} bytes: the deck may have"
            f" {form.max_deck_bytes:,} (VIDEOFORGE_DECK_MAX_MB)"
        )
    fields: dict[str, Any] = {}
    deck: DeckFile | None = None
    new = False
    text_bytes = 0
    try:
        for part in req.get_media():
            name = part.name or ""
            if name == "deck":
                if deck is not None:
                    raise InvalidRequest("send one 'deck' file")
                deck, new = uploads.save(part.stream.read, part.filename, form.max_deck_bytes)
                continue
            if name in fields:
                raise InvalidRequest(f"the form field {name!r} is given twice")
            raw = part.stream.read(form.max_field_bytes + 1)
            text_bytes += len(raw)
            if text_bytes > form.max_field_bytes:
                raise PayloadTooLarge(
                    f"the form's fields are larger than {form.max_field_bytes:,} bytes"
                )
            try:
                text = raw.decode("utf-8")
            except UnicodeError:
                raise InvalidRequest(f"the form field {name!r} is not UTF-8 text") from None
            fields[name] = _field_value(name, text)
        if deck is None:
            raise InvalidRequest(
                "a multipart/form-data request carries a deck: a 'deck' file (PDF or PPTX);"
                " send outlines, documents and topics as JSON"
            )
    except BaseException:
        if deck is not None:
            refused(deck, new)
        raise
    return fields, deck, new


def _field_value(name: str, text: str) -> Any:
    if name not in JSON_FIELDS:
        return text
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise InvalidRequest(
            f"the form field {name!r} must be JSON (a number, true/false or a list), got"
            f" {text[:60]!r}"
        ) from None
