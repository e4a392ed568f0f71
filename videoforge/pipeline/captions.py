"""Caption cues from narration text, written as WebVTT and SubRip files."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

from ..core.text import split_sentences
from ..core.types import Cue

log = logging.getLogger(__name__)


def sentence_cues(text: str, duration: float, offset: float = 0.0) -> list[Cue]:
    """Spread `duration` seconds from `offset` over the sentences of `text` by character count.

    The cues are contiguous: the first starts at `offset`, the last ends at
    `offset + duration`. Use this when the speech engine gives no per-sentence timings.
    """
    if duration < 0:
        raise ValueError(f"duration must not be negative, got {duration}")
    sentences = split_sentences(text)
    if not sentences:
        return []
    weights = [len(s) for s in sentences]
    total = sum(weights)
    cues, done = [], 0
    for sentence, weight in zip(sentences, weights, strict=True):
        start = offset + duration * done / total
        done += weight
        cues.append(Cue(start, offset + duration * done / total, sentence))
    return cues


def normalize_cues(cues: Iterable[Cue], total: float | None = None) -> list[Cue]:
    """Return cues ordered by start, clipped to [0, total], without overlaps or empty text.

    Times are rounded to whole milliseconds (what both formats can express); a cue that
    overlaps the next one is cut at the next one's start; cues left empty are dropped.
    """
    rounded = []
    for cue in cues:
        text = " ".join(cue.text.split())
        start, end = round(cue.start * 1000), round(cue.end * 1000)
        start = max(start, 0)
        if total is not None:
            limit = round(total * 1000)
            start, end = min(start, limit), min(end, limit)
        if text and end > start:
            rounded.append((start, end, text))
    rounded.sort(key=lambda c: (c[0], c[1]))
    result = []
    for i, (start, end, text) in enumerate(rounded):
        if i + 1 < len(rounded):
            end = min(end, rounded[i + 1][0])
        if end > start:
            result.append(Cue(start / 1000, end / 1000, text))
    return result


def _timestamp(seconds: float, separator: str) -> str:
    ms = round(seconds * 1000)
    hours, ms = divmod(ms, 3_600_000)
    minutes, ms = divmod(ms, 60_000)
    secs, ms = divmod(ms, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{ms:03d}"


def vtt_timestamp(seconds: float) -> str:
    """Format seconds as a WebVTT timestamp, HH:MM:SS.mmm."""
    return _timestamp(seconds, ".")


def srt_timestamp(seconds: float) -> str:
    """Format seconds as a SubRip timestamp, HH:MM:SS,mmm."""
    return _timestamp(seconds, ",")


def _vtt_text(text: str) -> str:
    # Escaping ">" also takes care of "-->", which may not appear in cue text.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def vtt_text(cues: Iterable[Cue], total: float | None = None) -> str:
    """Return a WebVTT document for `cues` (normalised first, see `normalize_cues`)."""
    blocks = ["WEBVTT"]
    for i, cue in enumerate(normalize_cues(cues, total), start=1):
        timing = f"{vtt_timestamp(cue.start)} --> {vtt_timestamp(cue.end)}"
        blocks.append(f"{i}\n{timing}\n{_vtt_text(cue.text)}")
    return "\n\n".join(blocks) + "\n"


def srt_text(cues: Iterable[Cue], total: float | None = None) -> str:
    """Return a SubRip document for `cues` (normalised first, see `normalize_cues`)."""
    blocks = []
    for i, cue in enumerate(normalize_cues(cues, total), start=1):
        timing = f"{srt_timestamp(cue.start)} --> {srt_timestamp(cue.end)}"
        blocks.append(f"{i}\n{timing}\n{cue.text.replace('-->', '->')}")
    return "\n\n".join(blocks) + "\n" if blocks else ""


def write_vtt(cues: Iterable[Cue], path: Path, *, total: float | None = None) -> Path:
    """Write `cues` as a UTF-8 WebVTT file at `path` and return the path."""
    path = Path(path)
    path.write_text(vtt_text(cues, total), encoding="utf-8")
    return path


def write_srt(cues: Iterable[Cue], path: Path, *, total: float | None = None) -> Path:
    """Write `cues` as a UTF-8 SubRip file at `path` and return the path."""
    path = Path(path)
    path.write_text(srt_text(cues, total), encoding="utf-8")
    return path
