"""Dataclasses the pipeline stages pass between them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Slide:
    """One slide of content, as written by a model or parsed from an outline or document."""

    slide_number: int
    title: str
    bullets: tuple[str, ...] = ()
    narration: str = ""
    image: str | None = None  # an image keyword or library file name (visuals issue)
    animation: dict | None = None  # a declarative animation description (visuals issue)

    @property
    def content_text(self) -> str:
        return "\n".join(f"• {b}" for b in self.bullets)


@dataclass(frozen=True)
class Cue:
    """One caption cue: a sentence and when it is spoken, in seconds from the video start."""

    start: float
    end: float
    text: str


@dataclass(frozen=True)
class Narration:
    """A slide's synthesized speech: the WAV file, its measured length and its sentence cues."""

    slide_number: int
    wav: Path
    duration: float  # seconds of speech in the file
    cues: tuple[Cue, ...] = ()  # times relative to the start of this slide's audio


@dataclass(frozen=True)
class Segment:
    """One slide on screen: its still image (or clip) from start for duration seconds."""

    slide_number: int
    title: str
    image: Path
    start: float
    duration: float
    clip: Path | None = None  # an animation clip to show instead of the still (visuals issue)

    @property
    def end(self) -> float:
        return self.start + self.duration


@dataclass(frozen=True)
class Size:
    width: int
    height: int

    @classmethod
    def parse(cls, text: str) -> Size:
        w, _, h = text.lower().partition("x")
        return cls(int(w), int(h))

    def __str__(self) -> str:
        return f"{self.width}x{self.height}"


SUPPORTED_SIZES = (Size(1920, 1080), Size(1280, 720), Size(1080, 1920), Size(1080, 1080))


@dataclass(frozen=True)
class Theme:
    """Colours for a slide; fonts come from the package's fonts/ folder."""

    background: tuple[int, int, int] = (17, 24, 39)
    accent: tuple[int, int, int] = (56, 189, 248)
    title: tuple[int, int, int] = (248, 250, 252)
    text: tuple[int, int, int] = (226, 232, 240)
    muted: tuple[int, int, int] = (148, 163, 184)
    name: str = "midnight"


DEFAULT_THEME = Theme()


@dataclass
class Timings:
    """Collected timing facts of a run, for the status endpoint and benchmarks."""

    stages: dict[str, float] = field(default_factory=dict)
