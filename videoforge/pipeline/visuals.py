"""The visuals stage: each slide becomes a text slide, a picture slide or an animation.

Plain functions over slides, paths and the cache. Pictures come from the configured image
sources (cached per query, with their credit); when none is found the slide is a text slide
and the returned note says so. Animations are rendered from their declarative spec by our own
code; nothing from a model or a request is executed. `PictureTrack` lays the visuals into the
video's picture track, slide by slide, as soon as each one and its length are known.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..core.animation_spec import validate_animation
from ..core.types import DEFAULT_THEME, FoundImage, PagesFile, Size, Slide, Theme
from ..media.compose import CLIP_FPS
from ..media.ffmpeg import ffmpeg_exe
from ..media.h264 import (
    SkipFrames,
    VideoFormat,
    VideoTrack,
    encode_frames,
    encode_still,
    skip_frames_for,
    x264_args,
)
from ..providers.base import ImageSource
from ..render.animations import MIN_DURATION, animation_frames, plan_animation
from ..render.captions import with_captions
from ..render.draw import render_slide
from ..render.pages import render_page
from .cache import Cache

log = logging.getLogger(__name__)

RENDER_VERSION = "slides-4"  # bump when the slide look changes, so cached images are redone
PAGE_VERSION = "page-1"  # a deck page drawn by PDFium
ANIMATION_VERSION = "animation-4"  # raw H.264 at the video's frame rate; themes, captions
POSTER_QUALITY = 85


@dataclass(frozen=True)
class Visual:
    """What a slide shows: a still, and for animations the clip shown instead of it."""

    slide_number: int
    kind: str  # "text", "image" or "animation"
    still: Path
    clip: Path | None = None
    credit: dict[str, Any] | None = None
    note: str = ""  # said in the progress message, e.g. why a picture slide became a text slide
    reused: bool = False  # everything it shows came from the cache (an unchanged slide)


def find_image(
    query: str, finder: ImageSource, cache: Cache, size: Size, workdir: Path
) -> FoundImage | None:
    """Find a picture for a query through the sources (cached per query, sources and orientation)."""
    return _find_image(query, finder, cache, size, workdir)[0]


def _find_image(
    query: str, finder: ImageSource, cache: Cache, size: Size, workdir: Path
) -> tuple[FoundImage | None, bool]:
    """Find a picture as find_image does; say whether it came from the cache."""
    orientation = "portrait" if size.height > size.width else "landscape"
    sources = ",".join(getattr(s, "name", "?") for s in getattr(finder, "sources", ()))
    key = cache.key("image-1", sources, orientation, query.strip().lower())
    png, meta = cache.get(key, ".png"), cache.get(key, ".credit.json")
    if png is not None and meta is not None:
        return FoundImage(path=png, **json.loads(meta.read_text(encoding="utf-8"))), True
    found = finder.find(query, workdir=workdir, size=size)
    if found is None:
        return None, False
    credit = {k: v for k, v in found.credit().items() if k != "attribution"}
    meta_tmp = workdir / f".credit-{key}.json"
    meta_tmp.write_text(json.dumps(credit), encoding="utf-8")
    cache.put(key, ".credit.json", meta_tmp)  # the credit first: a cached picture always has one
    meta_tmp.unlink()
    stored = cache.put(key, ".png", found.path)
    return replace(found, path=stored), False


def render_still(
    slide: Slide,
    total: int,
    size: Size,
    cache: Cache,
    image: FoundImage | None = None,
    theme: Theme = DEFAULT_THEME,
) -> Path:
    """Render a slide's still, with its picture if any (cached per content, picture, theme and size)."""
    return _render_still(slide, total, size, cache, image, theme)[0]


def _render_still(
    slide: Slide,
    total: int,
    size: Size,
    cache: Cache,
    image: FoundImage | None = None,
    theme: Theme = DEFAULT_THEME,
) -> tuple[Path, bool]:
    """Render a still as render_still does; say whether it came from the cache."""
    picture = cache.key(image.path.read_bytes(), image.attribution) if image else ""
    key = cache.key(
        RENDER_VERSION,
        str(size),
        str(slide.slide_number),
        str(total),
        slide.kind,
        slide.title,
        slide.subtitle,
        json.dumps(list(slide.bullets), ensure_ascii=False),
        picture,
        theme_key(theme),
    )
    return cache.get_or_create(
        key,
        ".png",
        lambda out: render_slide(slide, size, out, total=total, image=image, theme=theme),
    )


def render_deck_page(
    pages: PagesFile, number: int, size: Size, cache: Cache, theme: Theme
) -> tuple[Path, bool]:
    """Draw a page of an uploaded deck at the video's size (cached per file, page, size, theme)."""
    key = cache.key(PAGE_VERSION, pages.key, str(number), str(size), str(theme.background))
    return cache.get_or_create(
        key, ".png", lambda out: render_page(pages.path, number, size, theme.background, out)
    )


def theme_key(theme: Theme) -> str:
    """Return what a slide's look depends on in a theme: its colours, name and logo's bytes."""
    logo = Path(theme.logo).read_bytes() if theme.logo else b""
    return f"{theme.background}{theme.accent}{theme.title}{theme.text}{theme.muted}|{theme.brand}|{len(logo)}:{hashlib.sha256(logo).hexdigest()}"


def make_visual(
    slide: Slide,
    total: int,
    size: Size,
    cache: Cache,
    finder: ImageSource | None,
    workdir: Path,
    theme: Theme = DEFAULT_THEME,
    pages: PagesFile | None = None,
) -> Visual:
    """Make a text or picture slide (animation slides go through make_animation).

    A slide of an uploaded deck shows its page of `pages` (the run's PDF) when there is
    one, or is drawn with the picture the deck gave it.
    """
    if slide.deck_slide and pages is not None:
        still, drawn = render_deck_page(pages, slide.deck_slide, size, cache, theme)
        return Visual(slide.slide_number, "page", still, reused=drawn)
    if slide.picture:
        own = FoundImage(workdir / slide.picture, "deck")
        still, drawn = _render_still(slide, total, size, cache, own, theme)
        return Visual(slide.slide_number, "text", still, reused=drawn)
    if slide.image:
        image = None
        note = ""
        if finder is None:
            note = f"no image source is configured for “{slide.image}”; using a text slide"
        else:
            image, found = _find_image(slide.image, finder, cache, size, workdir)
            if image is None:
                note = f"no image found for “{slide.image}”; using a text slide"
        if image is not None:
            still, drawn = _render_still(slide, total, size, cache, image, theme)
            return Visual(
                slide.slide_number,
                "image",
                still,
                credit=image.credit(),
                reused=found and drawn,
            )
        still, drawn = _render_still(slide, total, size, cache, theme=theme)
        return Visual(slide.slide_number, "text", still, note=note, reused=drawn)
    still, drawn = _render_still(slide, total, size, cache, theme=theme)
    return Visual(slide.slide_number, "text", still, reused=drawn)


def render_animation(
    spec: object,
    slide: Slide,
    size: Size,
    duration: float,
    out: Path,
    *,
    total: int,
    fps: int = CLIP_FPS,
    skip: SkipFrames | Callable[[], SkipFrames] | None = None,
    theme: Theme = DEFAULT_THEME,
    cues: Sequence[tuple[float, float]] = (),
    captions: Sequence[tuple[float, float, str]] = (),
    should_stop: Callable[[], bool] | None = None,
) -> Path:
    """Render an animation clip of exactly `duration` seconds (to a frame at `fps`) to `out`.

    The first frame shows the slide's title and number and the animation's still parts; the
    elements then appear in order (at the narration's sentence `cues`, (start, end) seconds
    from the slide's start, when given) and all have appeared by FINISH of the duration; the
    last frame shows everything. The clip is raw H.264 of round(duration * fps) frames for a
    video of `size` at `fps` (`media.h264.encode_frames`; `skip` are that format's skip
    frames, made on first use when not given). Raises InvalidRequest for a bad spec,
    `Stopped` (nothing written) as soon as `should_stop` says the run must stop.
    """
    if not (math.isfinite(duration) and duration >= MIN_DURATION):
        raise ValueError(f"an animation must last at least {MIN_DURATION} s, not {duration}")
    spec = validate_animation(spec, bullets=slide.bullets)
    plan = plan_animation(spec, slide, size, total=total, theme=theme)
    fmt = VideoFormat(size, fps)
    started = time.perf_counter()
    frames = animation_frames(plan, duration, cues)
    encode_frames(
        with_captions(frames, captions) if captions else frames,
        fmt,
        out,
        skip=skip or (lambda: skip_frames_for(fmt, should_stop=should_stop)),
        should_stop=should_stop,
    )
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
    fmt: VideoFormat,
    cache: Cache,
    frames: int,
    cues: tuple[tuple[float, float], ...] = (),
    skip: Callable[[], SkipFrames] | None = None,
    should_stop: Callable[[], bool] | None = None,
    theme: Theme = DEFAULT_THEME,
    captions: tuple[tuple[float, float, str], ...] = (),
) -> Visual:
    """Render a slide's animation clip of `frames` frames (cached), with a still beside it.

    The render stops with `Stopped` (nothing cached) when `should_stop` says the run must stop.
    """
    assert slide.animation is not None
    key = cache.key(
        ANIMATION_VERSION,
        _encoder_fingerprint(fmt),
        str(slide.slide_number),
        str(total),
        slide.title,
        json.dumps(list(slide.bullets), ensure_ascii=False),
        json.dumps(slide.animation, sort_keys=True),
        str(frames),
        json.dumps([[round(a, 3), round(b, 3)] for a, b in cues]),
        theme_key(theme),
        json.dumps([[round(a, 3), round(b, 3), t] for a, b, t in captions], ensure_ascii=False),
    )
    clip, rendered = cache.get_or_create(
        key,
        ".h264",
        lambda out: render_animation(
            slide.animation,
            slide,
            fmt.size,
            frames / fmt.fps,
            out,
            total=total,
            fps=fmt.fps,
            skip=skip,
            cues=cues,
            captions=captions,
            should_stop=should_stop,
            theme=theme,
        ),
    )
    still, drawn = _render_still(slide, total, fmt.size, cache, theme=theme)
    kind = slide.animation.get("type", "animation")
    return Visual(
        slide.slide_number,
        "animation",
        still,
        clip=clip,
        note=str(kind),
        reused=rendered and drawn,
    )


def _encoder_fingerprint(fmt: VideoFormat) -> str:
    """Return what an encode of `fmt` depends on: the ffmpeg build and the x264 settings."""
    return f"{ffmpeg_exe()} {' '.join(x264_args(fmt))}"


def skip_frames(
    fmt: VideoFormat, cache: Cache, *, should_stop: Callable[[], bool] | None = None
) -> SkipFrames:
    """Return the skip frames of `fmt` (made once and kept in the cache)."""

    def make(out: Path) -> None:
        with tempfile.TemporaryDirectory(prefix="videoforge-skip-") as tmp:
            SkipFrames.make(fmt, workdir=Path(tmp), should_stop=should_stop).save(out)

    key = cache.key("skip-frames-1", _encoder_fingerprint(fmt))
    path, _ = cache.get_or_create(key, ".h264", make)
    return SkipFrames.load(fmt, path)


def write_poster(still: Path, out: Path) -> Path:
    """Write a slide's still as the video's poster, a JPEG."""
    from PIL import Image

    with Image.open(still) as image:
        picture = image.convert("RGB")
    partial = out.with_name(f".{out.name}")
    picture.save(partial, format="JPEG", quality=POSTER_QUALITY, optimize=True)
    partial.replace(out)
    return out


class PictureTrack:
    """The video's picture track, built on a thread of its own while the narration is spoken.

    `prepare` starts encoding a still slide as soon as its still is drawn; `add` lays a
    slide into the track once its number of frames is known (its still held for that long,
    or its animation clip), in slide order; the first slide's still becomes the poster.
    `finish` waits for all of it and returns the raw H.264 track. Encodes ask
    `should_stop`, so `abort` (or a stopping run) ends them within a moment.
    """

    def __init__(
        self,
        path: Path,
        fmt: VideoFormat,
        cache: Cache,
        *,
        poster: Path | None = None,
        should_stop: Callable[[], bool] | None = None,
        name: str = "pictures",
    ):
        self.path = Path(path)
        self.fmt = fmt
        self.poster = poster
        self.should_stop = should_stop
        self._thread = ThreadPoolExecutor(1, thread_name_prefix=name)
        self._skip = self._thread.submit(skip_frames, fmt, cache, should_stop=should_stop)
        self._stills: dict[int, Future[bytes]] = {}
        self._added: list[Future[None]] = []
        self._track: VideoTrack | None = None

    def skip(self) -> SkipFrames:
        """Return the format's skip frames (waiting for them on first use)."""
        return self._skip.result()

    def prepare(self, index: int, visual: Future[Visual]) -> None:
        """Encode slide `index`'s still as soon as it is drawn."""
        self._stills[index] = self._thread.submit(self._encode, visual)

    def add(
        self,
        index: int,
        visual: Future[Visual],
        frames: int,
        captions: Sequence[tuple[float, float, str]] = (),
    ) -> None:
        """Lay slide `index` into the track for `frames` frames (after the slides before it).

        `captions`, (start, end, text) in seconds from the slide's start, are burned into a
        still slide (an animation's clip has its own already).
        """
        self._added.append(self._thread.submit(self._add, index, visual, frames, tuple(captions)))

    def failure(self) -> BaseException | None:
        """Return the error of a step that failed already, if any."""
        for future in [self._skip, *self._added]:
            if future.done() and future.exception() is not None:
                return future.exception()
        return None

    def finish(self) -> Path:
        """Wait until every slide is in the track, close it and return its path."""
        for future in self._added:
            future.result()
        self._thread.shutdown()
        if self._track is not None:
            self._track.close()
        return self.path

    def abort(self) -> None:
        """Drop the steps not started; a running encode stops at its next stop check."""
        self._thread.shutdown(wait=False, cancel_futures=True)

    def _encode(self, visual: Future[Visual]) -> bytes:
        return encode_still(visual.result().still, self.fmt, should_stop=self.should_stop)

    def _add(
        self,
        index: int,
        visual: Future[Visual],
        frames: int,
        captions: tuple[tuple[float, float, str], ...],
    ) -> None:
        if self._track is None:
            self._track = VideoTrack(self.path, self.fmt, self.skip())
        done = visual.result()
        if index == 0 and self.poster is not None:
            write_poster(done.still, self.poster)
        if done.clip is not None:
            self._track.add_clip(Path(done.clip).read_bytes(), frames)
            return
        if captions:
            from PIL import Image

            with Image.open(done.still) as still:
                picture = still.convert("RGB")
            clip = self.path.with_name(f"{self.path.name}.{index}.captioned.h264")
            seconds = frames / self.fmt.fps
            encode_frames(
                with_captions([(picture, seconds)], captions),
                self.fmt,
                clip,
                skip=self.skip(),
                should_stop=self.should_stop,
            )
            self._track.add_clip(clip.read_bytes(), frames)
            clip.unlink()
            return
        still = self._stills.get(index)
        idr = still.result() if still is not None else self._encode(visual)
        self._track.add_still(idr, frames)
