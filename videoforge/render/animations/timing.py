"""When an animation's steps happen, and the distinct frames that result.

Discrete steps (a box, an event, a term) appear at one moment, in step with the narration's
sentences when their times are known; continuous steps (bars growing, the curve being drawn)
get about TRANSITION_FPS frames a second during their short transition. Only the frames where
the picture changes are yielded, each with how long it stays on screen.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

from PIL import Image

from .plan import AnimationPlan

FINISH = 0.85  # every element has appeared by this fraction of the clip
TRANSITION = 1.2  # seconds that bars take to grow and the curve to be drawn
TRANSITION_FPS = 15  # frames per second drawn during a continuous transition
MIN_DURATION = 0.1


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
            p = 1.0 if t >= end else ease((t - start) / (end - start)) if t > start else 0.0
            if p > progress[i]:
                step.draw(image, progress[i], p)
                progress[i] = p
    yield image, duration - shown


def ease(p: float) -> float:
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
