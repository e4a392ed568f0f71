"""Slide animations: declarative specs drawn by our own Pillow code and encoded as short clips.

A spec is a small JSON object (the language model and outlines write the same format):

    {"type": "bullets"}                                    the slide's bullets, one by one
    {"type": "flow", "steps": [2..8 str]}                  boxes joined by arrows
    {"type": "bar_chart", "labels": [1..12 str], "values": [numbers], "unit": str | null}
    {"type": "timeline", "events": [{"label": str, "when": str}, 2..10]}
    {"type": "cycle", "stages": [3..8 str]}                stages on a ring, arrows between
    {"type": "function_plot", "expression": str, "x_min": num, "x_max": num, "label": str | null}
    {"type": "equation", "terms": [1..10 str]}             an equation built term by term

Specs are checked by `core.animation_spec.validate_animation` before they reach this module;
nothing in one is ever run.

Rendering is cheap because only the frames where the picture changes are drawn: `plan_animation`
lays out the still parts once (the base frame) and lists the steps that reveal the rest, each
drawing onto the same working image. Discrete steps (a box, an event, a term) appear at one
moment, in step with the narration's sentences when their times are known; continuous steps
(bars growing, the curve being drawn) get about 15 frames a second during their short
transition. `media.compose.encode_frames` then stores each distinct frame once with its own
duration (the pipeline's visuals stage does that).
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from ...core import mathexpr
from ...core.animation_spec import PLOT_SAMPLES
from ...core.types import DEFAULT_THEME, Size, Slide, Theme
from ..slides import (
    BOLD_FONT,
    ELLIPSIS,
    REGULAR_FONT,
    Box,
    animation_canvas,
    draw_layout,  # the slide renderer's own drawing of a layout (see "bullets")
    layout_slide,
    load_font,
    shaping,
    text_length,
)

log = logging.getLogger(__name__)

RGB = tuple[int, int, int]
Point = tuple[float, float]

FINISH = 0.85  # every element has appeared by this fraction of the clip
TRANSITION = 1.2  # seconds that bars take to grow and the curve to be drawn
TRANSITION_FPS = 15  # frames per second drawn during a continuous transition
MIN_DURATION = 0.1

# Sizes as fractions of the shorter image side, like the slide renderer's.
_LABEL_MAX = 0.038
_LABEL_MIN = 0.017
_SMALL = 0.024  # tick labels, value labels
_LINE = 0.004  # outlines, axis lines
_ARROW = 0.006  # arrow shafts
_HEAD = 0.022  # arrowheads
_DOT = 0.014  # timeline dots (radius)
_CURVE = 0.006
_PAD = 0.016  # text inside a box
_OPERATORS = frozenset(
    "= + - \u2212 \u00d7 \u00b7 * / \u00f7 < > \u2264 \u2265 \u2248 \u2260 \u00b1".split()
)
_OPERATORS |= {"\u2192", "\u21d2", "\u21d4", "\u2261", "\u221d", ":"}


# --- plans ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Element:
    """One thing an animation reveals, as it looks complete: what, where, and its main colour."""

    kind: str  # "bullet", "step", "arrow", "bar", "value", "event", "stage", "curve" or "term"
    box: Box  # where it is drawn, in image pixels (right and bottom exclusive)
    colour: RGB  # the colour that many of its pixels have once it is drawn
    label: str = ""


# Draws a step onto the working image, from one progress to a greater one (0 < p <= 1).
Draw = Callable[[Image.Image, float, float], None]


@dataclass(frozen=True)
class Step:
    """What appears together: its elements and how to draw them."""

    elements: tuple[Element, ...]
    draw: Draw


@dataclass(frozen=True)
class AnimationPlan:
    """A laid-out animation: the base frame, the box it uses, and its steps in order."""

    base: Image.Image  # the first frame: title, slide number and the still parts
    stage: Box
    steps: tuple[Step, ...]
    continuous: bool  # steps grow over a transition (bars, curve) rather than appear at once

    @property
    def elements(self) -> tuple[Element, ...]:
        """Return every element of every step, in the order they appear."""
        return tuple(e for step in self.steps for e in step.elements)


def plan_animation(
    spec: dict, slide: Slide, size: Size, *, total: int, theme: Theme = DEFAULT_THEME
) -> AnimationPlan:
    """Lay out a validated spec on the slide's base frame and list the steps that reveal it."""
    kind = spec["type"]
    if kind == "bullets":
        return _plan_bullets(slide, size, total, theme)
    canvas, stage = animation_canvas(slide, size, total=total, theme=theme)
    ctx = _Context(size, stage, theme, ImageDraw.Draw(canvas))
    planners = {
        "flow": _plan_flow,
        "bar_chart": _plan_bars,
        "timeline": _plan_timeline,
        "cycle": _plan_cycle,
        "function_plot": _plan_plot,
        "equation": _plan_equation,
    }
    steps, continuous = planners[kind](spec, ctx)
    return AnimationPlan(canvas, stage, tuple(steps), continuous)


def animation_frames(
    plan: AnimationPlan, duration: float, cues: Sequence[tuple[float, float]] = ()
) -> Iterator[tuple[Image.Image, float]]:
    """Yield each distinct frame of a plan and how long it stays on screen, summing to duration."""
    windows = schedule(len(plan.steps), duration, cues, continuous=plan.continuous)
    times = {end for _, end in windows}
    if plan.continuous and windows:  # one grid for all growing steps, ending when the last does
        first, last = min(s for s, _ in windows), max(e for _, e in windows)
        times = {last}
        frame_step = 1 / TRANSITION_FPS
        t = first + frame_step
        while t < last - frame_step / 2:
            times.add(t)
            t += frame_step
    image = plan.base.copy()
    progress = [0.0] * len(plan.steps)
    shown = 0.0
    for t in sorted(times):
        if t > shown:
            yield image.copy(), t - shown
            shown = t
        for i, (step, (start, end)) in enumerate(zip(plan.steps, windows, strict=True)):
            p = 1.0 if t >= end else _ease((t - start) / (end - start)) if t > start else 0.0
            if p > progress[i]:
                step.draw(image, progress[i], p)
                progress[i] = p
    yield image, duration - shown


def _ease(p: float) -> float:
    """Ease out (cubic): fast at first, settling gently."""
    p = min(1.0, max(0.0, p))
    return 1 - (1 - p) ** 3


def schedule(
    count: int, duration: float, cues: Sequence[tuple[float, float]] = (), *, continuous: bool
) -> list[tuple[float, float]]:
    """Return each step's (start, end) seconds: equal for a discrete step, a window for growth.

    Discrete steps follow the narration: with sentence cues, step i appears with sentence
    i * len(cues) // count (steps sharing a sentence spread over it), else they are spread
    evenly. Continuous steps grow one after another, overlapping, within TRANSITION seconds.
    Everything starts after a short lead (so the first frame is the bare base) and ends by
    FINISH of the duration.
    """
    lead = min(0.5, max(2 / 30, 0.12 * duration))
    finish = max(lead, min(FINISH * duration, duration - 1 / 30))
    if count == 0:
        return []
    if continuous:
        window = min(TRANSITION, finish - lead)
        grow = window if count == 1 else window * 0.55
        stagger = 0.0 if count == 1 else (window - grow) / (count - 1)
        return [(lead + i * stagger, lead + i * stagger + grow) for i in range(count)]
    usable = [(float(a), float(b)) for a, b in cues if math.isfinite(a) and math.isfinite(b)]
    times = []
    if usable:
        m = len(usable)
        groups: dict[int, list[int]] = {}
        for i in range(count):
            groups.setdefault(i * m // count, []).append(i)
        for j, members in sorted(groups.items()):
            start, end = usable[j]
            span = max(0.0, end - start)
            times += [start + r * span / len(members) for r in range(len(members))]
    else:
        times = [lead + i * (finish - lead) / count for i in range(count)]
    result, previous = [], lead
    for t in times:
        t = min(finish, max(previous, t))
        result.append((t, t))
        previous = t
    return result


# --- drawing helpers ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Context:
    size: Size
    stage: Box
    theme: Theme
    draw: ImageDraw.ImageDraw  # on the base frame

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
        return _mix(self.theme.background, self.theme.accent, 0.2)


@dataclass(frozen=True)
class _Text:
    """Lines of text placed in a box; xy is each line's left/ascender anchor."""

    lines: tuple[tuple[str, tuple[int, int]], ...]
    path: Path
    size: int
    fill: RGB
    box: Box  # the lines' nominal extent

    def draw(self, draw: ImageDraw.ImageDraw) -> None:
        font = _font(self.path, self.size)
        for text, xy in self.lines:
            draw.text(xy, text, fill=self.fill, font=font, anchor="la", **shaping(font))


def _mix(a: RGB, b: RGB, t: float) -> RGB:
    """Return the colour t of the way from a to b."""
    return (
        round(a[0] + (b[0] - a[0]) * t),
        round(a[1] + (b[1] - a[1]) * t),
        round(a[2] + (b[2] - a[2]) * t),
    )


_font = load_font
_length = text_length


def _line_height(font: ImageFont.FreeTypeFont) -> int:
    ascent, descent = font.getmetrics()
    return ascent + descent


def _ellipsize(font: ImageFont.FreeTypeFont, text: str, width: float) -> str:
    """Return text cut to the longest prefix that fits width with an ellipsis (maybe just one)."""
    if _length(font, text) <= width:
        return text
    lo, hi = 0, len(text)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if _length(font, text[:mid].rstrip() + ELLIPSIS) <= width:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo].rstrip() + ELLIPSIS


def _wrap(font: ImageFont.FreeTypeFont, text: str, width: float) -> list[str]:
    """Break text into lines of whole words that fit width; a too-long word is cut by characters."""
    lines: list[str] = []
    current = ""
    for word in text.split(" "):
        candidate = f"{current} {word}" if current else word
        if _length(font, candidate) <= width:
            current = candidate
            continue
        if current:
            lines.append(current)
        while _length(font, word) > width and len(word) > 1:
            lo, hi = 1, len(word) - 1
            while lo < hi:
                mid = (lo + hi + 1) // 2
                if _length(font, word[:mid]) <= width:
                    lo = mid
                else:
                    hi = mid - 1
            lines.append(word[:lo])
            word = word[lo:]
        current = word
    if current:
        lines.append(current)
    return lines


def _fits(text: str, path: Path, size: int, width: int, height: int, max_lines: int) -> bool:
    """Tell whether text wraps into width x height at size without breaking a word."""
    font = _font(path, size)
    if _line_height(font) > height:
        return False
    if any(_length(font, word) > width for word in text.split(" ")):
        return False
    lines = _wrap(font, text, width)
    pitch = round(_line_height(font) * 1.08)
    needed = (len(lines) - 1) * pitch + _line_height(font)
    return len(lines) <= max_lines and needed <= height


def _common_size(
    texts: Sequence[str],
    width: int,
    height: int,
    *,
    path: Path,
    max_px: int,
    min_px: int,
    max_lines: int = 3,
) -> int:
    """Return the largest font size (min_px at least) at which every text fits width x height."""
    lo, hi = min_px, max(min_px, max_px)
    if all(_fits(t, path, hi, width, height, max_lines) for t in texts):
        return hi
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if all(_fits(t, path, mid, width, height, max_lines) for t in texts):
            lo = mid
        else:
            hi = mid - 1
    return lo


def _place(
    text: str,
    box: Box,
    size: int,
    *,
    path: Path = REGULAR_FONT,
    fill: RGB,
    align: str = "center",
    valign: str = "center",
    max_lines: int = 3,
) -> _Text:
    """Wrap text into box at size, cutting it with an ellipsis when it does not fit."""
    left, top, right, bottom = box
    width, height = max(1, right - left), max(1, bottom - top)
    font = _font(path, size)
    line_height = _line_height(font)
    pitch = round(line_height * 1.08)
    room = max(1, min(max_lines, 1 + (height - line_height) // pitch))
    lines = _wrap(font, text, width)
    if len(lines) > room:
        lines = [
            *lines[: room - 1],
            _ellipsize(font, " ".join(lines[room - 1 :]) + ELLIPSIS, width),
        ]
    lines = [_ellipsize(font, line, width) for line in lines]
    block = (len(lines) - 1) * pitch + line_height
    if valign == "top":
        y = top
    elif valign == "bottom":
        y = bottom - block
    else:
        y = top + (height - block) // 2
    placed = []
    x_min, x_max = right, left
    for i, line in enumerate(lines):
        w = round(_length(font, line))
        if align == "left":
            x = left
        elif align == "right":
            x = right - w
        else:
            x = left + (width - w) // 2
        placed.append((line, (x, y + i * pitch)))
        x_min, x_max = min(x_min, x), max(x_max, x + w)
    return _Text(tuple(placed), path, size, fill, (x_min, y, x_max, y + block))


def _text_height(text: str, width: int, size: int, *, path: Path, max_lines: int = 3) -> int:
    """Return the height text takes when placed (as `_place` does) in a box of width."""
    placed = _place(
        text, (0, 0, width, 10**6), size, path=path, fill=(0, 0, 0), max_lines=max_lines
    )
    return placed.box[3] - placed.box[1]


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


def _inside(point: Point, box: Box, margin: float) -> bool:
    x, y = point
    return box[0] - margin <= x <= box[2] + margin and box[1] - margin <= y <= box[3] + margin


@dataclass(frozen=True)
class _Arrow:
    """A polyline shaft ending in a triangular head, and the box both cover."""

    shaft: tuple[tuple[int, int], ...]
    head: tuple[tuple[int, int], ...]
    width: int
    fill: RGB
    box: Box

    def __call__(self, draw: ImageDraw.ImageDraw) -> None:
        draw.line(list(self.shaft), fill=self.fill, width=self.width, joint="curve")
        draw.polygon(list(self.head), fill=self.fill)


def _arrow(points: Sequence[Point], ctx: _Context) -> _Arrow:
    """Shape an arrow along points (at least two), its head at the last one."""
    width, head = ctx.px(_ARROW), ctx.px(_HEAD)
    (x1, y1), (x0, y0) = points[-1], points[-2]
    length = math.hypot(x1 - x0, y1 - y0) or 1.0
    ux, uy = (x1 - x0) / length, (y1 - y0) / length
    head = max(2, min(head, round(0.7 * _polyline_length(points))))
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
    return _Arrow(
        tuple((round(x), round(y)) for x, y in shaft),
        tuple((round(x), round(y)) for x, y in tip),
        width,
        ctx.theme.muted,
        box,
    )


def _polyline_length(points: Sequence[Point]) -> float:
    return sum(
        math.hypot(b[0] - a[0], b[1] - a[1]) for a, b in zip(points, points[1:], strict=False)
    )


def _connector(a: Box, b: Box, gap: float) -> list[Point]:
    """Return a straight arrow path from box a's edge to box b's edge, gap short of each."""
    ca, cb = _centre(a), _centre(b)
    p0, p1 = _edge_point(a, cb), _edge_point(b, ca)
    length = math.hypot(p1[0] - p0[0], p1[1] - p0[1]) or 1.0
    ux, uy = (p1[0] - p0[0]) / length, (p1[1] - p0[1]) / length
    gap = min(gap, length / 4)
    return [(p0[0] + ux * gap, p0[1] + uy * gap), (p1[0] - ux * gap, p1[1] - uy * gap)]


def _panel(draw: ImageDraw.ImageDraw, box: Box, ctx: _Context) -> None:
    radius = max(2, round(min(box[2] - box[0], box[3] - box[1]) * 0.12))
    draw.rounded_rectangle(
        (box[0], box[1], box[2] - 1, box[3] - 1),
        radius=radius,
        fill=ctx.panel,
        outline=ctx.theme.accent,
        width=ctx.px(_LINE),
    )


def _boxed_labels(labels: Sequence[str], boxes: Sequence[Box], ctx: _Context) -> list[_Text]:
    """Fit labels into their boxes at one common size, centred."""
    pad = ctx.px(_PAD) + ctx.px(_LINE)
    inner = [(b[0] + pad, b[1] + pad, b[2] - pad, b[3] - pad) for b in boxes]
    width = min(b[2] - b[0] for b in inner)
    height = min(b[3] - b[1] for b in inner)
    max_px = min(ctx.px(_LABEL_MAX), max(1, height))
    size = _common_size(
        labels, width, height, path=REGULAR_FONT, max_px=max_px, min_px=ctx.px(_LABEL_MIN)
    )
    return [_place(t, b, size, fill=ctx.theme.title) for t, b in zip(labels, inner, strict=True)]


def _element_box(box: Box) -> Box:
    return (round(box[0]), round(box[1]), round(box[2]), round(box[3]))


# --- bullets ------------------------------------------------------------------------------------


def _plan_bullets(slide: Slide, size: Size, total: int, theme: Theme) -> AnimationPlan:
    """Reveal the bullets of the ordinary slide layout one at a time (ending on the plain slide)."""
    layout = layout_slide(slide, size, total=total, theme=theme)
    body = [item for item in layout.items if item.role == "body"]
    dots = sorted((s for s in layout.shapes if s.kind == "dot"), key=lambda s: s.box[1])
    full = draw_layout(layout)
    base = draw_layout(
        replace(
            layout,
            items=tuple(item for item in layout.items if item.role != "body"),
            shapes=tuple(s for s in layout.shapes if s.kind != "dot"),
        )
    )
    # A line belongs to the last bullet whose marker starts above the line's bottom.
    groups: list[list[Box]] = [[dot.box] for dot in dots] or [[]]
    texts: list[list[str]] = [[] for _ in groups]
    for item in body:
        index = max(0, sum(1 for dot in dots if dot.box[1] < item.bbox[3]) - 1)
        groups[index].append(item.bbox)
        texts[index].append(item.text)
    inks = [_union(group) for group, text in zip(groups, texts, strict=True) if text]
    texts = [text for text in texts if text]
    steps = []
    for i, ink in enumerate(inks):
        # Each bullet's band reaches halfway to its neighbours' ink: nothing is cut off.
        top = (inks[i - 1][3] + ink[1]) // 2 if i else max(0, ink[1] - 2)
        bottom = (ink[3] + inks[i + 1][1]) // 2 if i + 1 < len(inks) else ink[3] + 2
        element = Element("bullet", ink, theme.text, " ".join(texts[i]))
        steps.append(
            Step((element,), _paster(full, (0, top, size.width, min(size.height, bottom))))
        )
    return AnimationPlan(base, layout.safe_area, tuple(steps), continuous=False)


def _union(boxes: Sequence[Box]) -> Box:
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )


def _paster(source: Image.Image, box: Box) -> Draw:
    region = source.crop(box)

    def draw(image: Image.Image, p0: float, p1: float) -> None:
        image.paste(region, box[:2])

    return draw


def _drawer(*parts: _Text | Callable[[ImageDraw.ImageDraw], object]) -> Draw:
    """Make a discrete step that draws its texts and shapes once."""

    def draw(image: Image.Image, p0: float, p1: float) -> None:
        canvas = ImageDraw.Draw(image)
        for part in parts:
            if isinstance(part, _Text):
                part.draw(canvas)
            else:
                part(canvas)

    return draw


# --- flow ----------------------------------------------------------------------------------------


def _grid_path(n: int, rows: int, cols: int, vertical: bool) -> list[tuple[int, int]]:
    """Return (row, col) of each step along a snake through the grid."""
    cells = []
    for i in range(n):
        major, minor = divmod(i, cols if not vertical else rows)
        if major % 2:
            minor = (cols if not vertical else rows) - 1 - minor
        cells.append((major, minor) if not vertical else (minor, major))
    return cells


def _plan_flow(spec: dict, ctx: _Context) -> tuple[list[Step], bool]:
    """Lay boxes out in a row (a column on portrait), snaking onto two lines when crowded."""
    steps_text: list[str] = spec["steps"]
    n = len(steps_text)
    left, top, right, bottom = ctx.stage
    width, height = right - left, bottom - top
    gap = ctx.px(0.065)
    vertical = ctx.portrait
    lines = 1
    if vertical:
        box_h = (height - (n - 1) * gap) / n
        if box_h < ctx.px(0.09):
            lines = 2
    else:
        box_w = (width - (n - 1) * gap) / n
        if box_w < ctx.px(0.2):
            lines = 2
    along = math.ceil(n / lines)
    rows, cols = (along, lines) if vertical else (lines, along)
    cell_w = (width - (cols - 1) * gap) / cols
    cell_h = (height - (rows - 1) * gap) / rows
    if vertical:
        box_w, box_h = min(cell_w, ctx.px(0.85)), min(cell_h, ctx.px(0.3))
    else:
        box_w, box_h = cell_w, min(cell_h, max(cell_w * 0.7, ctx.px(0.16)), ctx.px(0.32))
    block_w, block_h = cols * box_w + (cols - 1) * gap, rows * box_h + (rows - 1) * gap
    x0, y0 = left + (width - block_w) / 2, top + (height - block_h) / 2
    boxes = []
    for row, col in _grid_path(n, rows, cols, vertical):
        bx, by = x0 + col * (box_w + gap), y0 + row * (box_h + gap)
        boxes.append(_element_box((bx, by, bx + box_w, by + box_h)))
    texts = _boxed_labels(steps_text, boxes, ctx)
    result = []
    for i, (box, text) in enumerate(zip(boxes, texts, strict=True)):
        elements = []
        parts: list = []
        if i:
            arrow = _arrow(_connector(boxes[i - 1], box, ctx.px(0.012)), ctx)
            elements.append(Element("arrow", arrow.box, arrow.fill))
            parts.append(arrow)
        elements.append(Element("step", box, ctx.panel, steps_text[i]))
        parts += [functools.partial(_panel, box=box, ctx=ctx), text]
        result.append(Step(tuple(elements), _drawer(*parts)))
    return result, False


# --- bar chart -----------------------------------------------------------------------------------


def _format_value(value: float) -> str:
    """Format a bar's value compactly: 1,234 / 3.142 / 2.5M; a true minus sign."""
    magnitude = abs(value)
    text = ""
    for limit, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M")):
        if magnitude >= limit:
            text = f"{value / limit:.3g}{suffix}"
            break
    if not text:
        if magnitude >= 1000:
            text = f"{value:,.0f}"
        elif value == int(value):
            text = str(int(value))
        elif magnitude >= 0.001:
            text = f"{value:.4g}"
        else:
            text = f"{value:.2e}"
    return text.replace("-", "\u2212")


def _plan_bars(spec: dict, ctx: _Context) -> tuple[list[Step], bool]:
    """Lay bars out from a zero line (rows on portrait); they grow, then show their value."""
    labels: list[str] = spec["labels"]
    values: list[float] = spec["values"]
    n = len(values)
    theme = ctx.theme
    left, top, right, bottom = ctx.stage
    gap = ctx.px(0.012)
    unit = spec.get("unit")
    if unit:
        caption = _place(
            unit,
            (left, top, right, top + _line_height(_font(REGULAR_FONT, ctx.px(0.028)))),
            ctx.px(0.028),
            fill=theme.muted,
            align="left",
            valign="top",
            max_lines=1,
        )
        caption.draw(ctx.draw)
        top = caption.box[3] + ctx.px(0.02)
    v_max, v_min = max(0.0, max(values)), min(0.0, min(values))
    span = v_max - v_min
    texts = [_format_value(v) for v in values]
    horizontal = ctx.portrait  # bars along x, one row per label
    width, height = right - left, bottom - top
    slot = (height if horizontal else width) / n
    value_px = _common_size(
        texts,
        round(width * 0.16) if horizontal else max(1, round(slot) - 2),
        _line_height(_font(BOLD_FONT, ctx.px(_SMALL))),
        path=BOLD_FONT,
        max_px=ctx.px(_SMALL),
        min_px=ctx.px(0.012),
        max_lines=1,
    )
    value_font = _font(BOLD_FONT, value_px)
    value_room = max(round(_length(value_font, t)) for t in texts) + gap
    value_h = _line_height(value_font) + gap
    line = ctx.px(_LINE)
    steps = []
    if horizontal:
        label_w = round(width * 0.3)
        label_px = _common_size(
            labels,
            label_w,
            max(1, round(slot * 0.9)),
            path=REGULAR_FONT,
            max_px=ctx.px(0.032),
            min_px=ctx.px(_LABEL_MIN),
            max_lines=2,
        )
        plot_left = left + label_w + 2 * gap + (value_room if v_min < 0 else 0)
        plot_right = right - value_room
        length = plot_right - plot_left
        zero = plot_left + (-v_min / span) * length
        thickness = min(slot * 0.62, ctx.px(0.16))
        ctx.draw.line([(round(zero), top), (round(zero), bottom)], fill=theme.muted, width=line)
    else:
        label_h = min(round(height * 0.24), ctx.px(0.16))
        label_px = _common_size(
            labels,
            max(1, round(slot) - 2 * gap),
            label_h,
            path=REGULAR_FONT,
            max_px=ctx.px(0.03),
            min_px=ctx.px(_LABEL_MIN),
        )
        label_w = max(1, round(slot) - 2 * gap)
        needed = max(_text_height(t, label_w, label_px, path=REGULAR_FONT) for t in labels)
        label_h = min(label_h, needed)  # only as tall as the longest label needs
        plot_top = top + value_h
        plot_bottom = bottom - label_h - gap - (value_h if v_min < 0 else 0)
        length = plot_bottom - plot_top
        zero = plot_top + (v_max / span) * length
        thickness = min(slot * 0.62, ctx.px(0.2))
        ctx.draw.line([(left, round(zero)), (right, round(zero))], fill=theme.muted, width=line)
    for i, (label, value, text) in enumerate(zip(labels, values, texts, strict=True)):
        size = value / span * length
        if value and abs(size) < 2:
            size = math.copysign(2, value)
        middle = (top if horizontal else left) + slot * (i + 0.5)
        a, b = middle - thickness / 2, middle + thickness / 2
        if horizontal:
            rect = _element_box((min(zero, zero + size), a, max(zero, zero + size), b))
            band = (round(middle - slot / 2), round(middle + slot / 2))
            label_text = _place(
                label,
                (left, band[0], left + label_w, band[1]),
                label_px,
                fill=theme.text,
                align="right",
                max_lines=2,
            )
            if value >= 0:
                box = (rect[2] + gap, band[0], rect[2] + gap + value_room, band[1])
                value_text = _place(
                    text, box, value_px, path=BOLD_FONT, fill=theme.text, align="left"
                )
            else:
                box = (rect[0] - gap - value_room, band[0], rect[0] - gap, band[1])
                value_text = _place(
                    text, box, value_px, path=BOLD_FONT, fill=theme.text, align="right"
                )
            grow = "right" if value >= 0 else "left"
        else:
            rect = _element_box((a, min(zero, zero - size), b, max(zero, zero - size)))
            band = (round(middle - slot / 2), round(middle + slot / 2))
            label_box = (band[0] + gap, bottom - label_h, band[1] - gap, bottom)
            label_text = _place(label, label_box, label_px, fill=theme.text, valign="top")
            if value >= 0:
                box = (band[0], rect[1] - value_h, band[1], rect[1] - gap // 2)
                value_text = _place(
                    text, box, value_px, path=BOLD_FONT, fill=theme.text, valign="bottom"
                )
            else:
                box = (band[0], rect[3] + gap // 2, band[1], rect[3] + value_h)
                value_text = _place(
                    text, box, value_px, path=BOLD_FONT, fill=theme.text, valign="top"
                )
            grow = "up" if value >= 0 else "down"
        label_text.draw(ctx.draw)
        elements = (
            Element("bar", rect, theme.accent, label),
            Element("value", value_text.box, theme.text, text),
        )
        steps.append(Step(elements, _bar_drawer(rect, grow, value_text, theme.accent)))
    return steps, True


def _bar_drawer(rect: Box, grow: str, value: _Text, fill: RGB) -> Draw:
    """Draw a bar grown to a fraction of its length from the zero line; its value at the end."""

    def draw(image: Image.Image, p0: float, p1: float) -> None:
        x0, y0, x1, y1 = rect
        if grow == "up":
            y0 = round(y1 - (y1 - y0) * p1)
        elif grow == "down":
            y1 = round(y0 + (y1 - y0) * p1)
        elif grow == "right":
            x1 = round(x0 + (x1 - x0) * p1)
        else:
            x0 = round(x1 - (x1 - x0) * p1)
        canvas = ImageDraw.Draw(image)
        if x1 > x0 and y1 > y0:
            canvas.rectangle((x0, y0, x1 - 1, y1 - 1), fill=fill)
        if p1 >= 1:
            value.draw(canvas)

    return draw


# --- timeline ------------------------------------------------------------------------------------


def _timeline_sizes(
    whens: Sequence[str],
    labels: Sequence[str],
    when_room: tuple[int, int],
    label_room: tuple[int, int],
    ctx: _Context,
) -> tuple[int, int]:
    """Return the font sizes for the times (bold) and the labels that fit their rooms."""
    when_px = _common_size(
        whens,
        *when_room,
        path=BOLD_FONT,
        max_px=ctx.px(0.036),
        min_px=ctx.px(_LABEL_MIN),
        max_lines=2,
    )
    label_px = _common_size(
        labels,
        *label_room,
        path=REGULAR_FONT,
        max_px=ctx.px(0.03),
        min_px=ctx.px(_LABEL_MIN),
        max_lines=4,
    )
    return when_px, label_px


def _plan_timeline(spec: dict, ctx: _Context) -> tuple[list[Step], bool]:
    """Lay events along a line (down the left on portrait or when crowded), in order."""
    events: list[dict] = spec["events"]
    n = len(events)
    theme = ctx.theme
    left, top, right, bottom = ctx.stage
    width, height = right - left, bottom - top
    dot, gap, line = ctx.px(_DOT), ctx.px(0.015), ctx.px(_LINE)
    whens = [e["when"] for e in events]
    labels = [e["label"] for e in events]
    horizontal = not ctx.portrait and width / n >= ctx.px(0.19)
    when_boxes, label_boxes, centres = [], [], []
    if horizontal:
        slot = width / n
        column = max(1, round(slot - 2 * gap))
        when_h = min(round(height * 0.22), ctx.px(0.1))
        label_h = height - when_h - 2 * dot - 3 * gap
        when_px, label_px = _timeline_sizes(whens, labels, (column, when_h), (column, label_h), ctx)
        # Centre the whole (times, line, labels) vertically, each part only as tall as needed.
        when_h = max(_text_height(t, column, when_px, path=BOLD_FONT, max_lines=2) for t in whens)
        label_h = max(
            _text_height(t, column, label_px, path=REGULAR_FONT, max_lines=4) for t in labels
        )
        block = when_h + 3 * gap + 2 * dot + label_h
        axis = top + max(0, (height - block) // 2) + when_h + gap + dot
        for i in range(n):
            x = left + slot * (i + 0.5)
            x0, x1 = round(x - column / 2), round(x + column / 2)
            when_boxes.append((x0, axis - dot - gap - when_h, x1, axis - dot - gap))
            label_boxes.append((x0, axis + dot + 2 * gap, x1, bottom))
            centres.append((x, axis))
        ctx.draw.line([(left, axis), (right, axis)], fill=theme.muted, width=line)
        when_v, label_v, align = "bottom", "top", "center"
    else:
        axis = left + dot + line
        row = height / n
        when_w = round(width * 0.28)
        for i in range(n):
            y = top + row * (i + 0.5)
            y0, y1 = round(y - row / 2 + 1), round(y + row / 2 - 1)
            x0 = axis + dot + 2 * gap
            when_boxes.append((x0, y0, x0 + when_w, y1))
            label_boxes.append((x0 + when_w + gap, y0, right, y1))
            centres.append((axis, y))
        when_px, label_px = _timeline_sizes(
            whens,
            labels,
            (when_w, y1 - y0),
            (right - label_boxes[0][0], y1 - y0),
            ctx,
        )
        ctx.draw.line([(axis, top), (axis, bottom)], fill=theme.muted, width=line)
        when_v, label_v, align = "center", "center", "left"
    steps = []
    for i, (x, y) in enumerate(centres):
        when = _place(
            whens[i],
            when_boxes[i],
            when_px,
            path=BOLD_FONT,
            fill=theme.accent,
            align=align,
            valign=when_v,
            max_lines=2,
        )
        label = _place(
            labels[i],
            label_boxes[i],
            label_px,
            fill=theme.text,
            align=align,
            valign=label_v,
            max_lines=4,
        )
        dot_box = _element_box((x - dot, y - dot, x + dot + 1, y + dot + 1))
        ring = ctx.px(0.004)

        def marker(draw: ImageDraw.ImageDraw, box: Box = dot_box, ring: int = ring) -> None:
            draw.ellipse(
                (box[0] - ring, box[1] - ring, box[2] + ring - 1, box[3] + ring - 1),
                fill=theme.background,
            )
            draw.ellipse((box[0], box[1], box[2] - 1, box[3] - 1), fill=theme.accent)

        elements = (
            Element("event", dot_box, theme.accent, events[i]["label"]),
            Element("label", when.box, theme.accent, whens[i]),
            Element("label", label.box, theme.text, labels[i]),
        )
        steps.append(Step(elements, _drawer(marker, when, label)))
    return steps, False


# --- cycle ---------------------------------------------------------------------------------------


def _plan_cycle(spec: dict, ctx: _Context) -> tuple[list[Step], bool]:
    """Lay stages around an ellipse with curved arrows between neighbours, clockwise."""
    stages: list[str] = spec["stages"]
    n = len(stages)
    left, top, right, bottom = ctx.stage
    width, height = right - left, bottom - top
    cx, cy = (left + right) / 2, (top + bottom) / 2
    gap = ctx.px(0.05)
    angles = [-math.pi / 2 + 2 * math.pi * i / n for i in range(n)]
    box_w = min(width * (0.42 if ctx.portrait else 0.3), ctx.px(0.46))
    box_h = min(height * 0.24, ctx.px(0.2))
    for _ in range(60):  # shrink the boxes until neighbours keep room for an arrow
        rx, ry = (width - box_w) / 2, (height - box_h) / 2
        centres = [(cx + rx * math.cos(a), cy + ry * math.sin(a)) for a in angles]
        clear = all(
            abs(p[0] - q[0]) >= box_w + gap or abs(p[1] - q[1]) >= box_h + gap
            for i, p in enumerate(centres)
            for q in centres[i + 1 :]
        )
        if clear or box_w < ctx.px(0.12):
            break
        box_w, box_h = box_w * 0.94, max(ctx.px(0.07), box_h * 0.96)
    boxes = [
        _element_box((x - box_w / 2, y - box_h / 2, x + box_w / 2, y + box_h / 2))
        for x, y in centres
    ]
    texts = _boxed_labels(stages, boxes, ctx)
    arrows = [
        _arrow(_arc(boxes, i, (i + 1) % n, angles, (cx, cy, rx, ry), ctx.px(0.012)), ctx)
        for i in range(n)
    ]
    steps = []
    for i in range(n):
        parts: list = []
        elements = []
        incoming = [arrows[i - 1]] if i else []
        if i == n - 1:
            incoming.append(arrows[i])
        for arrow in incoming:
            parts.append(arrow)
            elements.append(Element("arrow", arrow.box, arrow.fill))
        parts += [functools.partial(_panel, box=boxes[i], ctx=ctx), texts[i]]
        elements.append(Element("stage", boxes[i], ctx.panel, stages[i]))
        steps.append(Step(tuple(elements), _drawer(*parts)))
    return steps, False


def _arc(
    boxes: Sequence[Box],
    i: int,
    j: int,
    angles: Sequence[float],
    ellipse: tuple[float, float, float, float],
    margin: float,
) -> list[Point]:
    """Return the path along the ellipse from box i to box j, outside both boxes."""
    cx, cy, rx, ry = ellipse
    a0 = angles[i]
    a1 = angles[j] if j > i else angles[j] + 2 * math.pi
    samples = 48
    points = [
        (
            cx + rx * math.cos(a0 + (a1 - a0) * k / samples),
            cy + ry * math.sin(a0 + (a1 - a0) * k / samples),
        )
        for k in range(samples + 1)
    ]
    outside = [
        p for p in points if not _inside(p, boxes[i], margin) and not _inside(p, boxes[j], margin)
    ]
    if len(outside) < 2 or _polyline_length(outside) < 2 * margin:
        return _connector(boxes[i], boxes[j], margin)
    return outside


# --- equation ------------------------------------------------------------------------------------


def _plan_equation(spec: dict, ctx: _Context) -> tuple[list[Step], bool]:
    """Lay terms out on one centred line (or a few), each revealed in turn."""
    terms: list[str] = spec["terms"]
    theme = ctx.theme
    left, top, right, bottom = ctx.stage
    width, height = right - left, bottom - top
    max_px = max(ctx.px(0.025), min(ctx.px(0.11), round(height * 0.45)))

    def lines_at(size: int) -> list[list[int]]:
        font = _font(REGULAR_FONT, size)
        space = round(size * 0.3)
        rows: list[list[int]] = [[]]
        used = 0.0
        for k, term in enumerate(terms):
            w = _length(font, term)
            if rows[-1] and used + space + w > width:
                rows.append([])
                used = 0.0
            used += (space if rows[-1] else 0) + w
            rows[-1].append(k)
        return rows

    def block_height(size: int, count: int) -> int:
        font = _font(REGULAR_FONT, size)
        return (count - 1) * round(_line_height(font) * 1.2) + _line_height(font)

    def fits(size: int) -> bool:
        font = _font(REGULAR_FONT, size)
        widest = max(_length(font, term) for term in terms)
        return widest <= width and block_height(size, len(lines_at(size))) <= height

    size = None
    for candidate in range(max_px, ctx.px(0.05) - 1, -max(1, max_px // 40)):
        if len(lines_at(candidate)) == 1:  # one line while the text stays large
            size = candidate
            break
    if size is None:  # else lines of a more modest size
        size = ctx.px(0.025)
        wrapped_max = min(max_px, ctx.px(0.07))
        for candidate in range(wrapped_max, ctx.px(0.025) - 1, -max(1, wrapped_max // 40)):
            if fits(candidate):
                size = candidate
                break
    font = _font(REGULAR_FONT, size)
    space = round(size * 0.3)
    rows = lines_at(size)
    ascent, _ = font.getmetrics()
    pitch = round(_line_height(font) * 1.2)
    y = top + (height - block_height(size, len(rows))) // 2 + ascent
    steps: list[Step | None] = [None] * len(terms)
    for row in rows:
        shown = {k: _ellipsize(font, terms[k], width) for k in row}
        total = sum(_length(font, shown[k]) for k in row) + space * (len(row) - 1)
        x = left + (width - total) / 2
        for k in row:
            text = shown[k]
            fill = theme.accent if text in _OPERATORS else theme.title
            xy = (round(x), y)
            ink = font.getbbox(text, anchor="ls", **shaping(font))
            box = (xy[0] + ink[0], y + ink[1], xy[0] + ink[2], y + ink[3])
            placed = _Text(((text, xy),), REGULAR_FONT, size, fill, box)
            steps[k] = Step(
                (Element("term", _element_box(box), fill, text),), _drawer(_Baseline(placed))
            )
            x += _length(font, text) + space
        y += pitch
    return [s for s in steps if s is not None], False


@dataclass(frozen=True)
class _Baseline:
    """Draw a one-line _Text whose xy is its left/baseline point."""

    text: _Text

    def __call__(self, draw: ImageDraw.ImageDraw) -> None:
        font = _font(self.text.path, self.text.size)
        for line, xy in self.text.lines:
            draw.text(xy, line, fill=self.text.fill, font=font, anchor="ls", **shaping(font))


# --- function plot -------------------------------------------------------------------------------


def _nice_ticks(lo: float, hi: float, target: int) -> tuple[list[float], float]:
    """Return round tick values (steps of 1, 2, 2.5 or 5 times a power of ten) within [lo, hi]."""
    raw = (hi - lo) / max(1, target)
    if not raw > 0:
        return [lo], 1.0
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if raw <= m * magnitude * 1.0001)
    first = math.ceil(lo / step - 1e-9)
    ticks = []
    k = first
    while k * step <= hi + step * 1e-9 and len(ticks) < 40:
        ticks.append(k * step)
        k += 1
    return ticks, step


def _format_tick(value: float, step: float) -> str:
    """Format a tick value with as many decimals as the step needs (and a true minus sign)."""
    if abs(value) < step * 1e-6:
        return "0"
    if abs(value) >= 1e5 or step < 1e-4:
        text = f"{value:.3g}"
    else:
        decimals = max(0, -math.floor(math.log10(step) + 1e-9))
        if abs(round(step, decimals) - step) > step * 1e-6:
            decimals += 1
        text = f"{value:.{decimals}f}"
    return text.replace("-", "\u2212")


def _clip(y: float) -> float:
    """Keep a value small enough that differences and padding stay finite (nan stays nan)."""
    return y if y != y else max(-1e300, min(1e300, y))


def _y_range(ys: Sequence[float]) -> tuple[float, float]:
    """Choose the y range to show: all values, unless a few (near an asymptote) dwarf the rest."""
    finite = sorted(_clip(y) for y in ys if y == y) or [0.0]
    lo, hi = finite[0], finite[-1]

    def quantile(f: float) -> float:
        return finite[min(len(finite) - 1, int(f * (len(finite) - 1)))]

    spread = quantile(0.9) - quantile(0.1)
    if spread > 0 and hi - lo > 8 * spread:
        q_lo, q_hi = quantile(0.05), quantile(0.95)
        pad = (q_hi - q_lo) * 0.25
        lo, hi = max(lo, q_lo - pad), min(hi, q_hi + pad)
    if hi - lo <= 1e-9 * max(1.0, abs(lo)):
        half = max(1.0, abs(lo) * 0.1)
        lo, hi = lo - half, hi + half
    if 0 < lo < (hi - lo) * 0.25:
        lo = 0.0
    elif -(hi - lo) * 0.25 < hi < 0:
        hi = 0.0
    pad = (hi - lo) * 0.06
    return lo - pad, hi + pad


def _plan_plot(spec: dict, ctx: _Context) -> tuple[list[Step], bool]:
    """Draw axes with round ticks, then reveal the whole curve from left to right."""
    theme = ctx.theme
    tree = mathexpr.parse(spec["expression"])
    x_min, x_max = spec["x_min"], spec["x_max"]
    left, top, right, bottom = ctx.stage
    gap = ctx.px(0.012)
    caption_px = ctx.px(0.03)
    caption = _place(
        spec.get("label") or f"y = {spec['expression']}",
        (left, top, right, top + _line_height(_font(REGULAR_FONT, caption_px))),
        caption_px,
        fill=theme.text,
        align="left",
        valign="top",
        max_lines=1,
    )
    caption.draw(ctx.draw)
    tick_font = _font(REGULAR_FONT, ctx.px(_SMALL))
    tick_h = _line_height(tick_font)
    plot_top = caption.box[3] + gap + tick_h // 2
    plot_bottom = bottom - tick_h - gap
    # The y labels' width depends on the ticks, which depend on the height: settle it in one go.
    height = max(1, plot_bottom - plot_top)
    points = [(x, _clip(y)) for x, y in mathexpr.sample(tree, x_min, x_max, PLOT_SAMPLES)]
    y_lo, y_hi = _y_range([y for _, y in points])
    y_ticks, y_step = _nice_ticks(y_lo, y_hi, max(3, min(7, height // ctx.px(0.09))))
    y_labels = [_format_tick(v, y_step) for v in y_ticks]
    label_w = max((_length(tick_font, t) for t in y_labels), default=0)
    plot_left = left + round(label_w) + 2 * gap
    width_guess = right - plot_left
    x_ticks, x_step = _nice_ticks(x_min, x_max, max(3, min(8, width_guess // ctx.px(0.16))))
    x_labels = [_format_tick(v, x_step) for v in x_ticks]
    overhang = round(_length(tick_font, x_labels[-1]) / 2) if x_labels else 0
    plot_right = right - max(gap, overhang)
    plot = (plot_left, plot_top, plot_right, plot_bottom)
    pw, ph = plot_right - plot_left, plot_bottom - plot_top

    def to_px(x: float, y: float) -> Point:
        return (
            plot_left + (x - x_min) / (x_max - x_min) * pw,
            plot_bottom - (y - y_lo) / (y_hi - y_lo) * ph,
        )

    grid = _mix(theme.background, theme.muted, 0.22)
    line = ctx.px(_LINE)
    draw = ctx.draw
    for value, text in zip(y_ticks, y_labels, strict=True):
        _, y = to_px(x_min, value)
        draw.line([(plot_left, round(y)), (plot_right, round(y))], fill=grid, width=1)
        draw.text((plot_left - gap, round(y)), text, fill=theme.muted, font=tick_font, anchor="rm")
    for value, text in zip(x_ticks, x_labels, strict=True):
        x, _ = to_px(value, y_lo)
        draw.line([(round(x), plot_top), (round(x), plot_bottom)], fill=grid, width=1)
        draw.text(
            (round(x), plot_bottom + gap), text, fill=theme.muted, font=tick_font, anchor="ma"
        )
    zero_y = to_px(x_min, 0.0)[1] if y_lo <= 0 <= y_hi else plot_bottom
    zero_x = to_px(0.0, y_lo)[0] if x_min <= 0 <= x_max else plot_left
    draw.line(
        [(plot_left, round(zero_y)), (plot_right, round(zero_y))], fill=theme.muted, width=line
    )
    draw.line(
        [(round(zero_x), plot_top), (round(zero_x), plot_bottom)], fill=theme.muted, width=line
    )

    mask = _curve_mask(points, (x_min, x_max), (y_lo, y_hi), (pw, ph), ctx.px(_CURVE))
    chunks = 4
    elements = []
    for k in range(chunks):
        c0, c1 = pw * k // chunks, pw * (k + 1) // chunks
        ink = mask.crop((c0, 0, c1, ph)).getbbox()
        if ink:
            box = (
                plot_left + c0 + ink[0],
                plot_top + ink[1],
                plot_left + c0 + ink[2],
                plot_top + ink[3],
            )
            elements.append(Element("curve", box, theme.accent))
    return [Step(tuple(elements), _curve_drawer(mask, plot, theme.accent))], True


def _curve_mask(
    points: Sequence[Point],
    x_range: tuple[float, float],
    y_range: tuple[float, float],
    size: tuple[int, int],
    width: int,
) -> Image.Image:
    """Draw the whole curve, antialiased, into an L mask the size of the plot area."""
    x_min, x_max = x_range
    y_lo, y_hi = y_range
    pw, ph = size
    scale = 2  # drawn at twice the size, then reduced: smooth edges
    big = Image.new("L", (pw * scale, ph * scale), 0)
    draw = ImageDraw.Draw(big)
    span = y_hi - y_lo
    run: list[tuple[float, float]] = []
    previous: float | None = None

    def flush() -> None:
        if len(run) >= 2:
            draw.line(run, fill=255, width=width * scale, joint="curve")
        elif len(run) == 1:
            x, y = run[0]
            r = width * scale / 2
            draw.ellipse((x - r, y - r, x + r, y + r), fill=255)
        run.clear()

    for x, y in points:
        if y != y:
            flush()
            previous = None
            continue
        if previous is not None and (
            (previous > y_hi and y < y_lo) or (previous < y_lo and y > y_hi)
        ):
            flush()  # a jump across the whole range: an asymptote, not a steep line
        clamped = min(y_hi + 2 * span, max(y_lo - 2 * span, y))
        px = (x - x_min) / (x_max - x_min) * pw * scale
        py = (y_hi - clamped) / span * ph * scale
        run.append((px, py))
        previous = y
    flush()
    return big.reduce(scale)


def _curve_drawer(mask: Image.Image, plot: Box, fill: RGB) -> Draw:
    """Reveal the curve left to right: paste the mask's columns between two progresses."""
    left, top, _, _ = plot
    width, height = mask.size

    def draw(image: Image.Image, p0: float, p1: float) -> None:
        c0, c1 = round(width * p0), round(width * p1)
        if c1 > c0:
            image.paste(
                fill, (left + c0, top, left + c1, top + height), mask.crop((c0, 0, c1, height))
            )

    return draw
