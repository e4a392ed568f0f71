"""Composing: the narration's AAC track, the picture track and chapters into one MP4.

The parts are made apart, so that the pipeline can make each slide's share while the next
slide is being spoken: `AudioEncoder` encodes the narration to AAC as its PCM is written to
it (one encoder for the whole track, so there are no joins to click or drift), a
`h264.VideoTrack` collects the slides' encoded pictures, and `mux` joins the two by stream
copy into an MP4 with chapters, its moov atom first. `compose_video` does all of it in one
call from slide stills, clips and a WAV file.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
import time
import wave
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from ..core.types import Segment, Size
from .ffmpeg import FFmpegPipe, Runner, run_ffmpeg
from .h264 import (
    SkipFrames,
    VideoFormat,
    VideoTrack,
    access_units,
    color_matrix_for,
    encode_still,
    fit_filter,
    h264_level_for,
    skip_frames_for,
)
from .h264 import encode_frames as encode_clip

if TYPE_CHECKING:
    import PIL.Image

log = logging.getLogger(__name__)

CLIP_FPS = 30
AUDIO_RATE = 48000
# Mono speech: 96 kb/s keeps it transparent; 128k cost the AAC encoder 1.6x the time here.
AUDIO_BITRATE = "96k"
# dB between the true peak the PCM is limited to and the one the video may reach: room for
# the resampling to 48 kHz and the AAC encoder's overshoot (measured on Piper's speech: 0.2 dB
# on average, up to 0.8 dB in a run, 1.5 dB once).
AAC_PEAK_MARGIN = 2.0
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

__all__ = [
    "AAC_PEAK_MARGIN",
    "AUDIO_BITRATE",
    "AUDIO_RATE",
    "AudioEncoder",
    "Chapter",
    "color_matrix_for",
    "compose_video",
    "encode_frames",
    "escape_ffmetadata",
    "ffmetadata_text",
    "frame_bounds",
    "h264_level_for",
    "mux",
    "mux_argv",
    "prepare_stills",
]


class Chapter(NamedTuple):
    """A chapter mark: start and end in seconds and its title."""

    start: float
    end: float
    title: str


def escape_ffmetadata(value: str) -> str:
    r"""Escape a value for an FFMETADATA file: backslash before `=;#\` and newlines."""
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    return re.sub(r"([=;#\\\n])", r"\\\1", value)


def ffmetadata_text(chapters: Sequence[Chapter], time_base: int = 1000) -> str:
    """Return an FFMETADATA document with one [CHAPTER] per chapter, times in 1/time_base s."""
    lines = [";FFMETADATA1"]
    for chapter in chapters:
        lines += [
            "[CHAPTER]",
            f"TIMEBASE=1/{time_base}",
            f"START={round(chapter.start * time_base)}",
            f"END={round(chapter.end * time_base)}",
            f"title={escape_ffmetadata(chapter.title)}",
        ]
    return "\n".join(lines) + "\n"


# --- the narration track ------------------------------------------------------------------------


class AudioEncoder:
    """The narration encoded to AAC-LC (48 kHz, mono) in an MP4 file while it is written.

    One ffmpeg reads 16-bit mono PCM at `rate` from a pipe for the whole track, so the
    encoder's priming appears once, at the start, where the MP4's edit list hides it:
    the track decodes to exactly the samples written. `close` waits for the file; `kill`
    (or an exception in a `with` block) ends the encoder and leaves nothing usable.
    """

    def __init__(
        self, out: Path, rate: int, *, should_stop: Callable[[], bool] | None = None
    ) -> None:
        self.out = Path(out)
        self.rate = rate
        self.samples = 0
        args = ["-f", "s16le", "-ar", str(rate), "-ac", "1", "-i", "pipe:0"]
        if rate != AUDIO_RATE:
            args += ["-af", f"aresample={AUDIO_RATE}"]
        args += ["-c:a", "aac", "-aac_coder", "fast", "-b:a", AUDIO_BITRATE]
        if rate < 40000:  # nothing to code above the input's band: 20 % less work
            args += ["-cutoff", str(rate // 2)]
        args += ["-ar", str(AUDIO_RATE), "-f", "mp4", str(self.out)]
        self._pipe = FFmpegPipe(args, should_stop=should_stop)

    def __enter__(self) -> AudioEncoder:
        return self

    def __exit__(self, kind: object, value: object, traceback: object) -> None:
        if kind is not None:
            self.kill()

    @property
    def pid(self) -> int:
        return self._pipe.pid

    @property
    def seconds(self) -> float:
        """Return how long the track written so far lasts."""
        return self.samples / self.rate

    def write(self, pcm: bytes) -> None:
        """Add 16-bit little-endian mono samples to the track."""
        self._pipe.write(pcm)
        self.samples += len(pcm) // 2

    def close(self) -> Path:
        """End the track and wait for the encoder to finish the file; return its path."""
        self._pipe.close()
        return self.out

    def kill(self) -> None:
        """End the encoder now."""
        self._pipe.kill()


# --- the MP4 --------------------------------------------------------------------------------------


def mp4_timescale(fps: int) -> int:
    """Return the MP4 track timescale for `fps`: fps doubled until it is at least 10,000."""
    scale = fps
    while scale < 10000:
        scale *= 2
    return scale


def mux_argv(video: Path, audio: Path, out: Path, *, fps: int, metadata: Path | None) -> list[str]:
    """Return the ffmpeg arguments that join a raw H.264 track and an audio file into `out`.

    Both are stream-copied. The raw stream has no timestamps: each frame gets frame number
    / fps exactly (the `setts` filter), on a track timescale that is a multiple of fps, so
    every frame lasts the same. `metadata` is an FFMETADATA file with the chapters.
    """
    args = ["-f", "h264", "-framerate", str(fps), "-i", str(video), "-i", str(audio)]
    if metadata is not None:
        args += ["-f", "ffmetadata", "-i", str(metadata)]
    args += ["-map", "0:v:0", "-map", "1:a:0"]
    if metadata is not None:
        args += ["-map_metadata", "2", "-map_chapters", "2"]
    else:
        args += ["-map_metadata", "-1", "-map_chapters", "-1"]
    args += ["-c", "copy", "-bsf:v", f"setts=ts=N/({fps}*TB):duration=1/({fps}*TB)"]
    args += ["-video_track_timescale", str(mp4_timescale(fps))]
    args += ["-movflags", "+faststart", "-f", "mp4", str(out)]
    return args


def mux(
    video: Path,
    audio: Path,
    out: Path,
    *,
    fps: int,
    chapters: Sequence[Chapter] = (),
    timeout: float | None = None,
    runner: Runner | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> Path:
    """Join the picture track and the audio into the MP4 `out`, with chapters, moov first.

    Chapter times should sit on frame boundaries (they are written in frames). The file
    appears at `out` only when ffmpeg succeeded; ffmpeg is killed and `Stopped` raised as
    soon as `should_stop` says the run must stop.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".mux-", dir=out.parent) as tmp:
        metadata = None
        if chapters:
            metadata = Path(tmp, "chapters.ffmeta")
            metadata.write_text(ffmetadata_text(chapters, time_base=fps), encoding="utf-8")
        partial = Path(tmp, "video.mp4")
        args = mux_argv(video, audio, partial, fps=fps, metadata=metadata)
        run_ffmpeg(args, timeout=timeout, runner=runner, should_stop=should_stop)
        os.replace(partial, out)
    return out


def encode_frames(
    frames: Iterable[tuple[PIL.Image.Image, float]],
    size: Size,
    out: Path,
    *,
    fps: int = CLIP_FPS,
    skip: SkipFrames | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> Path:
    """Encode distinct frames, each shown for its own seconds, as a clip of `size` at `fps`.

    The clip is a raw H.264 stream of round(total seconds * fps) frames for a video of that
    size and rate (`h264.encode_frames`). Without `skip`, the format's skip frames are made
    on first use.
    """
    if size.width % 2 or size.height % 2:
        raise ValueError(f"video size {size} must have even width and height for yuv420p")
    fmt = VideoFormat(size, fps)
    made = skip or (lambda: skip_frames_for(fmt, should_stop=should_stop))
    return encode_clip(frames, fmt, out, skip=made, should_stop=should_stop)


# --- all in one ---------------------------------------------------------------------------


def frame_bounds(segments: Sequence[Segment], total: float, fmt: VideoFormat) -> list[int]:
    """Return the frame where each segment starts, then the last frame's end, checked.

    Segment i shows from frame round(start_i * fps) to round(start_i+1 * fps), so each
    slide change lands on the frame boundary nearest to its time; the video ends at the
    boundary nearest to `total`. Raises ValueError for segments that do not tile the time
    from 0 or a slide shorter than a frame.
    """
    if not segments:
        raise ValueError("a video needs at least one segment")
    tolerance = 0.0015
    if abs(segments[0].start) > tolerance:
        raise ValueError(f"the first segment starts at {segments[0].start:.3f} s, not at 0")
    for prev, seg in zip(segments, segments[1:], strict=False):
        if abs(seg.start - prev.end) > tolerance:
            raise ValueError(
                f"segments must be contiguous: slide {seg.slide_number} starts at "
                f"{seg.start:.3f} s but slide {prev.slide_number} ends at {prev.end:.3f} s"
            )
    bounds = [0] + [fmt.frame_at(seg.start) for seg in segments[1:]] + [fmt.frame_at(total)]
    if any(b <= a for a, b in zip(bounds, bounds[1:], strict=False)):
        raise ValueError(
            f"every segment needs at least one frame (1/{fmt.fps} s) on screen, and the audio "
            f"({total:.3f} s) must last past the last segment's start ({segments[-1].start:.3f} s)"
        )
    return bounds


def _is_plain_png(path: Path, size: Size) -> bool:
    """Tell whether `path` is an 8-bit RGB PNG of exactly `size` (read from its IHDR)."""
    with open(path, "rb") as f:
        head = f.read(26)
    if len(head) < 26 or head[:8] != PNG_SIGNATURE or head[12:16] != b"IHDR":
        return False
    width, height = int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
    return (width, height) == (size.width, size.height) and head[24] == 8 and head[25] == 2


def prepare_stills(images: Sequence[Path], size: Size, workdir: Path) -> list[Path]:
    """Return stills that are all 8-bit RGB PNGs of `size`, converting others into `workdir`.

    x264 sees only a picture's colours, so transparency is composited onto black here, and
    a picture of another shape is letterboxed on black. Slides rendered at the video size
    pass through untouched.
    """
    from PIL import Image, ImageOps

    converted: dict[Path, Path] = {}
    result = []
    for image in map(Path, images):
        if _is_plain_png(image, size):
            result.append(image)
            continue
        if image not in converted:
            with Image.open(image) as im:
                rgba = im.convert("RGBA")
                log.debug("converting still %s (%s, %s) for %s", image, im.mode, im.size, size)
            black = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
            flat = Image.alpha_composite(black, rgba).convert("RGB")
            fitted = ImageOps.pad(flat, (size.width, size.height), color=(0, 0, 0))
            target = Path(workdir, f"still-{len(converted)}.png")
            fitted.save(target, compress_level=1)
            converted[image] = target
        result.append(converted[image])
    return result


def clip_frames(
    clip: Path,
    fmt: VideoFormat,
    frames: int,
    *,
    skip: SkipFrames,
    workdir: Path,
    should_stop: Callable[[], bool] | None = None,
) -> bytes:
    """Return a clip as exactly `frames` frames of `fmt`, ready for `VideoTrack.add_clip`.

    A clip from `h264.encode_frames` of the right length is used as it is; any other video
    is decoded at fmt.fps, fitted into the frame, cut to length or held on its last frame,
    and encoded.
    """
    from PIL import Image

    if clip.suffix == ".h264":
        data = clip.read_bytes()
        if len(access_units(data)) == frames:
            return data
    w, h = fmt.size.width, fmt.size.height
    source = ["-f", "h264", "-framerate", str(fmt.fps)] if clip.suffix == ".h264" else []
    decoded = run_ffmpeg(
        [
            *source,
            "-i",
            str(clip),
            "-an",
            "-vf",
            f"fps={fmt.fps},{fit_filter(fmt.size)},format=rgb24",
        ]
        + ["-frames:v", str(frames), "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        should_stop=should_stop,
    ).stdout
    size = w * h * 3
    pictures = [
        Image.frombytes("RGB", (w, h), decoded[i : i + size])
        for i in range(0, len(decoded) - size + 1, size)
    ]
    if not pictures:
        raise ValueError(f"{clip.name} has no frames")
    pictures += [pictures[-1]] * (frames - len(pictures))
    out = Path(workdir, f"{clip.stem}-{frames}.h264")
    encode_clip(((p, 1 / fmt.fps) for p in pictures), fmt, out, skip=skip, should_stop=should_stop)
    return out.read_bytes()


def compose_video(
    segments: list[Segment],
    audio: Path,
    out: Path,
    *,
    size: Size,
    fps: int = 30,
    chapters: bool = True,
    skip: SkipFrames | None = None,
    timeout: float | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> Path:
    """Lay the slides and the narration WAV into one MP4 at `out` (H.264 CFR at fps, AAC).

    Each segment's still (or its clip) is on screen from `segment.start` for
    `segment.duration`, to the nearest frame; segments must be contiguous from 0. The video
    ends with the audio: the last segment is stretched or cut to the WAV's length. With
    `chapters`, each segment becomes a chapter named by its title, starting on its first
    frame. `skip` saves making the format's skip frames again. The file appears at `out`
    only when everything succeeded; `FFmpegError` (or ValueError for an impossible layout)
    else, `Stopped` as soon as `should_stop` says the run must stop.
    """
    out = Path(out)
    if size.width % 2 or size.height % 2:
        raise ValueError(f"video size {size} must have even width and height for yuv420p")
    fmt = VideoFormat(size, fps)
    with wave.open(str(audio), "rb") as w:
        rate, width, channels = w.getframerate(), w.getsampwidth(), w.getnchannels()
        pcm = w.readframes(w.getnframes())
    if (width, channels) != (2, 1):
        raise ValueError("compose_video needs a 16-bit mono WAV")
    total = len(pcm) / 2 / rate
    bounds = frame_bounds(segments, total, fmt)
    if abs(segments[-1].end - total) > 1 / fps:
        log.warning(
            "segments end at %.3f s but the audio lasts %.3f s; the last slide is %s",
            segments[-1].end,
            total,
            "cut" if segments[-1].end > total else "held longer",
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=".compose-", dir=out.parent) as tmp:
        work = Path(tmp)
        with (
            AudioEncoder(work / "audio.m4a", rate, should_stop=should_stop) as encoder,
            ThreadPoolExecutor(1, thread_name_prefix="compose-audio") as audio_thread,
        ):
            written = audio_thread.submit(encoder.write, pcm)  # encodes beside the pictures
            skip = skip or SkipFrames.make(fmt, workdir=work, should_stop=should_stop)
            stills = prepare_stills([seg.image for seg in segments], size, work)
            with VideoTrack(work / "video.h264", fmt, skip) as track:
                for seg, still, a, b in zip(segments, stills, bounds, bounds[1:], strict=False):
                    if seg.clip is None:
                        track.add_still(encode_still(still, fmt, should_stop=should_stop), b - a)
                    else:
                        clip = clip_frames(
                            Path(seg.clip),
                            fmt,
                            b - a,
                            skip=skip,
                            workdir=work,
                            should_stop=should_stop,
                        )
                        track.add_clip(clip, b - a)
            written.result()
            encoder.close()
        marks = [
            Chapter(a / fps, b / fps, seg.title or f"Slide {seg.slide_number}")
            for seg, a, b in zip(segments, bounds, bounds[1:], strict=False)
        ]
        mux(
            work / "video.h264",
            work / "audio.m4a",
            out,
            fps=fps,
            chapters=marks if chapters else (),
            timeout=timeout,
            should_stop=should_stop,
        )
    log.info(
        "composed %s: %d segments, %.2f s of video in %.2f s",
        out,
        len(segments),
        total,
        time.monotonic() - started,
    )
    return out
