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
from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..cache import Cache
from ..config import Settings
from ..errors import StageError
from ..generation import GenerationRequest
from ..jobqueue import Job
from ..media import compose_video, wav_duration
from ..providers.base import Usage
from ..providers.speech import SpeechProvider
from . import Report
from .audio import combine_audio
from .captions import sentence_cues, write_srt, write_vtt
from .model import Cue, Narration, Segment, Size, Slide
from .outline import narrate as narrate_outline
from .slides import render_slide

if TYPE_CHECKING:
    from ..providers.llm import TextModel
    from ..providers.registry import SpeechProviders

log = logging.getLogger(__name__)

RENDER_VERSION = "slides-1"  # bump when the slide look changes, so cached images are redone
PAUSE, LEAD_IN, TAIL = 0.6, 0.3, 0.5


def write_slides(
    request: GenerationRequest, text_model: TextModel | None, usage: Usage
) -> list[Slide]:
    """Return the deck: the request's outline or document, or one the language model writes."""
    if request.slides:
        slides = list(request.slides)
    elif text_model is not None:
        slides = text_model.write_deck(
            topic=request.topic,
            num_slides=request.num_slides,
            language=request.language,
            tone=request.tone,
            usage=usage,
        )
    else:
        raise StageError(
            "generating_content",
            "the request has no outline or document, and no language model is configured",
        )
    return [replace(s, slide_number=i) for i, s in enumerate(slides, start=1)]


def write_scripts(
    slides: list[Slide], request: GenerationRequest, text_model: TextModel | None, usage: Usage
) -> list[Slide]:
    """Give every slide its narration: the model writes what is missing, or the slide's own words are spoken."""
    if all(s.narration.strip() for s in slides):
        return slides
    if text_model is not None:
        return text_model.write_narration(
            slides, topic=request.topic, language=request.language, tone=request.tone, usage=usage
        )
    return [
        s if s.narration.strip() else replace(s, narration=narrate_outline(s.title, s.bullets))
        for s in slides
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
        else:  # no per-sentence audio: time the sentences by their length
            duration = speech.synthesize(slide.narration, out)
            cues = sentence_cues(slide.narration, duration, 0.0)
            sentences = [(c.text, c.start, c.end) for c in cues]
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

    def __init__(
        self,
        settings: Settings,
        voices: SpeechProviders,
        cache: Cache,
        *,
        text_model: TextModel | None = None,
        default_voice: str = "",
    ):
        self.settings = settings
        self.voices = voices
        self.cache = cache
        self.text_model = text_model
        self.default_voice = default_voice
        self.renderer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="render")

    def speech_for(self, request: GenerationRequest, usage: Usage) -> SpeechProvider:
        speech = self.voices.get(request.voice or self.default_voice)
        if hasattr(speech, "with_usage"):
            speech = speech.with_usage(usage)
        return speech

    def run(self, job: Job, report: Report, workdir: Path) -> dict[str, Any]:
        request = GenerationRequest.from_json(job.request)
        gid = job.generation_id
        size = Size.parse(request.size)
        timings: dict[str, float] = {}
        clock = time.perf_counter

        t = clock()
        report("generating_content", 10, "📝 Generating presentation content...")
        slides = write_slides(request, self.text_model, report.usage)
        n = len(slides)
        _write_json(workdir / "content.json", content_json(gid, request, slides))
        # Visuals do not depend on speech: start them now, report them in order later.
        images: list[Future[Path]] = [
            self.renderer.submit(render, s, n, size, self.cache) for s in slides
        ]
        report("generating_scripts", 20, "📜 Generating voice scripts...")
        slides = write_scripts(slides, request, self.text_model, report.usage)
        _write_json(workdir / "script.json", script_json(gid, slides, None))
        speech = self.speech_for(request, report.usage)
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
            narration, hit = narrate(slide, speech, self.cache)
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


def make_pipeline(settings: Settings) -> GenerationPipeline:
    """Build the pipeline the settings describe; warm the offline voice in the background."""
    from ..providers.registry import SpeechProviders, text_model, voices

    _, default_voice = voices(settings)
    speakers = SpeechProviders(settings)
    if default_voice.startswith("piper:"):
        threading.Thread(
            target=_warm, args=(speakers, default_voice), daemon=True, name="voice-warmup"
        ).start()
    return GenerationPipeline(
        settings,
        speakers,
        Cache(settings.cache_dir),
        text_model=text_model(settings),
        default_voice=default_voice,
    )


def _warm(speakers: SpeechProviders, voice_id: str) -> None:
    try:
        speakers.get(voice_id).voice()
    except Exception:
        log.exception("could not load the Piper voice; jobs will report the cause")
