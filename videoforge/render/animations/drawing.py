"""What the animation planners share: the slide's canvas and sizes, labels, arrows and panels.

Sizes are fractions of the shorter image side, like the slide layout's. Text goes through the
one text engine (`render.text`): labels in boxes share the largest size at which all of them
fit (`text.common_size`) and are placed with `text.place_label`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from PIL import Image, ImageDraw

from ...core.types import Size, Slide, Theme
from ..draw import animation_canvas
from ..text import (
    REGULAR_FONT,
    RGB,
    Box,
    Label,
    common_size,
    draw_text,
    load_font,
    place_label,
)
from .plan import AnimationPlan, Draw, Step

Point = tuple[float, float]

LABEL_MIN = 0.017  # the smallest label
SMALL = 0.024  # tick labels, value labels
LINE = 0.004  # outlines, axis lines
_LABEL_MAX = 0.048  # few or short labels get large type
_ARROW = 0.006  # arrow shafts
_HEAD = 0.022  # arrowheads
_PAD = 0.016  # text inside a box


@dataclass(frozen=True)
class Context:
    """An animation slide's base frame being drawn, the box left for the animation, and sizes."""

    size: Size
    stage: Box
    theme: Theme
    base: Image.Image  # the first frame: title, slide number and the still parts
    draw: ImageDraw.ImageDraw  # on the base frame

    @classmethod
    def on_canvas(cls, slide: Slide, size: Size, total: int, theme: Theme) -> Context:
        """Draw the slide's title and number and return a context for the box below them."""
        canvas, stage = animation_canvas(slide, size, total=total, theme=theme)
        return cls(size, stage, theme, canvas, ImageDraw.Draw(canvas))

    def plan(self, steps: Sequence[Step], *, continuous: bool) -> AnimationPlan:
        """Return the plan of these steps on this base frame."""
        return AnimationPlan(self.base, self.stage, tuple(steps), continuous)

    @property
    def unit(self) -> int:
        return min(self.size.width, self.size.height)

    def px(self, fraction: float) -> int:
        return max(1, round(self.unit * fraction))

    @property
    def portrait(self) -> bool:
        return self.size.height > self.size.width

    @property
    def panel(self) -> RGB:
        return mix(self.theme.background, self.theme.accent, 0.2)


def mix(a: RGB, b: RGB, t: float) -> RGB:
    """Return the colour t of the way from a to b."""
    return (
        round(a[0] + (b[0] - a[0]) * t),
        round(a[1] + (b[1] - a[1]) * t),
        round(a[2] + (b[2] - a[2]) * t),
    )


def element_box(box: tuple[float, float, float, float]) -> Box:
    """Round a box to whole pixels."""
    return (round(box[0]), round(box[1]), round(box[2]), round(box[3]))


# --- text -----------------------------------------------------------------------------------------


def draw_label(draw: ImageDraw.ImageDraw, label: Label) -> None:
    """Draw a placed label's lines."""
    font = load_font(label.path, label.size)
    for text, xy in label.lines:
        draw_text(draw, xy, text, label.fill, font)


def boxed_labels(labels: Sequence[str], boxes: Sequence[Box], ctx: Context) -> list[Label]:
    """Fit labels into their boxes at one common size, centred."""
    pad = ctx.px(_PAD) + ctx.px(LINE)
    inner = [(b[0] + pad, b[1] + pad, b[2] - pad, b[3] - pad) for b in boxes]
    width = min(b[2] - b[0] for b in inner)
    height = min(b[3] - b[1] for b in inner)
    max_px = min(ctx.px(_LABEL_MAX), max(1, height))
    size = common_size(
        labels, width, height, path=REGULAR_FONT, max_px=max_px, min_px=ctx.px(LABEL_MIN)
    )
    return [
        place_label(t, b, size, fill=ctx.theme.title) for t, b in zip(labels, inner, strict=True)
    ]


# --- shapes ---------------------------------------------------------------------------------------


def panel(draw: ImageDraw.ImageDraw, box: Box, ctx: Context) -> None:
    """Draw a rounded, outlined panel (a flow step, a cycle stage) filling box."""
    radius = max(2, round(min(box[2] - box[0], box[3] - box[1]) * 0.12))
    draw.rounded_rectangle(
        (box[0], box[1], box[2] - 1, box[3] - 1),
        radius=radius,
        fill=ctx.panel,
        outline=ctx.theme.accent,
        width=ctx.px(LINE),
    )


@dataclass(frozen=True)
class Arrow:
    """A polyline shaft ending in a triangular head, and the box both cover."""

    shaft: tuple[tuple[int, int], ...]
    head: tuple[tuple[int, int], ...]
    width: int
    fill: RGB
    box: Box

    def __call__(self, draw: ImageDraw.ImageDraw) -> None:
        draw.line(list(self.shaft), fill=self.fill, width=self.width, joint="curve")
        draw.polygon(list(self.head), fill=self.fill)


def arrow_along(points: Sequence[Point], ctx: Context) -> Arrow:
    """Shape an arrow along points (at least two), its head at the last one."""
    width, head = ctx.px(_ARROW), ctx.px(_HEAD)
    (x1, y1), (x0, y0) = points[-1], points[-2]
    length = math.hypot(x1 - x0, y1 - y0) or 1.0
    ux, uy = (x1 - x0) / length, (y1 - y0) / length
    head = max(2, min(head, round(0.7 * polyline_length(points))))
    base = (x1 - ux * head, y1 - uy * head)
    half = head * 0.55
    shaft = [*points[:-1], base]
    tip = [(x1, y1), (base[0] - uy * half, base[1] + ux * half)]
    tip.append((base[0] + uy * half, base[1] - ux * half))
    xs = [x for x, _ in [*shaft, *tip]]
    ys = [y for _, y in [*shaft, *tip]]
    pad = width // 2 + 1
    box = (
        math.floor(min(xs)) - pad,
        math.floor(min(ys)) - pad,
        math.ceil(max(xs)) + pad + 1,
        math.ceil(max(ys)) + pad + 1,
    )
    return Arrow(
        tuple((round(x), round(y)) for x, y in shaft),
        tuple((round(x), round(y)) for x, y in tip),
        width,
        ctx.theme.muted,
        box,
    )


def polyline_length(points: Sequence[Point]) -> float:
    """Return the length of the path through points."""
    return sum(
        math.hypot(b[0] - a[0], b[1] - a[1]) for a, b in zip(points, points[1:], strict=False)
    )


def connector(a: Box, b: Box, gap: float) -> list[Point]:
    """Return a straight arrow path from box a's edge to box b's edge, gap short of each."""
    ca, cb = _centre(a), _centre(b)
    p0, p1 = _edge_point(a, cb), _edge_point(b, ca)
    length = math.hypot(p1[0] - p0[0], p1[1] - p0[1]) or 1.0
    ux, uy = (p1[0] - p0[0]) / length, (p1[1] - p0[1]) / length
    gap = min(gap, length / 4)
    return [(p0[0] + ux * gap, p0[1] + uy * gap), (p1[0] - ux * gap, p1[1] - uy * gap)]


def _centre(box: Box) -> Point:
    return (box[0] + box[2]) / 2, (box[1] + box[3]) / 2


def _edge_point(box: Box, toward: Point) -> Point:
    """Return where the ray from the box's centre toward a point leaves the box."""
    cx, cy = _centre(box)
    dx, dy = toward[0] - cx, toward[1] - cy
    if dx == 0 and dy == 0:
        return cx, cy
    hw, hh = (box[2] - box[0]) / 2, (box[3] - box[1]) / 2
    t = min(hw / abs(dx) if dx else math.inf, hh / abs(dy) if dy else math.inf)
    return cx + dx * t, cy + dy * t


# --- steps ----------------------------------------------------------------------------------------


def drawer(*parts: Label | Callable[[ImageDraw.ImageDraw], object]) -> Draw:
    """Make a discrete step that draws its labels and shapes once."""

    def draw(image: Image.Image, p0: float, p1: float) -> None:
        canvas = ImageDraw.Draw(image)
        for part in parts:
            if isinstance(part, Label):
                draw_label(canvas, part)
            else:
                part(canvas)

    return draw
