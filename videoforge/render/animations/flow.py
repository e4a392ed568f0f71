"""Flow: steps in boxes joined by arrows, in a row (a column on portrait), snaking when crowded."""

from __future__ import annotations

import functools
import math

from ...core.types import Size, Slide, Theme
from .drawing import Context, arrow_along, boxed_labels, connector, drawer, element_box, panel
from .plan import AnimationPlan, Element, Step


def _grid_path(n: int, rows: int, cols: int, vertical: bool) -> list[tuple[int, int]]:
    """Return (row, col) of each step along a snake through the grid."""
    cells = []
    for i in range(n):
        major, minor = divmod(i, cols if not vertical else rows)
        if major % 2:
            minor = (cols if not vertical else rows) - 1 - minor
        cells.append((major, minor) if not vertical else (minor, major))
    return cells


def plan_flow(spec: dict, slide: Slide, size: Size, total: int, theme: Theme) -> AnimationPlan:
    """Lay boxes out in a row (a column on portrait), snaking onto two lines when crowded."""
    ctx = Context.on_canvas(slide, size, total, theme)
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
        boxes.append(element_box((bx, by, bx + box_w, by + box_h)))
    texts = boxed_labels(steps_text, boxes, ctx)
    result = []
    for i, (box, text) in enumerate(zip(boxes, texts, strict=True)):
        elements = []
        parts: list = []
        if i:
            arrow = arrow_along(connector(boxes[i - 1], box, ctx.px(0.012)), ctx)
            elements.append(Element("arrow", arrow.box, arrow.fill))
            parts.append(arrow)
        elements.append(Element("step", box, ctx.panel, steps_text[i]))
        parts += [functools.partial(panel, box=box, ctx=ctx), text]
        result.append(Step(tuple(elements), drawer(*parts)))
    return ctx.plan(result, continuous=False)
