"""The providers' small interfaces: a voice, a source of pictures, a language model.

Each has real backends beside it (Piper and OpenAI speech, the image sources, the
OpenAI-compatible chat model); the pipeline sees only these protocols.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from ..core.types import FoundImage, Size, Slide, Usage


class SpeechProvider(Protocol):
    """A voice that turns text into a WAV file."""

    name: str

    def voice_id(self) -> str:
        """Return a stable id of the voice, used in cache keys (e.g. "piper:en_US-joe-medium")."""
        ...

    def supports(self, language: str) -> bool:
        """Return whether the voice speaks the request's language."""
        ...

    def synthesize(
        self,
        text: str,
        out_wav: Path,
        *,
        should_stop: Callable[[], bool] | None = None,
        say: Callable[[str], str] | None = None,
    ) -> float:
        """Write the spoken text to out_wav and return the WAV's real duration in seconds.

        `should_stop` is asked between pieces of speech; when it says so, the voice stops and
        raises `Stopped` (the run was cancelled or the worker is stopping). `say` turns each
        written sentence or piece into what the voice reads (the speech normalisation).
        """
        ...


class ImageSource(Protocol):
    """Somewhere pictures come from, tried in the order the settings give."""

    name: str

    def find(self, query: str, *, workdir: Path, size: Size) -> FoundImage | None:
        """Return a picture for the query saved under workdir, or None when there is none."""
        ...


class TextModel(Protocol):
    """A language model that writes slide decks and their narration."""

    name: str

    def write_deck(
        self, *, topic: str, num_slides: int, language: str, tone: str, usage: Usage
    ) -> list[Slide]:
        """Return num_slides slides about topic, numbered from 1, each with narration."""
        ...

    def write_narration(
        self, slides: list[Slide], *, topic: str, language: str, tone: str, usage: Usage
    ) -> list[Slide]:
        """Return the slides with narration written for those without their own.

        Slides with no narration, or only the one made from their title and bullets, get a
        written one; titles, bullets, images and animations are kept.
        """
        ...
