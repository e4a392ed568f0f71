"""The one text engine: fonts, measuring, line breaking, ellipsis, and fitting text into boxes.

Every word on a slide or in an animation is measured, broken and cut here, so a long word, an
accented letter or an emoji sequence is treated alike everywhere:

- `wrap_words` breaks text into lines of whole words that fit a width, and a word wider than
  the width between graphemes (inside one only when a single grapheme is wider than the line);
  `ellipsize` and `ellipsize_within` cut text to fit, ending it with an ellipsis.
- `fit_paragraphs` lays paragraphs (a slide's title, its bullets) into a box at the largest
  size from a style's maximum down to its minimum that fits, each line placed by its measured
  ink; only when the minimum does not fit does it tighten the spacing, then cut.
- `common_size` answers an animation's question: the largest size at which every one of some
  labels fits its box in at most a few lines without breaking a word; `place_label` wraps one
  label into its box at a size, aligned, by nominal line metrics, and ends it with an ellipsis
  when it has more lines than the box holds.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from PIL import ImageDraw, ImageFont

from .fallback import face_font, font_runs

FONTS_DIR = Path(__file__).resolve().parent / "fonts"
REGULAR_FONT = FONTS_DIR / "DejaVuSans.ttf"
BOLD_FONT = FONTS_DIR / "DejaVuSans-Bold.ttf"

Box = tuple[int, int, int, int]  # left, top, right, bottom; right and bottom exclusive
RGB = tuple[int, int, int]

ELLIPSIS = "\u2026"
LABEL_SPACING = 1.08  # a label's line pitch, as a multiple of ascent + descent

_MAX_CHARS = 20_000  # per paragraph text: far more than fits at any slide's minimum font size
_LONG_WORD = 2_000  # characters; a word this long is broken without measuring it whole
_TIGHT_LINE_SPACING = 1.05  # line pitch and bullet gap when text does not fit at the minimum
_TIGHT_PARA_SPACING = 0.25


# --- fonts and measuring -----------------------------------------------------------------------


@functools.lru_cache(maxsize=256)
def load_font(path: Path, size: int) -> ImageFont.FreeTypeFont:
    """Return a bundled font at a size (loaded once per process and size)."""
    return ImageFont.truetype(str(path), size)


def shaping(font: ImageFont.FreeTypeFont, text: str = "") -> dict[str, str]:
    """Return the layout options of a line: right to left when its first strong letter is.

    Within a line raqm still orders runs of the other direction (an English word in Arabic).
    """
    if font.layout_engine != ImageFont.Layout.RAQM:
        return {}
    return {"direction": "rtl" if right_to_left(text) else "ltr"}


def right_to_left(text: str) -> bool:
    """Tell whether text reads right to left: its first strong letter is Arabic, Hebrew, ..."""
    for ch in text:
        kind = unicodedata.bidirectional(ch)
        if kind in ("R", "AL"):
            return True
        if kind == "L":
            return False
    return False


def _runs(font: ImageFont.FreeTypeFont, text: str) -> list[tuple[ImageFont.FreeTypeFont, str]]:
    """Return text's runs of one font each (the fallback chain), in the order they are drawn."""
    primary = str(font.path)
    runs = font_runs(primary, text, bold=primary == str(BOLD_FONT))
    if not runs or (len(runs) == 1 and runs[0][0].path == primary):
        return [(font, text)]
    fonts = [(font if face.path == primary else face_font(face, font.size), t) for face, t in runs]
    return fonts[::-1] if right_to_left(text) else fonts


def text_length(font: ImageFont.FreeTypeFont, text: str) -> float:
    """Return the advance width of text (each character in a font that has it)."""
    return sum(f.getlength(t, **shaping(f, text)) for f, t in _runs(font, text))


def ink_box(font: ImageFont.FreeTypeFont, text: str) -> Box:
    """Return the box the ink of text covers, relative to its left/ascender anchor."""
    runs = _runs(font, text)
    if len(runs) == 1 and runs[0][0] is font:
        x0, y0, x1, y1 = font.getbbox(text, anchor="la", **shaping(font, text))
        return int(x0), int(y0), int(x1), int(y1)
    baseline = font.getmetrics()[0]
    boxes, x = [], 0.0
    for f, t in runs:
        b = f.getbbox(t, anchor="ls", **shaping(f, text))
        if b[2] > b[0]:
            boxes.append((x + b[0], baseline + b[1], x + b[2], baseline + b[3]))
        x += f.getlength(t, **shaping(f, text))
    if not boxes:
        return 0, 0, 0, 0
    return (
        int(min(b[0] for b in boxes)),
        int(min(b[1] for b in boxes)),
        int(round(max(b[2] for b in boxes))),
        int(round(max(b[3] for b in boxes))),
    )


def draw_text(
    draw: ImageDraw.ImageDraw,
    xy: tuple[float, float],
    text: str,
    fill: RGB,
    font: ImageFont.FreeTypeFont,
    anchor: str = "la",
) -> None:
    """Draw a line at xy (anchor "la": left/ascender, or "ls": left/baseline), each run in its font."""
    runs = _runs(font, text)
    if len(runs) == 1 and runs[0][0] is font:
        draw.text(xy, text, fill=fill, font=font, anchor=anchor, **shaping(font, text))
        return
    x, y = xy
    baseline = y + (font.getmetrics()[0] if anchor == "la" else 0)
    for f, t in runs:
        draw.text((x, baseline), t, fill=fill, font=f, anchor="ls", **shaping(f, text))
        x += f.getlength(t, **shaping(f, text))


def line_height(font: ImageFont.FreeTypeFont) -> int:
    """Return a line's nominal height: the font's ascent plus descent."""
    ascent, descent = font.getmetrics()
    return ascent + descent


def line_pitch(font: ImageFont.FreeTypeFont, spacing: float) -> int:
    """Return the distance from one line to the next at spacing times the line height."""
    return round(line_height(font) * spacing)


@functools.lru_cache(maxsize=128)
def _x_band(path: Path, size: int) -> tuple[int, int]:
    _, y0, _, y1 = ink_box(load_font(path, size), "x")
    return y0, y1


def largest(lo: int, hi: int, fits: Callable[[int], bool]) -> int:
    """Return the largest n from lo to hi for which fits(n), by bisection (lo if there is none)."""
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if fits(mid):
            lo = mid
        else:
            hi = mid - 1
    return lo


# --- cleaning ----------------------------------------------------------------------------------


def paragraphs(text: str) -> list[str]:
    """Split text at line breaks into paragraphs of single-spaced words; drop empty ones."""
    text = text[:_MAX_CHARS].replace("\r\n", "\n").replace("\r", "\n")
    chars = []
    for ch in text:
        if ch in "\n\x85\u2028\u2029":
            chars.append("\n")
        elif ch.isspace():
            chars.append(" ")
        else:
            category = unicodedata.category(ch)
            if category == "Cs":  # a lone surrogate cannot be encoded for FreeType
                chars.append("\ufffd")
            elif category == "Cc":
                chars.append(" ")
            else:
                chars.append(ch)
    lines = (" ".join(line.split()) for line in "".join(chars).split("\n"))
    return [line for line in lines if line]


# --- breaking lines and cutting them ----------------------------------------------------------


# Characters a line must not start with (closing punctuation of CJK and Latin text).
NO_LINE_START = frozenset("。，、．：；！？）」』】〕〉》〗〙〛’”.,:;!?)]}%…ー々ゝゞ・")


def _may_break(text: str, i: int) -> bool:
    """Tell whether a line may break before text[i]: not inside a grapheme or a conjunct."""
    if i <= 0 or i >= len(text):
        return True
    before = text[i - 1]
    return not (
        _joins_previous(text[i]) or before == "\u200d" or "VIRAMA" in unicodedata.name(before, "")
    )


def _joins_previous(ch: str) -> bool:
    """Tell whether ch belongs to the character before it (so a break must not go before it)."""
    return (
        unicodedata.category(ch).startswith("M")
        or ch in "\u200d\ufe0e\ufe0f"
        or 0x1F3FB <= ord(ch) <= 0x1F3FF
    )


def _break_word(font: ImageFont.FreeTypeFont, word: str, width: float) -> Iterator[str]:
    """Yield pieces of a word that each fit width (at least one character each), lazily."""
    rest = word
    probe_len = 512  # measure a bounded prefix, so a huge word costs only what is shown
    while len(rest) > 1:
        probe = rest[:probe_len]
        probe_width = text_length(font, probe)
        if probe_width <= width and len(probe) == len(rest):
            break
        # Guess the cut from the average advance, then step to the longest prefix that fits.
        cut = int(len(probe) * width / probe_width) if probe_width > width else len(probe)
        cut = max(1, min(len(rest) - 1, cut))
        while cut > 1 and text_length(font, rest[:cut]) > width:
            cut -= 1
        while cut < len(rest) - 1 and text_length(font, rest[: cut + 1]) <= width:
            cut += 1
        while cut > 1 and (not _may_break(rest, cut) or rest[cut] in NO_LINE_START):
            cut -= 1  # never inside a cluster, never before closing punctuation
        yield rest[:cut]
        rest = rest[cut:]
        probe_len = 2 * cut + 8
    yield rest


def wrap_words(
    font: ImageFont.FreeTypeFont,
    text: str,
    width: float,
    widths: dict[str, float] | None = None,
) -> Iterator[str]:
    """Yield lines of text's words that fit width; break a word wider than width by graphemes.

    Words are separated by single spaces (as `paragraphs` and the animation-spec check leave
    them). widths caches each word's advance and may be shared between texts in one font.
    """
    if widths is None:
        widths = {}
    space = text_length(font, " ")
    words: list[str] = []
    line_width = 0.0
    for word in text.split(" "):
        if word not in widths:  # a word longer than any line can be is not worth measuring
            widths[word] = text_length(font, word) if len(word) < _LONG_WORD else float("inf")
        word_width = widths[word]
        if words and line_width + space + word_width <= width:
            words.append(word)
            line_width += space + word_width
            continue
        if words:
            yield " ".join(words)
        if word_width <= width:
            words, line_width = [word], word_width
            continue
        pieces = _break_word(font, word, width)
        last = next(pieces)
        for piece in pieces:
            yield last
            last = piece
        words, line_width = [last], text_length(font, last)
    if words:
        yield " ".join(words)


def _longest_cut(font: ImageFont.FreeTypeFont, text: str, width: float) -> int:
    """Return how many of text's characters, followed by an ellipsis, advance at most width."""
    n = largest(0, len(text), lambda n: text_length(font, text[:n].rstrip() + ELLIPSIS) <= width)
    while n > 0 and not _may_break(text, n):
        n -= 1  # whole graphemes (and conjuncts) only
    return n


def ellipsize(font: ImageFont.FreeTypeFont, text: str, width: float) -> str:
    """Return text if it advances at most width, else its longest prefix that does with an ellipsis.

    The result is the ellipsis alone when not even one character fits.
    """
    if text_length(font, text) <= width:
        return text
    return text[: _longest_cut(font, text, width)].rstrip() + ELLIPSIS


def ellipsize_within(
    font: ImageFont.FreeTypeFont, text: str, x: int, left: int, right: int
) -> str | None:
    """Cut text so that, ending in an ellipsis and drawn at x, its ink lies in left..right.

    The longest prefix that fits by advance is tried first, then shorter ones; None if not even
    the ellipsis alone fits. A trailing ellipsis already in text is not doubled.
    """
    if text.endswith(ELLIPSIS):
        text = text[: -len(ELLIPSIS)]
    for cut in range(_longest_cut(font, text, right - x), -1, -1):
        candidate = text[:cut].rstrip() + ELLIPSIS
        ink = ink_box(font, candidate)
        if x + ink[0] >= left and x + ink[2] <= right:
            return candidate
    return None


# --- paragraphs fitted into a box ---------------------------------------------------------------


@dataclass(frozen=True)
class PlacedText:
    """One line of text, anchored at its left/ascender point, with its measured ink box."""

    text: str
    role: str  # "title", "body", "number" or "credit"
    font_size: int
    bold: bool
    xy: tuple[int, int]
    bbox: Box  # the ink of exactly this text in this font at xy, in image pixels
    fill: RGB


@dataclass(frozen=True)
class Para:
    """A paragraph to fit: a title line, or a bullet (or the continuation of one)."""

    text: str
    indent: bool = False  # body text hangs right of the bullet marker
    marker: bool = False  # first paragraph of a bullet: draw a marker, leave a gap above


@dataclass(frozen=True)
class TextStyle:
    """How paragraphs are set: their font, the sizes to try, spacing, and the lines' role."""

    font: Path
    max_size: int
    min_size: int
    line_spacing: float  # line pitch as a multiple of ascent + descent
    para_spacing: float  # extra space above a bullet, as a multiple of the font size
    indent: float  # hanging indent, as a multiple of the font size
    role: str
    fill: RGB


@dataclass(frozen=True)
class Block:
    """Paragraphs as fitted: their lines, their bullet markers' boxes, and what it cost."""

    items: tuple[PlacedText, ...]
    markers: tuple[Box, ...]  # a round marker in each box, left of a bullet's first line
    truncated: bool
    tight: bool = False  # spacing was tightened to make it fit

    @property
    def bottom(self) -> int:
        return max((item.bbox[3] for item in self.items), default=0)


@dataclass(frozen=True)
class _Row:
    text: str
    indent: int
    marker: bool
    gap: int
    rtl: bool = False  # a right-to-left paragraph: aligned right, its marker on the right


def fit_paragraphs(paras: list[Para], style: TextStyle, box: Box) -> Block:
    """Lay paras out in box at the largest size that fits, then with tighter spacing, then cut."""
    if not paras:
        return Block((), (), False)
    if box[2] <= box[0] or box[3] <= box[1]:
        return Block((), (), True)
    tight = replace(
        style,
        line_spacing=min(style.line_spacing, _TIGHT_LINE_SPACING),
        para_spacing=min(style.para_spacing, _TIGHT_PARA_SPACING),
    )
    block = _largest_fit(paras, style, box)
    if block is None and tight != style:
        block = _largest_fit(paras, tight, box)
        if block is not None:
            block = replace(block, tight=True)
    if block is None:
        block = _place(paras, tight, tight.min_size, box, truncate=True)
        assert block is not None  # _place returns a block whenever it may truncate
        block = replace(block, tight=tight != style)
    return block


def _largest_fit(paras: list[Para], style: TextStyle, box: Box) -> Block | None:
    """Lay paras out at the largest size from max_size down to min_size that fits, if any."""
    size = style.max_size
    if not _estimate_fits(paras, style, size, box):
        # The largest size whose estimate fits (or the minimum).
        size = largest(style.min_size, size - 1, lambda s: _estimate_fits(paras, style, s, box))
        if size == style.min_size and not _estimate_fits(paras, style, size, box, to_baseline=True):
            return None  # clearly too much text even at the minimum: skip measuring it
    while True:  # the estimate ignores ink: confirm it by measuring, shrinking if need be
        block = _place(paras, style, size, box, truncate=False)
        if block is not None or size <= style.min_size:
            return block
        size = max(style.min_size, size - max(1, size // 16))


def _rows(paras: list[Para], style: TextStyle, size: int, width: int) -> Iterator[_Row]:
    """Yield the rows of paras wrapped to width; a bullet's first row has the marker and gap."""
    font = load_font(style.font, size)
    widths: dict[str, float] = {}
    gap = round(size * style.para_spacing)
    first_row = True
    for para in paras:
        indent = round(size * style.indent) if para.indent else 0
        rtl = right_to_left(para.text)
        for i, line in enumerate(wrap_words(font, para.text, width - indent, widths)):
            lead = para.marker and i == 0
            yield _Row(line, indent, lead, gap if lead and not first_row else 0, rtl)
            first_row = False


def _estimate_fits(
    paras: list[Para], style: TextStyle, size: int, box: Box, *, to_baseline: bool = False
) -> bool:
    """Tell whether the wrapped paras fit box at size by nominal line metrics (no ink).

    Counting whole lines errs towards "no"; counting the last line only down to its baseline
    errs towards "yes", which is what ruling a size out for good needs.
    """
    left, top, right, bottom = box
    font = load_font(style.font, size)
    height, pitch = line_height(font), line_pitch(font, style.line_spacing)
    if to_baseline:
        height = font.getmetrics()[0]
    y = None
    for row in _rows(paras, style, size, right - left):
        y = 0 if y is None else y + pitch + row.gap
        if y + height > bottom - top:
            return False
    return True


def _place(
    paras: list[Para], style: TextStyle, size: int, box: Box, *, truncate: bool
) -> Block | None:
    """Place the wrapped rows by their measured ink; None if they don't fit and not truncate."""
    left, top, right, bottom = box
    font = load_font(style.font, size)
    pitch = line_pitch(font, style.line_spacing)
    bold = style.font == BOLD_FONT
    placed: list[tuple[PlacedText, bool]] = []  # each line, and whether it has a marker
    rtl: list[bool] = []
    truncated = False
    y = top
    prev_bottom = top
    for row in _rows(paras, style, size, right - left):
        text = row.text
        ink = ink_box(font, text)
        x = max(left + row.indent, left - ink[0])
        if row.rtl:  # from the right edge, the indent on the right
            x = max(left - ink[0], right - row.indent - ink[2])
        if x + ink[2] > right:
            if not truncate:
                return None
            truncated = True
            cut = ellipsize_within(font, text, x, left, right)
            if cut is None:
                continue
            text, ink = cut, ink_box(font, cut)
        y_nominal = top if not placed else y + pitch + row.gap
        y_row = max(y_nominal, prev_bottom - ink[1])
        if y_row + ink[3] > bottom:
            if not truncate:
                return None
            truncated = True
            _end_with_ellipsis(placed, font, box)
            break
        y, prev_bottom = y_row, y_row + ink[3]
        bbox = (x + ink[0], y + ink[1], x + ink[2], y + ink[3])
        item = PlacedText(text, style.role, size, bold, (x, y), bbox, style.fill)
        placed.append((item, row.marker))
        rtl.append(row.rtl)
    markers = tuple(
        _marker(item, style.font, left, right if rtl[i] else None)
        for i, (item, marker) in enumerate(placed)
        if marker
    )
    return Block(tuple(item for item, _ in placed), markers, truncated)


def _end_with_ellipsis(
    placed: list[tuple[PlacedText, bool]], font: ImageFont.FreeTypeFont, box: Box
) -> None:
    """Append an ellipsis to the last placed line, dropping lines until one takes it."""
    left, top, right, bottom = box
    while placed:
        item, marker = placed.pop()
        x, y = item.xy
        cut = ellipsize_within(font, item.text, x, left, right)
        if cut is not None:
            ink = ink_box(font, cut)
            above = placed[-1][0].bbox[3] if placed else top
            if y + ink[1] >= above and y + ink[3] <= bottom:
                bbox = (x + ink[0], y + ink[1], x + ink[2], y + ink[3])
                placed.append((replace(item, text=cut, bbox=bbox), marker))
                return


def _marker(item: PlacedText, font: Path, left: int, right: int | None = None) -> Box:
    """Return the box of a line's round bullet marker, centred on the x-height.

    At the left edge, or at `right` for a right-to-left line.
    """
    size = item.font_size
    diameter = max(2, round(size * 0.32))
    x_top, x_bottom = _x_band(font, size)
    centre = item.xy[1] + (x_top + x_bottom) / 2
    y0 = round(centre - diameter / 2)
    x0 = left + max(0, round(size * 0.08))
    if right is not None:
        x0 = right - max(0, round(size * 0.08)) - diameter
    return (x0, y0, x0 + diameter, y0 + diameter)


# --- labels at one common size ------------------------------------------------------------------


@dataclass(frozen=True)
class Label:
    """Lines of text placed in a box; xy is each line's left/ascender anchor."""

    lines: tuple[tuple[str, tuple[int, int]], ...]
    path: Path
    size: int
    fill: RGB
    box: Box  # the lines' nominal extent


def common_size(
    texts: Sequence[str],
    width: int,
    height: int,
    *,
    path: Path,
    max_px: int,
    min_px: int,
    max_lines: int = 3,
) -> int:
    """Return the largest size (min_px at least) at which every text fits width x height.

    A text fits when it wraps into at most max_lines lines, none of its words broken.
    """

    def all_fit(size: int) -> bool:
        font = load_font(path, size)
        return all(_label_fits(font, text, width, height, max_lines) for text in texts)

    size = max(min_px, max_px)
    return size if all_fit(size) else largest(min_px, size, all_fit)


def _label_fits(
    font: ImageFont.FreeTypeFont, text: str, width: int, height: int, max_lines: int
) -> bool:
    """Tell whether text wraps into width x height in at most max_lines, no word broken."""
    if line_height(font) > height:
        return False
    widths = {word: text_length(font, word) for word in text.split(" ")}
    if max(widths.values()) > width:
        return False
    count = sum(1 for _ in wrap_words(font, text, width, widths))
    return count <= max_lines and _label_height(font, count) <= height


def _label_height(font: ImageFont.FreeTypeFont, count: int) -> int:
    return (count - 1) * line_pitch(font, LABEL_SPACING) + line_height(font)


def place_label(
    text: str,
    box: Box,
    size: int,
    *,
    path: Path = REGULAR_FONT,
    fill: RGB,
    align: str = "center",
    valign: str = "center",
    max_lines: int = 3,
) -> Label:
    """Wrap text into box at size, cutting it with an ellipsis when it does not fit.

    The lines are placed by nominal metrics: aligned "left", "right" or "center" across the
    box by their advance, and as a block at its "top", "bottom" or "center".
    """
    left, top, right, bottom = box
    width, height = max(1, right - left), max(1, bottom - top)
    font = load_font(path, size)
    pitch = line_pitch(font, LABEL_SPACING)
    room = max(1, min(max_lines, 1 + (height - line_height(font)) // pitch))
    lines = list(wrap_words(font, text, width))
    if len(lines) > room:
        rest = " ".join(lines[room - 1 :]) + ELLIPSIS  # ends with one even if it then fits
        lines = [*lines[: room - 1], ellipsize(font, rest, width)]
    lines = [ellipsize(font, line, width) for line in lines]
    block = _label_height(font, len(lines))
    if valign == "top":
        y = top
    elif valign == "bottom":
        y = bottom - block
    else:
        y = top + (height - block) // 2
    placed = []
    x_min, x_max = right, left
    for i, line in enumerate(lines):
        w = round(text_length(font, line))
        if align == "left":
            x = left
        elif align == "right":
            x = right - w
        else:
            x = left + (width - w) // 2
        placed.append((line, (x, y + i * pitch)))
        x_min, x_max = min(x_min, x), max(x_max, x + w)
    return Label(tuple(placed), path, size, fill, (x_min, y, x_max, y + block))


def label_height(text: str, width: int, size: int, *, path: Path, max_lines: int = 3) -> int:
    """Return the height text takes when placed (as `place_label` does) in a box of width."""
    placed = place_label(
        text, (0, 0, width, 10**6), size, path=path, fill=(0, 0, 0), max_lines=max_lines
    )
    return placed.box[3] - placed.box[1]
