"""The stage table: every status of the progress contract, its progress range and its messages.

Written once here and used everywhere: the pipeline reports its milestones with `event`, the
worker and the store word the start, the end and the errors of a run with it, the stream
sends its own statuses (connected, waiting, done) from it, the test double walks it, and the
README's milestone table is generated from it (a test compares the two).
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Stage:
    """One status of the contract: where its progress lies and how its messages read."""

    status: str
    low: int  # progress when the stage starts (and of its first event)
    high: int  # progress when the stage's last item is done
    meaning: str  # the contract's description of the status
    messages: Mapping[str, str]  # a message's name -> its template (str.format fields)

    def progress(self, done: int = 0, total: int = 1) -> int:
        """Return the progress after `done` of `total` items of this stage (low for none)."""
        return self.low + (self.high - self.low) * done // max(total, 1)

    def message(self, name: str, **values: object) -> str:
        """Return the named message with its fields filled in."""
        return self.messages[name].format(**values)

    def describes(self, progress: int, message: str) -> bool:
        """Say whether an event's progress and message could come from this stage."""
        return self.low <= progress <= self.high and any(
            _pattern(template).fullmatch(message) for template in self.messages.values()
        )

    @property
    def progress_range(self) -> str:
        return str(self.low) if self.low == self.high else f"{self.low}-{self.high}"


STAGES: tuple[Stage, ...] = (
    Stage(
        "connected", 0, 0, "Initial connection established",
        {"connected": "📡 Connected to progress stream"},
    ),
    Stage(
        "waiting", 0, 0, "Waiting for generation to start",
        {"waiting": "⏳ Waiting for generation to start...", "queued": "⏳ Queued"},
    ),
    Stage(
        "started", 0, 0, "Generation has begun",
        {
            "start": "🚀 Starting generation...",
            "resume": "🔁 Resuming generation (attempt {attempt})...",
        },
    ),
    Stage(
        "generating_content", 10, 10, "Creating presentation structure",
        {
            "start": "📝 Generating presentation content...",
            "deck": "📄 Reading the uploaded deck “{file}”...",
            "read": "📄 Read {slides} of the deck's {pages} slides: {how}",
        },
    ),
    Stage(
        "generating_scripts", 20, 20, "Writing narration scripts",
        {"start": "📜 Generating voice scripts..."},
    ),
    Stage(
        "generating_audio", 30, 47, "Generating voice narration (two events per slide, one if reused)",
        {
            "slide": "🎤 Generating audio for slide {slide}/{slides}...",
            "done": "✅ Generated audio for slide {slide}/{slides} ({seconds:.1f}s)",
            "reused": "♻️ Reused audio for slide {slide}/{slides}",
        },
    ),
    Stage(
        "combining_audio", 48, 49, "Merging audio tracks",
        {"start": "🎚️ Combining audio tracks...", "done": "✅ Combined audio ({length})"},
    ),
    Stage(
        "generating_media", 50, 50, "Creating slide visuals",
        {"start": "🖼️ Creating slide visuals..."},
    ),
    Stage(
        "generating_animation", 50, 80, "Rendering animations (one event per slide)",
        {
            "done": "🎬 Rendered {kind} animation for slide {slide}/{slides}",
            "reused": "♻️ Reused {kind} animation for slide {slide}/{slides}",
        },
    ),
    Stage(
        "fetching_image", 50, 80, "Downloading images (one event per slide)",
        {
            "done": "🖼️ Fetched image for slide {slide}/{slides}: {credit}",
            "fallback": "⚠️ {note} (slide {slide}/{slides})",
            "reused": "♻️ Reused image for slide {slide}/{slides}: {credit}",
        },
    ),
    Stage(
        "generating_slide", 50, 80, "Creating text slides (one event per slide)",
        {
            "done": "🖼️ Created text slide {slide}/{slides}",
            "reused": "♻️ Reused text slide {slide}/{slides}",
            "page": "📄 Rendered page {page} of the deck as slide {slide}/{slides}",
            "page_reused": "♻️ Reused page {page} of the deck as slide {slide}/{slides}",
        },
    ),
    Stage(
        "composing_video", 85, 95, "Combining slides and audio",
        {
            "start": "🎞️ Composing final video with audio...",
            "captions": "📝 Writing captions and scripts...",
        },
    ),
    Stage(
        "completed", 100, 100, "Video generation complete",
        {"done": "✅ Video generation complete!"},
    ),
    Stage(
        "error", 0, 0, "An error occurred",
        {
            "failed": "❌ Error: {step} failed: {cause}",
            "cancelled": "❌ Error: cancelled by request",
            "gave_up": "❌ Error: the worker running this generation stopped {attempts} times;"
            " giving up",
        },
    ),
    Stage(
        "done", 100, 100, "Stream ended (final message)",
        {
            "done": "✅ Stream ended",
            "timed_out": "⌛ Stream timed out; reconnect to keep following this generation",
        },
    ),
)  # fmt: skip

STAGE: dict[str, Stage] = {stage.status: stage for stage in STAGES}


def event(
    status: str, message: str, done: int = 0, total: int = 1, **values: object
) -> tuple[str, int, str]:
    """Return (status, progress, message) of a progress event, ready for ``report(*...)``.

    ``event("generating_audio", "slide", 2, 5, slide=3, slides=5)`` is the event as the
    third of five slides' audio starts.
    """
    stage = STAGE[status]
    return status, stage.progress(done, total), stage.message(message, **values)


def _pattern(template: str) -> re.Pattern[str]:
    """Return a regular expression matching every message the template can produce."""
    parts = []
    for literal, field, _, _ in string.Formatter().parse(template):
        parts.append(re.escape(literal))
        if field is not None:
            parts.append(".+?")
    return re.compile("".join(parts), re.S)


def milestone_table() -> str:
    """Return the README's milestone table: each status, its progress and its messages."""
    rows = ["| status | progress | meaning | messages |", "| --- | --- | --- | --- |"]
    for stage in STAGES:
        messages = "<br>".join(f"`{text}`" for text in stage.messages.values())
        rows.append(f"| `{stage.status}` | {stage.progress_range} | {stage.meaning} | {messages} |")
    return "\n".join(rows) + "\n"
