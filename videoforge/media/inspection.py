"""Inspecting media files, for the tests and benchmarks only (the service never calls these).

There is no ffprobe here, so `probe` reads the stream facts ffmpeg prints for `ffmpeg -i
FILE`, `packets` reads exact packet times without decoding, `extract_frame` decodes the
frame on screen at a time, `thumbnail` takes one the usual way (`ffmpeg -ss T`),
`decode_audio` returns samples and `loudness` measures them with ffmpeg's `ebur128` filter.
"""

from __future__ import annotations

import array
import bisect
import os
import re
import subprocess
import sys
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path
from typing import Any, NamedTuple

from ..core.errors import FFmpegError
from .compose import Chapter
from .ffmpeg import Runner, run_ffmpeg, stderr_tail


@dataclass(frozen=True)
class VideoStream:
    """The facts `ffmpeg -i` shows about a file's first video stream (level from avcC)."""

    codec: str
    width: int
    height: int
    pix_fmt: str | None = None
    profile: str | None = None
    fps: float | None = None  # average frame rate as ffmpeg reports it
    level: str | None = None  # H.264 level such as "4.1", read from the MP4's avcC box


@dataclass(frozen=True)
class AudioStream:
    """The facts `ffmpeg -i` shows about a file's first audio stream."""

    codec: str
    sample_rate: int | None = None
    channels: int | None = None


@dataclass(frozen=True)
class MediaInfo:
    """What `probe` found in a media file."""

    format: str
    duration: float | None  # seconds, to the centisecond ffmpeg prints
    video: VideoStream | None = None
    audio: AudioStream | None = None
    chapters: tuple[Chapter, ...] = ()


_CHANNELS = {"mono": 1, "stereo": 2, "2.1": 3, "quad": 4, "4.0": 4, "5.0": 5, "5.1": 6}
_CHANNELS |= {"6.1": 7, "7.1": 8}


def probe(path: Path, *, runner: Runner = subprocess.run) -> MediaInfo:
    """Describe the media file at `path` from what `ffmpeg -i` prints.

    Raises `FFmpegError` when ffmpeg cannot open or recognise the file.
    """
    proc = run_ffmpeg(["-i", str(path)], runner=runner, check=False)
    text = proc.stderr.decode("utf-8", "replace")
    try:
        info = parse_input_info(text)
    except ValueError:
        raise FFmpegError(list(proc.args), proc.returncode, stderr_tail(text)) from None
    if info.video and info.video.codec == "h264" and "mp4" in info.format:
        level = h264_level(path)
        if level:
            info = _replace_video(info, level=level)
    return info


def _replace_video(info: MediaInfo, **changes: Any) -> MediaInfo:
    return replace(info, video=replace(info.video, **changes))


def _split_top_level(text: str) -> list[str]:
    """Split at commas that are not inside parentheses or brackets."""
    parts, depth, current = [], 0, []
    for ch in text:
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth = max(0, depth - 1)
        if ch == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
    parts.append("".join(current).strip())
    return [p for p in parts if p]


def _number(text: str) -> float:
    """Parse ffmpeg's short numbers such as '29.97', '1k' or '16k'."""
    scale = 1000.0 if text.endswith("k") else 1.0
    return float(text.rstrip("k")) * scale


def _parse_video(desc: str) -> VideoStream | None:
    parts = _split_top_level(desc)
    head = parts[0]
    codec = head.split()[0]
    profile = None
    first_paren = re.search(r"\(([^()]*)\)", head)
    if first_paren and "/" not in first_paren.group(1):
        profile = first_paren.group(1)
    width = height = None
    pix_fmt = None
    fps = None
    for i, part in enumerate(parts[1:], start=1):
        size = re.match(r"(\d+)x(\d+)\b", part)
        if size and width is None:
            width, height = int(size.group(1)), int(size.group(2))
            continue
        rate = re.match(r"([\d.]+k?) fps\b", part)
        if rate:
            fps = _number(rate.group(1))
            continue
        if i == 1 and re.match(r"[a-z][\w]*", part) and "/s" not in part:
            pix_fmt = re.match(r"[a-z][\w]*", part).group(0)
    if width is None or height is None:
        return None
    return VideoStream(codec, width, height, pix_fmt=pix_fmt, profile=profile, fps=fps)


def _parse_audio(desc: str) -> AudioStream:
    parts = _split_top_level(desc)
    codec = parts[0].split()[0]
    sample_rate = channels = None
    for part in parts[1:]:
        rate = re.match(r"(\d+) Hz\b", part)
        if rate:
            sample_rate = int(rate.group(1))
            continue
        count = re.match(r"(\d+) channels\b", part)
        if count:
            channels = int(count.group(1))
            continue
        layout = re.match(r"([\w.]+)", part)
        if channels is None and layout and layout.group(1) in _CHANNELS:
            channels = _CHANNELS[layout.group(1)]
    return AudioStream(codec, sample_rate=sample_rate, channels=channels)


_STREAM = re.compile(r"^\s*Stream #0:\d+\S*: (Video|Audio|Subtitle|Data|Attachment): (.*)$")
_DURATION = re.compile(r"^\s*Duration: (?:(\d+):(\d+):(\d+(?:\.\d+)?)|N/A)")
_CHAPTER = re.compile(r"^\s*Chapter #0:\d+: start (-?[\d.]+), end (-?[\d.]+)")
_META = re.compile(r"^(\s*)(\S[^:]*?)\s*: ?(.*)$")
_CONTINUATION = re.compile(r"^\s+: ?(.*)$")


def parse_input_info(text: str) -> MediaInfo:
    """Parse the 'Input #0' section ffmpeg prints to stderr; raise ValueError if there is none."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("Input #0")), None)
    if start is None:
        raise ValueError("ffmpeg printed no 'Input #0' section")
    fmt_match = re.match(r"Input #0, (.*), from ", lines[start])
    fmt = fmt_match.group(1) if fmt_match else ""
    duration: float | None = None
    video: VideoStream | None = None
    audio: AudioStream | None = None
    chapters: list[Chapter] = []
    pending: list[Any] | None = None  # [start, end, title] of the chapter being read
    in_chapter_meta = False
    last_key = None
    for line in lines[start + 1 :]:
        if line and not line.startswith(" "):
            break  # the next top-level section ("Output #0", "At least one output ...")
        if m := _DURATION.match(line):
            if m.group(1) is not None:
                h, mi, s = m.groups()
                duration = int(h) * 3600 + int(mi) * 60 + float(s)
            continue
        if m := _CHAPTER.match(line):
            if pending:
                chapters.append(Chapter(*pending))
            pending = [float(m.group(1)), float(m.group(2)), ""]
            in_chapter_meta, last_key = True, None
            continue
        if m := _STREAM.match(line):
            if pending:
                chapters.append(Chapter(*pending))
                pending = None
            in_chapter_meta = False
            kind, desc = m.groups()
            if kind == "Video" and video is None and "(attached pic)" not in desc:
                video = _parse_video(desc)
            elif kind == "Audio" and audio is None:
                audio = _parse_audio(desc)
            continue
        if not in_chapter_meta or pending is None:
            continue
        if m := _CONTINUATION.match(line):
            if last_key == "title":
                pending[2] += "\n" + m.group(1)
            continue
        if line.strip() == "Metadata:":
            continue
        if m := _META.match(line):
            last_key = m.group(2)
            if last_key == "title":
                pending[2] = m.group(3)
    if pending:
        chapters.append(Chapter(*pending))
    return MediaInfo(fmt, duration, video=video, audio=audio, chapters=tuple(chapters))


class Atom(NamedTuple):
    """A top-level MP4 box: its four-character type, byte offset and size."""

    type: str
    offset: int
    size: int


def mp4_atoms(path: Path) -> list[Atom]:
    """List the top-level boxes of an MP4/MOV file (ftyp, moov, mdat, ...) in file order."""
    atoms = []
    total = os.path.getsize(path)
    with open(path, "rb") as f:
        offset = 0
        while offset + 8 <= total:
            f.seek(offset)
            header = f.read(16)
            size = int.from_bytes(header[:4], "big")
            kind = header[4:8].decode("latin-1")
            if size == 1:
                size = int.from_bytes(header[8:16], "big")
            elif size == 0:
                size = total - offset
            if size < 8:
                break  # not an MP4, or a damaged one
            atoms.append(Atom(kind, offset, size))
            offset += size
    return atoms


def h264_level(path: Path) -> str | None:
    """Return the H.264 level ("4.1") recorded in an MP4's avcC box, or None if there is none."""
    moov = next((a for a in mp4_atoms(path) if a.type == "moov"), None)
    if moov is None:
        return None
    with open(path, "rb") as f:
        f.seek(moov.offset)
        data = f.read(moov.size)
    i = data.find(b"avcC")
    if i < 0 or i + 8 > len(data):
        return None
    level = data[i + 7]
    return f"{level // 10}.{level % 10}"


class Packet(NamedTuple):
    """One compressed packet of a stream: times in seconds and whether it is a keyframe."""

    pts: float
    dts: float
    duration: float
    keyframe: bool
    size: int


def packets(path: Path, *, stream: str = "v:0", runner: Runner = subprocess.run) -> list[Packet]:
    """List the shown packets of one stream in decode order, without decoding.

    The times are exact (from the container's time base), which makes this the way to
    check where slide changes and keyframes sit.
    """
    proc = run_ffmpeg(
        ["-i", str(path), "-map", f"0:{stream}", "-c", "copy", "-f", "framecrc", "-"],
        runner=runner,
    )
    time_base = Fraction(1)
    result = []
    for line in proc.stdout.decode("ascii", "replace").splitlines():
        if line.startswith("#tb 0:"):
            time_base = Fraction(line.split(":", 1)[1].strip())
        elif line and not line.startswith("#"):
            fields = [f.strip() for f in line.split(",")]
            flags = next((f for f in fields[6:] if f.startswith("F=")), None)
            bits = 1 if flags is None else int(flags[2:], 16)  # no F= means just "key"
            if bits & 4:
                continue  # marked discard: outside the edit list, never shown
            keyframe = bool(bits & 1)
            dts, pts, duration, size = (int(x) for x in fields[1:5])
            result.append(
                Packet(
                    float(pts * time_base),
                    float(dts * time_base),
                    float(duration * time_base),
                    keyframe,
                    size,
                )
            )
    return result


def decode_audio(
    path: Path, *, sample_rate: int = 16000, runner: Runner = subprocess.run
) -> array.array:
    """Decode the first audio stream of `path` to mono signed 16-bit samples at `sample_rate`."""
    proc = run_ffmpeg(
        ["-i", str(path), "-map", "0:a:0", "-f", "s16le", "-ac", "1", "-ar", str(sample_rate), "-"],
        runner=runner,
    )
    samples = array.array("h")
    data = proc.stdout
    samples.frombytes(data[: len(data) - len(data) % 2])
    if sys.byteorder == "big":
        samples.byteswap()
    return samples


def extract_frame(video: Path, t: float, out_png: Path, *, runner: Runner = subprocess.run) -> Path:
    """Write the frame that is on screen at `t` seconds to `out_png` and return that path.

    An output `-ss t` would give the first frame at or after `t`, which in a variable frame
    rate slide video is the *next* slide. So the packet times (read without decoding) pick
    the frame shown at `t`, the last one starting at or before it, and a select filter
    decodes exactly that one. Raises ValueError when `t` is past the end of the video.
    """
    video_packets = packets(video, runner=runner)
    if not video_packets:
        raise ValueError(f"{video} has no video frames")
    end = max(p.pts + p.duration for p in video_packets)
    if t > end + 0.0005:
        raise ValueError(f"{video} ends at {end:.3f} s, there is no frame at {t:.3f} s")
    starts = sorted(p.pts for p in video_packets)
    shown = bisect.bisect_right(starts, t + 1e-6) - 1
    pts = starts[max(shown, 0)]
    run_ffmpeg(
        ["-i", str(video), "-map", "0:v:0", "-vf", f"select='gte(t,{pts - 0.0005:.6f})'"]
        + ["-frames:v", "1", "-update", "1", str(out_png)],
        runner=runner,
    )
    return Path(out_png)


def thumbnail(video: Path, t: float, out_png: Path, *, runner: Runner = subprocess.run) -> Path:
    """Take the picture at `t` the way thumbnailers do: `ffmpeg -ss t -i video -frames:v 1`.

    ffmpeg gives the first frame whose timestamp is at or after `t`. Raises ValueError when
    it gives none (`t` is past the last frame's start).
    """
    out_png = Path(out_png)
    out_png.unlink(missing_ok=True)
    run_ffmpeg(
        ["-ss", f"{t:.6f}", "-i", str(video), "-map", "0:v:0", "-frames:v", "1", "-update", "1"]
        + [str(out_png)],
        runner=runner,
    )
    if not out_png.is_file():
        raise ValueError(f"ffmpeg -ss {t:.3f} gave no frame of {video}")
    return out_png


class Loudness(NamedTuple):
    """What ffmpeg's `ebur128` filter measures: integrated loudness (LUFS), true peak (dBTP)."""

    integrated: float
    true_peak: float


def loudness(path: Path, *, runner: Runner = subprocess.run) -> Loudness:
    """Measure the first audio stream of `path` with ffmpeg's `ebur128=peak=true` (BS.1770)."""
    proc = run_ffmpeg(
        ["-i", str(path), "-map", "0:a:0", "-af", "ebur128=peak=true:framelog=quiet"]
        + ["-f", "null", "-"],
        runner=runner,
    )
    text = proc.stderr.decode("utf-8", "replace")
    summary = text[text.rindex("Summary:") :]
    integrated = re.search(r"I:\s+(-?[\d.]+|-inf) LUFS", summary)
    peak = re.search(r"True peak:\s+Peak:\s+(-?[\d.]+|-inf) dBFS", summary)
    if integrated is None or peak is None:
        raise ValueError(f"ebur128 printed no summary for {path}")
    return Loudness(float(integrated.group(1)), float(peak.group(1)))


def wrap_h264(clip: Path, fps: int, out: Path, *, runner: Runner = subprocess.run) -> Path:
    """Put a raw H.264 clip (an animation, a picture track) into an MP4 at `fps`, by stream copy.

    So `probe`, `packets` and `extract_frame` can read it.
    """
    run_ffmpeg(
        ["-f", "h264", "-framerate", str(fps), "-i", str(clip), "-c", "copy"]
        + ["-bsf:v", f"setts=ts=N/({fps}*TB):duration=1/({fps}*TB)", "-f", "mp4", str(out)],
        runner=runner,
    )
    return Path(out)


def frame_sums(video: Path, *, runner: Runner = subprocess.run) -> list[str]:
    """Return the MD5 of every decoded frame of the first video stream, in order."""
    proc = run_ffmpeg(["-i", str(video), "-map", "0:v:0", "-f", "framemd5", "-"], runner=runner)
    return [
        line.rsplit(",", 1)[1].strip()
        for line in proc.stdout.decode("ascii", "replace").splitlines()
        if line and not line.startswith("#")
    ]
