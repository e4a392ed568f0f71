"""The real generation pipeline: slides, scripts, speech, audio, visuals, composition.

Stages are plain functions over dataclasses and paths; ``GenerationPipeline.run`` calls them
in the contract's order and reports each milestone. Slide images are rendered on a helper
thread while speech is synthesized, so visuals hide behind speech (the slowest stage); their
events are reported, in order, once speech is done.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ..cache import Cache
from ..config import Settings
from ..errors import StageError
from ..generation import GenerationRequest
from ..jobqueue import Job
from ..media import compose_video, wav_duration
from ..providers.speech import PiperSpeech, SpeechProvider
from . import Report
from .audio import combine_audio
from .captions import write_srt, write_vtt
from .model import Cue, Narration, Segment, Size, Slide
from .slides import render_slide

log = logging.getLogger(__name__)

RENDER_VERSION = "slides-1"  # bump when the slide look changes, so cached images are redone
PAUSE, LEAD_IN, TAIL = 0.6, 0.3, 0.5


def write_slides(request: GenerationRequest) -> list[Slide]:
    """Return the deck for a request: its outline or parsed document, numbered from 1."""
    if not request.slides:
        raise StageError(
            "generating_content",
            "the request has no outline or document, and no language model is configured",
        )
    return [
        Slide(
            slide_number=i,
            title=s.title,
            bullets=tuple(s.bullets),
            narration=s.narration,
            image=s.image,
            animation=s.animation,
        )
        for i, s in enumerate(request.slides, start=1)
    ]


def narrate(slide: Slide, speech: SpeechProvider, cache: Cache) -> tuple[Narration, bool]:
    """Synthesize a slide's narration (cached per text and voice); return it and whether it was cached.

    The sentence timings are stored beside the audio before the audio itself, so a cached
    WAV always has its cues.
    """
    key = cache.key("narration-1", speech.voice_id(), slide.narration)

    def make(out: Path) -> None:
        if hasattr(speech, "synthesize_sentences"):
            _, sentences = speech.synthesize_sentences(slide.narration, out)
        else:
            sentences = [(slide.narration, 0.0, speech.synthesize(slide.narration, out))]
        cues = out.with_name(out.name + ".cues.json")
        cues.write_text(json.dumps(sentences), encoding="utf-8")
        cache.put(key, ".cues.json", cues)
        cues.unlink()

    wav, hit = cache.get_or_create(key, ".wav", make)
    sentences = json.loads(cache.path(key, ".cues.json").read_text(encoding="utf-8"))
    cues = tuple(Cue(a, b, text) for text, a, b in sentences)
    return Narration(slide.slide_number, wav, wav_duration(wav), cues), hit


def render(slide: Slide, total: int, size: Size, cache: Cache) -> Path:
    """Render a slide's still (cached per content, number, size and theme)."""
    key = cache.key(
        RENDER_VERSION,
        str(size),
        str(slide.slide_number),
        str(total),
        slide.title,
        json.dumps(list(slide.bullets), ensure_ascii=False),
    )
    path, _ = cache.get_or_create(
        key, ".png", lambda out: render_slide(slide, size, out, total=total)
    )
    return path


def timeline(
    slides: list[Slide],
    narrations: list[Narration],
    spans: list[tuple[float, float]],
    images: list[Path],
) -> tuple[list[Segment], list[Cue]]:
    """Place each slide on the audio's timeline and its sentences as caption cues."""
    segments, cues = [], []
    for i, (slide, narration, (start, duration), image) in enumerate(
        zip(slides, narrations, spans, images, strict=True)
    ):
        segments.append(Segment(slide.slide_number, slide.title, image, start, duration))
        speech_start = start + (LEAD_IN if i == 0 else 0.0)
        cues += [Cue(speech_start + c.start, speech_start + c.end, c.text) for c in narration.cues]
    return segments, cues


def content_json(
    gid: str,
    request: GenerationRequest,
    slides: list[Slide],
    spans: list[tuple[float, float]] | None = None,
) -> dict[str, Any]:
    """Describe the deck in the reference's content shape (plus bullets)."""
    items = []
    for i, s in enumerate(slides):
        items.append(
            {
                "slide_number": s.slide_number,
                "title": s.title,
                "content_text": s.content_text,
                "bullets": list(s.bullets),
                "needs_image": bool(s.image),
                "image_keyword": s.image or "",
                "needs_animation": bool(s.animation),
                "animation_description": json.dumps(s.animation) if s.animation else "",
                "duration": round(spans[i][1], 3) if spans else None,
            }
        )
    return {
        "generation_id": gid,
        "topic": request.topic,
        "language": request.language,
        "tone": request.tone,
        "size": request.size,
        "slides": items,
    }


def script_json(
    gid: str, slides: list[Slide], spans: list[tuple[float, float]] | None
) -> dict[str, Any]:
    """Describe the narration in the reference's script shape."""
    items = []
    for i, s in enumerate(slides):
        start, duration = spans[i] if spans else (None, None)
        items.append(
            {
                "slide_number": s.slide_number,
                "start_time": round(start, 3) if spans else None,
                "end_time": round(start + duration, 3) if spans else None,
                "narration_text": s.narration,
            }
        )
    total = round(spans[-1][0] + spans[-1][1], 3) if spans else None
    return {"generation_id": gid, "total_duration": total, "scripts": items}


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    tmp.replace(path)


def _progress(lo: int, hi: int, done: int, total: int) -> int:
    return lo + (hi - lo) * done // max(total, 1)


class GenerationPipeline:
    """Runs one job's stages and reports the contract's milestones."""

    def __init__(self, settings: Settings, speech: SpeechProvider, cache: Cache):
        self.settings = settings
        self.speech = speech
        self.cache = cache
        self.renderer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="render")

    def run(self, job: Job, report: Report, workdir: Path) -> dict[str, Any]:
        request = GenerationRequest.from_json(job.request)
        gid = job.generation_id
        size = Size.parse(request.size)
        timings: dict[str, float] = {}
        clock = time.perf_counter

        t = clock()
        report("generating_content", 10, "📝 Generating presentation content...")
        slides = write_slides(request)
        n = len(slides)
        _write_json(workdir / "content.json", content_json(gid, request, slides))
        # Visuals do not depend on speech: start them now, report them in order later.
        images: list[Future[Path]] = [
            self.renderer.submit(render, s, n, size, self.cache) for s in slides
        ]
        report("generating_scripts", 20, "📜 Generating voice scripts...")
        _write_json(workdir / "script.json", script_json(gid, slides, None))
        timings["content_and_scripts"] = clock() - t

        t = clock()
        narrations: list[Narration] = []
        synthesized = 0
        # A failure below is reported by the worker under the step last reported.
        for i, slide in enumerate(slides):
            report(
                "generating_audio",
                _progress(30, 47, i, n),
                f"🎤 Generating audio for slide {i + 1}/{n}...",
            )
            narration, hit = narrate(slide, self.speech, self.cache)
            synthesized += not hit
            narrations.append(narration)
            report(
                "generating_audio",
                _progress(30, 47, i + 1, n),
                f"✅ Generated audio for slide {i + 1}/{n} ({narration.duration:.1f}s)",
            )
        timings["speech"] = clock() - t

        t = clock()
        report("combining_audio", 48, "🎚️ Combining audio tracks...")
        audio = workdir / "narration.wav"
        spans = combine_audio(narrations, audio, pause=PAUSE, lead_in=LEAD_IN, tail=TAIL)
        total = spans[-1][0] + spans[-1][1]
        report("combining_audio", 49, f"✅ Combined audio ({_duration(total)})")
        timings["combine_audio"] = clock() - t

        t = clock()
        report("generating_media", 50, "🖼️ Creating slide visuals...")
        stills: list[Path] = []
        for i, future in enumerate(images):
            stills.append(future.result())
            report(
                "generating_slide", _progress(50, 80, i + 1, n), f"🖼️ Created text slide {i + 1}/{n}"
            )
        timings["visuals_wait"] = clock() - t

        t = clock()
        report("composing_video", 85, "🎞️ Composing final video with audio...")
        segments, cues = timeline(slides, narrations, spans, stills)
        video_name = f"{gid}-{job.id}.mp4"
        out = self.settings.videos_dir / video_name
        compose_video(segments, audio, out, size=size, chapters=True)
        timings["compose"] = clock() - t
        report("composing_video", 95, "📝 Writing captions and scripts...")
        write_vtt(cues, workdir / "captions.vtt", total=total)
        write_srt(cues, workdir / "captions.srt", total=total)
        _write_json(workdir / "content.json", content_json(gid, request, slides, spans))
        _write_json(workdir / "script.json", script_json(gid, slides, spans))
        log.info(
            "job %s: video %s (%.1f s) in stages %s; %d of %d narrations synthesized",
            job.id,
            video_name,
            total,
            {k: round(v, 2) for k, v in timings.items()},
            synthesized,
            n,
        )
        return {
            "video": video_name,
            "video_url": f"/api/video/{video_name}",
            "duration": round(total, 3),
            "slides": n,
            "size": str(size),
            "narrations_synthesized": synthesized,
            "timings": {k: round(v, 3) for k, v in timings.items()},
            "chapters": [asdict(s) | {"image": None, "clip": None} for s in segments],
        }


def _duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes}m {secs:02d}s" if minutes else f"{seconds:.1f}s"


_preload_lock = threading.Lock()


def make_pipeline(settings: Settings) -> GenerationPipeline:
    """Build the offline pipeline and warm its voice in the background (once per process)."""
    voice_path = Path(settings.piper_voice_path) if settings.piper_voice_path else None
    speech = PiperSpeech(voice_path)
    threading.Thread(target=_warm, args=(speech,), daemon=True, name="voice-warmup").start()
    return GenerationPipeline(settings, speech, Cache(settings.cache_dir))


def _warm(speech: PiperSpeech) -> None:
    with _preload_lock:
        try:
            speech.voice()
        except Exception:
            log.exception("could not load the Piper voice; jobs will report the cause")
