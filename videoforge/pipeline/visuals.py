"""The visuals stage: each slide becomes a text slide, a picture slide or an animation.

Plain functions over slides, paths and the cache. Pictures come from the configured image
sources (cached per query, with their credit); when none is found the slide is a text slide
and the returned note says so. Animations are rendered from their declarative spec by our own
code; nothing from a model or a request is executed.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..core.animation_spec import validate_animation
from ..core.types import DEFAULT_THEME, FoundImage, Size, Slide, Theme
from ..media.compose import encode_frames
from ..providers.base import ImageSource
from ..render.animations import MIN_DURATION, animation_frames, plan_animation
from ..render.draw import render_slide
from .cache import Cache

log = logging.getLogger(__name__)

RENDER_VERSION = "slides-2"  # bump when the slide look changes, so cached images are redone
ANIMATION_VERSION = "animation-1"


@dataclass(frozen=True)
class Visual:
    """What a slide shows: a still, and for animations the clip shown instead of it."""

    slide_number: int
    kind: str  # "text", "image" or "animation"
    still: Path
    clip: Path | None = None
    credit: dict[str, Any] | None = None
    note: str = ""  # said in the progress message, e.g. why a picture slide became a text slide


def find_image(
    query: str, finder: ImageSource, cache: Cache, size: Size, workdir: Path
) -> FoundImage | None:
    """Find a picture for a query through the sources (cached per query, sources and orientation)."""
    orientation = "portrait" if size.height > size.width else "landscape"
    sources = ",".join(getattr(s, "name", "?") for s in getattr(finder, "sources", ()))
    key = cache.key("image-1", sources, orientation, query.strip().lower())
    png, meta = cache.get(key, ".png"), cache.get(key, ".credit.json")
    if png is not None and meta is not None:
        return FoundImage(path=png, **json.loads(meta.read_text(encoding="utf-8")))
    found = finder.find(query, workdir=workdir, size=size)
    if found is None:
        return None
    credit = {k: v for k, v in found.credit().items() if k != "attribution"}
    meta_tmp = workdir / f".credit-{key}.json"
    meta_tmp.write_text(json.dumps(credit), encoding="utf-8")
    cache.put(key, ".credit.json", meta_tmp)  # the credit first: a cached picture always has one
    meta_tmp.unlink()
    stored = cache.put(key, ".png", found.path)
    return replace(found, path=stored)


def render_still(
    slide: Slide, total: int, size: Size, cache: Cache, image: FoundImage | None = None
) -> Path:
    """Render a slide's still, with its picture if any (cached per content, picture and size)."""
    picture = cache.key(image.path.read_bytes(), image.attribution) if image else ""
    key = cache.key(
        RENDER_VERSION,
        str(size),
        str(slide.slide_number),
        str(total),
        slide.title,
        json.dumps(list(slide.bullets), ensure_ascii=False),
        picture,
    )
    path, _ = cache.get_or_create(
        key, ".png", lambda out: render_slide(slide, size, out, total=total, image=image)
    )
    return path


def make_visual(
    slide: Slide,
    total: int,
    size: Size,
    cache: Cache,
    finder: ImageSource | None,
    workdir: Path,
) -> Visual:
    """Make a text or picture slide (animation slides go through make_animation)."""
    if slide.image:
        image = None
        note = ""
        if finder is None:
            note = f"no image source is configured for “{slide.image}”; using a text slide"
        else:
            image = find_image(slide.image, finder, cache, size, workdir)
            if image is None:
                note = f"no image found for “{slide.image}”; using a text slide"
        if image is not None:
            still = render_still(slide, total, size, cache, image)
            return Visual(slide.slide_number, "image", still, credit=image.credit())
        return Visual(
            slide.slide_number, "text", render_still(slide, total, size, cache), note=note
        )
    return Visual(slide.slide_number, "text", render_still(slide, total, size, cache))


def render_animation(
    spec: object,
    slide: Slide,
    size: Size,
    duration: float,
    out: Path,
    *,
    total: int,
    theme: Theme = DEFAULT_THEME,
    cues: Sequence[tuple[float, float]] = (),
    should_stop: Callable[[], bool] | None = None,
) -> Path:
    """Render an animation clip of exactly `duration` seconds (to a frame at 30 fps) to `out`.

    The first frame shows the slide's title and number and the animation's still parts; the
    elements then appear in order (at the narration's sentence `cues`, (start, end) seconds
    from the slide's start, when given) and all have appeared by FINISH of the duration; the
    last frame shows everything. Raises InvalidRequest for a bad spec, `Stopped` (nothing
    written) as soon as `should_stop` says the run must stop.
    """
    if not (math.isfinite(duration) and duration >= MIN_DURATION):
        raise ValueError(f"an animation must last at least {MIN_DURATION} s, not {duration}")
    spec = validate_animation(spec, bullets=slide.bullets)
    plan = plan_animation(spec, slide, size, total=total, theme=theme)
    started = time.perf_counter()
    encode_frames(animation_frames(plan, duration, cues), size, out, should_stop=should_stop)
    log.debug(
        "rendered a %s animation of %.2f s at %s in %.2f s",
        spec["type"],
        duration,
        size,
        time.perf_counter() - started,
    )
    return out


def make_animation(
    slide: Slide,
    total: int,
    size: Size,
    cache: Cache,
    duration: float,
    cues: tuple[tuple[float, float], ...] = (),
    should_stop: Callable[[], bool] | None = None,
) -> Visual:
    """Render a slide's animation clip lasting duration seconds (cached), with a still beside it.

    The render stops with `Stopped` (nothing cached) when `should_stop` says the run must stop.
    """
    assert slide.animation is not None
    key = cache.key(
        ANIMATION_VERSION,
        str(size),
        str(slide.slide_number),
        str(total),
        slide.title,
        json.dumps(list(slide.bullets), ensure_ascii=False),
        json.dumps(slide.animation, sort_keys=True),
        f"{duration:.3f}",
        json.dumps([[round(a, 3), round(b, 3)] for a, b in cues]),
    )
    clip, _ = cache.get_or_create(
        key,
        ".mp4",
        lambda out: render_animation(
            slide.animation,
            slide,
            size,
            duration,
            out,
            total=total,
            cues=cues,
            should_stop=should_stop,
        ),
    )
    still = render_still(slide, total, size, cache)
    kind = slide.animation.get("type", "animation")
    return Visual(slide.slide_number, "animation", still, clip=clip, note=str(kind))
