"""Render one slide to a PNG: a title, bullets and the slide number, fitted into a safe area.

`layout_slide` is pure: it wraps, shrinks and (as a last resort) ellipsizes the text so that
every line's measured ink box lies inside the safe area, and returns where each line goes.
`render_slide` draws exactly that layout. All sizes scale with the shorter side of the image,
so the same slide looks alike at 1920x1080, 1280x720, 1080x1920 and 1080x1080.
"""

from __future__ import annotations

import functools
import logging
import tempfile
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from videoforge.pipeline.model import DEFAULT_THEME, Size, Slide, Theme

log = logging.getLogger(__name__)

FONTS_DIR = Path(__file__).resolve().parent.parent / "fonts"
REGULAR_FONT = FONTS_DIR / "DejaVuSans.ttf"
BOLD_FONT = FONTS_DIR / "DejaVuSans-Bold.ttf"

Box = tuple[int, int, int, int]  # left, top, right, bottom; right and bottom exclusive
RGB = tuple[int, int, int]

SAFE_MARGIN = 0.05  # of the width on the left and right, of the height at the top and bottom
ELLIPSIS = "\u2026"
MIN_FONT_PX = 8

# Font sizes and spacing, as fractions of the shorter image side.
_TITLE_MAX = 0.068
_TITLE_ALONE_MAX = 0.09  # a slide without bullets: a bigger, vertically centred title
_TITLE_MIN = 0.036
_TITLE_CROWDED = 0.03  # the title of a slide whose bullets only just fit
_BODY_MAX = 0.046
_BODY_MIN = 0.021
_NUMBER = 0.024
_STRIP = 0.008  # accent strip along the top edge
_BAR_HEIGHT = 0.006  # accent bar under the title
_BAR_GAP = 0.02  # title ink to accent bar
_BODY_GAP = 0.035  # accent bar to body
_FOOTER_GAP = 0.025  # body to slide number
_TITLE_SHARE = 0.34  # most of the content height a title may take when there are bullets
_TITLE_SHARE_MAX = 0.55  # ... when it would be cut otherwise
_TIGHT_LINE_SPACING = 1.05  # line pitch and bullet gap when text does not fit at the minimum
_TIGHT_PARA_SPACING = 0.25
_MAX_CHARS = 20_000  # per title or bullet: far more than fits at the minimum font size
_LONG_WORD = 2_000  # characters; a word this long is broken without measuring it whole


@dataclass(frozen=True)
class PlacedText:
    """One line of text, anchored at its left/ascender point, with its measured ink box."""

    text: str
    role: str  # "title", "body" or "number"
    font_size: int
    bold: bool
    xy: tuple[int, int]
    bbox: Box  # the ink of exactly this text in this font at xy, in image pixels
    fill: RGB


@dataclass(frozen=True)
class Shape:
    """A filled decoration: "rect" (accent strip and bar) or "dot" (a bullet marker)."""

    kind: str
    box: Box
    fill: RGB


@dataclass(frozen=True)
class SlideLayout:
    """Everything `render_layout` draws: background, shapes, then the text lines."""

    size: Size
    safe_area: Box
    background: RGB
    shapes: tuple[Shape, ...]
    items: tuple[PlacedText, ...]
    truncated: bool = False  # some text did not fit even at the minimum font size


@dataclass(frozen=True)
class _Para:
    text: str
    indent: bool = False  # body text hangs right of the bullet marker
    marker: bool = False  # first paragraph of a bullet: draw a marker, leave a gap above


@dataclass(frozen=True)
class _Style:
    font: Path
    max_size: int
    min_size: int
    line_spacing: float  # line pitch as a multiple of ascent + descent
    para_spacing: float  # extra space above a bullet, as a multiple of the font size
    indent: float  # hanging indent, as a multiple of the font size
    role: str
    fill: RGB
    accent: RGB = (0, 0, 0)  # bullet markers


@dataclass(frozen=True)
class _Row:
    text: str
    indent: int
    marker: bool
    gap: int


@dataclass(frozen=True)
class _Block:
    items: tuple[PlacedText, ...]
    dots: tuple[Shape, ...]
    truncated: bool
    tight: bool = False  # spacing was tightened to make it fit

    @property
    def bottom(self) -> int:
        return max((item.bbox[3] for item in self.items), default=0)


# --- public functions --------------------------------------------------------------------------


def layout_slide(
    slide: Slide, size: Size, *, total: int, theme: Theme = DEFAULT_THEME
) -> SlideLayout:
    """Place the slide's title, bullets and number so every line's ink lies in the safe area."""
    width, height = size.width, size.height
    if width <= 0 or height <= 0:
        raise ValueError(f"slide size must be positive, got {size}")
    unit = min(width, height)

    def px(fraction: float) -> int:
        return max(1, round(unit * fraction))

    def font_px(fraction: float) -> int:
        return max(MIN_FONT_PX, round(unit * fraction))

    margin_x, margin_y = round(width * SAFE_MARGIN), round(height * SAFE_MARGIN)
    left, top, right, bottom = margin_x, margin_y, width - margin_x, height - margin_y
    safe = (left, top, right, bottom)
    shapes: list[Shape] = [Shape("rect", (0, 0, width, min(px(_STRIP), margin_y)), theme.accent)]

    number = _place_number(f"{slide.slide_number} / {total}", font_px(_NUMBER), safe, theme.muted)
    items: list[PlacedText] = [number] if number else []
    content_bottom = (number.bbox[1] if number else bottom) - px(_FOOTER_GAP)

    title_paras = [_Para(text) for text in _paragraphs(slide.title or "")]
    body_paras = _bullet_paras(slide.bullets)
    title_style = _Style(
        font=BOLD_FONT,
        max_size=font_px(_TITLE_MAX if body_paras else _TITLE_ALONE_MAX),
        min_size=font_px(_TITLE_MIN),
        line_spacing=1.12,
        para_spacing=0.0,
        indent=0.0,
        role="title",
        fill=theme.title,
        accent=theme.accent,
    )
    body_style = _Style(
        font=REGULAR_FONT,
        max_size=font_px(_BODY_MAX),
        min_size=font_px(_BODY_MIN),
        line_spacing=1.28,
        para_spacing=0.5,
        indent=1.0,
        role="body",
        fill=theme.text,
        accent=theme.accent,
    )
    gaps = (px(_BAR_GAP), px(_BAR_HEIGHT), px(_BODY_GAP))
    content = (left, top, right, content_bottom)
    best = _stack(title_paras, body_paras, title_style, body_style, content, gaps, _TITLE_SHARE)
    # A crowded body may take room from the title, a long title from the body; the least cut,
    # most spacious result wins.
    title, _, body = best
    retries = []
    if title.items and (body.tight or body.truncated):
        small = font_px(_TITLE_CROWDED)
        retries.append((replace(title_style, max_size=small, min_size=small), _TITLE_SHARE))
    if title.truncated and body_paras:
        retries.append((title_style, _TITLE_SHARE_MAX))
    for style, share in retries:
        other = _stack(title_paras, body_paras, style, body_style, content, gaps, share)
        if _crowding(other) < _crowding(best):
            best = other
    title, bar, body = best
    if bar is not None:
        shapes.append(Shape("rect", bar, theme.accent))
    items.extend(title.items)
    items.extend(body.items)
    shapes.extend(body.dots)

    items.sort(key=lambda item: item.bbox[1])
    truncated = title.truncated or body.truncated or (number is None)
    if truncated:
        log.debug("slide %s: text truncated to fit %s", slide.slide_number, size)
    return SlideLayout(size, safe, theme.background, tuple(shapes), tuple(items), truncated)


def render_layout(layout: SlideLayout, out: Path) -> Path:
    """Draw a layout into an RGB PNG at out (written whole, then moved into place)."""
    image = Image.new("RGB", (layout.size.width, layout.size.height), layout.background)
    draw = ImageDraw.Draw(image)
    for shape in layout.shapes:
        x0, y0, x1, y1 = shape.box
        if x1 <= x0 or y1 <= y0:
            continue
        if shape.kind == "dot":
            image.paste(shape.fill, (x0, y0, x1, y1), _dot_mask(x1 - x0, y1 - y0))
        else:
            draw.rectangle((x0, y0, x1 - 1, y1 - 1), fill=shape.fill)
    for item in layout.items:
        font = _font(BOLD_FONT if item.bold else REGULAR_FONT, item.font_size)
        draw.text(item.xy, item.text, fill=item.fill, font=font, anchor="la", **_shaping(font))
    # A unique temporary name: readers never see half a PNG, even with two renders racing.
    with tempfile.NamedTemporaryFile(
        dir=out.parent, prefix=f".{out.name}.", suffix=".part", delete=False
    ) as part:
        try:
            image.save(part, format="PNG", compress_level=1)
        except BaseException:
            Path(part.name).unlink(missing_ok=True)
            raise
    Path(part.name).replace(out)
    return out


def render_slide(
    slide: Slide, size: Size, out: Path, *, total: int, theme: Theme = DEFAULT_THEME
) -> Path:
    """Render a slide to an RGB PNG of exactly size at out, and return out."""
    return render_layout(layout_slide(slide, size, total=total, theme=theme), out)


def _stack(
    title_paras: list[_Para],
    body_paras: list[_Para],
    title_style: _Style,
    body_style: _Style,
    box: Box,
    gaps: tuple[int, int, int],
    title_share: float,
) -> tuple[_Block, Box | None, _Block]:
    """Fit the title at the top of box, an accent bar under it, and the body below that."""
    left, top, right, bottom = box
    bar_gap, bar_height, body_gap = gaps
    title_bottom = top + round((bottom - top) * title_share) if body_paras else bottom
    descent = _font(title_style.font, title_style.max_size).getmetrics()[1]
    title_box = (left, top, right, title_bottom - descent - bar_gap - bar_height)
    title = _fit(title_paras, title_style, title_box)
    bar = None
    body_top = top
    if title.items:
        last = title.items[-1]
        ascent, descent = _font(title_style.font, last.font_size).getmetrics()
        bar_top = max(title.bottom, last.xy[1] + ascent + descent) + bar_gap
        dy = 0 if body_paras else max(0, (bottom - bar_top - bar_height) // 2)
        if dy:  # a title alone: centre it and its bar in the box
            title = _Block(tuple(_shifted(i, dy) for i in title.items), (), title.truncated)
        bar_right = left + max(bar_height, round((right - left) * 0.12))
        bar = (left, bar_top + dy, bar_right, bar_top + dy + bar_height)
        body_top = bar[3] + body_gap
    body = _Block((), (), False)
    if body_paras:
        if title.items:  # body text never outgrows the title
            body_max = max(body_style.min_size, min(body_style.max_size, title.items[0].font_size))
            body_style = replace(body_style, max_size=body_max)
        body = _fit(body_paras, body_style, (left, body_top, right, bottom))
    return title, bar, body


def _crowding(stacked: tuple[_Block, Box | None, _Block]) -> tuple[bool, bool, int, int, int]:
    """Score a title and body, lower is better: text cut, tight, small body, less shown, title."""
    title, _, body = stacked
    body_size = body.items[0].font_size if body.items else 0
    title_size = title.items[0].font_size if title.items else 0
    shown = sum(len(item.text) for item in (*title.items, *body.items))
    truncated = title.truncated or body.truncated
    return truncated, body.tight, -body_size, -shown if truncated else 0, -title_size


# --- text cleaning -----------------------------------------------------------------------------


def _paragraphs(text: str) -> list[str]:
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
    paragraphs = (" ".join(line.split()) for line in "".join(chars).split("\n"))
    return [p for p in paragraphs if p]


def _bullet_paras(bullets: tuple[str, ...]) -> list[_Para]:
    """Turn bullets into paragraphs; a bullet's own line breaks continue under its marker."""
    paras = []
    for bullet in bullets:
        parts = _paragraphs(bullet or "")
        if parts and parts[0].startswith("\u2022"):  # the model wrote its own marker
            parts[0] = parts[0].lstrip("\u2022 ")
            parts = [p for p in parts if p]
        paras.extend(_Para(part, indent=True, marker=i == 0) for i, part in enumerate(parts))
    return paras


# --- fonts and measuring -----------------------------------------------------------------------


@functools.lru_cache(maxsize=128)
def _font(path: Path, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(path), size)


def _shaping(font: ImageFont.FreeTypeFont) -> dict[str, str]:
    # Keep lines left-to-right (markers stay on the left); raqm still orders RTL runs within.
    return {"direction": "ltr"} if font.layout_engine == ImageFont.Layout.RAQM else {}


def _length(font: ImageFont.FreeTypeFont, text: str) -> float:
    return font.getlength(text, **_shaping(font))


def _ink(font: ImageFont.FreeTypeFont, text: str) -> Box:
    x0, y0, x1, y1 = font.getbbox(text, anchor="la", **_shaping(font))
    return int(x0), int(y0), int(x1), int(y1)


@functools.lru_cache(maxsize=128)
def _x_band(path: Path, size: int) -> tuple[int, int]:
    _, y0, _, y1 = _ink(_font(path, size), "x")
    return y0, y1


@functools.lru_cache(maxsize=64)
def _dot_mask(width: int, height: int) -> Image.Image:
    scale = 4
    big = Image.new("L", (width * scale, height * scale), 0)
    ImageDraw.Draw(big).ellipse((0, 0, width * scale - 1, height * scale - 1), fill=255)
    return big.resize((width, height), Image.Resampling.LANCZOS)


# --- wrapping and fitting ----------------------------------------------------------------------


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
        probe_width = _length(font, probe)
        if probe_width <= width and len(probe) == len(rest):
            break
        # Guess the cut from the average advance, then step to the longest prefix that fits.
        cut = int(len(probe) * width / probe_width) if probe_width > width else len(probe)
        cut = max(1, min(len(rest) - 1, cut))
        while cut > 1 and _length(font, rest[:cut]) > width:
            cut -= 1
        while cut < len(rest) - 1 and _length(font, rest[: cut + 1]) <= width:
            cut += 1
        while cut > 1 and (_joins_previous(rest[cut]) or rest[cut - 1] == "\u200d"):
            cut -= 1
        yield rest[:cut]
        rest = rest[cut:]
        probe_len = 2 * cut + 8
    yield rest


def _wrap(paras: list[_Para], style: _Style, size: int, width: int) -> Iterator[_Row]:
    """Yield the rows of paras wrapped to width; a bullet's first row has the marker and gap."""
    font = _font(style.font, size)
    widths: dict[str, float] = {}
    gap = round(size * style.para_spacing)
    first_row = True
    for para in paras:
        indent = round(size * style.indent) if para.indent else 0
        for i, line in enumerate(_wrap_words(font, para.text, width - indent, widths)):
            lead = para.marker and i == 0
            yield _Row(line, indent, lead, gap if lead and not first_row else 0)
            first_row = False


def _wrap_words(
    font: ImageFont.FreeTypeFont, text: str, width: float, widths: dict[str, float]
) -> Iterator[str]:
    """Yield lines of text's words that fit width; break a word wider than width by characters."""
    space = _length(font, " ")
    words: list[str] = []
    line_width = 0.0
    for word in text.split(" "):
        if word not in widths:  # a word longer than any line can be is not worth measuring
            widths[word] = _length(font, word) if len(word) < _LONG_WORD else float("inf")
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
        words, line_width = [last], _length(font, last)
    if words:
        yield " ".join(words)


def _pitch(font: ImageFont.FreeTypeFont, style: _Style) -> tuple[int, int]:
    ascent, descent = font.getmetrics()
    return ascent + descent, round((ascent + descent) * style.line_spacing)


def _estimate_fits(
    paras: list[_Para], style: _Style, size: int, box: Box, *, to_baseline: bool = False
) -> bool:
    """Tell whether the wrapped paras fit box at size by nominal line metrics (no ink).

    Counting whole lines errs towards "no"; counting the last line only down to its baseline
    errs towards "yes", which is what ruling a size out for good needs.
    """
    left, top, right, bottom = box
    font = _font(style.font, size)
    height, pitch = _pitch(font, style)
    if to_baseline:
        height = font.getmetrics()[0]
    y = None
    for row in _wrap(paras, style, size, right - left):
        y = 0 if y is None else y + pitch + row.gap
        if y + height > bottom - top:
            return False
    return True


def _fit(paras: list[_Para], style: _Style, box: Box) -> _Block:
    """Lay paras out in box at the largest size that fits, then with tighter spacing, then cut."""
    if not paras:
        return _Block((), (), False)
    if box[2] <= box[0] or box[3] <= box[1]:
        return _Block((), (), True)
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


def _largest_fit(paras: list[_Para], style: _Style, box: Box) -> _Block | None:
    """Lay paras out at the largest size from max_size down to min_size that fits, if any."""
    lo, hi = style.min_size, style.max_size
    if not _estimate_fits(paras, style, hi, box):
        hi -= 1
        while lo < hi:  # the largest size whose estimate fits (or the minimum)
            mid = (lo + hi + 1) // 2
            if _estimate_fits(paras, style, mid, box):
                lo = mid
            else:
                hi = mid - 1
        hi = lo
        if hi == style.min_size and not _estimate_fits(paras, style, hi, box, to_baseline=True):
            return None  # clearly too much text even at the minimum: skip measuring it
    size = hi
    while True:  # the estimate ignores ink: confirm it by measuring, shrinking if need be
        block = _place(paras, style, size, box, truncate=False)
        if block is not None or size <= style.min_size:
            return block
        size = max(style.min_size, size - max(1, size // 16))


def _place(
    paras: list[_Para], style: _Style, size: int, box: Box, *, truncate: bool
) -> _Block | None:
    """Place the wrapped rows by their measured ink; None if they don't fit and not truncate."""
    left, top, right, bottom = box
    font = _font(style.font, size)
    _, pitch = _pitch(font, style)
    bold = style.font == BOLD_FONT
    placed: list[tuple[PlacedText, bool]] = []  # each line, and whether it has a marker
    truncated = False
    y = top
    prev_bottom = top
    for row in _wrap(paras, style, size, right - left):
        text = row.text
        ink = _ink(font, text)
        x = max(left + row.indent, left - ink[0])
        if x + ink[2] > right:
            if not truncate:
                return None
            truncated = True
            cut = _ellipsize(font, text, x, left, right)
            if cut is None:
                continue
            text, ink = cut, _ink(font, cut)
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
    dots = tuple(_marker(item, style, left) for item, marker in placed if marker)
    return _Block(tuple(item for item, _ in placed), dots, truncated)


def _end_with_ellipsis(
    placed: list[tuple[PlacedText, bool]], font: ImageFont.FreeTypeFont, box: Box
) -> None:
    """Append an ellipsis to the last placed line, dropping lines until one takes it."""
    left, top, right, bottom = box
    while placed:
        item, marker = placed.pop()
        x, y = item.xy
        cut = _ellipsize(font, item.text, x, left, right)
        if cut is not None:
            ink = _ink(font, cut)
            above = placed[-1][0].bbox[3] if placed else top
            if y + ink[1] >= above and y + ink[3] <= bottom:
                bbox = (x + ink[0], y + ink[1], x + ink[2], y + ink[3])
                placed.append((replace(item, text=cut, bbox=bbox), marker))
                return


def _ellipsize(
    font: ImageFont.FreeTypeFont, text: str, x: int, left: int, right: int
) -> str | None:
    """Cut text to the longest prefix that, followed by an ellipsis, fits between left and right."""
    if text.endswith(ELLIPSIS):
        text = text[: -len(ELLIPSIS)]
    width = right - x
    lo, hi = 0, len(text)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if _length(font, text[:mid].rstrip() + ELLIPSIS) <= width:
            lo = mid
        else:
            hi = mid - 1
    for cut in range(lo, -1, -1):
        candidate = text[:cut].rstrip() + ELLIPSIS
        ink = _ink(font, candidate)
        if x + ink[0] >= left and x + ink[2] <= right:
            return candidate
    return None


def _marker(item: PlacedText, style: _Style, left: int) -> Shape:
    """Make the round bullet marker for a line: left-aligned, centred on the x-height."""
    size = item.font_size
    diameter = max(2, round(size * 0.32))
    x_top, x_bottom = _x_band(style.font, size)
    centre = item.xy[1] + (x_top + x_bottom) / 2
    y0 = round(centre - diameter / 2)
    x0 = left + max(0, round(size * 0.08))
    return Shape("dot", (x0, y0, x0 + diameter, y0 + diameter), style.accent)


def _place_number(text: str, size: int, safe: Box, fill: RGB) -> PlacedText | None:
    """Place "n / total" with its ink in the bottom-right corner of the safe area."""
    left, top, right, bottom = safe
    font = _font(REGULAR_FONT, size)
    ink = _ink(font, text)
    if ink[2] - ink[0] > right - left:
        cut = _ellipsize(font, text, left, left, right)
        if cut is None:
            return None
        text, ink = cut, _ink(font, cut)
    x, y = right - ink[2], bottom - ink[3]
    bbox = (x + ink[0], y + ink[1], x + ink[2], y + ink[3])
    if bbox[1] < top:
        return None
    return PlacedText(text, "number", size, False, (x, y), bbox, fill)


def _shifted(item: PlacedText, dy: int) -> PlacedText:
    x0, y0, x1, y1 = item.bbox
    return replace(item, xy=(item.xy[0], item.xy[1] + dy), bbox=(x0, y0 + dy, x1, y1 + dy))
