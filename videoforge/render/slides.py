"""Render one slide to a PNG: a title, bullets and the slide number, fitted into a safe area.

`layout_slide` is pure: it wraps, shrinks and (as a last resort) ellipsizes the text so that
every line's measured ink box lies inside the safe area, and returns where each line goes.
`render_slide` draws exactly that layout. All sizes scale with the shorter side of the image,
so the same slide looks alike at 1920x1080, 1280x720, 1080x1920 and 1080x1080.

A slide may show a picture: beside its bullets (under them on a portrait slide), or large
under its title when it has none, with the picture's credit in small print at the bottom left.
`animation_canvas` draws an animation slide's still parts and leaves a box for its frames.
"""

from __future__ import annotations

import functools
import io
import logging
import tempfile
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from PIL import ExifTags, Image, ImageCms, ImageDraw, ImageFont

from ..core.types import DEFAULT_THEME, FoundImage, Size, Slide, Theme

log = logging.getLogger(__name__)

FONTS_DIR = Path(__file__).resolve().parent / "fonts"
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
_CREDIT_MAX = 0.019  # a picture's credit line, bottom left
_CREDIT_MIN = 0.014
_CREDIT_GAP = 0.03  # credit to slide number
_CREDIT_ROOM = 0.4  # of the safe width: with less beside the number, the credit goes above it
_CREDIT_CHARS = 500  # far more than one line holds
_PICTURE_GAP = 0.035  # picture to bullets
# The most room a picture may take, tried in turn: of the width under the title beside the
# bullets, of the height above them, or all of it on a slide without bullets.
_PICTURE_SHARES = {"beside": (0.48, 0.36), "above": (0.7, 0.55, 0.4), "full": (1.0,)}
_KEEP_BODY = 0.9  # a bigger picture may not shrink the bullets below this share of their best size
_NATURAL = 2.0  # the other arrangement must show the picture this many times larger to be chosen
_REDUCING_GAP = 3.0  # downscale by whole factors first, until within this factor of the size

# EXIF orientation -> the transpose that shows the picture upright (as ImageOps.exif_transpose).
_UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


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
class Shape:
    """A filled decoration: "rect" (accent strip and bar) or "dot" (a bullet marker)."""

    kind: str
    box: Box
    fill: RGB


@dataclass(frozen=True)
class PlacedImage:
    """A picture file drawn scaled to exactly box: whole, undistorted, upright."""

    box: Box
    path: Path


@dataclass(frozen=True)
class SlideLayout:
    """Everything `render_layout` draws: background, shapes, pictures, then the text lines."""

    size: Size
    safe_area: Box
    background: RGB
    shapes: tuple[Shape, ...]
    items: tuple[PlacedText, ...]
    truncated: bool = False  # some text did not fit even at the minimum font size
    images: tuple[PlacedImage, ...] = ()
    stage: Box | None = None  # left empty for an animation's frames


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


@dataclass(frozen=True)
class _Stacked:
    title: _Block
    bar: Box | None
    body: _Block
    reserved: Box | None = None  # a picture's box or an animation's stage
    room: Box | None = None  # all the room under the title that the split divided


# Divides the room under the title into the body's box and a reserved box (or None).
_Split = Callable[[Box], tuple[Box, Box | None]]
_Fitter = Callable[[list[_Para], _Style, Box], _Block]


# --- public functions --------------------------------------------------------------------------


def layout_slide(
    slide: Slide,
    size: Size,
    *,
    total: int,
    theme: Theme = DEFAULT_THEME,
    image: FoundImage | None = None,
) -> SlideLayout:
    """Place the slide's text and picture (if any) so all of it lies in the safe area.

    With an image, the bullets go beside the picture on a landscape or square slide and under
    it on a portrait one, or the other way round when that shows the picture at least twice
    as large (a panorama, a tall portrait), unless that would cost the bullets room they need.
    A slide without bullets shows the picture as large as fits under its title. The picture's
    credit goes at the bottom left when the image names an author or a license.
    """
    return _layout(slide, size, total, theme, picture=image)


def layout_animation(
    slide: Slide, size: Size, *, total: int, theme: Theme = DEFAULT_THEME
) -> SlideLayout:
    """Place an animation slide's title and number, and leave layout.stage empty below them."""
    return _layout(slide, size, total, theme, stage=True)


def render_layout(layout: SlideLayout, out: Path) -> Path:
    """Draw a layout into an RGB PNG at out (written whole, then moved into place)."""
    image = draw_layout(layout)
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
    slide: Slide,
    size: Size,
    out: Path,
    *,
    total: int,
    theme: Theme = DEFAULT_THEME,
    image: FoundImage | None = None,
) -> Path:
    """Render a slide (and its picture, if any) to an RGB PNG of exactly size at out; return out."""
    return render_layout(layout_slide(slide, size, total=total, theme=theme, image=image), out)


def animation_canvas(
    slide: Slide, size: Size, *, total: int, theme: Theme = DEFAULT_THEME
) -> tuple[Image.Image, Box]:
    """Draw an animation slide's base frame (a text slide without bullets) and its empty box.

    The box lies inside the safe area, below the title and above the slide number; an
    animation draws its frames there on copies of the returned RGB image.
    """
    layout = layout_animation(slide, size, total=total, theme=theme)
    assert layout.stage is not None  # an animation layout always has its stage
    return draw_layout(layout), layout.stage


# --- arranging a slide -------------------------------------------------------------------------


def _layout(
    slide: Slide,
    size: Size,
    total: int,
    theme: Theme,
    *,
    picture: FoundImage | None = None,
    stage: bool = False,
) -> SlideLayout:
    """Lay out a text slide, a slide with a picture, or (stage) an animation slide."""
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
    footer_top = number.bbox[1] if number else bottom
    credit_cut = False
    if picture is not None and (picture.author or picture.license):
        sizes = (font_px(_CREDIT_MAX), font_px(_CREDIT_MIN))
        texts = _credit_texts(picture)
        credit, credit_cut = _place_credit(texts, sizes, safe, number, px(_CREDIT_GAP), theme.muted)
        if credit is not None:
            items.append(credit)
            footer_top = min(footer_top, credit.bbox[1])
    content_bottom = footer_top - px(_FOOTER_GAP)

    title_paras = [_Para(text) for text in _paragraphs(slide.title or "")]
    body_paras = [] if stage else _bullet_paras(slide.bullets)
    # The ways to share the room under the title: an arrangement and how it splits the room.
    options: list[tuple[str, _Split | None]] = [("text", None)]
    if stage:
        options = [("stage", _stage_split)]
    elif picture is not None:
        source = _picture_size(picture.path)
        natural = "above" if width < height else "beside"
        arrangements = [natural, {"above": "beside", "beside": "above"}[natural]]
        shown = arrangements if body_paras else ["full"]
        options = [*_picture_splits(source, shown, px(_PICTURE_GAP))]
    below = bool(body_paras) or options[0][1] is not None  # else a title alone, centred, bigger
    title_style = _Style(
        font=BOLD_FONT,
        max_size=font_px(_TITLE_MAX if below else _TITLE_ALONE_MAX),
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
    crowded_title = font_px(_TITLE_CROWDED)

    fits: dict[tuple[int, _Style, Box], _Block] = {}

    def fit(paras: list[_Para], style: _Style, box: Box) -> _Block:
        # The arrangements of a picture often fit the same text into the same box.
        key = (id(paras), style, box)
        if key not in fits:
            fits[key] = _fit(paras, style, box)
        return fits[key]

    def arranged(split: _Split | None) -> _Stacked:
        paras = (title_paras, body_paras)
        return _arrange(*paras, title_style, body_style, content, gaps, split, crowded_title, fit)

    arrangement, best = _choose([(name, arranged(split)) for name, split in options])
    if arrangement == "beside":
        best = _centre_beside(best)
    title, body = best.title, best.body
    if best.bar is not None:
        shapes.append(Shape("rect", best.bar, theme.accent))
    items.extend(title.items)
    items.extend(body.items)
    shapes.extend(body.dots)
    images: tuple[PlacedImage, ...] = ()
    if picture is not None and best.reserved is not None:
        images = (PlacedImage(best.reserved, picture.path),)

    items.sort(key=lambda item: item.bbox[1])
    truncated = title.truncated or body.truncated or (number is None) or credit_cut
    if truncated:
        log.debug("slide %s: text truncated to fit %s", slide.slide_number, size)
    return SlideLayout(
        size,
        safe,
        theme.background,
        tuple(shapes),
        tuple(items),
        truncated,
        images,
        best.reserved if stage else None,
    )


def _arrange(
    title_paras: list[_Para],
    body_paras: list[_Para],
    title_style: _Style,
    body_style: _Style,
    box: Box,
    gaps: tuple[int, int, int],
    split: _Split | None,
    crowded_title: int,
    fit: _Fitter,
) -> _Stacked:
    """Stack title and body; try a smaller title for a crowded body, more room for a long title.

    The least cut, most spacious result wins.
    """
    below = bool(body_paras) or split is not None
    best = _stack(
        title_paras, body_paras, title_style, body_style, box, gaps, _TITLE_SHARE, split, fit
    )
    retries = []
    if best.title.items and (best.body.tight or best.body.truncated):
        small = replace(title_style, max_size=crowded_title, min_size=crowded_title)
        retries.append((small, _TITLE_SHARE))
    if best.title.truncated and below:
        retries.append((title_style, _TITLE_SHARE_MAX))
    for style, share in retries:
        other = _stack(title_paras, body_paras, style, body_style, box, gaps, share, split, fit)
        if _crowding(other) < _crowding(best):
            best = other
    return best


def _stack(
    title_paras: list[_Para],
    body_paras: list[_Para],
    title_style: _Style,
    body_style: _Style,
    box: Box,
    gaps: tuple[int, int, int],
    title_share: float,
    split: _Split | None,
    fit: _Fitter,
) -> _Stacked:
    """Fit the title at the top of box, an accent bar under it, and the body below that.

    split divides the room under the bar between the body and a reserved box (a picture, an
    animation); with neither a body nor a split, the title is centred in box alone.
    """
    left, top, right, bottom = box
    bar_gap, bar_height, body_gap = gaps
    below = bool(body_paras) or split is not None
    title_bottom = top + round((bottom - top) * title_share) if below else bottom
    descent = _font(title_style.font, title_style.max_size).getmetrics()[1]
    title_box = (left, top, right, title_bottom - descent - bar_gap - bar_height)
    title = fit(title_paras, title_style, title_box)
    bar = None
    body_top = top
    if title.items:
        last = title.items[-1]
        ascent, descent = _font(title_style.font, last.font_size).getmetrics()
        bar_top = max(title.bottom, last.xy[1] + ascent + descent) + bar_gap
        dy = 0 if below else max(0, (bottom - bar_top - bar_height) // 2)
        if dy:  # a title alone: centre it and its bar in the box
            title = _Block(tuple(_shifted(i, dy) for i in title.items), (), title.truncated)
        bar_right = left + max(bar_height, round((right - left) * 0.12))
        bar = (left, bar_top + dy, bar_right, bar_top + dy + bar_height)
        body_top = bar[3] + body_gap
    room = body_box = (left, body_top, right, bottom)
    reserved = None
    if split is not None:
        body_box, reserved = split(room)
    body = _Block((), (), False)
    if body_paras:
        if title.items:  # body text never outgrows the title
            body_max = max(body_style.min_size, min(body_style.max_size, title.items[0].font_size))
            body_style = replace(body_style, max_size=body_max)
        body = fit(body_paras, body_style, body_box)
    return _Stacked(title, bar, body, reserved, room if split is not None else None)


def _crowding(stacked: _Stacked) -> tuple[bool, bool, int, int, int]:
    """Score a title and body, lower is better: text cut, tight, small body, less shown, title."""
    title, body = stacked.title, stacked.body
    body_size = _body_size(stacked)
    title_size = title.items[0].font_size if title.items else 0
    shown = sum(len(item.text) for item in (*title.items, *body.items))
    truncated = title.truncated or body.truncated
    return truncated, body.tight, -body_size, -shown if truncated else 0, -title_size


def _cut(stacked: _Stacked) -> tuple[bool, bool]:
    """Score only what a smaller picture could save: text cut, then spacing tightened."""
    return stacked.title.truncated or stacked.body.truncated, stacked.body.tight


def _choose(options: list[tuple[str, _Stacked]]) -> tuple[str, _Stacked]:
    """Pick the arrangement that cuts the least text, then the one with the biggest picture.

    Arrangements that cut or squeeze nothing and keep the bullets near the largest size any of
    them allows compete on picture area, the first (the slide's natural one) counting double.
    Otherwise the least crowded wins; ties go to the earlier option.
    """
    least = min(_cut(stacked) for _, stacked in options)
    pool = [option for option in options if _cut(option[1]) == least]
    if least != (False, False):
        return min(pool, key=lambda option: _crowding(option[1]))
    largest = max(_body_size(stacked) for _, stacked in pool)
    pool = [option for option in pool if _body_size(option[1]) >= _KEEP_BODY * largest]
    natural = options[0][0]

    def weight(option: tuple[str, _Stacked]) -> float:
        name, stacked = option
        area = _area(stacked.reserved) if stacked.reserved is not None else 0
        return area * (_NATURAL if name == natural else 1.0)

    return max(pool, key=weight)


def _centre_beside(stacked: _Stacked) -> _Stacked:
    """Centre a picture beside the bullets on their lines, keeping it in the room it was given."""
    if stacked.reserved is None or stacked.room is None or not stacked.body.items:
        return stacked
    x0, y0, x1, y1 = stacked.reserved
    height = y1 - y0
    centre = (stacked.body.items[0].bbox[1] + stacked.body.bottom) / 2
    y = min(max(round(centre - height / 2), stacked.room[1]), stacked.room[3] - height)
    return replace(stacked, reserved=(x0, y, x1, y + height))


def _body_size(stacked: _Stacked) -> int:
    return stacked.body.items[0].font_size if stacked.body.items else 0


def _area(box: Box) -> int:
    return max(0, box[2] - box[0]) * max(0, box[3] - box[1])


def _picture_splits(
    source: tuple[int, int], arrangements: list[str], gap: int
) -> list[tuple[str, _Split]]:
    """Return a split for each arrangement of a picture of source's size and each share."""
    return [
        (
            name,
            functools.partial(
                _split_picture, source=source, arrangement=name, share=share, gap=gap
            ),
        )
        for name in arrangements
        for share in _PICTURE_SHARES[name]
    ]


def _stage_split(region: Box) -> tuple[Box, Box | None]:
    """Reserve all of region (never less than nothing) for an animation."""
    left, top, right, bottom = region
    return region, (left, min(top, bottom), right, bottom)


def _split_picture(
    region: Box, *, source: tuple[int, int], arrangement: str, share: float, gap: int
) -> tuple[Box, Box | None]:
    """Place a picture of source's size in region; return the bullets' box and the picture's.

    "beside": at the right, in at most share of the width (`_centre_beside` later centres it on
    the bullets); "above": at the top, in at most share of the height, centred across; "full":
    all of region, centred. The bullets get what the picture leaves; all of region if there is
    no room for a picture.
    """
    left, top, right, bottom = region
    if arrangement == "beside":
        frame = (right - round((right - left) * share), top, right, bottom)
        picture = _contain(source, frame, (1.0, 0.5))
        if picture is not None:
            return (left, top, picture[0] - gap, bottom), picture
    elif arrangement == "above":
        frame = (left, top, right, top + round((bottom - top) * share))
        picture = _contain(source, frame, (0.5, 0.0))
        if picture is not None:
            return (left, picture[3] + gap, right, bottom), picture
    else:
        return region, _contain(source, region, (0.5, 0.5))
    return region, None


def _contain(source: tuple[int, int], frame: Box, align: tuple[float, float]) -> Box | None:
    """Return the box of a picture of source's size scaled to fit frame, or None if it can't.

    The picture keeps its aspect ratio (to within rounding) and touches two opposite sides of
    frame; align places it along the other axis (0 start, 0.5 centre, 1 end).
    """
    x0, y0, x1, y1 = frame
    room_w, room_h = x1 - x0, y1 - y0
    source_w, source_h = source
    if room_w < 1 or room_h < 1 or source_w < 1 or source_h < 1:
        return None
    scale = min(room_w / source_w, room_h / source_h)
    w = min(room_w, max(1, round(source_w * scale)))
    h = min(room_h, max(1, round(source_h * scale)))
    x = x0 + round((room_w - w) * align[0])
    y = y0 + round((room_h - h) * align[1])
    return x, y, x + w, y + h


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


@functools.lru_cache(maxsize=256)
def load_font(path: Path, size: int) -> ImageFont.FreeTypeFont:
    """Return a bundled font at a size (loaded once per process and size)."""
    return ImageFont.truetype(str(path), size)


_font = load_font


def shaping(font: ImageFont.FreeTypeFont) -> dict[str, str]:
    # Keep lines left-to-right (markers stay on the left); raqm still orders RTL runs within.
    return {"direction": "ltr"} if font.layout_engine == ImageFont.Layout.RAQM else {}


def text_length(font: ImageFont.FreeTypeFont, text: str) -> float:
    """Return the advance width of text, laid out left to right."""
    return font.getlength(text, **shaping(font))


_length = text_length


def _ink(font: ImageFont.FreeTypeFont, text: str) -> Box:
    x0, y0, x1, y1 = font.getbbox(text, anchor="la", **shaping(font))
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


def _credit_texts(image: FoundImage) -> list[str]:
    """Return the picture's credits to try in turn: the full one, then one without the title."""
    texts = []
    for candidate in (image, replace(image, title="")):
        text = " ".join(_paragraphs(candidate.attribution[:_CREDIT_CHARS]))
        if text and text not in texts:
            texts.append(text)
    return texts


def _place_credit(
    texts: list[str],
    sizes: tuple[int, int],
    safe: Box,
    number: PlacedText | None,
    gap: int,
    fill: RGB,
) -> tuple[PlacedText | None, bool]:
    """Place a one-line credit at the bottom left of the safe area, on the number's baseline.

    The first text that fits at some size from sizes[0] down to sizes[1] wins; if none does,
    the last is ellipsized at the smallest size. With too little room left of the number, the
    credit goes above it. Return the line (None if it can't be placed) and whether it was cut.
    """
    left, top, right, bottom = safe
    max_size, min_size = sizes
    limit, baseline = right, None
    if number is not None:
        if number.bbox[0] - gap - left >= (right - left) * _CREDIT_ROOM:
            limit = number.bbox[0] - gap
            baseline = number.xy[1] + _font(REGULAR_FONT, number.font_size).getmetrics()[0]
        else:
            bottom = number.bbox[1] - gap
    if limit <= left or bottom <= top:
        return None, True
    chosen = None
    for i, text in enumerate(texts):
        for size in range(max_size, min_size - 1, -1):
            ink = _ink(_font(REGULAR_FONT, size), text)
            if max(left, left - ink[0]) + ink[2] <= limit:
                chosen = text, size, i > 0
                break
        if chosen is not None:
            break
    if chosen is None:
        cut = _ellipsize(_font(REGULAR_FONT, min_size), texts[-1], left, left, limit)
        if cut is None:
            return None, True
        chosen = cut, min_size, True
    text, size, shortened = chosen
    font = _font(REGULAR_FONT, size)
    ink = _ink(font, text)
    x = max(left, left - ink[0])
    y = (
        bottom - ink[3]
        if baseline is None
        else min(baseline - font.getmetrics()[0], bottom - ink[3])
    )
    bbox = (x + ink[0], y + ink[1], x + ink[2], y + ink[3])
    if bbox[1] < top:
        return None, True
    return PlacedText(text, "credit", size, False, (x, y), bbox, fill), shortened


# --- drawing and pictures ----------------------------------------------------------------------


def draw_layout(layout: SlideLayout) -> Image.Image:
    """Draw a layout: background, shapes, pictures, then the text lines."""
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
    for picture in layout.images:
        _draw_picture(image, picture)
    for item in layout.items:
        font = _font(BOLD_FONT if item.bold else REGULAR_FONT, item.font_size)
        draw.text(item.xy, item.text, fill=item.fill, font=font, anchor="la", **shaping(font))
    return image


def _picture_size(path: Path) -> tuple[int, int]:
    """Return a picture file's width and height as shown upright (reading only its header)."""
    with Image.open(path) as picture:
        width, height = picture.size
        if _orientation(picture) in (5, 6, 7, 8):  # a quarter turn
            return height, width
    return width, height


def _orientation(picture: Image.Image) -> int:
    """Return the EXIF orientation of an opened picture (1, upright, when it has none)."""
    if picture.format == "PNG" and "exif" not in picture.info:
        return 1  # an eXIf chunk after the pixels would need them all decoded; it is rare
    value = picture.getexif().get(ExifTags.Base.Orientation, 1)
    return value if value in _UPRIGHT else 1


def _draw_picture(canvas: Image.Image, placed: PlacedImage) -> None:
    """Scale the picture to its box with Lanczos resampling and paste it upright, in sRGB.

    Transparent parts show the slide beneath.
    """
    x0, y0, x1, y1 = placed.box
    if x1 <= x0 or y1 <= y0:
        return
    with Image.open(placed.path) as source:
        orientation = _orientation(source)
        size = (y1 - y0, x1 - x0) if orientation in (5, 6, 7, 8) else (x1 - x0, y1 - y0)
        source.draft(None, size)  # a JPEG decodes at the smallest 1/2^n scale not below size
        profile = source.info.get("icc_profile")
        picture = _plain_mode(source)
        picture = picture.resize(size, Image.Resampling.LANCZOS, reducing_gap=_REDUCING_GAP)
    picture = _as_srgb(picture, profile)
    if orientation in _UPRIGHT:
        picture = picture.transpose(_UPRIGHT[orientation])
    canvas.paste(picture, (x0, y0), picture if picture.mode == "RGBA" else None)


def _plain_mode(picture: Image.Image) -> Image.Image:
    """Return the picture in a mode Lanczos can scale: RGBA if transparent, else RGB, L or CMYK."""
    if picture.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in picture.info:
        return picture.convert("RGBA")
    if picture.mode in ("RGB", "L", "CMYK"):
        return picture
    if picture.mode == "I" or picture.mode.startswith("I;16"):  # 16-bit grey: keep the top byte
        return picture.convert("I").point(lambda value: value * (1 / 256)).convert("L")
    return picture.convert("RGB")


def _as_srgb(picture: Image.Image, profile: bytes | None) -> Image.Image:
    """Return the picture as RGB (or RGBA), converted to sRGB by its ICC profile if it has one."""
    if picture.mode == "RGBA":
        return picture
    if profile:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
            return ImageCms.profileToProfile(picture, source, _srgb(), outputMode="RGB")
        except (ImageCms.PyCMSError, OSError, ValueError) as exc:
            log.debug("ignoring a picture's unusable colour profile: %s", exc)
    return picture.convert("RGB")


@functools.cache
def _srgb() -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
