"""The real pipeline: the stages in the contract's order, each milestone reported from the stage table.

The video is made while its narration is being spoken. Slide stills render on a helper
thread from the start; as soon as a slide's speech exists its place on the timeline is
known, so its sound is normalised and fed to the one AAC encoder of the narration, and its
pictures (its still held for the slide's frames, or its animation) are laid into the picture
track, both on threads of their own while the next slide is spoken. What is left after the
last sentence: the last slide's share, the encoder's flush, and joining the two tracks by
stream copy. Events are still reported in the stage table's order (visuals, for instance,
once the narration track is done). Long steps ask the run's stop check as they go, so a
cancel, a lost lease or a stopping worker ends them within a second or two.
"""

from __future__ import annotations

import logging
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.decks import DeckFile, run_copy
from ..core.errors import StageError, Stopped, VideoforgeError
from ..core.files import library_picture, write_json_atomic
from ..core.request import GenerationRequest
from ..core.settings import Settings
from ..core.stages import event
from ..core.themes import parse_colour, theme_for
from ..core.types import (
    DECK_FILE,
    PDF_FILE,
    PPTX_FILE,
    Narration,
    Report,
    Run,
    Size,
    Slide,
    Theme,
    Usage,
)
from ..media.compose import AAC_PEAK_MARGIN, Chapter, mux
from ..media.h264 import VideoFormat
from ..providers.base import ImageSource, SpeechProvider
from ..providers.images.finder import ImageFinder
from .audio import NarrationTrack
from .cache import Cache
from .captions import write_srt, write_vtt
from .deck import (
    add_title_and_closing,
    content_json,
    deck_json,
    script_json,
    write_scripts,
    write_slides,
)
from .export import keep_still, write_pdf, write_pptx
from .narration import cached_narration, narrate
from .timeline import CREDITS_TAIL, LEAD_IN, PAUSE, TAIL, credits_cue, sentence_times, timeline
from .uploaded import DeckLimits, ReadDeck, read_deck, with_descriptions
from .visuals import PictureTrack, Visual, make_animation, make_visual

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

    def theme_for(self, request: GenerationRequest) -> Theme:
        """Return the request's theme, with the brand's colour, logo and name where set."""
        settings = self.settings
        colour = request.brand_color or settings.brand_color
        logo_name = request.logo or settings.brand_logo
        logo = None
        if logo_name:
            try:
                logo = str(library_picture(settings.media_library, logo_name))
            except ValueError as exc:
                raise StageError("generating_content", f"the logo: {exc}") from None
        return theme_for(
            request.theme,
            accent=parse_colour(colour) if colour else None,
            logo=logo,
            brand=settings.brand_name,
        )

    def read_deck(
        self,
        request: GenerationRequest,
        workdir: Path,
        report: Report,
        should_stop: Callable[[], bool],
    ) -> ReadDeck:
        """Read the request's uploaded deck, which the worker put in the attempt's folder."""
        assert request.deck is not None
        stored = DeckFile.from_json(request.deck)
        report(*event("generating_content", "deck", file=stored.name or stored.kind.upper()))
        path = workdir / run_copy(stored.kind)
        if not path.is_file():
            raise StageError(
                "generating_content",
                "the uploaded deck is no longer stored (removed, or on another machine's disk"
                " without a shared bucket); upload it again",
            )
        settings = self.settings
        soffice = settings.soffice_command if stored.kind == "pptx" else ""
        limits = DeckLimits(
            settings.deck_max_pages,
            settings.deck_max_pixels,
            soffice,
            settings.soffice_timeout,
            settings.max_slide_narration,
        )
        deck = read_deck(
            path,
            stored.kind,
            request,
            workdir,
            limits,
            should_stop,
            self.cache,
            digest=stored.digest,
        )
        report(
            *event(
                "generating_content",
                "read",
                slides=len(deck.slides),
                pages=deck.pages,
                how=deck.note,
            )
        )
        return deck

    def run(self, run: Run, report: Report, workdir: Path) -> dict[str, Any]:
        """Run the stages for one attempt; its MP4 is named after the attempt, kept only on success.

        Visuals render on a helper thread, and the sound and the pictures are encoded on
        threads of their own; all of them stop with the run, and its ffmpegs are killed.
        """
        renderer = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"render-{run.id}")
        ended = threading.Event()

        def should_stop() -> bool:
            return ended.is_set() or report.should_stop()

        out = self.settings.videos_dir / run.video_name
        out.parent.mkdir(parents=True, exist_ok=True)
        tracks: list[NarrationTrack | PictureTrack] = []
        try:
            with tempfile.TemporaryDirectory(
                prefix=".compose-", dir=out.parent, ignore_cleanup_errors=True
            ) as tmp:
                try:
                    return self._run(
                        run, report, workdir, renderer, should_stop, out, Path(tmp), tracks
                    )
                finally:
                    # A failed, cancelled or released run leaves no picture fetches, renders
                    # or encodes behind: queued ones are dropped, running ones stop at their
                    # next check and its ffmpegs are killed, before its folder goes.
                    ended.set()
                    renderer.shutdown(wait=False, cancel_futures=True)
                    for track in tracks:
                        track.abort()
        except BaseException:
            out.unlink(missing_ok=True)  # a failed or stopped attempt leaves no video behind
            raise

    def _run(
        self,
        run: Run,
        report: Report,
        workdir: Path,
        renderer: ThreadPoolExecutor,
        should_stop: Callable[[], bool],
        out: Path,
        tmp: Path,
        tracks: list[NarrationTrack | PictureTrack],
    ) -> dict[str, Any]:
        request = GenerationRequest.from_json(run.request)
        gid = run.generation_id
        size = Size.parse(request.size)
        fmt = VideoFormat(size, request.fps)
        timings: dict[str, float] = {}
        clock = time.perf_counter

        t = clock()
        report(*event("generating_content", "start"))
        theme = self.theme_for(request)  # before any paid call: a bad logo fails first
        deck = None
        if request.deck:
            deck = self.read_deck(request, workdir, report, should_stop)
            slides = add_title_and_closing(deck.slides, request)
        else:
            slides = add_title_and_closing(
                write_slides(request, self.text_model, report.usage), request
            )
        n = len(slides)
        pages = deck.pdf if deck is not None else None
        write_json_atomic(workdir / "content.json", content_json(gid, request, slides))
        # Visuals do not wait for speech: pictures and text slides start now, each animation
        # as soon as its slide's length is known; all are reported in order later.
        finder = self.finder_for(report.usage)
        visuals: list[Future[Visual] | None] = [
            None
            if s.animation
            else renderer.submit(make_visual, s, n, size, self.cache, finder, workdir, theme, pages)
            for s in slides
        ]
        pictures = PictureTrack(
            tmp / "video.h264",
            fmt,
            self.cache,
            poster=workdir / "poster.jpg",
            should_stop=should_stop,
            name=f"pictures-{run.id}",
        )
        tracks.append(pictures)
        for i, visual in enumerate(visuals):
            if visual is not None:
                pictures.prepare(i, visual)
        report(*event("generating_scripts", "start"))
        told = slides
        if deck is not None and deck.descriptions and self.text_model is not None:
            told = with_descriptions(slides, deck.descriptions)  # the model reads the pictures'
        written = write_scripts(
            told,
            request,
            self.text_model,
            report.usage,
            max_narration=self.settings.max_narration,
        )
        slides = [replace(s, narration=w.narration) for s, w in zip(slides, written, strict=True)]
        write_json_atomic(workdir / "script.json", script_json(gid, request, slides, None))
        speech = self.speech_for(request, report.usage)
        timings["content_and_scripts"] = clock() - t

        sound = NarrationTrack(
            workdir / "narration.wav",
            tmp / "narration.m4a",
            loudness=self.settings.loudness,
            ceiling=self.settings.true_peak - AAC_PEAK_MARGIN,
            lead_in=LEAD_IN,
            pause=PAUSE,
            should_stop=should_stop,
            name=f"sound-{run.id}",
        )
        tracks.append(sound)

        bounds = [0]  # the frame each slide starts on, then where the video ends

        def lay_out(i: int, narration: Narration) -> None:
            """Place slide i on the timeline; start its animation; queue its pictures."""
            assert sound.rate is not None
            bounds.append(fmt.frame_at_sample(sound.position, sound.rate))
            frames = bounds[-1] - bounds[-2]
            times = sentence_times(i, narration)
            captions = ()
            if request.burn_captions:
                captions = tuple(
                    (a, b, cue.text) for (a, b), cue in zip(times, narration.cues, strict=True)
                )
            if slides[i].animation:
                visuals[i] = renderer.submit(
                    make_animation,
                    slides[i],
                    n,
                    fmt,
                    self.cache,
                    frames,
                    times,
                    pictures.skip,
                    should_stop,
                    theme,
                    captions,
                )
                captions = ()  # burned into the clip
            visual = visuals[i]
            assert visual is not None
            pictures.add(i, visual, frames, captions)
            if (failure := pictures.failure()) is not None:
                raise failure

        t = clock()
        narrations: list[Narration] = []
        synthesized = 0
        # A failure below is reported by the worker under the step last reported.
        for i, slide in enumerate(slides):
            # Speech the cache holds (an unchanged slide of a re-render) is said to be reused.
            reused = cached_narration(slide, speech, self.cache, language=request.language)
            if reused is None:
                report(*event("generating_audio", "slide", i, n, slide=i + 1, slides=n))
                narration, hit = narrate(
                    slide, speech, self.cache, language=request.language, should_stop=should_stop
                )
                synthesized += not hit
            else:
                narration = reused
            narrations.append(narration)
            # The last slide's speech goes to the encoder now; its tail of silence waits for
            # the visuals (picture credits or not), and so does its place on the timeline.
            sound.add(narration, pause=i < n - 1)
            if i < n - 1:
                lay_out(i, narration)
            seconds = narration.duration
            where = {"slide": i + 1, "slides": n}
            if reused is None:
                report(*event("generating_audio", "done", i + 1, n, seconds=seconds, **where))
            else:
                report(*event("generating_audio", "reused", i + 1, n, **where))
        timings["speech"] = clock() - t

        t = clock()
        report(*event("combining_audio", "start"))
        credited = False
        for i, future in enumerate(
            visuals[: n - 1] + ([] if slides[-1].animation else visuals[-1:])
        ):
            assert future is not None
            credited |= bool(_visual(future, slides[i]).credit)
        timings["visuals_wait"] = clock() - t
        # Room at the end for the picture credits, when there are any.
        sound.end(CREDITS_TAIL if credited else TAIL)
        lay_out(n - 1, narrations[-1])
        spans, total = sound.spans, sound.total
        audio = sound.finish()
        report(*event("combining_audio", "done", 1, 1, length=_duration(total)))
        timings["finish_audio"] = clock() - t

        t = clock()
        report(*event("generating_media", "start"))
        done: list[Visual] = []
        stills: list[Path] = []  # the run folder's copies, which GET .../slides/{n}.png serves
        for i, future in enumerate(visuals):
            assert future is not None
            done.append(_visual(future, slides[i]))
            stills.append(keep_still(done[-1].still, i + 1, workdir))
            report(*_visual_event(done[-1], i, n, slides[i].deck_slide))
        timings["visuals_last"] = clock() - t
        # The deck's downloads are made from the stills on the (now idle) render thread while
        # the video is finished and joined.
        exported = renderer.submit(_export, slides, stills, size, workdir)

        t = clock()
        report(*event("composing_video", "start"))
        segments, cues = timeline(slides, narrations, spans, done)
        if (credit := credits_cue(done, spans)) is not None:
            cues.append(credit)
        video = pictures.finish()
        timings["finish_pictures"] = clock() - t
        chapters = [
            Chapter(a / fmt.fps, b / fmt.fps, seg.title or f"Slide {seg.slide_number}")
            for seg, a, b in zip(segments, bounds, bounds[1:], strict=False)
        ]
        mux(video, audio, out, fps=fmt.fps, chapters=chapters, should_stop=should_stop)
        timings["compose"] = clock() - t
        video_name = out.name
        report(*event("composing_video", "captions", 1, 1))
        write_vtt(cues, workdir / "captions.vtt", total=total)
        write_srt(cues, workdir / "captions.srt", total=total)
        write_json_atomic(workdir / "content.json", content_json(gid, request, slides, spans, done))
        write_json_atomic(workdir / "script.json", script_json(gid, request, slides, spans))
        t = clock()
        timings["export"] = exported.result()
        timings["export_wait"] = clock() - t
        # Last: GET /api/generations/{id}/deck serves it once the run is completed.
        write_json_atomic(workdir / DECK_FILE, deck_json(gid, run.id, request, slides))
        log.info(
            "run %s: video %s (%.1f s, %d fps) in stages %s; %d of %d narrations synthesized",
            run.id,
            video_name,
            total,
            fmt.fps,
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
            "fps": fmt.fps,
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


def _export(slides: list[Slide], stills: list[Path], size: Size, workdir: Path) -> float:
    """Write the deck's PPTX and PDF into the run folder; return the seconds it took."""
    started = time.perf_counter()
    write_pptx(slides, stills, size, workdir / PPTX_FILE)
    write_pdf(stills, workdir / PDF_FILE)
    return time.perf_counter() - started


def _visual(future: Future[Visual], slide: Slide) -> Visual:
    """Return a finished visual, or raise its failure as the error of its stage."""
    try:
        return future.result()
    except Stopped:
        raise
    except VideoforgeError as exc:
        stage = _visual_stage(slide)
        raise StageError(stage, f"slide {slide.slide_number}: {exc.detail}") from exc
    except Exception as exc:
        raise StageError(_visual_stage(slide), f"slide {slide.slide_number}: {exc!r}") from exc


def _visual_stage(slide: Slide) -> str:
    if slide.animation:
        return "generating_animation"
    return "fetching_image" if slide.image else "generating_slide"


def _visual_event(visual: Visual, i: int, n: int, page: int = 0) -> tuple[str, int, str]:
    """Word the progress event of one finished slide visual."""
    where = {"slide": i + 1, "slides": n}
    made = "reused" if visual.reused else "done"  # an unchanged slide of a re-render
    if visual.kind == "animation":
        return event("generating_animation", made, i + 1, n, kind=visual.note, **where)
    if visual.kind == "page":
        said = "page_reused" if visual.reused else "page"
        return event("generating_slide", said, i + 1, n, page=page, **where)
    if visual.kind == "image":
        credit = visual.credit["attribution"]
        return event("fetching_image", made, i + 1, n, credit=credit, **where)
    if visual.note:
        note = visual.note.capitalize()
        return event("fetching_image", "fallback", i + 1, n, note=note, **where)
    return event("generating_slide", made, i + 1, n, **where)


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
