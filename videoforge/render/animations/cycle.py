"""Cycle: stages around an ellipse with curved arrows between neighbours, clockwise."""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

from ...core.types import Size, Slide, Theme
from ..text import Box
from .drawing import (
    Context,
    Point,
    arrow_along,
    boxed_labels,
    connector,
    drawer,
    element_box,
    panel,
    polyline_length,
)
from .plan import AnimationPlan, Element, Step


def plan_cycle(spec: dict, slide: Slide, size: Size, total: int, theme: Theme) -> AnimationPlan:
    """Lay stages around an ellipse with curved arrows between neighbours, clockwise."""
    ctx = Context.on_canvas(slide, size, total, theme)
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
        element_box((x - box_w / 2, y - box_h / 2, x + box_w / 2, y + box_h / 2))
        for x, y in centres
    ]
    texts = boxed_labels(stages, boxes, ctx)
    arrows = [
        arrow_along(_arc(boxes, i, (i + 1) % n, angles, (cx, cy, rx, ry), ctx.px(0.012)), ctx)
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
        parts += [functools.partial(panel, box=boxes[i], ctx=ctx), texts[i]]
        elements.append(Element("stage", boxes[i], ctx.panel, stages[i]))
        steps.append(Step(tuple(elements), drawer(*parts)))
    return ctx.plan(steps, continuous=False)


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
    if len(outside) < 2 or polyline_length(outside) < 2 * margin:
        return connector(boxes[i], boxes[j], margin)
    return outside


def _inside(point: Point, box: Box, margin: float) -> bool:
    x, y = point
    return box[0] - margin <= x <= box[2] + margin and box[1] - margin <= y <= box[3] + margin
