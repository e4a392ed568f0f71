"""Slide animations: declarative specs drawn by our own Pillow code and encoded as short clips.

The types, their fields and counts are the animation-spec table in `core.animation_spec`;
specs are checked by its `validate_animation` before they reach this module, and nothing in
one is ever run.

Rendering is cheap because only the frames where the picture changes are drawn: `plan_animation`
hands the spec to its type's planner (one module per type), which lays out the still parts once
(the base frame) and lists the steps that reveal the rest, each drawing onto the same working
image. Discrete steps (a box, an event, a term) appear at one moment, in step with the
narration's sentences when their times are known; continuous steps (bars growing, the curve
being drawn) get about 15 frames a second during their short transition.
`media.compose.encode_frames` then stores each distinct frame once with its own duration (the
pipeline's visuals stage does that).

Around the planners: `plan` holds the plan, step and element types, `timing` when steps happen
and which frames result (`schedule`, `animation_frames`), `drawing` what the planners share
(the canvas, labels through the one text engine, arrows, panels).
"""

from __future__ import annotations

from ...core.types import DEFAULT_THEME, Size, Slide, Theme
from .bar_chart import plan_bar_chart
from .bullets import plan_bullets
from .cycle import plan_cycle
from .equation import plan_equation
from .flow import plan_flow
from .function_plot import plan_function_plot
from .plan import AnimationPlan, Element, Planner, Step
from .timeline import plan_timeline
from .timing import FINISH, MIN_DURATION, animation_frames, schedule

__all__ = [
    "FINISH",
    "MIN_DURATION",
    "PLANNERS",
    "AnimationPlan",
    "Element",
    "Step",
    "animation_frames",
    "plan_animation",
    "schedule",
]

# Each animation type of core.animation_spec.ANIMATIONS and its planner.
PLANNERS: dict[str, Planner] = {
    "bullets": plan_bullets,
    "flow": plan_flow,
    "bar_chart": plan_bar_chart,
    "timeline": plan_timeline,
    "cycle": plan_cycle,
    "function_plot": plan_function_plot,
    "equation": plan_equation,
}


def plan_animation(
    spec: dict, slide: Slide, size: Size, *, total: int, theme: Theme = DEFAULT_THEME
) -> AnimationPlan:
    """Lay out a validated spec on the slide's base frame and list the steps that reveal it."""
    return PLANNERS[spec["type"]](spec, slide, size, total, theme)
