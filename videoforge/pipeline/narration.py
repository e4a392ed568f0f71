"""The narration stage: a slide's text spoken into a WAV, with its sentence timings (cached)."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path

from ..core.files import wav_duration
from ..core.spoken import spoken_form
from ..core.types import Cue, Narration, Slide
from ..providers.base import SpeechProvider
from .cache import Cache
from .captions import sentence_cues


def narrate(
    slide: Slide,
    speech: SpeechProvider,
    cache: Cache,
    *,
    language: str = "english",
    should_stop: Callable[[], bool] | None = None,
) -> tuple[Narration, bool]:
    """Synthesize a slide's narration (cached per text and voice); return it and whether it was cached.

    The voice reads each sentence in its spoken form (`core.spoken`: numbers, dates, symbols
    and abbreviations in words for English, the slide's pronunciations in any language); the
    cues keep the sentences as written. The sentence timings are stored beside the audio
    before the audio itself, so a cached WAV always has its cues. The voice asks
    `should_stop` as it goes and raises `Stopped`, leaving nothing in the cache, when the run
    must stop.
    """
    key = _key(slide, speech, cache, language)
    say = functools.partial(spoken_form, language=language, pronunciations=slide.pronunciations)

    def make(out: Path) -> None:
        if hasattr(speech, "synthesize_sentences"):
            _, sentences = speech.synthesize_sentences(
                slide.narration, out, should_stop=should_stop, say=say
            )
        else:  # no per-sentence audio: time the sentences by their length
            duration = speech.synthesize(slide.narration, out, should_stop=should_stop, say=say)
            cues = sentence_cues(slide.narration, duration, 0.0)
            sentences = [(c.text, c.start, c.end) for c in cues]
        cues = out.with_name(out.name + ".cues.json")
        cues.write_text(json.dumps(sentences), encoding="utf-8")
        cache.put(key, ".cues.json", cues)
        cues.unlink()

    wav, hit = cache.get_or_create(key, ".wav", make)
    return _narration(slide, cache, key, wav), hit


def cached_narration(
    slide: Slide, speech: SpeechProvider, cache: Cache, *, language: str = "english"
) -> Narration | None:
    """Return a slide's narration when the cache already holds it (text and voice), else None."""
    key = _key(slide, speech, cache, language)
    wav = cache.get(key, ".wav")
    return _narration(slide, cache, key, wav) if wav is not None else None


def _key(slide: Slide, speech: SpeechProvider, cache: Cache, language: str) -> str:
    # What the voice reads: a change of the spoken form (a pronunciation) is said again.
    spoken = spoken_form(slide.narration, language, slide.pronunciations)
    return cache.key("narration-2", speech.voice_id(), slide.narration, spoken)


def _narration(slide: Slide, cache: Cache, key: str, wav: Path) -> Narration:
    sentences = json.loads(cache.path(key, ".cues.json").read_text(encoding="utf-8"))
    cues = tuple(Cue(a, b, text) for text, a, b in sentences)
    return Narration(slide.slide_number, wav, wav_duration(wav), cues)
