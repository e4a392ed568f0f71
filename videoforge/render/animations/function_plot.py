"""Function plot: axes with round ticks, then the whole curve drawn from left to right."""

from __future__ import annotations

import math
from collections.abc import Sequence

from PIL import Image, ImageDraw

from ...core import mathexpr
from ...core.animation_spec import PLOT_SAMPLES
from ...core.types import Size, Slide, Theme
from ..text import REGULAR_FONT, RGB, Box, line_height, load_font, place_label, text_length
from .drawing import LINE, SMALL, Context, Point, draw_label, mix
from .plan import AnimationPlan, Draw, Element, Step

_CURVE = 0.006  # the curve's width


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


def plan_function_plot(
    spec: dict, slide: Slide, size: Size, total: int, theme: Theme
) -> AnimationPlan:
    """Draw axes with round ticks, then reveal the whole curve from left to right."""
    ctx = Context.on_canvas(slide, size, total, theme)
    tree = mathexpr.parse(spec["expression"])
    x_min, x_max = spec["x_min"], spec["x_max"]
    left, top, right, bottom = ctx.stage
    gap = ctx.px(0.012)
    caption_px = ctx.px(0.03)
    caption = place_label(
        spec.get("label") or f"y = {spec['expression']}",
        (left, top, right, top + line_height(load_font(REGULAR_FONT, caption_px))),
        caption_px,
        fill=theme.text,
        align="left",
        valign="top",
        max_lines=1,
    )
    draw_label(ctx.draw, caption)
    tick_font = load_font(REGULAR_FONT, ctx.px(SMALL))
    tick_h = line_height(tick_font)
    plot_top = caption.box[3] + gap + tick_h // 2
    plot_bottom = bottom - tick_h - gap
    # The y labels' width depends on the ticks, which depend on the height: settle it in one go.
    height = max(1, plot_bottom - plot_top)
    points = [(x, _clip(y)) for x, y in mathexpr.sample(tree, x_min, x_max, PLOT_SAMPLES)]
    y_lo, y_hi = _y_range([y for _, y in points])
    y_ticks, y_step = _nice_ticks(y_lo, y_hi, max(3, min(7, height // ctx.px(0.09))))
    y_labels = [_format_tick(v, y_step) for v in y_ticks]
    label_w = max((text_length(tick_font, t) for t in y_labels), default=0)
    plot_left = left + round(label_w) + 2 * gap
    width_guess = right - plot_left
    x_ticks, x_step = _nice_ticks(x_min, x_max, max(3, min(8, width_guess // ctx.px(0.16))))
    x_labels = [_format_tick(v, x_step) for v in x_ticks]
    overhang = round(text_length(tick_font, x_labels[-1]) / 2) if x_labels else 0
    plot_right = right - max(gap, overhang)
    plot = (plot_left, plot_top, plot_right, plot_bottom)
    pw, ph = plot_right - plot_left, plot_bottom - plot_top

    def to_px(x: float, y: float) -> Point:
        return (
            plot_left + (x - x_min) / (x_max - x_min) * pw,
            plot_bottom - (y - y_lo) / (y_hi - y_lo) * ph,
        )

    grid = mix(theme.background, theme.muted, 0.22)
    line = ctx.px(LINE)
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
    return ctx.plan(
        [Step(tuple(elements), _curve_drawer(mask, plot, theme.accent))], continuous=True
    )


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
