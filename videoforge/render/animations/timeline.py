"""Timeline: events along a line (down the left on portrait or when crowded), in order."""

from __future__ import annotations

from collections.abc import Sequence

from PIL import ImageDraw

from ...core.types import Size, Slide, Theme
from ..text import BOLD_FONT, REGULAR_FONT, Box, common_size, label_height, place_label
from .drawing import LABEL_MIN, LINE, Context, drawer, element_box
from .plan import AnimationPlan, Element, Step

_DOT = 0.014  # the events' dots (radius)


def _timeline_sizes(
    whens: Sequence[str],
    labels: Sequence[str],
    when_room: tuple[int, int],
    label_room: tuple[int, int],
    ctx: Context,
) -> tuple[int, int]:
    """Return the font sizes for the times (bold) and the labels that fit their rooms."""
    when_px = common_size(
        whens,
        *when_room,
        path=BOLD_FONT,
        max_px=ctx.px(0.036),
        min_px=ctx.px(LABEL_MIN),
        max_lines=2,
    )
    label_px = common_size(
        labels,
        *label_room,
        path=REGULAR_FONT,
        max_px=ctx.px(0.03),
        min_px=ctx.px(LABEL_MIN),
        max_lines=4,
    )
    return when_px, label_px


def plan_timeline(spec: dict, slide: Slide, size: Size, total: int, theme: Theme) -> AnimationPlan:
    """Lay events along a line (down the left on portrait or when crowded), in order."""
    ctx = Context.on_canvas(slide, size, total, theme)
    events: list[dict] = spec["events"]
    n = len(events)
    left, top, right, bottom = ctx.stage
    width, height = right - left, bottom - top
    dot, gap, line = ctx.px(_DOT), ctx.px(0.015), ctx.px(LINE)
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
        when_h = max(label_height(t, column, when_px, path=BOLD_FONT, max_lines=2) for t in whens)
        label_h = max(
            label_height(t, column, label_px, path=REGULAR_FONT, max_lines=4) for t in labels
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
        when = place_label(
            whens[i],
            when_boxes[i],
            when_px,
            path=BOLD_FONT,
            fill=theme.accent,
            align=align,
            valign=when_v,
            max_lines=2,
        )
        label = place_label(
            labels[i],
            label_boxes[i],
            label_px,
            fill=theme.text,
            align=align,
            valign=label_v,
            max_lines=4,
        )
        dot_box = element_box((x - dot, y - dot, x + dot + 1, y + dot + 1))
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
        steps.append(Step(elements, drawer(marker, when, label)))
    return ctx.plan(steps, continuous=False)
