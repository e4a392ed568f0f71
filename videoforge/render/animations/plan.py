"""What a planned animation is: its base frame, and the steps that reveal its elements in turn."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PIL import Image

from ...core.types import Size, Slide, Theme
from ..text import RGB, Box


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


# Lays a validated spec out on a slide: planner(spec, slide, size, total, theme).
Planner = Callable[[dict, Slide, Size, int, Theme], AnimationPlan]
