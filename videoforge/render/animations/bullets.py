"""Bullets: the slide's own bullets, as the slide layout places them, revealed one at a time."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from PIL import Image

from ...core.types import Size, Slide, Theme
from ..draw import draw_layout  # the slide renderer's own drawing of a layout
from ..layout import layout_slide
from ..text import Box
from .plan import AnimationPlan, Draw, Element, Step


def plan_bullets(spec: dict, slide: Slide, size: Size, total: int, theme: Theme) -> AnimationPlan:
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
