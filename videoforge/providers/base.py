"""Small shared types of the providers: found images and usage counters."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from ..pipeline.model import Size


@dataclass(frozen=True)
class FoundImage:
    """A picture ready for a slide: a local file already decoded and checked with Pillow."""

    path: Path
    source: str  # "library", "openverse", "wikimedia", "unsplash", "pexels", "openai"
    title: str = ""
    author: str | None = None
    license: str | None = None  # e.g. "CC BY-SA 4.0", "Unsplash License", "generated"
    license_url: str | None = None
    source_url: str | None = None  # the page a credit links to

    @property
    def attribution(self) -> str:
        """Return the one-line credit shown on the slide, e.g. '"Leaf" by Ann, CC BY 2.0 (Openverse)'."""
        parts = []
        if self.title:
            parts.append(f"“{self.title}”")
        if self.author:
            parts.append(f"by {self.author}")
        credit = " ".join(parts) or "Image"
        if self.license:
            credit += f", {self.license}"
        return f"{credit} ({self.source})"

    def credit(self) -> dict:
        """Return the credit as JSON for the content data and captions."""
        return {
            "source": self.source,
            "title": self.title,
            "author": self.author,
            "license": self.license,
            "license_url": self.license_url,
            "source_url": self.source_url,
            "attribution": self.attribution,
        }


class ImageSource(Protocol):
    """Somewhere pictures come from, tried in the order the settings give."""

    name: str

    def find(self, query: str, *, workdir: Path, size: Size) -> FoundImage | None:
        """Return a picture for the query saved under workdir, or None when there is none."""
        ...


@dataclass
class Usage:
    """What a run consumed from paid services; thread-safe counters."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    speech_characters: int = 0
    images: int = 0
    requests: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, **amounts: int) -> None:
        with self._lock:
            for name, amount in amounts.items():
                setattr(self, name, getattr(self, name) + int(amount))

    @classmethod
    def from_dict(cls, data: dict | None) -> Usage:
        """Rebuild counters stored by as_dict (ignoring derived and unknown keys)."""
        names = ("prompt_tokens", "completion_tokens", "speech_characters", "images", "requests")
        return cls(**{k: int(v) for k, v in (data or {}).items() if k in names})

    def as_dict(self) -> dict[str, int]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
            "speech_characters": self.speech_characters,
            "images": self.images,
            "requests": self.requests,
        }
