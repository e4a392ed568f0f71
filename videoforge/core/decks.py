"""Uploaded decks: the kinds a request may send, told apart by their bytes, and their fields.

A deck (a PDF or a PowerPoint file) arrives as the `deck` part of a multipart POST. The web
process only stores it and reads its first bytes to tell a PDF from a zip; the worker opens
it (`pipeline.uploaded`), because a hostile file must never cost the web process anything.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from .errors import InvalidRequest

PPTX_TYPE = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
DECK_KINDS = {"pdf": "application/pdf", "pptx": PPTX_TYPE}
SNIFF_BYTES = 1024  # a PDF's "%PDF-" may come after some junk, within its first 1,024 bytes
MAX_NAME = 200
MAX_LISTED = 1000  # entries of `narrations` or `skip`
_STORED = re.compile(r"^[0-9a-f]{64}\.(pdf|pptx)$")


def run_copy(kind: str) -> str:
    """Name the copy of a run's uploaded deck the worker puts in the attempt's folder."""
    return f".deck.{kind}"  # a dot file: never uploaded with the run's files


def sniff_deck(head: bytes) -> str | None:
    """Return "pdf" or "pptx" from a file's first bytes (not its name), None for anything else.

    A zip is taken for a PPTX here; the worker checks it holds a presentation.
    """
    if b"%PDF-" in head[:SNIFF_BYTES]:
        return "pdf"
    if head.startswith(b"PK\x03\x04"):
        return "pptx"
    return None


@dataclass(frozen=True)
class DeckFile:
    """An uploaded deck as stored: its file under `uploads/`, kind, original name and size."""

    file: str  # "{sha256}.{kind}", in the data directory's uploads/ (and the bucket's)
    kind: str  # "pdf" or "pptx"
    name: str  # the name the client gave it, shown and used for a topic
    bytes: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DeckFile:
        deck = cls(**data)
        if not _STORED.fullmatch(deck.file) or deck.kind not in DECK_KINDS:
            raise ValueError(f"not a stored deck: {deck.file!r}")
        return deck

    @property
    def digest(self) -> str:
        """Return the deck's SHA-256, which its stored name is made of."""
        return self.file.partition(".")[0]

    @property
    def topic(self) -> str:
        """Return a topic made from the file's name ("intro_to-cells.pdf" -> "intro to cells")."""
        stem = self.name.rsplit(".", 1)[0] if "." in self.name else self.name
        words = " ".join(re.sub(r"[_\-.]+", " ", stem).split())[:MAX_NAME]
        return words if any(ch.isalnum() for ch in words) else "Deck"


def clean_name(name: str | None) -> str:
    """Return a client's file name without folders or control characters, at most 200 chars."""
    base = re.split(r"[/\\]", name or "")[-1]
    return "".join(ch for ch in base if ch.isprintable()).strip()[:MAX_NAME]


def parse_narrations(value: Any, max_slide: int) -> tuple[str, ...]:
    """Validate `narrations`: one entry per deck slide, in order; null or "" leaves one to the deck."""
    if not isinstance(value, list) or len(value) > MAX_LISTED:
        raise InvalidRequest(
            f"'narrations' must be a list (one entry per deck slide, at most {MAX_LISTED})"
        )
    said = []
    for i, text in enumerate(value, start=1):
        if text is None:
            text = ""
        if not isinstance(text, str):
            raise InvalidRequest(f"'narrations' entry {i} must be a string or null")
        text = " ".join(text.split())
        if len(text) > max_slide:
            raise InvalidRequest(
                f"'narrations' entry {i} is {len(text)} characters; at most {max_slide} a slide"
            )
        said.append(text)
    return tuple(said)


def parse_skip(value: Any) -> tuple[int, ...]:
    """Validate `skip`: the deck's slide numbers (from 1) to leave out of the video."""
    if not isinstance(value, list) or len(value) > MAX_LISTED:
        raise InvalidRequest(f"'skip' must be a list of slide numbers (at most {MAX_LISTED})")
    for number in value:
        if isinstance(number, bool) or not isinstance(number, int) or number < 1:
            raise InvalidRequest("'skip' lists the deck's slide numbers, counted from 1")
    return tuple(sorted(set(value)))
