"""Time videoforge's compose_video against the moviepy reference recipe (run by hand).

    .venv/bin/python bench/bench_compose.py                      # 10 slides, both recipes
    .venv/bin/python bench/bench_compose.py --reference-slides 2 # extrapolate the slow one
    .venv/bin/python bench/bench_compose.py --reference-slides 0 --speech some-speech.wav

Each recipe runs in its own child process, which reports its wall time and the peak resident
memory of itself (Python) and of the processes it waited for (ffmpeg). The moviepy figures
for fewer slides than ours are scaled linearly to the same length and labelled so. Ours needs
the video format's skip frames, which the service makes once per size and frame rate and
caches; they are made before the clock starts and their time is reported apart.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import struct
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FONTS = ROOT / "videoforge" / "fonts"
COLOURS = [(17, 24, 39), (30, 58, 138), (20, 83, 45), (127, 29, 29), (88, 28, 135)]


def make_slides(folder: Path, count: int, width: int, height: int) -> list[Path]:
    """Draw `count` text slides (title and bullets on a coloured background) as PNGs."""
    from PIL import Image, ImageDraw, ImageFont

    title_font = ImageFont.truetype(str(FONTS / "DejaVuSans-Bold.ttf"), height // 14)
    body_font = ImageFont.truetype(str(FONTS / "DejaVuSans.ttf"), height // 24)
    paths = []
    for i in range(count):
        image = Image.new("RGB", (width, height), COLOURS[i % len(COLOURS)])
        draw = ImageDraw.Draw(image)
        margin = width // 16
        draw.text((margin, height // 10), f"Slide {i + 1}: benchmark", font=title_font)
        for line in range(5):
            y = height // 3 + line * height // 10
            draw.text((margin, y), f"• Bullet point {line + 1} of slide {i + 1}", font=body_font)
        path = folder / f"slide-{i + 1:02d}.png"
        image.save(path)
        paths.append(path)
    return paths


def make_tone(path: Path, seconds: float, rate: int = 22050) -> Path:
    """Write a 440 Hz mono tone (Piper's sample rate) by repeating one exact second."""
    second = b"".join(
        struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / rate))) for i in range(rate)
    )
    whole, rest = divmod(round(seconds * rate), rate)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(second * whole + second[: rest * 2])
    return path


def loop_speech(source: Path, path: Path, seconds: float) -> Path:
    """Write `seconds` of the WAV `source`, repeated as often as needed, to `path`."""
    with wave.open(str(source), "rb") as r:
        params, frames = r.getparams(), r.readframes(r.getnframes())
    needed = round(seconds * params.framerate) * params.sampwidth * params.nchannels
    with wave.open(str(path), "wb") as w:
        w.setparams(params)
        w.writeframes((frames * (needed // len(frames) + 1))[:needed])
    return path


def make_audio(path: Path, seconds: float, speech: Path | None) -> Path:
    """Make the narration track: a looped speech WAV if given, else a tone."""
    return loop_speech(speech, path, seconds) if speech else make_tone(path, seconds)


def prepare_ours(size: str) -> object:
    """Make the skip frames of the format, as the service has them cached."""
    sys.path.insert(0, str(ROOT))
    from videoforge.core.types import Size
    from videoforge.media.h264 import VideoFormat, skip_frames_for

    return skip_frames_for(VideoFormat(Size.parse(size), 30))


def run_ours(
    slides: list[Path], seconds: float, audio: Path, out: Path, size: str, skip: object = None
) -> None:
    """Compose with videoforge.compose.compose_video."""
    sys.path.insert(0, str(ROOT))
    from videoforge.core.types import Segment, Size
    from videoforge.media.compose import compose_video

    segments = [
        Segment(i + 1, f"Slide {i + 1}", p, i * seconds, seconds) for i, p in enumerate(slides)
    ]
    compose_video(segments, audio, out, size=Size.parse(size), skip=skip)


def run_reference(slides: list[Path], seconds: float, audio: Path, out: Path, size: str) -> None:
    """Compose with the moviepy 2.x recipe the service used before."""
    from moviepy import AudioFileClip, ImageClip, concatenate_videoclips

    clips = [ImageClip(str(p)).with_duration(seconds) for p in slides]
    video = concatenate_videoclips(clips, method="compose")
    sound = AudioFileClip(str(audio))
    video = video.with_audio(sound)
    video.write_videofile(
        str(out),
        fps=30,
        codec="libx264",
        preset="medium",
        bitrate="5000k",
        audio_codec="aac",
        audio_bitrate="192k",
        # moviepy writes its temporary audio into the working directory unless told not to.
        temp_audiofile_path=str(out.parent),
        logger=None,
    )
    sound.close()
    video.close()


def child(args: argparse.Namespace) -> None:
    """Run one recipe in this process and print its figures as JSON."""
    slides = [Path(p) for p in args.slide]
    extra = {}
    prepared = 0.0
    if args.child == "ours":
        started = time.perf_counter()
        extra["skip"] = prepare_ours(args.size)
        prepared = time.perf_counter() - started
    recipe = run_ours if args.child == "ours" else run_reference
    started = time.perf_counter()
    recipe(slides, args.seconds_per_slide, Path(args.audio), Path(args.out), args.size, **extra)
    wall = time.perf_counter() - started
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    figures = {"wall": wall, "rss_python_mb": own, "rss_ffmpeg_mb": kids, "prepare": prepared}
    print(json.dumps(figures))


def measure(recipe: str, slides: list[Path], audio: Path, out: Path, args) -> dict:
    """Run `recipe` in a child process and return its figures."""
    cmd = [sys.executable, __file__, "--child", recipe, "--audio", str(audio), "--out", str(out)]
    cmd += ["--size", args.size, "--seconds-per-slide", str(args.seconds_per_slide)]
    for slide in slides:
        cmd += ["--slide", str(slide)]
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=out.parent)
    figures = json.loads(proc.stdout.strip().splitlines()[-1])
    figures["process_wall"] = time.perf_counter() - started
    figures["slides"] = len(slides)
    figures["video_s"] = len(slides) * args.seconds_per_slide
    figures["mb"] = out.stat().st_size / 1e6
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slides", type=int, default=10)
    parser.add_argument("--seconds-per-slide", type=float, default=21.0)
    parser.add_argument("--reference-slides", type=int, default=10, help="0 skips moviepy")
    parser.add_argument("--size", default="1920x1080")
    parser.add_argument("--workdir", type=Path, help="keep the files here (default: temporary)")
    parser.add_argument("--speech", type=Path, help="a WAV to loop instead of the tone")
    parser.add_argument("--child", choices=["ours", "reference"], help=argparse.SUPPRESS)
    parser.add_argument("--slide", action="append", help=argparse.SUPPRESS)
    parser.add_argument("--audio", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return

    with tempfile.TemporaryDirectory() as tmp:
        work = args.workdir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        width, _, height = args.size.partition("x")
        slides = make_slides(work, args.slides, int(width), int(height))
        per = args.seconds_per_slide
        audio = make_audio(work / "speech.wav", args.slides * per, args.speech)
        rows = [("compose_video", measure("ours", slides, audio, work / "ours.mp4", args), "")]
        if args.reference_slides:
            n = min(args.reference_slides, args.slides)
            ref_audio = make_audio(work / "speech-ref.wav", n * per, args.speech)
            ref = measure("reference", slides[:n], ref_audio, work / "reference.mp4", args)
            rows.append(("moviepy reference", ref, ""))
            if n < args.slides:
                scale = args.slides / n
                rows.append(
                    (
                        "moviepy, extrapolated",
                        ref
                        | {
                            "wall": ref["wall"] * scale,
                            "process_wall": ref["process_wall"] * scale,
                            "slides": args.slides,
                            "video_s": args.slides * per,
                            "mb": ref["mb"] * scale,
                        },
                        f"(x{scale:g} from {n} slide{'s' if n != 1 else ''})",
                    )
                )
        sound = f"speech looped from {args.speech.name}" if args.speech else "a 440 Hz tone"
        print(f"{args.slides} slides of {per:g} s at {args.size}, audio: {sound}\n")
        head = f"{'recipe':24}{'slides':>7}{'video s':>9}{'wall s':>9}{'x real':>8}"
        print(head + f"{'MB':>7}{'RSS py MB':>11}{'RSS ffmpeg MB':>15}")
        for name, row, note in rows:
            print(
                f"{name:24}{row['slides']:>7}{row['video_s']:>9.1f}{row['wall']:>9.2f}"
                f"{row['video_s'] / row['wall']:>8.1f}{row['mb']:>7.1f}"
                f"{row['rss_python_mb']:>11.0f}{row['rss_ffmpeg_mb']:>15.0f}  {note}"
            )
        print(f"\nskip frames of the format, made once and cached: {rows[0][1]['prepare']:.2f} s")
        if len(rows) > 1:
            ratio = rows[-1][1]["wall"] / rows[0][1]["wall"]
            print(f"moviepy / compose_video wall time: {ratio:.0f}x")


if __name__ == "__main__":
    main()
