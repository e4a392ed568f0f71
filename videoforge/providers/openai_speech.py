"""Cloud voices through an OpenAI-compatible /audio/speech endpoint."""

from __future__ import annotations

import copy
import logging
import struct
import wave
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from ..core.errors import ProviderError, Stopped
from ..core.text import split_sentences
from ..core.types import Usage
from .base import SpeechProvider
from .openai_client import OpenAIConfig, make_client, translate_error

if TYPE_CHECKING:
    import openai

logger = logging.getLogger(__name__)

MAX_INPUT = 4096  # characters the speech endpoint takes in one request
_CHUNK = 4000
_UNKNOWN_SIZE = 0xFFFFFFFF  # what a streamed WAV header says when the length was not known
_PCM = 1
_EXTENSIBLE = 0xFFFE


class OpenAISpeech(SpeechProvider):
    """A voice of an OpenAI-compatible speech endpoint (e.g. gpt-4o-mini-tts "alloy").

    Usage is counted into the Usage given to the constructor or bound by with_usage(), so
    a pipeline run can take `speech.with_usage(run_usage)` and count its own consumption.
    """

    name = "openai"

    def __init__(
        self,
        config: OpenAIConfig,
        *,
        client: openai.OpenAI | None = None,
        usage: Usage | None = None,
    ):
        self.config = config
        self.client = client if client is not None else make_client(config)
        self.usage = usage

    def with_usage(self, usage: Usage) -> OpenAISpeech:
        """Return a copy that shares the client and counts into usage."""
        bound = copy.copy(self)
        bound.usage = usage
        return bound

    def voice_id(self) -> str:
        """Return "openai:<model>:<voice>", e.g. "openai:gpt-4o-mini-tts:alloy"."""
        return f"openai:{self.config.speech_model}:{self.config.speech_voice}"

    def supports(self, language: str) -> bool:
        """Return True for any named language: the service's voices speak many."""
        return bool(language.strip())

    def synthesize(
        self,
        text: str,
        out_wav: Path,
        *,
        should_stop: Callable[[], bool] | None = None,
        say: Callable[[str], str] | None = None,
    ) -> float:
        """Speak text into out_wav (PCM WAV at the service's rate) and return its duration.

        Text longer than the endpoint's 4096-character limit is spoken in pieces split
        between sentences and joined into one file. `should_stop` is asked before each
        request; when it says yes, `Stopped` is raised and nothing is written. `say` turns
        each written piece into what the service reads (numbers in words, ...).
        """
        if not text.strip():
            raise ProviderError(self.name, "there is no text to speak")
        pieces = []
        # The spoken form is cut into pieces: it may be longer than the text as written.
        for piece in split_for_speech(say(text) if say else text):
            if should_stop is not None and should_stop():
                raise Stopped("speech synthesis was stopped: the run must stop")
            spoken = self._speak(piece)
            pieces.append(read_pcm(spoken, origin="the speech service's answer"))
        channels, width, rate, _ = pieces[0]
        if any(piece[:3] != (channels, width, rate) for piece in pieces):
            raise ProviderError(
                self.name, "the speech service answered pieces in differing formats"
            )
        try:
            duration = _write_wav(out_wav, channels, width, rate, b"".join(p[3] for p in pieces))
        except BaseException:
            out_wav.unlink(missing_ok=True)
            raise
        if duration <= 0:
            out_wav.unlink(missing_ok=True)
            raise ProviderError(self.name, "the speech service returned no audio")
        return duration

    def _speak(self, text: str) -> bytes:
        import openai

        try:
            response = self.client.audio.speech.create(
                model=self.config.speech_model,
                voice=self.config.speech_voice,
                input=text,
                response_format="wav",
            )
            raw = response.content
        except openai.OpenAIError as exc:
            raise translate_error(
                exc,
                provider=self.name,
                step="generating_audio",
                setting_hint="VIDEOFORGE_SPEECH_MODEL",
                secrets=[self.config.api_key],
            ) from None
        if self.usage is not None:
            self.usage.add(speech_characters=len(text), requests=1)
        return raw


def split_for_speech(text: str, limit: int = _CHUNK) -> list[str]:
    """Split text into pieces of at most limit characters, between sentences where possible."""
    if len(text) <= limit:
        return [text]
    pieces: list[str] = []
    current = ""
    for sentence in split_sentences(text):
        while len(sentence) > limit:  # one enormous sentence: cut between words
            cut = sentence.rfind(" ", 0, limit)
            cut = cut if cut > 0 else limit
            if current:
                pieces.append(current)
                current = ""
            pieces.append(sentence[:cut].strip())
            sentence = sentence[cut:].strip()
        if current and len(current) + 1 + len(sentence) > limit:
            pieces.append(current)
            current = ""
        current = f"{current} {sentence}".strip()
    if current:
        pieces.append(current)
    return [piece for piece in pieces if piece]


def read_pcm(raw: bytes, *, origin: str = "the WAV data") -> tuple[int, int, int, bytes]:
    """Return (channels, sample width in bytes, rate, PCM frames) of WAV bytes.

    Tolerates the headers of streamed WAVs, whose RIFF and data sizes are 0xFFFFFFFF (or 0)
    because the length was not known when they were sent: the data then runs to the end.
    Raises ProviderError when the bytes are not PCM WAV.
    """
    if len(raw) < 12 or raw[:4] != b"RIFF" or raw[8:12] != b"WAVE":
        raise ProviderError("openai", f"{origin} is not a WAV file ({len(raw)} bytes)")
    fmt: tuple[int, int, int] | None = None
    offset = 12
    while offset + 8 <= len(raw):
        chunk_id, size = struct.unpack_from("<4sI", raw, offset)
        body = offset + 8
        if chunk_id == b"fmt ":
            if size < 16 or body + 16 > len(raw):
                raise ProviderError("openai", f"{origin} has a damaged format chunk")
            tag, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", raw, body)
            if tag == _EXTENSIBLE and size >= 40 and body + 26 <= len(raw):
                tag = struct.unpack_from("<H", raw, body + 24)[0]
            if tag != _PCM or channels < 1 or rate < 1 or bits not in (8, 16, 24, 32):
                raise ProviderError(
                    "openai",
                    f"{origin} is not PCM audio (format {tag}, {channels} channels, {bits} bits)",
                )
            fmt = (channels, bits // 8, rate)
        elif chunk_id == b"data":
            if fmt is None:
                raise ProviderError("openai", f"{origin} has audio data before its format")
            end = body + size
            if size in (_UNKNOWN_SIZE, 0) or end > len(raw):
                end = len(raw)
            channels, width, rate = fmt
            frame = channels * width
            data = raw[body:end]
            return channels, width, rate, data[: len(data) - len(data) % frame]
        if size == _UNKNOWN_SIZE:
            break
        offset = body + size + (size & 1)
    raise ProviderError("openai", f"{origin} holds no audio data")


def normalize_wav(raw: bytes, out: Path) -> float:
    """Write WAV bytes as a well-formed PCM WAV at out and return its duration in seconds.

    Streamed WAVs (a bogus 0xFFFFFFFF data length) are rewritten with their real length,
    so every reader, the wave module included, sees the right number of frames.
    """
    channels, width, rate, frames = read_pcm(raw)
    return _write_wav(out, channels, width, rate, frames)


def _write_wav(out: Path, channels: int, width: int, rate: int, frames: bytes) -> float:
    """Write PCM frames to out, read the file back and return its duration."""
    with wave.open(str(out), "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(width)
        wav.setframerate(rate)
        wav.writeframes(frames)
    with wave.open(str(out), "rb") as wav:
        return wav.getnframes() / wav.getframerate()
