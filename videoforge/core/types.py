"""The plain types every floor shares: slides, sizes, segments, runs, events, usage.

Dataclasses only, with no I/O: the store builds runs and events from rows, the pipeline
passes slides, narrations and segments between its stages, the renderer draws slides at a
size, and the providers return found images and count usage.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol


@dataclass(frozen=True)
class Slide:
    """One slide of content, as written by a model or parsed from an outline or document."""

    slide_number: int
    title: str
    bullets: tuple[str, ...] = ()
    narration: str = ""
    image: str | None = None  # an image keyword or library file name (visuals issue)
    animation: dict | None = None  # a declarative animation description (visuals issue)
    kind: str = "content"  # "content", or the deck's "title" or "closing" slide
    subtitle: str = ""  # a title slide's second line
    pronunciations: dict[str, str] | None = None  # written word -> how the voice says it
    deck_slide: int = 0  # its number in an uploaded deck (and its page of the PDF shown)
    picture: str = ""  # a picture from an uploaded deck, a file in the run folder

    @property
    def content_text(self) -> str:
        return "\n".join(f"• {b}" for b in self.bullets)


@dataclass(frozen=True)
class PagesFile:
    """The PDF whose pages an uploaded deck's slides show, and a key naming its content."""

    path: Path
    key: str  # the same for the same pages (cache keys of the drawn pages start from it)


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
    """Colours for a slide, and a logo for its title slide; `core.themes` names the choices.

    Every colour but the background may be drawn as text (the accent labels some animations),
    so each keeps at least the WCAG AA contrast of 4.5:1 against the background.
    """

    background: tuple[int, int, int] = (17, 24, 39)
    accent: tuple[int, int, int] = (56, 189, 248)
    title: tuple[int, int, int] = (248, 250, 252)
    text: tuple[int, int, int] = (226, 232, 240)
    muted: tuple[int, int, int] = (148, 163, 184)
    name: str = "dark"
    logo: str | None = None  # a picture file drawn on the title and closing slides
    brand: str = ""  # the deployment's name, written on the title slide


DEFAULT_THEME = Theme()


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


# --- runs and their events ----------------------------------------------------------------------

ACTIVE = ("queued", "running")  # a run's status while it may still produce events
FINISHED = ("completed", "error", "cancelled")
TERMINAL_EVENTS = ("completed", "error")  # the event statuses that end a stream


@dataclass(frozen=True)
class Run:
    """One request to make a generation's video, from queued to how it ended."""

    id: int
    generation_id: str
    status: str  # "queued", "running", "completed", "error" or "cancelled"
    request: dict[str, Any]
    attempts: int
    worker_id: str | None
    lease_expires_at: float | None
    created_at: float
    started_at: float | None
    finished_at: float | None
    error: str | None
    result: dict[str, Any] | None
    usage: dict[str, Any] | None = None
    pruned_at: float | None = None  # when the retention policy removed its files

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @property
    def attempt_folder(self) -> Path:
        """Return this attempt's folder, relative to the runs folder: ``{run id}/{attempt}``."""
        return Path(str(self.id), str(self.attempts))

    @property
    def video_name(self) -> str:
        """Return the file name of this attempt's MP4: ``{generation id}-{run id}-a{attempt}.mp4``.

        The ``a`` keeps the name unambiguous: generation ids may end in ``-`` and digits, and
        runs before attempts had names were ``{generation id}-{run id}.mp4``.
        """
        return f"{self.generation_id}-{self.id}-a{self.attempts}.mp4"


# The files of a run's folder that the web serves and the pipeline writes (besides the
# content, script and captions): the deck to edit, its exports, and the slide stills.
DECK_FILE = "deck.json"
PPTX_FILE = "deck.pptx"
PDF_FILE = "deck.pdf"
STILLS_FOLDER = "slides"


def still_name(number: int) -> str:
    """Return the file name of slide `number`'s still (1-based) in the run's `slides/` folder."""
    return f"{number:02d}.png"


@dataclass(frozen=True)
class Event:
    """One progress event of a run, as the stream sends it."""

    id: int
    run_id: int
    status: str
    progress: int
    message: str
    created_at: float

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL_EVENTS


# --- the seam between the worker and the pipeline ----------------------------------------------


class Report(Protocol):
    """Records a progress event of the running run; raises when the run must stop."""

    usage: Usage

    def __call__(self, status: str, progress: int, message: str) -> None: ...

    def should_stop(self) -> bool:
        """Tell whether the run must stop now (cancelled, taken over, worker stopping); writes nothing.

        Cheap enough to poll every fraction of a second: long steps (speech, ffmpeg) call it
        and raise `Stopped` when it turns true.
        """
        ...


class Pipeline(Protocol):
    """Makes a run's video: ``run(run, report, workdir)`` returns the result to store."""

    def run(self, run: Run, report: Report, workdir: Path) -> dict[str, Any]: ...
