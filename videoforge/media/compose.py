"""Composing: slide stills, animation clips and the narration into one MP4, and clips from frames.

`compose_video` makes the whole video in one ffmpeg run: the concat demuxer reads the slide
stills as one decoded frame per slide on a 1 ms time base, the frames keep their own
timestamps (variable frame rate, so a slide costs one frame however long it stays), and
x264 encodes them next to the AAC-encoded narration. Animation clips, when a segment has
one, are trimmed, shifted to their segment's start and merged in by timestamp.
`encode_frames` turns an animation's distinct frames into such a clip.
"""

from __future__ import annotations

import logging
import math
import os
import re
import tempfile
import time
import wave
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from ..core.errors import Stopped
from ..core.files import wav_duration
from ..core.types import Segment, Size
from .ffmpeg import Runner, run_ffmpeg

if TYPE_CHECKING:
    import PIL.Image

log = logging.getLogger(__name__)

TIME_BASE_MS = 1000  # every timestamp compose_video writes is a whole millisecond
AUDIO_BITRATE = "128k"  # plenty for speech; 160k made the AAC encoder 1.6x slower here
AUDIO_RATES = (44100, 48000)
CLIP_FPS = 30
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class Chapter(NamedTuple):
    """A chapter mark: start and end in seconds and its title."""

    start: float
    end: float
    title: str


def encode_frames(
    frames: Iterable[tuple[PIL.Image.Image, float]],
    size: Size,
    out: Path,
    *,
    fps: int = CLIP_FPS,
    timeout: float | None = None,
    runner: Runner | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> Path:
    """Encode distinct frames, each shown for its own number of seconds, into an H.264 MP4.

    Only the frames where the picture changes are stored (variable frame rate), so a clip
    that mostly holds still costs a handful of frames. Frame changes are moved onto the
    1/fps grid that `compose_video` later samples clips on; a frame that would then last no
    time at all is dropped. The clip lasts the sum of the durations to within half a frame.
    Frames are written as PPM (no compression: cheaper than PNG by an order of magnitude)
    into a temporary folder next to `out` and read back by the concat demuxer; the file
    appears at `out` only when ffmpeg succeeded. `should_stop` is asked between frames and
    while ffmpeg runs; when it says yes the work ends with `Stopped` and nothing at `out`.
    Raises ValueError for frames of another size or no positive duration, FFmpegError when
    ffmpeg fails.
    """
    out = Path(out)
    if size.width % 2 or size.height % 2:
        raise ValueError(f"video size {size} must have even width and height for yuv420p")
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".frames-", dir=out.parent) as tmp:
        entries = ["ffconcat version 1.0"]
        elapsed = 0.0
        shown_ms = 0  # where the last written frame starts
        written: list[tuple[Path, int]] = []  # each frame file and when it starts, in ms
        for image, seconds in frames:
            if should_stop is not None and should_stop():
                raise Stopped("the animation was stopped: the run must stop")
            if image.size != (size.width, size.height):
                raise ValueError(f"frame of {image.size[0]}x{image.size[1]}, expected {size}")
            if not seconds > 0:
                continue
            start = round(round(elapsed * fps) * TIME_BASE_MS / fps)
            elapsed += seconds
            end = round(round(elapsed * fps) * TIME_BASE_MS / fps)
            if end <= start:
                continue  # shorter than the grid step: the next frame replaces it
            path = Path(tmp, f"{len(written):05d}.ppm")
            (image if image.mode == "RGB" else image.convert("RGB")).save(path, format="PPM")
            written.append((path, start))
            shown_ms = end
        if not written:
            raise ValueError("encode_frames needs at least one frame lasting 1/fps or more")
        # Each image is a 1 ms frame at its start; the last one is listed again 1 ms before
        # the end (the concat demuxer ignores the last entry's duration), which sets the end.
        starts = [start for _, start in written] + [shown_ms - 1]
        for (path, start), following in zip(written, starts[1:], strict=True):
            entries += [
                f"file {_concat_quote(path)}",
                f"option framerate {TIME_BASE_MS}",
                f"duration {(following - start) / TIME_BASE_MS:.3f}",
            ]
        entries += [f"file {_concat_quote(written[-1][0])}", f"option framerate {TIME_BASE_MS}"]
        concat_list = Path(tmp, "frames.ffconcat")
        concat_list.write_text("\n".join(entries) + "\n", encoding="utf-8")
        partial = Path(tmp, "clip.mp4")
        args = ["-f", "concat", "-safe", "0", "-i", str(concat_list)]
        args += ["-vf", f"settb=1/{TIME_BASE_MS},{_fit_filter(size)}", "-an"]
        args += [
            "-c:v", "libx264", "-preset", "veryfast", "-tune", "animation", "-crf", "18",
            "-profile:v", "high", "-level:v", h264_level_for(size), "-pix_fmt", "yuv420p",
            "-bf", "0", "-colorspace", color_matrix_for(size)[1], "-color_range", "tv",
            "-fps_mode", "passthrough", "-movflags", "+faststart", "-f", "mp4", str(partial),
        ]  # fmt: skip
        run_ffmpeg(args, timeout=timeout, runner=runner, should_stop=should_stop)
        os.replace(partial, out)
    return out


def escape_ffmetadata(value: str) -> str:
    r"""Escape a value for an FFMETADATA file: backslash before `=;#\` and newlines."""
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    return re.sub(r"([=;#\\\n])", r"\\\1", value)


def ffmetadata_text(chapters: Sequence[Chapter]) -> str:
    """Return an FFMETADATA document with one [CHAPTER] (1 ms time base) per chapter."""
    lines = [";FFMETADATA1"]
    for chapter in chapters:
        lines += [
            "[CHAPTER]",
            f"TIMEBASE=1/{TIME_BASE_MS}",
            f"START={round(chapter.start * TIME_BASE_MS)}",
            f"END={round(chapter.end * TIME_BASE_MS)}",
            f"title={escape_ffmetadata(chapter.title)}",
        ]
    return "\n".join(lines) + "\n"


def _concat_quote(path: Path) -> str:
    return "'" + str(path).replace("'", "'\\''") + "'"


def h264_level_for(size: Size) -> str:
    """Pick the H.264 level whose frame-size limit fits `size` (4.1 up to 1080p-sized frames).

    The level must be explicit: with the 1 ms time base x264 would otherwise assume
    1000 frames/s and label the stream Level 6.x, which some decoders refuse.
    """
    macroblocks = math.ceil(size.width / 16) * math.ceil(size.height / 16)
    if macroblocks <= 8192:
        return "4.1"
    if macroblocks <= 36864:
        return "5.1"
    return "6.1"


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

    ffmpeg decodes the concat list as one stream, and a still of another size or pixel
    format mid-stream makes it rebuild (or, with that disabled, crash in) the filter graph.
    Slides rendered at the video size pass through untouched; others are letterboxed on
    black, with transparency composited onto black.
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


def _boundaries_ms(segments: Sequence[Segment], total: float) -> list[int]:
    """Return each segment's start and the video end in whole milliseconds, checked."""
    if not segments:
        raise ValueError("compose_video needs at least one segment")
    tolerance = 0.0015
    if abs(segments[0].start) > tolerance:
        raise ValueError(f"the first segment starts at {segments[0].start:.3f} s, not at 0")
    for prev, seg in zip(segments, segments[1:], strict=False):
        if abs(seg.start - prev.end) > tolerance:
            raise ValueError(
                f"segments must be contiguous: slide {seg.slide_number} starts at "
                f"{seg.start:.3f} s but slide {prev.slide_number} ends at {prev.end:.3f} s"
            )
    starts = [0] + [round(seg.start * TIME_BASE_MS) for seg in segments[1:]]
    end = round(total * TIME_BASE_MS)
    bounds = [*starts, end]
    if any(b <= a for a, b in zip(bounds, bounds[1:], strict=False)):
        raise ValueError(
            f"every segment needs at least 1 ms on screen, and the audio ({total:.3f} s) "
            f"must last past the last segment's start ({segments[-1].start:.3f} s)"
        )
    return bounds


def color_matrix_for(size: Size) -> tuple[str, str]:
    """Pick the YUV matrix for `size`: (swscale name, H.264 tag), BT.709 from 720 lines up.

    Decoders that honour the tag are right either way, but Chromium's software path ignores
    it and guesses from the height (measured: 718 lines and below BT.601, 720 and up
    BT.709, whatever the width); a wrong guess turns red 230,20,20 into 212,0,23 or
    248,41,21. Following the same rule keeps colours right there too.
    """
    return ("bt709", "bt709") if size.height >= 720 else ("bt601", "smpte170m")


def _fit_filter(size: Size) -> str:
    """Scale into `size` keeping the aspect ratio, pad with black, convert to yuv420p."""
    w, h = size.width, size.height
    matrix, _ = color_matrix_for(size)
    return (
        f"scale={w}:{h}:force_original_aspect_ratio=decrease"
        f":out_color_matrix={matrix}:out_range=tv"
        f",pad={w}:{h}:(ow-iw)/2:(oh-ih)/2:color=black,setsar=1,format=yuv420p"
    )


def _filter_graph(segments: Sequence[Segment], bounds: list[int], size: Size, first_clip: int):
    """Return the filter graph: stills from input 0, clips from inputs `first_clip` on."""
    fit = _fit_filter(size)
    clips = [i for i, seg in enumerate(segments) if seg.clip is not None]
    if not clips:
        return f"[0:v]settb=1/{TIME_BASE_MS},{fit}[v]"
    # The concat list holds one still per segment plus the closing repeat of the last one;
    # drop the stills a clip replaces (and the closing repeat when the last segment is a clip,
    # since that clip is padded to the end itself).
    dropped = list(clips)
    if clips[-1] == len(segments) - 1:
        dropped.append(len(segments))
    keep = "not(" + "+".join(f"eq(n,{i})" for i in dropped) + ")"
    chains = [f"[0:v]settb=1/{TIME_BASE_MS},select='{keep}',{fit},settb=AVTB[still]"]
    labels = ["[still]"]
    for k, i in enumerate(clips):
        length = (bounds[i + 1] - bounds[i]) / TIME_BASE_MS
        # A clip runs at CLIP_FPS from its segment's start and is cut at the segment's end;
        # a shorter clip's last frame stays on screen until the next slide's frame. Nothing
        # follows the last segment, so a last clip repeats its final frame up to the end.
        pad = f"tpad=stop_mode=clone:stop_duration={length}," if i == len(segments) - 1 else ""
        chain = (
            f"[{first_clip + k}:v]setpts=PTS-STARTPTS,{pad}fps={CLIP_FPS},"
            f"trim=duration={length},{fit},settb=1/{TIME_BASE_MS},setpts=PTS+{bounds[i]}"
            # interleave rescales timestamps to microseconds but not durations: hand it
            # microseconds already, so the last frame keeps its length.
            f",settb=AVTB[clip{k}]"
        )
        chains.append(chain)
        labels.append(f"[clip{k}]")
    chains.append("".join(labels) + f"interleave=nb_inputs={len(labels)},settb=1/{TIME_BASE_MS}[v]")
    return ";".join(chains)


def compose_argv(
    segments: Sequence[Segment],
    audio: Path,
    out: Path,
    *,
    size: Size,
    total: float,
    audio_rate: int,
    concat_list: Path,
    metadata: Path | None,
    stills: Sequence[Path] | None = None,
    threads: int | None = None,
) -> tuple[list[str], str, str | None]:
    """Build the ffmpeg arguments for `compose_video`; return them, the concat list and metadata.

    `stills` replaces the segments' images (see `prepare_stills`). Kept apart from running
    so the recipe can be read and tested on its own.
    """
    if size.width % 2 or size.height % 2:
        raise ValueError(f"video size {size} must have even width and height for yuv420p")
    bounds = _boundaries_ms(segments, total)
    durations = [b - a for a, b in zip(bounds, bounds[1:], strict=False)]

    # One still per entry. `option framerate` gives each image a 1 ms frame instead of the
    # image demuxer's 1/25 s, so starts are not rounded to a 40 ms grid; the last file is
    # listed again because the concat demuxer ignores the last entry's duration.
    entries = ["ffconcat version 1.0"]
    stills = list(stills) if stills is not None else [seg.image for seg in segments]
    for still, ms in zip(stills, durations, strict=True):
        entries += [
            f"file {_concat_quote(Path(still).resolve())}",
            f"option framerate {TIME_BASE_MS}",
            f"duration {ms / TIME_BASE_MS:.3f}",
        ]
    entries += [
        f"file {_concat_quote(Path(stills[-1]).resolve())}",
        f"option framerate {TIME_BASE_MS}",
    ]
    concat_text = "\n".join(entries) + "\n"

    metadata_text = None
    if metadata is not None:
        chapters = [
            Chapter(a / TIME_BASE_MS, b / TIME_BASE_MS, seg.title or f"Slide {seg.slide_number}")
            for seg, a, b in zip(segments, bounds, bounds[1:], strict=False)
        ]
        metadata_text = ffmetadata_text(chapters)

    args = ["-f", "concat", "-safe", "0", "-i", str(concat_list)]
    args += ["-i", str(audio)]
    next_input = 2
    if metadata is not None:
        args += ["-f", "ffmetadata", "-i", str(metadata)]
        meta_input = next_input
        next_input += 1
    clip_inputs = next_input
    for seg in segments:
        if seg.clip is not None:
            args += ["-an", "-i", str(seg.clip)]
    args += ["-filter_complex", _filter_graph(segments, bounds, size, clip_inputs)]
    args += ["-map", "[v]", "-map", "1:a:0"]
    if metadata is not None:
        args += ["-map_metadata", str(meta_input), "-map_chapters", str(meta_input)]
    else:
        args += ["-map_metadata", "-1", "-map_chapters", "-1"]
    keyframes = ",".join(f"{b / TIME_BASE_MS:.3f}" for b in bounds[:-1])
    args += [
        "-c:v", "libx264", "-preset", "veryfast", "-tune", "stillimage", "-crf", "18",
        "-profile:v", "high", "-level:v", h264_level_for(size), "-pix_fmt", "yuv420p",
        # No B-frames: a slide is one frame anyway, and without reordering the packet
        # times are the display times (no composition offsets or video edit list).
        "-bf", "0",
        "-colorspace", color_matrix_for(size)[1], "-color_range", "tv",
        # Keep every frame's own timestamp: `-r N` would move slide changes onto a grid.
        "-fps_mode", "passthrough",
        "-force_key_frames", keyframes,
        "-c:a", "aac", "-b:a", AUDIO_BITRATE, "-ar", str(audio_rate),
    ]  # fmt: skip
    if threads:
        args += ["-threads", str(threads), "-filter_threads", str(threads)]
    args += ["-movflags", "+faststart", "-f", "mp4", str(out)]
    return args, concat_text, metadata_text


def compose_video(
    segments: list[Segment],
    audio: Path,
    out: Path,
    *,
    size: Size,
    chapters: bool = True,
    threads: int | None = None,
    timeout: float | None = None,
    runner: Runner | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> Path:
    """Lay the slides and the narration WAV into one H.264/AAC MP4 at `out`, in one ffmpeg run.

    Each segment's still (or its clip) is on screen from `segment.start` for
    `segment.duration`; segments must be contiguous from 0. The video ends with the audio:
    the last segment is stretched or cut to the WAV's length (a warning is logged when that
    is more than a frame). With `chapters`, each segment becomes a chapter named by its title.
    Keyframes sit on every slide change so seeking to a slide is exact; the moov atom comes
    first so browsers can start playing before the download ends. The file appears at `out`
    only when ffmpeg succeeded; `FFmpegError` (or ValueError for an impossible layout) else.
    ffmpeg is killed and `Stopped` raised as soon as `should_stop` (asked every fraction
    of a second) says the run must stop.
    """
    out = Path(out)
    total = wav_duration(audio)
    with wave.open(str(audio), "rb") as w:
        rate = w.getframerate()
    audio_rate = rate if rate in AUDIO_RATES else 48000
    if segments and abs(segments[-1].end - total) > 1 / 30:
        log.warning(
            "segments end at %.3f s but the audio lasts %.3f s; the last slide is %s",
            segments[-1].end,
            total,
            "cut" if segments[-1].end > total else "held longer",
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=".compose-", dir=out.parent) as tmp:
        concat_list = Path(tmp, "slides.ffconcat")
        metadata = Path(tmp, "chapters.ffmeta") if chapters else None
        partial = Path(tmp, "video.mp4")
        args, concat_text, metadata_text = compose_argv(
            segments,
            audio,
            partial,
            size=size,
            total=total,
            audio_rate=audio_rate,
            concat_list=concat_list,
            metadata=metadata,
            stills=prepare_stills([seg.image for seg in segments], size, Path(tmp)),
            threads=threads,
        )
        concat_list.write_text(concat_text, encoding="utf-8")
        if metadata is not None and metadata_text is not None:
            metadata.write_text(metadata_text, encoding="utf-8")
        run_ffmpeg(args, timeout=timeout, runner=runner, should_stop=should_stop)
        os.replace(partial, out)
    log.info(
        "composed %s: %d segments, %.2f s of video in %.2f s",
        out,
        len(segments),
        total,
        time.monotonic() - started,
    )
    return out
