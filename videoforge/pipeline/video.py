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
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.errors import StageError, VideoforgeError
from ..core.files import wav_duration
from ..core.outline import narrate as narrate_outline
from ..core.outline import suggest_animation
from ..core.request import GenerationRequest
from ..core.settings import Settings
from ..core.types import Cue, Narration, Report, Run, Segment, Size, Slide, Usage
from ..media.compose import compose_video
from ..providers.base import ImageSource, SpeechProvider
from ..providers.images import ImageFinder
from .audio import combine_audio
from .cache import Cache
from .captions import sentence_cues, write_srt, write_vtt
from .visuals import Visual, make_animation, make_visual

if TYPE_CHECKING:
    from ..providers.base import TextModel
    from ..providers.registry import SpeechProviders

log = logging.getLogger(__name__)

PAUSE, LEAD_IN, TAIL = 0.6, 0.3, 0.5
CREDITS_TAIL = 3.0  # seconds of closing silence that carry the picture credits


def write_slides(
    request: GenerationRequest, text_model: TextModel | None, usage: Usage
) -> list[Slide]:
    """Return the deck: the request's outline or document, or one the language model writes."""
    if request.slides:
        # Offline decks: a slide whose bullets are steps is shown as a flow.
        slides = [replace(s, animation=s.animation or suggest_animation(s)) for s in request.slides]
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


def timeline(
    slides: list[Slide],
    narrations: list[Narration],
    spans: list[tuple[float, float]],
    visuals: list[Visual],
) -> tuple[list[Segment], list[Cue]]:
    """Place each slide on the audio's timeline and its sentences as caption cues."""
    segments, cues = [], []
    for i, (slide, narration, (start, duration), visual) in enumerate(
        zip(slides, narrations, spans, visuals, strict=True)
    ):
        segments.append(
            Segment(slide.slide_number, slide.title, visual.still, start, duration, visual.clip)
        )
        speech_start = start + (LEAD_IN if i == 0 else 0.0)
        cues += [Cue(speech_start + c.start, speech_start + c.end, c.text) for c in narration.cues]
    return segments, cues


def credits_cue(visuals: list[Visual], spans: list[tuple[float, float]]) -> Cue | None:
    """Return a caption cue naming the pictures' authors and licences, over the closing silence."""
    credits = [v.credit["attribution"] for v in visuals if v.credit]
    if not credits:
        return None
    start, duration = spans[-1]
    end = start + duration
    return Cue(end - CREDITS_TAIL + 0.2, end, "Images: " + "; ".join(credits))


def content_json(
    gid: str,
    request: GenerationRequest,
    slides: list[Slide],
    spans: list[tuple[float, float]] | None = None,
    visuals: list[Visual] | None = None,
) -> dict[str, Any]:
    """Describe the deck in the reference's content shape (plus bullets, visual and credit)."""
    items = []
    for i, s in enumerate(slides):
        visual = visuals[i] if visuals else None
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
                "visual": visual.kind if visual else None,
                "image_credit": visual.credit if visual else None,
            }
        )
    return {
        "generation_id": gid,
        "topic": request.topic,
        "language": request.language,
        "tone": request.tone,
        "size": request.size,
        "slides": items,
        "credits": [v.credit for v in visuals or () if v.credit],
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
    """Makes one run's video: runs the stages in order and reports the contract's milestones."""

    def __init__(
        self,
        settings: Settings,
        voices: SpeechProviders,
        cache: Cache,
        *,
        text_model: TextModel | None = None,
        finder: ImageFinder | None = None,
        default_voice: str = "",
    ):
        self.finder = finder
        self.settings = settings
        self.voices = voices
        self.cache = cache
        self.text_model = text_model
        self.default_voice = default_voice

    def finder_for(self, usage: Usage) -> ImageSource | None:
        """Return the image sources, counting any paid ones into this run's usage."""
        if self.finder is None or not self.finder.sources:
            return None
        bound = [
            s.with_usage(usage) if hasattr(s, "with_usage") else s for s in self.finder.sources
        ]
        return ImageFinder(bound)

    def speech_for(self, request: GenerationRequest, usage: Usage) -> SpeechProvider:
        speech = self.voices.get(request.voice or self.default_voice)
        if hasattr(speech, "with_usage"):
            speech = speech.with_usage(usage)
        return speech

    def run(self, run: Run, report: Report, workdir: Path) -> dict[str, Any]:
        """Run the stages for one run; visuals render on a helper thread that dies with the run."""
        renderer = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"render-{run.id}")
        try:
            return self._run(run, report, workdir, renderer)
        finally:
            # A failed, cancelled or released run leaves no picture fetches or renders behind.
            renderer.shutdown(wait=False, cancel_futures=True)

    def _run(
        self, run: Run, report: Report, workdir: Path, renderer: ThreadPoolExecutor
    ) -> dict[str, Any]:
        request = GenerationRequest.from_json(run.request)
        gid = run.generation_id
        size = Size.parse(request.size)
        timings: dict[str, float] = {}
        clock = time.perf_counter

        t = clock()
        report("generating_content", 10, "📝 Generating presentation content...")
        slides = write_slides(request, self.text_model, report.usage)
        n = len(slides)
        _write_json(workdir / "content.json", content_json(gid, request, slides))
        # Visuals do not wait for speech: pictures and text slides start now, each animation
        # as soon as its narration's length is known; all are reported in order later.
        finder = self.finder_for(report.usage)
        visuals: list[Future[Visual] | None] = [
            None
            if s.animation
            else renderer.submit(make_visual, s, n, size, self.cache, finder, workdir)
            for s in slides
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
            if slide.animation:
                lead = LEAD_IN if i == 0 else 0.0
                length = lead + narration.duration + (TAIL if i == n - 1 else PAUSE)
                cues = tuple((lead + c.start, lead + c.end) for c in narration.cues)
                visuals[i] = renderer.submit(
                    make_animation, slide, n, size, self.cache, length, cues
                )
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
        done: list[Visual] = []
        for i, future in enumerate(visuals):
            assert future is not None
            try:
                visual = future.result()
            except VideoforgeError as exc:
                raise StageError(_visual_stage(slides[i]), f"slide {i + 1}: {exc.detail}") from exc
            except Exception as exc:
                raise StageError(_visual_stage(slides[i]), f"slide {i + 1}: {exc!r}") from exc
            done.append(visual)
            report(*_visual_event(visual, i, n))
        timings["visuals_wait"] = clock() - t
        if any(v.credit for v in done):  # room at the end for the picture credits
            spans = combine_audio(
                narrations, audio, pause=PAUSE, lead_in=LEAD_IN, tail=CREDITS_TAIL
            )
            total = spans[-1][0] + spans[-1][1]

        t = clock()
        report("composing_video", 85, "🎞️ Composing final video with audio...")
        segments, cues = timeline(slides, narrations, spans, done)
        if (credit := credits_cue(done, spans)) is not None:
            cues.append(credit)
        video_name = f"{gid}-{run.id}.mp4"
        out = self.settings.videos_dir / video_name
        compose_video(segments, audio, out, size=size, chapters=True)
        timings["compose"] = clock() - t
        report("composing_video", 95, "📝 Writing captions and scripts...")
        write_vtt(cues, workdir / "captions.vtt", total=total)
        write_srt(cues, workdir / "captions.srt", total=total)
        _write_json(workdir / "content.json", content_json(gid, request, slides, spans, done))
        _write_json(workdir / "script.json", script_json(gid, slides, spans))
        log.info(
            "run %s: video %s (%.1f s) in stages %s; %d of %d narrations synthesized",
            run.id,
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
            "chapters": [
                {
                    "slide_number": s.slide_number,
                    "title": s.title,
                    "start": s.start,
                    "duration": s.duration,
                }
                for s in segments
            ],
            "visuals": [v.kind for v in done],
        }


def _visual_stage(slide: Slide) -> str:
    if slide.animation:
        return "generating_animation"
    return "fetching_image" if slide.image else "generating_slide"


def _visual_event(visual: Visual, i: int, n: int) -> tuple[str, int, str]:
    """Word the progress event of one finished slide visual."""
    progress = _progress(50, 80, i + 1, n)
    where = f"slide {i + 1}/{n}"
    if visual.kind == "animation":
        return "generating_animation", progress, f"🎬 Rendered {visual.note} animation for {where}"
    if visual.kind == "image":
        return (
            "fetching_image",
            progress,
            f"🖼️ Fetched image for {where}: {visual.credit['attribution']}",
        )
    if visual.note:
        return "fetching_image", progress, f"⚠️ {visual.note.capitalize()} ({where})"
    return "generating_slide", progress, f"🖼️ Created text slide {i + 1}/{n}"


def _duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes}m {secs:02d}s" if minutes else f"{seconds:.1f}s"


def make_pipeline(settings: Settings) -> GenerationPipeline:
    """Build the pipeline the settings describe; warm the offline voice in the background."""
    from ..providers.registry import SpeechProviders, image_finder, text_model, voices

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
        finder=image_finder(settings),
        default_voice=default_voice,
    )


def _warm(speakers: SpeechProviders, voice_id: str) -> None:
    try:
        speakers.get(voice_id).voice()
    except Exception:
        log.exception("could not load the Piper voice; runs will report the cause")
