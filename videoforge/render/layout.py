"""Lay a slide out: a title, bullets and the slide number, fitted into a safe area.

`layout_slide` is pure: it wraps, shrinks and (as a last resort) ellipsizes the text so that
every line's measured ink box lies inside the safe area, and returns where each line goes.
All sizes scale with the shorter side of the image, so the same slide looks alike at
1920x1080, 1280x720, 1080x1920 and 1080x1080. `draw.render_slide` draws exactly that layout.

A slide may show a picture: beside its bullets (under them on a portrait slide), or large
under its title when it has none, with the picture's credit in small print at the bottom left.
`layout_animation` lays out an animation slide's still parts and leaves a box for its frames.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from ..core.types import DEFAULT_THEME, FoundImage, Size, Slide, Theme
from .icons import Icon, choose_icon, icon_named
from .pictures import picture_size
from .text import (
    BOLD_FONT,
    REGULAR_FONT,
    RGB,
    Block,
    Box,
    Para,
    PlacedText,
    TextStyle,
    ellipsize_within,
    fit_paragraphs,
    ink_box,
    load_font,
    paragraphs,
    right_to_left,
)

log = logging.getLogger(__name__)

SAFE_MARGIN = 0.05  # of the width on the left and right, of the height at the top and bottom
MIN_FONT_PX = 8

# Font sizes and spacing, as fractions of the shorter image side.
_TITLE_MAX = 0.078
_TITLE_ALONE_MAX = 0.1  # a slide without bullets: a bigger title
_TITLE_MIN = 0.036
_TITLE_CROWDED = 0.03  # the title of a slide whose bullets only just fit
_BODY_MAX = 0.058
_BODY_MIN = 0.021
_NUMBER = 0.024
_STRIP = 0.008  # accent strip along the top edge
_BAR_HEIGHT = 0.006  # accent bar under the title
_BAR_GAP = 0.02  # title ink to accent bar
_BODY_GAP = 0.035  # accent bar to body
_FOOTER_GAP = 0.025  # body to slide number
_TITLE_SHARE = 0.34  # most of the content height a title may take when there are bullets
_TITLE_SHARE_MAX = 0.55  # ... when it would be cut otherwise
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
# An icon (a slide with neither picture nor animation) beside the bullets, above them on a
# portrait slide, or under a title alone: the most of the width or height it may take.
_ICON_SHARES = {"beside": (0.32,), "below": (0.24,), "full": (0.5,)}
_KEEP_BODY_WITH_ICON = 0.9  # the icon goes when it would shrink the bullets more than this
_COLUMNS_FROM = 7  # bullets from which a wide slide tries two columns
_COLUMN_GAP = 0.05  # between two columns
_WIDE = 1.3  # a body box this many times wider than tall is wide enough for two columns
# The title slide: the topic large and centred, a subtitle, the logo or an icon above them.
_COVER_TITLE_MAX = 0.11
_COVER_SUBTITLE_MAX = 0.05
_COVER_MARK = 0.3  # the logo's or icon's most height, of the safe height
_COVER_GAP = 0.04
CLOSING_ICON = "list-check"
_TEXT_WEIGHT = 0.35  # of a text line's ink box that is ink, roughly
_PICTURE_WEIGHT = 0.5  # of a picture's or an icon's box, for balancing
_NATURAL = 2.0  # the other arrangement must show the picture this many times larger to be chosen


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
class PlacedIcon:
    """An icon glyph drawn as large as fits inside box, centred, in fill."""

    box: Box
    icon: Icon
    fill: RGB


@dataclass(frozen=True)
class SlideLayout:
    """Everything `draw.draw_layout` draws: background, shapes, pictures, then the text lines."""

    size: Size
    safe_area: Box
    background: RGB
    shapes: tuple[Shape, ...]
    items: tuple[PlacedText, ...]
    truncated: bool = False  # some text did not fit even at the minimum font size
    images: tuple[PlacedImage, ...] = ()
    stage: Box | None = None  # left empty for an animation's frames
    icons: tuple[PlacedIcon, ...] = ()


@dataclass(frozen=True)
class _Stacked:
    title: Block
    bar: Box | None
    body: Block
    reserved: Box | None = None  # a picture's box or an animation's stage
    room: Box | None = None  # all the room under the title that the split divided


# Divides the room under the title into the body's box and a reserved box (or None).
_Split = Callable[[Box], tuple[Box, Box | None]]
_Fitter = Callable[[list[Para], TextStyle, Box], Block]


# --- public functions --------------------------------------------------------------------------


def layout_slide(
    slide: Slide,
    size: Size,
    *,
    total: int,
    theme: Theme = DEFAULT_THEME,
    image: FoundImage | None = None,
    icon: bool = True,
) -> SlideLayout:
    """Place the slide's text and picture (if any) so all of it lies in the safe area.

    With an image, the bullets go beside the picture on a landscape or square slide and under
    it on a portrait one, or the other way round when that shows the picture at least twice
    as large (a panorama, a tall portrait), unless that would cost the bullets room they need.
    A slide without bullets shows the picture as large as fits under its title. The picture's
    credit goes at the bottom left when the image names an author or a license.
    Without an image, an icon chosen from the slide's words takes the picture's place (unless
    `icon` is false, or the bullets need the room). The content is centred vertically in the
    safe area; many bullets on a wide slide go in two columns. A "title" slide is laid out as
    the deck's cover (`layout_cover`).
    """
    if slide.kind == "title":
        return layout_cover(slide, size, theme=theme)
    return _layout(slide, size, total, theme, picture=image, icon=icon and image is None)


def layout_animation(
    slide: Slide, size: Size, *, total: int, theme: Theme = DEFAULT_THEME
) -> SlideLayout:
    """Place an animation slide's title and number, and leave layout.stage empty below them."""
    return _layout(slide, size, total, theme, stage=True)


def layout_cover(slide: Slide, size: Size, *, theme: Theme = DEFAULT_THEME) -> SlideLayout:
    """Lay out the deck's title slide, centred: a logo or icon, the topic, a bar, the subtitle.

    The theme's logo (or, without one, an icon chosen from the topic) goes above the title;
    the deployment's name, when the theme has one, at the bottom. No slide number.
    """
    width, height = size.width, size.height
    unit = min(width, height)

    def font_px(fraction: float) -> int:
        return max(MIN_FONT_PX, round(unit * fraction))

    margin_x, margin_y = round(width * SAFE_MARGIN), round(height * SAFE_MARGIN)
    left, top, right, bottom = margin_x, margin_y, width - margin_x, height - margin_y
    strip = max(1, round(unit * _STRIP))
    shapes: list[Shape] = [Shape("rect", (0, 0, width, min(strip, margin_y)), theme.accent)]
    items: list[PlacedText] = []
    gap = round(unit * _COVER_GAP)
    if theme.brand:
        brand = _place_number(
            theme.brand, font_px(_NUMBER * 1.2), (left, top, right, bottom), theme.muted
        )
        if brand is not None:
            brand = _centred_x(replace(brand, role="brand"), left, right)
            items.append(brand)
            bottom = brand.bbox[1] - gap
    room = bottom - top
    truncated = False
    parts: list[tuple[str, object, int]] = []  # (kind, thing, height) stacked top to bottom

    mark_side = round(room * _COVER_MARK)
    mark: tuple[str, Box] | None = None
    if theme.logo:
        source = picture_size(Path(theme.logo))
        box = _contain(source, (0, 0, round((right - left) * 0.5), mark_side), (0.5, 0.5))
        if box is not None:
            mark = ("logo", box)
    else:
        mark = ("icon", (0, 0, mark_side, mark_side))

    title_style = TextStyle(
        font=BOLD_FONT,
        max_size=font_px(_COVER_TITLE_MAX),
        min_size=font_px(_TITLE_MIN),
        line_spacing=1.1,
        para_spacing=0.0,
        indent=0.0,
        role="title",
        fill=theme.title,
    )
    title = fit_paragraphs(
        [Para(t) for t in paragraphs(slide.title or "")],
        title_style,
        (left, 0, right, round(room * 0.4)),
    )
    subtitle = Block((), (), False)
    if slide.subtitle:
        subtitle_style = replace(
            title_style,
            font=REGULAR_FONT,
            max_size=font_px(_COVER_SUBTITLE_MAX),
            min_size=font_px(_BODY_MIN),
            line_spacing=1.2,
            role="subtitle",
            fill=theme.text,
        )
        subtitle = fit_paragraphs(
            [Para(t) for t in paragraphs(slide.subtitle)],
            subtitle_style,
            (left, 0, right, round(room * 0.2)),
        )
    truncated = title.truncated or subtitle.truncated
    bar_height = max(1, round(unit * _BAR_HEIGHT))
    bar_width = round((right - left) * 0.12)

    if mark is not None:
        parts.append(("mark", mark, mark[1][3] - mark[1][1]))
    if title.items:
        parts.append(("title", title, title.bottom - title.items[0].bbox[1]))
        parts.append(("bar", None, bar_height))
    if subtitle.items:
        parts.append(("subtitle", subtitle, subtitle.bottom - subtitle.items[0].bbox[1]))
    total_height = sum(h for _, _, h in parts) + gap * max(0, len(parts) - 1)
    y = top + max(0, (room - total_height) // 2)
    images: tuple[PlacedImage, ...] = ()
    icons: tuple[PlacedIcon, ...] = ()
    centre = (left + right) // 2
    for kind, thing, part_height in parts:
        if kind == "mark":
            name, (x0, y0, x1, y1) = thing  # type: ignore[misc]
            w = x1 - x0
            box = (centre - w // 2, y, centre - w // 2 + w, y + part_height)
            if name == "logo":
                images = (PlacedImage(box, Path(theme.logo or "")),)
            else:
                icons = (PlacedIcon(box, choose_icon(slide.title, slide.bullets), theme.accent),)
        elif kind == "bar":
            shapes.append(
                Shape(
                    "rect",
                    (centre - bar_width // 2, y, centre + (bar_width + 1) // 2, y + bar_height),
                    theme.accent,
                )
            )
        else:
            block: Block = thing  # type: ignore[assignment]
            dy = y - block.items[0].bbox[1]
            items.extend(_centred_x(_shifted(item, dy), left, right) for item in block.items)
        y += part_height + gap
    items.sort(key=lambda item: item.bbox[1])
    safe = (left, top, right, height - margin_y)
    return SlideLayout(
        size, safe, theme.background, tuple(shapes), tuple(items), truncated, images, None, icons
    )


# --- arranging a slide -------------------------------------------------------------------------


def _layout(
    slide: Slide,
    size: Size,
    total: int,
    theme: Theme,
    *,
    picture: FoundImage | None = None,
    stage: bool = False,
    icon: bool = False,
) -> SlideLayout:
    """Lay out a text slide, a slide with a picture or an icon, or (stage) an animation slide."""
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

    title_paras = [Para(text) for text in paragraphs(slide.title or "")]
    body_paras = [] if stage else _bullet_paras(slide.bullets)
    # The ways to share the room under the title: an arrangement and how it splits the room.
    options: list[tuple[str, _Split | None]] = [("text", None)]
    if stage:
        options = [("stage", _stage_split)]
    elif picture is not None:
        source = picture_size(picture.path)
        natural = "above" if width < height else "beside"
        arrangements = [natural, {"above": "beside", "beside": "above"}[natural]]
        shown = arrangements if body_paras else ["full"]
        options = [*_picture_splits(source, shown, px(_PICTURE_GAP))]
    elif icon:
        natural = "below" if width < height else "beside"  # under the bullets balances a title
        shown = [natural] if body_paras else ["full"]
        splits = _picture_splits((1, 1), shown, px(_PICTURE_GAP), shares=_ICON_SHARES)
        options = [*splits, ("text", None)]
    below = bool(body_paras) or options[0][1] is not None  # else a title alone, centred, bigger
    title_style = TextStyle(
        font=BOLD_FONT,
        max_size=font_px(_TITLE_MAX if below else _TITLE_ALONE_MAX),
        min_size=font_px(_TITLE_MIN),
        line_spacing=1.12,
        para_spacing=0.0,
        indent=0.0,
        role="title",
        fill=theme.title,
    )
    body_style = TextStyle(
        font=REGULAR_FONT,
        max_size=font_px(_BODY_MAX),
        min_size=font_px(_BODY_MIN),
        line_spacing=1.28,
        para_spacing=0.5,
        indent=1.0,
        role="body",
        fill=theme.text,
    )
    gaps = (px(_BAR_GAP), px(_BAR_HEIGHT), px(_BODY_GAP))
    content = (left, top, right, content_bottom)
    crowded_title = font_px(_TITLE_CROWDED)

    fits: dict[tuple[int, TextStyle, Box], Block] = {}

    def fit(paras: list[Para], style: TextStyle, box: Box) -> Block:
        # The arrangements of a picture often fit the same text into the same box.
        key = (id(paras), style, box)
        if key not in fits:
            fits[key] = fit_paragraphs(paras, style, box)
        return fits[key]

    def arranged(split: _Split | None) -> _Stacked:
        paras = (title_paras, body_paras)
        return _arrange(*paras, title_style, body_style, content, gaps, split, crowded_title, fit)

    arranged_options = [(name, arranged(split)) for name, split in options]
    if icon:
        arrangement, best = _choose_icon(arranged_options)
    else:
        arrangement, best = _choose(arranged_options)
    if arrangement == "beside":
        best = _centre_beside(best)
    elif arrangement == "below" and best.reserved is not None and best.body.items:
        x0, y0, x1, y1 = best.reserved  # just under the bullets, not at the foot of the room
        y = best.body.bottom + px(_PICTURE_GAP)
        best = replace(best, reserved=(x0, min(y, y0), x1, min(y, y0) + y1 - y0))
    if not stage:
        best = _centre_vertically(best, top, content_bottom)
    title, body = best.title, best.body
    if best.bar is not None:
        shapes.append(Shape("rect", best.bar, theme.accent))
    items = [*title.items, *body.items, *items]  # in reading order: columns one after the other
    shapes.extend(Shape("dot", box, theme.accent) for box in body.markers)
    images: tuple[PlacedImage, ...] = ()
    if picture is not None and best.reserved is not None:
        images = (PlacedImage(best.reserved, picture.path),)
    icons: tuple[PlacedIcon, ...] = ()
    if icon and best.reserved is not None:
        icons = (PlacedIcon(best.reserved, _icon_for(slide), theme.accent),)

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
        icons,
    )


def _arrange(
    title_paras: list[Para],
    body_paras: list[Para],
    title_style: TextStyle,
    body_style: TextStyle,
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
    title_paras: list[Para],
    body_paras: list[Para],
    title_style: TextStyle,
    body_style: TextStyle,
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
    descent = load_font(title_style.font, title_style.max_size).getmetrics()[1]
    title_box = (left, top, right, title_bottom - descent - bar_gap - bar_height)
    title = fit(title_paras, title_style, title_box)
    bar = None
    body_top = top
    if title.items:
        last = title.items[-1]
        ascent, descent = load_font(title_style.font, last.font_size).getmetrics()
        bar_top = max(title.bottom, last.xy[1] + ascent + descent) + bar_gap
        dy = 0 if below else max(0, (bottom - bar_top - bar_height) // 2)
        if dy:  # a title alone: centre it and its bar in the box
            title = Block(tuple(_shifted(i, dy) for i in title.items), (), title.truncated)
        bar_width = max(bar_height, round((right - left) * 0.12))
        bar_left = (
            right - bar_width if right_to_left(last.text) else left
        )  # under the title's start
        bar = (bar_left, bar_top + dy, bar_left + bar_width, bar_top + dy + bar_height)
        body_top = bar[3] + body_gap
    room = body_box = (left, body_top, right, bottom)
    reserved = None
    if split is not None:
        body_box, reserved = split(room)
    body = Block((), (), False)
    if body_paras:
        if title.items:  # body text never outgrows the title
            body_max = max(body_style.min_size, min(body_style.max_size, title.items[0].font_size))
            body_style = replace(body_style, max_size=body_max)
        body = fit(body_paras, body_style, body_box)
        bx0, by0, bx1, by1 = body_box
        wide = bx1 - bx0 >= _WIDE * max(1, by1 - by0)
        if wide and sum(p.marker for p in body_paras) >= _COLUMNS_FROM:
            columns = _fit_columns(body_paras, body_style, body_box)
            if (_cut_block(columns), -_block_size(columns)) < (
                _cut_block(body),
                -_block_size(body),
            ):
                body = columns
    return _Stacked(title, bar, body, reserved, room if split is not None else None)


def _fit_columns(paras: list[Para], style: TextStyle, box: Box) -> Block:
    """Fit the bullets in two columns side by side, the first taking the first half, at one size."""
    starts = [i for i, para in enumerate(paras) if para.marker]
    half = starts[(len(starts) + 1) // 2]
    left, top, right, bottom = box
    gap = round((right - left) * _COLUMN_GAP)
    middle = (left + right - gap) // 2
    parts = (
        (paras[:half], (left, top, middle, bottom)),
        (paras[half:], (middle + gap, top, right, bottom)),
    )
    blocks = [fit_paragraphs(part, style, column) for part, column in parts]
    size = min(_block_size(block) for block in blocks)
    blocks = [
        block
        if _block_size(block) == size
        else fit_paragraphs(part, replace(style, max_size=max(size, style.min_size)), column)
        for block, (part, column) in zip(blocks, parts, strict=True)
    ]
    return Block(
        blocks[0].items + blocks[1].items,
        blocks[0].markers + blocks[1].markers,
        blocks[0].truncated or blocks[1].truncated,
        blocks[0].tight or blocks[1].tight,
    )


def _block_size(block: Block) -> int:
    return block.items[0].font_size if block.items else 0


def _cut_block(block: Block) -> tuple[bool, bool]:
    return block.truncated, block.tight


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


def _choose_icon(options: list[tuple[str, _Stacked]]) -> tuple[str, _Stacked]:
    """Keep the icon unless it cuts or squeezes text, or costs the bullets much of their size.

    options are the icon's arrangement(s) and, last, the slide without it.
    """
    plain_name, plain = options[-1]
    keep = _KEEP_BODY_WITH_ICON * _body_size(plain)
    for name, stacked in options[:-1]:
        if stacked.reserved is None or _cut(stacked) > _cut(plain):
            continue
        if _body_size(stacked) >= keep:
            return name, stacked
    return plain_name, plain


def _centre_vertically(stacked: _Stacked, top: int, bottom: int) -> _Stacked:
    """Move the title, bar, body and picture down together to balance them in top..bottom.

    Balanced by their weight, as the eye sees it: a line of text weighs about a third of its
    ink box, a picture or icon half of its box. The move keeps everything inside.
    """
    weighed = [(item.bbox, _TEXT_WEIGHT) for item in (*stacked.title.items, *stacked.body.items)]
    if stacked.reserved is not None:
        weighed.append((stacked.reserved, _PICTURE_WEIGHT))
    if not weighed:
        return stacked
    boxes = [box for box, _ in weighed] + ([stacked.bar] if stacked.bar is not None else [])
    high = max(b[3] for b in boxes)
    mass = sum(_area(box) * weight for box, weight in weighed)
    if mass <= 0:
        return stacked
    centre = sum(_area(box) * weight * (box[1] + box[3]) / 2 for box, weight in weighed) / mass
    dy = round((top + bottom) / 2 - centre)
    dy = max(0, min(dy, bottom - high))
    if dy <= 0:
        return stacked

    def moved(block: Block) -> Block:
        items = tuple(_shifted(item, dy) for item in block.items)
        markers = tuple(_moved(box, dy) for box in block.markers)
        return replace(block, items=items, markers=markers)

    return replace(
        stacked,
        title=moved(stacked.title),
        body=moved(stacked.body),
        bar=_moved(stacked.bar, dy) if stacked.bar is not None else None,
        reserved=_moved(stacked.reserved, dy) if stacked.reserved is not None else None,
    )


def _moved(box: Box, dy: int) -> Box:
    return box[0], box[1] + dy, box[2], box[3] + dy


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
    source: tuple[int, int],
    arrangements: list[str],
    gap: int,
    shares: dict[str, tuple[float, ...]] = _PICTURE_SHARES,
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
        for share in shares[name]
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
    the bullets); "above" ("below"): at the top (bottom), in at most share of the height,
    centred across; "full":
    at the top of region, in at most share of its height, centred across. The bullets get what the picture leaves; all of region if there is
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
    elif arrangement == "below":
        frame = (left, bottom - round((bottom - top) * share), right, bottom)
        picture = _contain(source, frame, (0.5, 1.0))
        if picture is not None:
            return (left, top, right, picture[1] - gap), picture
    else:
        x0, y0, x1, y1 = region
        frame = (x0, y0, x1, y0 + round((y1 - y0) * share))
        return region, _contain(source, frame, (0.5, 0.0))  # under the title; then all centred
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


# --- bullets, the slide number and a picture's credit -----------------------------------------


def _bullet_paras(bullets: tuple[str, ...]) -> list[Para]:
    """Turn bullets into paragraphs; a bullet's own line breaks continue under its marker."""
    paras = []
    for bullet in bullets:
        parts = paragraphs(bullet or "")
        if parts and parts[0].startswith("\u2022"):  # the model wrote its own marker
            parts[0] = parts[0].lstrip("\u2022 ")
            parts = [p for p in parts if p]
        paras.extend(Para(part, indent=True, marker=i == 0) for i, part in enumerate(parts))
    return paras


def _place_number(text: str, size: int, safe: Box, fill: RGB) -> PlacedText | None:
    """Place "n / total" with its ink in the bottom-right corner of the safe area."""
    left, top, right, bottom = safe
    font = load_font(REGULAR_FONT, size)
    ink = ink_box(font, text)
    if ink[2] - ink[0] > right - left:
        cut = ellipsize_within(font, text, left, left, right)
        if cut is None:
            return None
        text, ink = cut, ink_box(font, cut)
    x, y = right - ink[2], bottom - ink[3]
    bbox = (x + ink[0], y + ink[1], x + ink[2], y + ink[3])
    if bbox[1] < top:
        return None
    return PlacedText(text, "number", size, False, (x, y), bbox, fill)


def _icon_for(slide: Slide) -> Icon:
    """Return a slide's icon: a check list for the closing slide, else one from its words."""
    if slide.kind == "closing":
        return icon_named(CLOSING_ICON)
    return choose_icon(slide.title, slide.bullets)


def _centred_x(item: PlacedText, left: int, right: int) -> PlacedText:
    """Move a line sideways so its ink is centred between left and right."""
    x0, y0, x1, y1 = item.bbox
    dx = (left + right - x0 - x1) // 2
    return replace(item, xy=(item.xy[0] + dx, item.xy[1]), bbox=(x0 + dx, y0, x1 + dx, y1))


def _shifted(item: PlacedText, dy: int) -> PlacedText:
    x0, y0, x1, y1 = item.bbox
    return replace(item, xy=(item.xy[0], item.xy[1] + dy), bbox=(x0, y0 + dy, x1, y1 + dy))


def _credit_texts(image: FoundImage) -> list[str]:
    """Return the picture's credits to try in turn: the full one, then one without the title."""
    texts = []
    for candidate in (image, replace(image, title="")):
        text = " ".join(paragraphs(candidate.attribution[:_CREDIT_CHARS]))
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
            baseline = number.xy[1] + load_font(REGULAR_FONT, number.font_size).getmetrics()[0]
        else:
            bottom = number.bbox[1] - gap
    if limit <= left or bottom <= top:
        return None, True
    chosen = None
    for i, text in enumerate(texts):
        for size in range(max_size, min_size - 1, -1):
            ink = ink_box(load_font(REGULAR_FONT, size), text)
            if max(left, left - ink[0]) + ink[2] <= limit:
                chosen = text, size, i > 0
                break
        if chosen is not None:
            break
    if chosen is None:
        cut = ellipsize_within(load_font(REGULAR_FONT, min_size), texts[-1], left, left, limit)
        if cut is None:
            return None, True
        chosen = cut, min_size, True
    text, size, shortened = chosen
    font = load_font(REGULAR_FONT, size)
    ink = ink_box(font, text)
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
