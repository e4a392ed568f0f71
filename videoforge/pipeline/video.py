"""The real pipeline: the stages in the contract's order, each milestone reported from the stage table.

Slide images are rendered on a helper thread while speech is synthesized, so visuals hide
behind speech (the slowest stage); their events are reported, in order, once speech is done.
Long steps (speech, animation encodes, composition) ask the run's stop check as they go, so
a cancel, a lost lease or a stopping worker ends them within a second or two.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.errors import StageError, Stopped, VideoforgeError
from ..core.files import write_json_atomic
from ..core.request import GenerationRequest
from ..core.settings import Settings
from ..core.stages import event
from ..core.types import Narration, Report, Run, Size, Slide, Usage
from ..media.compose import compose_video
from ..providers.base import ImageSource, SpeechProvider
from ..providers.images.finder import ImageFinder
from .audio import combine_audio
from .cache import Cache
from .captions import write_srt, write_vtt
from .deck import content_json, script_json, write_scripts, write_slides
from .narration import narrate
from .timeline import (
    CREDITS_TAIL,
    LEAD_IN,
    PAUSE,
    TAIL,
    credits_cue,
    sentence_times,
    slide_length,
    timeline,
)
from .visuals import Visual, make_animation, make_visual

if TYPE_CHECKING:
    from ..providers.base import TextModel
    from ..providers.registry import SpeechProviders

log = logging.getLogger(__name__)


class VideoPipeline:
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
        """Run the stages for one attempt; its MP4 is named after the attempt, kept only on success.

        Visuals render on a helper thread that stops with the run.
        """
        renderer = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"render-{run.id}")
        ended = threading.Event()

        def should_stop() -> bool:
            return ended.is_set() or report.should_stop()

        out = self.settings.videos_dir / run.video_name
        try:
            return self._run(run, report, workdir, renderer, should_stop, out)
        except BaseException:
            out.unlink(missing_ok=True)  # a failed or stopped attempt leaves no video behind
            raise
        finally:
            # A failed, cancelled or released run leaves no picture fetches or renders behind:
            # queued ones are dropped, a running animation encode stops at its next check.
            ended.set()
            renderer.shutdown(wait=False, cancel_futures=True)

    def _run(
        self,
        run: Run,
        report: Report,
        workdir: Path,
        renderer: ThreadPoolExecutor,
        should_stop: Callable[[], bool],
        out: Path,
    ) -> dict[str, Any]:
        request = GenerationRequest.from_json(run.request)
        gid = run.generation_id
        size = Size.parse(request.size)
        timings: dict[str, float] = {}
        clock = time.perf_counter

        t = clock()
        report(*event("generating_content", "start"))
        slides = write_slides(request, self.text_model, report.usage)
        n = len(slides)
        write_json_atomic(workdir / "content.json", content_json(gid, request, slides))
        # Visuals do not wait for speech: pictures and text slides start now, each animation
        # as soon as its narration's length is known; all are reported in order later.
        finder = self.finder_for(report.usage)
        visuals: list[Future[Visual] | None] = [
            None
            if s.animation
            else renderer.submit(make_visual, s, n, size, self.cache, finder, workdir)
            for s in slides
        ]
        report(*event("generating_scripts", "start"))
        slides = write_scripts(
            slides,
            request,
            self.text_model,
            report.usage,
            max_narration=self.settings.max_narration,
        )
        write_json_atomic(workdir / "script.json", script_json(gid, slides, None))
        speech = self.speech_for(request, report.usage)
        timings["content_and_scripts"] = clock() - t

        t = clock()
        narrations: list[Narration] = []
        synthesized = 0
        # A failure below is reported by the worker under the step last reported.
        for i, slide in enumerate(slides):
            report(*event("generating_audio", "slide", i, n, slide=i + 1, slides=n))
            narration, hit = narrate(slide, speech, self.cache, should_stop=should_stop)
            synthesized += not hit
            narrations.append(narration)
            if slide.animation:
                length, cues = slide_length(i, n, narration), sentence_times(i, narration)
                visuals[i] = renderer.submit(
                    make_animation, slide, n, size, self.cache, length, cues, should_stop
                )
            seconds = narration.duration
            report(
                *event("generating_audio", "done", i + 1, n, slide=i + 1, slides=n, seconds=seconds)
            )
        timings["speech"] = clock() - t

        t = clock()
        report(*event("combining_audio", "start"))
        audio = workdir / "narration.wav"
        spans = combine_audio(narrations, audio, pause=PAUSE, lead_in=LEAD_IN, tail=TAIL)
        total = spans[-1][0] + spans[-1][1]
        report(*event("combining_audio", "done", 1, 1, length=_duration(total)))
        timings["combine_audio"] = clock() - t

        t = clock()
        report(*event("generating_media", "start"))
        done: list[Visual] = []
        for i, future in enumerate(visuals):
            assert future is not None
            try:
                visual = future.result()
            except Stopped:
                raise
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
        report(*event("composing_video", "start"))
        segments, cues = timeline(slides, narrations, spans, done)
        if (credit := credits_cue(done, spans)) is not None:
            cues.append(credit)
        video_name = out.name
        compose_video(segments, audio, out, size=size, chapters=True, should_stop=should_stop)
        timings["compose"] = clock() - t
        report(*event("composing_video", "captions", 1, 1))
        write_vtt(cues, workdir / "captions.vtt", total=total)
        write_srt(cues, workdir / "captions.srt", total=total)
        write_json_atomic(workdir / "content.json", content_json(gid, request, slides, spans, done))
        write_json_atomic(workdir / "script.json", script_json(gid, slides, spans))
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
    where = {"slide": i + 1, "slides": n}
    if visual.kind == "animation":
        return event("generating_animation", "done", i + 1, n, kind=visual.note, **where)
    if visual.kind == "image":
        credit = visual.credit["attribution"]
        return event("fetching_image", "done", i + 1, n, credit=credit, **where)
    if visual.note:
        note = visual.note.capitalize()
        return event("fetching_image", "fallback", i + 1, n, note=note, **where)
    return event("generating_slide", "done", i + 1, n, **where)


def _duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes}m {secs:02d}s" if minutes else f"{seconds:.1f}s"


def make_pipeline(settings: Settings) -> VideoPipeline:
    """Build the pipeline the settings describe; warm the offline voice in the background."""
    from ..providers.registry import SpeechProviders, image_finder, text_model, voices

    _, default_voice = voices(settings)
    speakers = SpeechProviders(settings)
    if default_voice.startswith("piper:"):
        threading.Thread(
            target=_warm, args=(speakers, default_voice), daemon=True, name="voice-warmup"
        ).start()
    return VideoPipeline(
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
