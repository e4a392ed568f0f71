"""Bar chart: bars grow from a zero line (rows on portrait), then show their values."""

from __future__ import annotations

import math

from PIL import Image, ImageDraw

from ...core.types import Size, Slide, Theme
from ..text import (
    BOLD_FONT,
    REGULAR_FONT,
    RGB,
    Box,
    Label,
    common_size,
    label_height,
    line_height,
    load_font,
    place_label,
    text_length,
)
from .drawing import LABEL_MIN, LINE, SMALL, Context, draw_label, element_box
from .plan import AnimationPlan, Draw, Element, Step


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


def plan_bar_chart(spec: dict, slide: Slide, size: Size, total: int, theme: Theme) -> AnimationPlan:
    """Lay bars out from a zero line (rows on portrait); they grow, then show their value."""
    ctx = Context.on_canvas(slide, size, total, theme)
    labels: list[str] = spec["labels"]
    values: list[float] = spec["values"]
    n = len(values)
    left, top, right, bottom = ctx.stage
    gap = ctx.px(0.012)
    unit = spec.get("unit")
    if unit:
        caption = place_label(
            unit,
            (left, top, right, top + line_height(load_font(REGULAR_FONT, ctx.px(0.028)))),
            ctx.px(0.028),
            fill=theme.muted,
            align="left",
            valign="top",
            max_lines=1,
        )
        draw_label(ctx.draw, caption)
        top = caption.box[3] + ctx.px(0.02)
    v_max, v_min = max(0.0, max(values)), min(0.0, min(values))
    span = v_max - v_min
    texts = [_format_value(v) for v in values]
    horizontal = ctx.portrait  # bars along x, one row per label
    width, height = right - left, bottom - top
    slot = (height if horizontal else width) / n
    value_px = common_size(
        texts,
        round(width * 0.16) if horizontal else max(1, round(slot) - 2),
        line_height(load_font(BOLD_FONT, ctx.px(SMALL))),
        path=BOLD_FONT,
        max_px=ctx.px(SMALL),
        min_px=ctx.px(0.012),
        max_lines=1,
    )
    value_font = load_font(BOLD_FONT, value_px)
    value_room = max(round(text_length(value_font, t)) for t in texts) + gap
    value_h = line_height(value_font) + gap
    line = ctx.px(LINE)
    steps = []
    if horizontal:
        label_w = round(width * 0.3)
        label_px = common_size(
            labels,
            label_w,
            max(1, round(slot * 0.9)),
            path=REGULAR_FONT,
            max_px=ctx.px(0.032),
            min_px=ctx.px(LABEL_MIN),
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
        label_px = common_size(
            labels,
            max(1, round(slot) - 2 * gap),
            label_h,
            path=REGULAR_FONT,
            max_px=ctx.px(0.03),
            min_px=ctx.px(LABEL_MIN),
        )
        label_w = max(1, round(slot) - 2 * gap)
        needed = max(label_height(t, label_w, label_px, path=REGULAR_FONT) for t in labels)
        label_h = min(label_h, needed)  # only as tall as the longest label needs
        plot_top = top + value_h
        plot_bottom = bottom - label_h - gap - (value_h if v_min < 0 else 0)
        length = plot_bottom - plot_top
        zero = plot_top + (v_max / span) * length
        thickness = min(slot * 0.62, ctx.px(0.2))
        ctx.draw.line([(left, round(zero)), (right, round(zero))], fill=theme.muted, width=line)
    for i, (label, value, text) in enumerate(zip(labels, values, texts, strict=True)):
        extent = value / span * length
        if value and abs(extent) < 2:
            extent = math.copysign(2, value)
        middle = (top if horizontal else left) + slot * (i + 0.5)
        a, b = middle - thickness / 2, middle + thickness / 2
        if horizontal:
            rect = element_box((min(zero, zero + extent), a, max(zero, zero + extent), b))
            band = (round(middle - slot / 2), round(middle + slot / 2))
            label_text = place_label(
                label,
                (left, band[0], left + label_w, band[1]),
                label_px,
                fill=theme.text,
                align="right",
                max_lines=2,
            )
            if value >= 0:
                box = (rect[2] + gap, band[0], rect[2] + gap + value_room, band[1])
                value_text = place_label(
                    text, box, value_px, path=BOLD_FONT, fill=theme.text, align="left"
                )
            else:
                box = (rect[0] - gap - value_room, band[0], rect[0] - gap, band[1])
                value_text = place_label(
                    text, box, value_px, path=BOLD_FONT, fill=theme.text, align="right"
                )
            grow = "right" if value >= 0 else "left"
        else:
            rect = element_box((a, min(zero, zero - extent), b, max(zero, zero - extent)))
            band = (round(middle - slot / 2), round(middle + slot / 2))
            label_box = (band[0] + gap, bottom - label_h, band[1] - gap, bottom)
            label_text = place_label(label, label_box, label_px, fill=theme.text, valign="top")
            if value >= 0:
                box = (band[0], rect[1] - value_h, band[1], rect[1] - gap // 2)
                value_text = place_label(
                    text, box, value_px, path=BOLD_FONT, fill=theme.text, valign="bottom"
                )
            else:
                box = (band[0], rect[3] + gap // 2, band[1], rect[3] + value_h)
                value_text = place_label(
                    text, box, value_px, path=BOLD_FONT, fill=theme.text, valign="top"
                )
            grow = "up" if value >= 0 else "down"
        draw_label(ctx.draw, label_text)
        elements = (
            Element("bar", rect, theme.accent, label),
            Element("value", value_text.box, theme.text, text),
        )
        steps.append(Step(elements, _bar_drawer(rect, grow, value_text, theme.accent)))
    return ctx.plan(steps, continuous=True)


def _bar_drawer(rect: Box, grow: str, value: Label, fill: RGB) -> Draw:
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
            draw_label(canvas, value)

    return draw
