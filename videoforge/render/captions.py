"""Burned-in captions: a sentence drawn over the bottom of a frame, on a dark band.

For feeds that play videos muted. The text is white on a band of black at CAPTION_BAND_OPACITY
over whatever the frame shows, so it keeps AA contrast even over a white picture; it sits in
the lower part of the safe area, centred, in at most MAX_LINES lines (smaller type, then an
ellipsis, for a long sentence). `with_captions` lays captions over an animation's (or a
still's) frames at the times their sentences are spoken.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from PIL import Image, ImageDraw

from ..core.themes import CAPTION_BAND, CAPTION_BAND_OPACITY, CAPTION_TEXT
from .text import (
    ELLIPSIS,
    REGULAR_FONT,
    Box,
    draw_text,
    ellipsize,
    ink_box,
    line_height,
    load_font,
    paragraphs,
    wrap_words,
)

SAFE_MARGIN = 0.05
MAX_LINES = 3
_SIZES = (0.042, 0.036, 0.03)  # of the shorter side, tried in turn
_PADDING = 0.4  # around the text inside its band, of the font size
_LINE_SPACING = 1.15
_ABOVE_NUMBER = 0.04  # of the shorter side: room for the slide number under the band


@dataclass(frozen=True)
class CaptionLayout:
    """Where a caption goes: its band and its lines (text, left/ascender point) at a size."""

    band: Box
    lines: tuple[tuple[str, tuple[int, int]], ...]
    size: int


@functools.lru_cache(maxsize=256)
def layout_caption(width: int, height: int, text: str) -> CaptionLayout | None:
    """Lay a caption out at the bottom of the safe area of a width x height frame (None if empty)."""
    words = " ".join(paragraphs(text))
    if not words:
        return None
    unit = min(width, height)
    left, right = round(width * SAFE_MARGIN), width - round(width * SAFE_MARGIN)
    bottom = height - round(height * SAFE_MARGIN) - round(unit * _ABOVE_NUMBER)
    for i, share in enumerate(_SIZES):
        size = max(8, round(unit * share))
        font = load_font(REGULAR_FONT, size)
        pad = round(size * _PADDING)
        room = right - left - 2 * pad
        lines = list(wrap_words(font, words, room))
        last = i == len(_SIZES) - 1
        if len(lines) > MAX_LINES:
            if not last:
                continue
            lines = lines[:MAX_LINES]
            lines[-1] = ellipsize(font, lines[-1] + " " + ELLIPSIS, room)
        pitch = round(line_height(font) * _LINE_SPACING)
        text_height = pitch * (len(lines) - 1) + line_height(font)
        top = bottom - text_height - 2 * pad
        placed = []
        for n, line in enumerate(lines):
            ink = ink_box(font, line)
            x = (left + right - (ink[2] - ink[0])) // 2 - ink[0]
            placed.append((line, (x, top + pad + n * pitch)))
        band_left = min(x + ink_box(font, line)[0] for line, (x, _) in placed) - pad
        band_right = max(x + ink_box(font, line)[2] for line, (x, _) in placed) + pad
        band = (max(left, band_left), top, min(right, band_right), bottom)
        return CaptionLayout(band, tuple(placed), size)
    return None


def draw_caption(image: Image.Image, text: str) -> Image.Image:
    """Return a copy of an RGB frame with the caption drawn over its bottom."""
    layout = layout_caption(image.width, image.height, text)
    frame = image.convert("RGB") if image.mode != "RGB" else image.copy()
    if layout is None:
        return frame
    x0, y0, x1, y1 = layout.band
    band = frame.crop(layout.band)
    shade = Image.new("RGB", band.size, CAPTION_BAND)
    frame.paste(Image.blend(band, shade, CAPTION_BAND_OPACITY), (x0, y0))
    draw = ImageDraw.Draw(frame)
    font = load_font(REGULAR_FONT, layout.size)
    for line, xy in layout.lines:
        draw_text(draw, xy, line, CAPTION_TEXT, font)
    return frame


def with_captions(
    frames: Iterable[tuple[Image.Image, float]],
    captions: Sequence[tuple[float, float, str]],
) -> Iterator[tuple[Image.Image, float]]:
    """Lay captions over frames that each last some seconds; yield the frames cut at caption changes.

    captions are (start, end, text) in seconds from the first frame; a caption stays until the
    next one starts (or its own end, for the last), so the text does not flicker between sentences.
    """
    shown = _spans(captions)
    t = 0.0
    for image, seconds in frames:
        end = t + seconds
        cuts = sorted({t, end, *(c for a, b, _ in shown for c in (a, b) if t < c < end)})
        for a, b in zip(cuts, cuts[1:], strict=False):
            text = next((s for start, stop, s in shown if start <= a < stop), "")
            yield (draw_caption(image, text) if text else image), b - a
        t = end


def _spans(captions: Sequence[tuple[float, float, str]]) -> list[tuple[float, float, str]]:
    ordered = sorted(c for c in captions if c[2].strip())
    spans = []
    for i, (start, end, text) in enumerate(ordered):
        until = ordered[i + 1][0] if i + 1 < len(ordered) else end
        spans.append((start, max(until, start), text))
    return spans
