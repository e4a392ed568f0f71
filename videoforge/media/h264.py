"""The picture track: H.264 at a constant frame rate, built by copying encoded frames.

Every encode here uses the same x264 settings (`x264_args`: closed GOPs, no B-frames, one
reference frame, `stitchable`, an access unit delimiter before every frame, the headers
repeated at every keyframe), so every encode starts with the same SPS and PPS and encoded
frames from different runs of x264 can be laid end to end in one Annex B stream.

A slide that holds still is one encoded picture (an IDR frame) followed by skip frames: P
frames in which every macroblock is skipped, which decode to an exact copy of the frame
before whatever that frame shows. They are cut once per video format from a GOP x264 makes
of a flat picture (`SkipFrames.make`) and checked. So a still costs one frame of encoding,
and a keyframe every GOP_SECONDS costs a copy of its IDR frame: `VideoTrack.add_still`.
Animations (`encode_frames`) are encoded as they play, except that a picture which stays
for half a second or more is handled like a still.
"""

from __future__ import annotations

import logging
import math
import os
import re
import tempfile
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..core.errors import Stopped
from ..core.types import Size
from .ffmpeg import FFmpegPipe, Runner, run_ffmpeg

if TYPE_CHECKING:
    import PIL.Image

log = logging.getLogger(__name__)

GOP_SECONDS = 2  # a keyframe at least this often
CRF = "18"
PRESET = "superfast"  # veryfast: 40 % more work per still (89 vs 64 ms at 1080p), 3 % smaller
AUD, IDR, SPS, PPS = 9, 5, 7, 8  # NAL unit types
_START_CODE = re.compile(b"\x00\x00\x01")


@dataclass(frozen=True)
class VideoFormat:
    """The picture size and the constant frame rate of a video."""

    size: Size
    fps: int

    @property
    def gop(self) -> int:
        """Return the longest run of frames between keyframes."""
        return GOP_SECONDS * self.fps

    def frame_at(self, seconds: float) -> int:
        """Return the frame boundary nearest to `seconds` (halves round up)."""
        return math.floor(seconds * self.fps + 0.5)

    def frame_at_sample(self, sample: int, rate: int) -> int:
        """Return the frame boundary nearest to sample number `sample` at `rate`, exactly."""
        return (2 * sample * self.fps + rate) // (2 * rate)


def h264_level_for(size: Size, fps: int = 30) -> str:
    """Pick the lowest H.264 level whose frame-size and frame-rate limits fit (4.1 for 1080p30).

    The level must be explicit and right: players refuse streams above what they decode, and
    1080p at 50 or 60 fps needs 4.2, which some phones' decoders check.
    """
    macroblocks = math.ceil(size.width / 16) * math.ceil(size.height / 16)
    rate = macroblocks * fps
    for level, max_frame, max_rate in (
        ("4.1", 8192, 245760),
        ("4.2", 8704, 522240),
        ("5.1", 36864, 983040),
        ("5.2", 36864, 2073600),
    ):
        if macroblocks <= max_frame and rate <= max_rate:
            return level
    return "6.1"


def color_matrix_for(size: Size) -> tuple[str, str]:
    """Pick the YUV matrix for `size`: (swscale name, H.264 tag), BT.709 from 720 lines up.

    Decoders that honour the tag are right either way, but Chromium's software path ignores
    it and guesses from the height (measured: 718 lines and below BT.601, 720 and up
    BT.709, whatever the width); a wrong guess turns red 230,20,20 into 212,0,23 or
    248,41,21. Following the same rule keeps colours right there too.
    """
    return ("bt709", "bt709") if size.height >= 720 else ("bt601", "smpte170m")


def fit_filter(size: Size) -> str:
    """Scale into `size` keeping the aspect ratio, pad with black, convert to yuv420p."""
    w, h = size.width, size.height
    matrix, _ = color_matrix_for(size)
    return (
        f"scale={w}:{h}:force_original_aspect_ratio=decrease"
        f":out_color_matrix={matrix}:out_range=tv"
        f",pad={w}:{h}:(ow-iw)/2:(oh-ih)/2:color=black,setsar=1,format=yuv420p"
    )


def x264_args(fmt: VideoFormat, *, threads: int = 1) -> list[str]:
    """Return the encoder settings every encode of `fmt` shares (raw H.264 out, CFR at fmt.fps).

    Only settings that leave the SPS and PPS alone may differ between encodes (`threads`);
    everything that shapes them is fixed here, and the presets' choices that would (the
    reference count, weighted prediction, the look-ahead) are pinned.
    """
    _, tag = color_matrix_for(fmt.size)
    params = (
        f"keyint={fmt.gop}:min-keyint=1:scenecut=0:stitchable=1:aud=1:repeat-headers=1"
        ":ref=1:weightp=0:rc-lookahead=0:mbtree=0"
    )
    return [
        "-r", str(fmt.fps),
        "-c:v", "libx264", "-preset", PRESET, "-tune", "stillimage", "-crf", CRF,
        "-profile:v", "high", "-level:v", h264_level_for(fmt.size, fmt.fps),
        "-pix_fmt", "yuv420p", "-bf", "0", "-x264-params", params,
        "-colorspace", tag, "-color_primaries", tag, "-color_trc", tag, "-color_range", "tv",
        "-threads", str(threads), "-f", "h264",
    ]  # fmt: skip


# --- Annex B ----------------------------------------------------------------------------------


def nal_units(data: bytes) -> list[tuple[int, int]]:
    """Return (offset, type) of every NAL unit of an Annex B stream, offsets at start codes."""
    units = []
    for match in _START_CODE.finditer(data):
        start = match.start()
        if start and data[start - 1] == 0:
            start -= 1  # a four-byte start code
        if match.end() < len(data):
            units.append((start, data[match.end()] & 0x1F))
    return units


def access_units(data: bytes) -> list[bytes]:
    """Split an Annex B stream into access units (one frame each) at its delimiters.

    Raises ValueError when the stream does not start with a delimiter (an encode made
    without `aud=1`, or not H.264 at all).
    """
    starts = [offset for offset, kind in nal_units(data) if kind == AUD]
    if not starts or starts[0] != 0:
        raise ValueError("not an H.264 stream with access unit delimiters")
    starts.append(len(data))
    return [data[a:b] for a, b in zip(starts, starts[1:], strict=False)]


def unit_types(au: bytes) -> list[int]:
    """Return the NAL unit types of one access unit, in order."""
    return [kind for _, kind in nal_units(au)]


def is_keyframe(au: bytes) -> bool:
    """Tell whether an access unit is an IDR frame."""
    return IDR in unit_types(au)


def parameter_sets(au: bytes) -> bytes:
    """Return the SPS and PPS an IDR access unit carries, joined (empty for other frames)."""
    units = nal_units(au)
    ends = [offset for offset, _ in units[1:]] + [len(au)]
    return b"".join(
        au[start:end].lstrip(b"\x00")  # without its start code, which may be 3 or 4 bytes
        for (start, kind), end in zip(units, ends, strict=True)
        if kind in (SPS, PPS)
    )


def chunks(frames: int, longest: int) -> list[int]:
    """Split `frames` into GOP lengths of at most `longest`, none of one frame when avoidable.

    Two IDR frames in a row would need different `idr_pic_id`s, which copies of one encoded
    picture cannot have; so a one-frame remainder borrows a frame from the GOP before it.
    """
    if frames <= 0:
        return []
    whole, rest = divmod(frames, longest)
    lengths = [longest] * whole + ([rest] if rest else [])
    if len(lengths) > 1 and lengths[-1] == 1:
        lengths[-2:] = [longest - 1, 2]
    return lengths


# --- encoding -----------------------------------------------------------------------------------


def encode_still(
    image: Path,
    fmt: VideoFormat,
    *,
    timeout: float | None = None,
    runner: Runner | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> bytes:
    """Encode a picture file as one IDR access unit of `fmt` (scaled and padded to fit)."""
    with tempfile.TemporaryDirectory(prefix=".still-") as tmp:
        out = Path(tmp, "still.h264")
        args = ["-i", str(image), "-vf", fit_filter(fmt.size), "-frames:v", "1"]
        run_ffmpeg(
            [*args, *x264_args(fmt), str(out)],
            timeout=timeout,
            runner=runner,
            should_stop=should_stop,
        )
        units = access_units(out.read_bytes())
    if len(units) != 1 or not is_keyframe(units[0]):
        raise ValueError(f"encoding {image.name} gave {len(units)} frames, not one keyframe")
    return units[0]


class GopEncoder:
    """One closed GOP being encoded: pictures go to x264 through a pipe as they are added.

    So drawing and encoding overlap, and no picture is kept. `finish` returns the GOP's
    access units; `kill` (or leaving a `with` block by an exception) ends x264.
    """

    def __init__(
        self,
        fmt: VideoFormat,
        *,
        workdir: Path,
        threads: int = 1,
        should_stop: Callable[[], bool] | None = None,
    ):
        self.fmt = fmt
        self.frames = 0
        fd, name = tempfile.mkstemp(prefix=".gop-", suffix=".h264", dir=workdir)
        os.close(fd)
        self._out = Path(name)
        w, h = fmt.size.width, fmt.size.height
        args = ["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-r", str(fmt.fps)]
        args += ["-i", "pipe:0", "-vf", fit_filter(fmt.size), *x264_args(fmt, threads=threads)]
        self._pipe = FFmpegPipe([*args, str(self._out)], should_stop=should_stop)

    def __enter__(self) -> GopEncoder:
        return self

    def __exit__(self, kind: object, value: object, traceback: object) -> None:
        if kind is not None:
            self.kill()

    def add(self, image: PIL.Image.Image, frames: int = 1) -> None:
        """Show `image` (RGB, of the format's size) for `frames` more frames."""
        size = (self.fmt.size.width, self.fmt.size.height)
        if image.size != size:
            raise ValueError(f"frame of {image.size[0]}x{image.size[1]}, expected {self.fmt.size}")
        if self.frames + frames > self.fmt.gop:
            raise ValueError(f"a GOP of {self.fmt} has at most {self.fmt.gop} frames")
        raw = (image if image.mode == "RGB" else image.convert("RGB")).tobytes()
        for _ in range(frames):
            self._pipe.write(raw)
        self.frames += frames

    def finish(self) -> list[bytes]:
        """Wait for x264 and return the GOP's access units, an IDR frame first."""
        try:
            self._pipe.close()
            units = access_units(self._out.read_bytes())
        finally:
            self._out.unlink(missing_ok=True)
        if len(units) != self.frames or not is_keyframe(units[0]):
            raise ValueError(
                f"x264 gave {len(units)} frames for {self.frames}, or no keyframe first"
            )
        return units

    def kill(self) -> None:
        """End x264 now and drop what it made."""
        self._pipe.kill()
        self._out.unlink(missing_ok=True)


def encode_gop(
    pictures: Iterable[tuple[PIL.Image.Image, int]],
    fmt: VideoFormat,
    *,
    workdir: Path,
    should_stop: Callable[[], bool] | None = None,
) -> list[bytes]:
    """Encode pictures, each shown for its number of frames, as one closed GOP; return it."""
    with GopEncoder(fmt, workdir=workdir, should_stop=should_stop) as gop:
        for image, frames in pictures:
            gop.add(image, frames)
        return gop.finish()


class SkipFrames:
    """P frames of `fmt` in which every macroblock is skipped: each repeats the frame before it.

    fmt.gop - 1 of them, enough to follow any IDR frame up to the next keyframe. Made once
    per format (`make`), kept as a file (`save`, `load`).
    """

    def __init__(self, fmt: VideoFormat, frames: Sequence[bytes]):
        if len(frames) != fmt.gop - 1 or any(is_keyframe(f) for f in frames):
            raise ValueError(f"skip frames for {fmt} must be {fmt.gop - 1} P frames")
        self.fmt = fmt
        self._data = b"".join(frames)
        self._ends = [0]
        for frame in frames:
            self._ends.append(self._ends[-1] + len(frame))

    def first(self, count: int) -> bytes:
        """Return the first `count` skip frames, joined."""
        return self._data[: self._ends[count]]

    def save(self, path: Path) -> Path:
        """Write the frames to `path` as an Annex B stream."""
        Path(path).write_bytes(self._data)
        return Path(path)

    @classmethod
    def load(cls, fmt: VideoFormat, path: Path) -> SkipFrames:
        """Read frames `save` wrote."""
        return cls(fmt, access_units(Path(path).read_bytes()))

    @classmethod
    def make(
        cls,
        fmt: VideoFormat,
        *,
        workdir: Path,
        should_stop: Callable[[], bool] | None = None,
    ) -> SkipFrames:
        """Cut skip frames from a GOP of a flat grey picture, and check they copy any picture.

        x264 codes a frame that repeats the one before it with skipped macroblocks; a flat
        picture leaves nothing to refine, so every macroblock is skipped. The check: after
        an IDR frame of a detailed test picture the frames decode to that picture exactly.
        Raises ValueError when they do not (a change in x264 would show here first).
        """
        with tempfile.TemporaryDirectory(prefix=".skip-", dir=workdir) as tmp:
            stream = Path(tmp, "grey.h264")
            args = ["-f", "lavfi", "-i", f"color=c=gray:size={fmt.size}:rate={fmt.fps}"]
            args += ["-vf", fit_filter(fmt.size), "-frames:v", str(fmt.gop)]
            run_ffmpeg([*args, *x264_args(fmt), str(stream)], should_stop=should_stop)
            units = access_units(stream.read_bytes())
        if len(units) != fmt.gop or not is_keyframe(units[0]):
            raise ValueError(f"x264 gave {len(units)} frames of {fmt} for {fmt.gop}")
        limit = 64 + math.ceil(fmt.size.width / 16) * math.ceil(fmt.size.height / 16) // 8
        if any(len(frame) > limit for frame in units[1:]):
            raise ValueError(f"x264's repeated frames of {fmt} are not all skipped")
        skip = cls(fmt, units[1:])
        skip._check(workdir, should_stop)
        return skip

    def _check(self, workdir: Path, should_stop: Callable[[], bool] | None) -> None:
        with tempfile.TemporaryDirectory(prefix=".skip-", dir=workdir) as tmp:
            stream = Path(tmp, "check.h264")
            args = ["-f", "lavfi", "-i", f"testsrc2=size={self.fmt.size}:rate={self.fmt.fps}"]
            args += ["-vf", fit_filter(self.fmt.size), "-frames:v", "1"]
            run_ffmpeg([*args, *x264_args(self.fmt), str(stream)], should_stop=should_stop)
            (idr,) = access_units(stream.read_bytes())
            stream.write_bytes(idr + self.first(self.fmt.gop - 1))
            decoded = run_ffmpeg(
                ["-f", "h264", "-i", str(stream), "-f", "framemd5", "-"], should_stop=should_stop
            )
        sums = {
            line.rsplit(",", 1)[1].strip()
            for line in decoded.stdout.decode("ascii", "replace").splitlines()
            if line and not line.startswith("#")
        }
        if len(sums) != 1:
            raise ValueError(f"x264's repeated frames of {self.fmt} do not repeat every picture")


_SKIP_FRAMES: dict[VideoFormat, SkipFrames] = {}
_SKIP_LOCK = threading.Lock()


def skip_frames_for(
    fmt: VideoFormat, *, should_stop: Callable[[], bool] | None = None
) -> SkipFrames:
    """Return the skip frames of `fmt`, made on the first call in this process."""
    with _SKIP_LOCK:
        if fmt not in _SKIP_FRAMES:
            with tempfile.TemporaryDirectory(prefix=".skip-") as tmp:
                _SKIP_FRAMES[fmt] = SkipFrames.make(fmt, workdir=Path(tmp), should_stop=should_stop)
        return _SKIP_FRAMES[fmt]


def encode_frames(
    frames: Iterable[tuple[PIL.Image.Image, float]],
    fmt: VideoFormat,
    out: Path,
    *,
    skip: SkipFrames | Callable[[], SkipFrames],
    should_stop: Callable[[], bool] | None = None,
) -> Path:
    """Encode distinct frames, each shown for its own number of seconds, as a clip at fmt.fps.

    Each frame's start and end are moved to the nearest frame boundary (a frame that would
    then last no frame at all is dropped), so the clip has round(total seconds * fps)
    frames. A picture that stays at least half a second is encoded once and held with skip
    frames; shorter ones (a transition) are encoded frame by frame in GOPs of their own.
    The clip is a raw H.264 stream for `VideoTrack.add_clip`; it appears at `out` only when
    complete. `should_stop` is asked between frames and while x264 runs; when it says yes
    the work ends with `Stopped` and nothing at `out`. Raises ValueError for frames of
    another size or no frame lasting a frame or more. `skip` may be a function that
    returns the skip frames, called only when a picture stays.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    skip_frames = skip if callable(skip) else (lambda: skip)
    hold = max(4, fmt.fps // 2)  # frames a picture must stay to be treated as a still
    parts: list[bytes] = []
    total = 0
    with tempfile.TemporaryDirectory(prefix=".clip-", dir=out.parent) as tmp:
        workdir = Path(tmp)
        moving: GopEncoder | None = None  # the open GOP of short-lived pictures
        try:
            elapsed = 0.0
            for image, seconds in frames:
                if should_stop is not None and should_stop():
                    raise Stopped("the animation was stopped: the run must stop")
                size = (fmt.size.width, fmt.size.height)
                if image.size != size:
                    raise ValueError(
                        f"frame of {image.size[0]}x{image.size[1]}, expected {fmt.size}"
                    )
                if not seconds > 0:
                    continue
                start = fmt.frame_at(elapsed)
                elapsed += seconds
                count = fmt.frame_at(elapsed) - start
                if count <= 0:
                    continue  # shorter than a frame: the next picture replaces it
                total += count
                if count >= hold:
                    if moving is not None:
                        if moving.frames == 1:
                            moving.add(image)  # no one-frame GOP right before a keyframe
                            count -= 1
                        parts.extend(moving.finish())
                        moving = None
                    idr = encode_gop([(image, 1)], fmt, workdir=workdir, should_stop=should_stop)
                    for length in chunks(count, fmt.gop):
                        parts.append(idr[0] + skip_frames().first(length - 1))
                    continue
                while count:
                    if moving is None:
                        moving = GopEncoder(fmt, workdir=workdir, should_stop=should_stop)
                    taken = min(count, fmt.gop - moving.frames)
                    moving.add(image, taken)
                    count -= taken
                    if moving.frames == fmt.gop:
                        parts.extend(moving.finish())
                        moving = None
            if moving is not None:
                parts.extend(moving.finish())
                moving = None
        finally:
            if moving is not None:
                moving.kill()
        if not total:
            raise ValueError("encode_frames needs at least one frame lasting 1/fps or more")
        partial = Path(tmp, "clip.h264")
        partial.write_bytes(b"".join(parts))
        os.replace(partial, out)
    return out


# --- the track ----------------------------------------------------------------------------------


class VideoTrack:
    """The picture track of a video, written as a raw H.264 stream, slide after slide.

    Every keyframe added must carry the same SPS and PPS as the first (encodes made with
    other settings cannot be joined; ValueError). `frames` counts what was written and
    `keyframes` lists the frame numbers of the IDR frames.
    """

    def __init__(self, path: Path, fmt: VideoFormat, skip: SkipFrames):
        self.path = Path(path)
        self.fmt = fmt
        self.skip = skip
        self.frames = 0
        self.keyframes: list[int] = []
        self._headers: bytes | None = None
        self._file = open(self.path, "wb")  # noqa: SIM115 - closed by close()

    def add_still(self, idr: bytes, frames: int) -> None:
        """Show an encoded picture for `frames` frames: its IDR frame every GOP, skip frames between."""
        self._check(idr)
        for length in chunks(frames, self.fmt.gop):
            self.keyframes.append(self.frames)
            self._file.write(idr)
            self._file.write(self.skip.first(length - 1))
            self.frames += length

    def add_clip(self, clip: bytes, frames: int) -> None:
        """Show a clip from `encode_frames`; it must have exactly `frames` frames."""
        units = access_units(clip)
        if len(units) != frames:
            raise ValueError(f"the clip has {len(units)} frames where {frames} are needed")
        for au in units:
            if is_keyframe(au):
                self._check(au)
                self.keyframes.append(self.frames)
            self.frames += 1
        self._file.write(clip)

    def close(self) -> None:
        """Finish writing the stream."""
        self._file.close()

    def __enter__(self) -> VideoTrack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check(self, idr: bytes) -> None:
        if not is_keyframe(idr):
            raise ValueError("a slide must start with a keyframe")
        headers = parameter_sets(idr)
        if self._headers is None:
            self._headers = headers
        elif headers != self._headers:
            raise ValueError("this picture was encoded with other settings than the track's")
