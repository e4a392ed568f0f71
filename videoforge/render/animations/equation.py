"""Equation: terms on one centred line (or a few), each revealed in turn."""

from __future__ import annotations

from dataclasses import dataclass

from PIL import ImageDraw

from ...core.types import Size, Slide, Theme
from ..text import (
    REGULAR_FONT,
    RGB,
    draw_text,
    ellipsize,
    line_height,
    line_pitch,
    load_font,
    shaping,
    text_length,
)
from .drawing import Context, drawer, element_box
from .plan import AnimationPlan, Element, Step

_OPERATORS = frozenset(
    "= + - \u2212 \u00d7 \u00b7 * / \u00f7 < > \u2264 \u2265 \u2248 \u2260 \u00b1".split()
)
_OPERATORS |= {"\u2192", "\u21d2", "\u21d4", "\u2261", "\u221d", ":"}


def plan_equation(spec: dict, slide: Slide, size: Size, total: int, theme: Theme) -> AnimationPlan:
    """Lay terms out on one centred line (or a few), each revealed in turn."""
    ctx = Context.on_canvas(slide, size, total, theme)
    terms: list[str] = spec["terms"]
    left, top, right, bottom = ctx.stage
    width, height = right - left, bottom - top
    max_px = max(ctx.px(0.025), min(ctx.px(0.11), round(height * 0.45)))

    def lines_at(size: int) -> list[list[int]]:
        font = load_font(REGULAR_FONT, size)
        space = round(size * 0.3)
        rows: list[list[int]] = [[]]
        used = 0.0
        for k, term in enumerate(terms):
            w = text_length(font, term)
            if rows[-1] and used + space + w > width:
                rows.append([])
                used = 0.0
            used += (space if rows[-1] else 0) + w
            rows[-1].append(k)
        return rows

    def block_height(size: int, count: int) -> int:
        font = load_font(REGULAR_FONT, size)
        return (count - 1) * line_pitch(font, 1.2) + line_height(font)

    def fits(size: int) -> bool:
        font = load_font(REGULAR_FONT, size)
        widest = max(text_length(font, term) for term in terms)
        return widest <= width and block_height(size, len(lines_at(size))) <= height

    font_px = None
    for candidate in range(max_px, ctx.px(0.05) - 1, -max(1, max_px // 40)):
        if len(lines_at(candidate)) == 1:  # one line while the text stays large
            font_px = candidate
            break
    if font_px is None:  # else lines of a more modest size
        font_px = ctx.px(0.025)
        wrapped_max = min(max_px, ctx.px(0.07))
        for candidate in range(wrapped_max, ctx.px(0.025) - 1, -max(1, wrapped_max // 40)):
            if fits(candidate):
                font_px = candidate
                break
    font = load_font(REGULAR_FONT, font_px)
    space = round(font_px * 0.3)
    rows = lines_at(font_px)
    ascent, _ = font.getmetrics()
    pitch = line_pitch(font, 1.2)
    y = top + (height - block_height(font_px, len(rows))) // 2 + ascent
    steps: list[Step | None] = [None] * len(terms)
    for row in rows:
        shown = {k: ellipsize(font, terms[k], width) for k in row}
        row_width = sum(text_length(font, shown[k]) for k in row) + space * (len(row) - 1)
        x = left + (width - row_width) / 2
        for k in row:
            text = shown[k]
            fill = theme.accent if text in _OPERATORS else theme.title
            xy = (round(x), y)
            ink = font.getbbox(text, anchor="ls", **shaping(font))
            box = (xy[0] + ink[0], y + ink[1], xy[0] + ink[2], y + ink[3])
            term = _Term(text, xy, font_px, fill)
            steps[k] = Step((Element("term", element_box(box), fill, text),), drawer(term))
            x += text_length(font, text) + space
        y += pitch
    return ctx.plan([s for s in steps if s is not None], continuous=False)


@dataclass(frozen=True)
class _Term:
    """One term, drawn from its left/baseline point."""

    text: str
    xy: tuple[int, int]
    size: int
    fill: RGB

    def __call__(self, draw: ImageDraw.ImageDraw) -> None:
        font = load_font(REGULAR_FONT, self.size)
        draw_text(draw, self.xy, self.text, self.fill, font, anchor="ls")
