"""Caption cues from narration text, written as WebVTT and SubRip files."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from pathlib import Path

from videoforge.pipeline.model import Cue

log = logging.getLogger(__name__)

# Abbreviations after which a full stop never ends a sentence ("Dr. Smith", "e.g. Python").
NEVER_FINAL = frozenset(
    "mr mrs ms dr prof sr jr st mt rev gen col capt lt sgt hon fr e.g i.e cf vs viz approx ca".split()
)
# Abbreviations that end a sentence only when a capitalised word follows ("... etc. The"),
# not before a number or a lower-case word ("Fig. 3", "5 p.m. sharp").
SOMETIMES_FINAL = frozenset(
    """etc al inc ltd co corp jan feb mar apr jun jul aug sep sept oct nov dec a.m p.m u.s u.k
    fig figs eq eqs no nos vol vols pp p ch sec art ed eds""".split()
)

# A run of terminal punctuation, optional closing quotes/brackets, then whitespace.
_BOUNDARY = re.compile(r"([.!?\u2026]+)([\"'\u201d\u2019)\]]*)(\s+)")
_WORD_BEFORE = re.compile(r"([^\s\"'(\[\u201c\u2018]*)$")
_PARAGRAPH = re.compile(r"\n\s*\n")


def _is_boundary(text: str, match: re.Match[str]) -> bool:
    """Decide whether the punctuation in `match` ends a sentence."""
    punct = match.group(1)
    rest = text[match.end() :]
    following = rest.lstrip("\"'\u201c\u2018([")[:1]
    if following and following.islower():
        return False  # "why?" she asked / "and so on... and on"
    if "?" in punct or "!" in punct:
        return True
    if punct not in (".",):  # an ellipsis ends a sentence only before a capital or digit
        return bool(following) and (following.isupper() or following.isdigit())
    word = _WORD_BEFORE.search(text[: match.start()]).group(1).lower()
    if word in NEVER_FINAL:
        return False
    if word in SOMETIMES_FINAL:
        return bool(following) and following.isupper()
    if len(word) == 1 and word.isalpha():
        return False  # an initial: "J. R. R. Tolkien"
    if re.fullmatch(r"(?:[a-z]\.)+[a-z]", word):
        return bool(following) and following.isupper()  # "U.S.A." style
    return True


def split_sentences(text: str) -> list[str]:
    """Split narration text into sentences, whitespace collapsed, empty pieces dropped.

    Full stops inside numbers ("3.5") and after common abbreviations ("e.g.", "Dr.") and
    initials do not split; "?" and "!" do; an ellipsis splits only before a capital letter.
    Blank lines always end a sentence.
    """
    sentences: list[str] = []
    for paragraph in _PARAGRAPH.split(text):
        start = 0
        for match in _BOUNDARY.finditer(paragraph):
            if _is_boundary(paragraph, match):
                sentences.append(paragraph[start : match.end(2)])
                start = match.end()
        sentences.append(paragraph[start:])
    return [s for s in (" ".join(piece.split()) for piece in sentences) if s]


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
