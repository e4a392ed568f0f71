"""The narration track: the slides' speech laid end to end with pauses between slides.

`NarrationTrack` builds it while the speech is being synthesized: each slide's part is laid
out as soon as its speech exists (so its place on the timeline is known at once), then
normalised to the target loudness and written to the AAC encoder and the WAV file on a
thread of its own. `combine_audio` lays out a whole list at once, by the same rule.
"""

from __future__ import annotations

import logging
import threading
import warnings
import wave
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from ..core.types import Narration
from ..media.compose import AudioEncoder
from ..media.loudness import from_pcm16, normalize, to_pcm16

logger = logging.getLogger(__name__)

_SAMPLE_WIDTH = 2  # bytes: 16-bit PCM
_CHANNELS = 1
_FRAME = _SAMPLE_WIDTH * _CHANNELS


def speech_pcm(narration: Narration, rate: int | None = None) -> tuple[bytes, int]:
    """Return a narration's speech as 16-bit mono PCM at `rate` (default: its own), and the rate."""
    with warnings.catch_warnings():
        # pydub warns on import when no ffmpeg is on PATH; WAV in and out never needs one.
        warnings.simplefilter("ignore", RuntimeWarning)
        from pydub import AudioSegment

    segment = AudioSegment.from_wav(str(narration.wav))
    rate = rate or segment.frame_rate
    segment = segment.set_channels(_CHANNELS).set_sample_width(_SAMPLE_WIDTH).set_frame_rate(rate)
    pcm = segment.raw_data
    if abs(len(pcm) / _FRAME / rate - narration.duration) > 0.05:
        logger.warning(
            "slide %d: WAV holds %.3f s of speech but the narration says %.3f s; using the WAV",
            narration.slide_number,
            len(pcm) / _FRAME / rate,
            narration.duration,
        )
    return pcm, rate


def combine_audio(
    narrations: list[Narration],
    out_wav: Path,
    *,
    pause: float = 0.6,
    lead_in: float = 0.3,
    tail: float = 0.5,
) -> list[tuple[float, float]]:
    """Write the narrations one after another into out_wav; return each slide's (start, duration).

    The track is 16-bit mono at the first narration's sample rate (22,050 Hz for Piper);
    other inputs are converted to it. Timing rule, in whole samples at that rate R:

        lead = round(lead_in * R), gap = round(pause * R), end = round(tail * R)
        slide i spans speech_i samples of its WAV (the file's real length), plus
        lead before the speech on the first slide, and after the speech gap samples
        (end samples on the last slide instead).

    Slide i covers [start_i, start_i + duration_i) with start_0 = 0 and each start being the
    previous slide's end, so the slides tile the track with no gap or overlap; its speech
    begins at start_i (start_0 + lead on the first slide). Both numbers are a sample count
    divided by R, so the durations add up to the file's length to the sample.
    """
    if not narrations:
        raise ValueError("combine_audio needs at least one narration")
    chunks: list[bytes] = []
    spans: list[tuple[float, float]] = []
    position = 0  # samples written so far
    rate: int | None = None
    last = len(narrations) - 1
    for i, narration in enumerate(narrations):
        pcm, rate = speech_pcm(narration, rate)
        before = round(lead_in * rate) if i == 0 else 0
        after = round((tail if i == last else pause) * rate)
        samples = before + len(pcm) // _FRAME + after
        chunks += [bytes(before * _FRAME), pcm, bytes(after * _FRAME)]
        spans.append((position / rate, samples / rate))
        position += samples
    assert rate is not None
    with wave.open(str(out_wav), "wb") as track:
        track.setnchannels(_CHANNELS)
        track.setsampwidth(_SAMPLE_WIDTH)
        track.setframerate(rate)
        track.writeframes(b"".join(chunks))
    logger.debug("combined %d narrations into %.2f s of audio", len(narrations), position / rate)
    return spans


class NarrationTrack:
    """The narration track, written slide by slide while later slides are still being spoken.

    `add` lays a slide's speech out by `combine_audio`'s rule (lead-in before the first
    slide's speech, then the speech, then the pause; the last slide's tail, once decided,
    comes from `end`) and returns its span at once. A thread of the track's own then
    normalises the speech to `loudness` LUFS with its true peak at most `ceiling` dBTP
    (`media.loudness.normalize`, slide by slide, so every slide sounds as loud as the
    others) and writes it to the AAC encoder and to the WAV at `wav`. The encoder starts
    with the first slide, at that slide's sample rate; later slides are converted to it.
    `finish` waits for both files; `abort` ends the encoder. A failure of the writing thread
    is raised by the next call.
    """

    def __init__(
        self,
        wav: Path,
        encoded: Path,
        *,
        loudness: float,
        ceiling: float,
        lead_in: float,
        pause: float,
        should_stop: Callable[[], bool] | None = None,
        name: str = "narration",
    ):
        self.wav_path = Path(wav)
        self.encoded = Path(encoded)
        self.loudness = loudness
        self.ceiling = ceiling
        self.lead_in = lead_in
        self.pause = pause
        self.should_stop = should_stop
        self.rate: int | None = None
        self.position = 0  # samples laid out so far
        self.spans: list[tuple[float, float]] = []
        self.gains: list[float] = []  # dB each slide's speech was raised by
        self._writer = ThreadPoolExecutor(1, thread_name_prefix=name)
        self._pending: list[Future[None]] = []
        self._encoder: AudioEncoder | None = None
        self._wav: wave.Wave_write | None = None
        self._open = False  # the last slide, whose tail is not decided yet
        self._lock = threading.Lock()

    @property
    def total(self) -> float:
        """Return the length in seconds of the track laid out so far."""
        return self.position / self.rate if self.rate else 0.0

    def add(self, narration: Narration, *, pause: bool = True) -> tuple[float, float]:
        """Lay out the next slide's speech; return its (start, duration) in seconds.

        The pause follows it; without `pause` (the last slide) the slide stays open for `end`
        to close with its tail, and its speech is written meanwhile.
        """
        self._raise_failure()
        if self._open:
            raise ValueError("the last slide is open: end it before adding another")
        pcm, rate = speech_pcm(narration, self.rate)
        if self.rate is None:
            self.rate = rate
            self._encoder = AudioEncoder(self.encoded, rate, should_stop=self.should_stop)
            self._wav = wave.open(str(self.wav_path), "wb")  # noqa: SIM115 - closed by finish
            self._wav.setnchannels(_CHANNELS)
            self._wav.setsampwidth(_SAMPLE_WIDTH)
            self._wav.setframerate(rate)
        before = round(self.lead_in * rate) if not self.spans else 0
        after = round(self.pause * rate) if pause else 0
        samples = before + len(pcm) // _FRAME + after
        span = (self.position / rate, samples / rate)
        self.spans.append(span)
        self.position += samples
        self._open = not pause
        self._pending.append(self._writer.submit(self._write, pcm, before, after))
        return span

    def end(self, tail: float) -> tuple[float, float]:
        """Close the open last slide with `tail` seconds of silence; return its span."""
        if not self._open or self.rate is None:
            raise ValueError("no slide is open")
        self._raise_failure()
        samples = round(tail * self.rate)
        start, duration = self.spans[-1]
        self.spans[-1] = (start, duration + samples / self.rate)
        self.position += samples
        self._open = False
        self._pending.append(self._writer.submit(self._write_silence, samples))
        return self.spans[-1]

    def finish(self) -> Path:
        """Wait until every slide is written, end the encoder and the WAV; return the AAC file."""
        if self._open:
            raise ValueError("the last slide is open: end it first")
        for future in self._pending:
            future.result()
        self._writer.shutdown()
        assert self._encoder is not None and self._wav is not None, "no slide was added"
        self._wav.close()
        return self._encoder.close()

    def abort(self) -> None:
        """End the encoder and the writing thread now; the files are left incomplete."""
        self._writer.shutdown(wait=False, cancel_futures=True)
        if self._encoder is not None:
            self._encoder.kill()
        with self._lock:
            if self._wav is not None:
                try:
                    self._wav.close()
                except (OSError, ValueError, wave.Error):
                    pass

    def _write(self, pcm: bytes, before: int, after: int) -> None:
        assert self._encoder is not None and self._wav is not None and self.rate is not None
        result = normalize(from_pcm16(pcm), self.rate, target=self.loudness, ceiling=self.ceiling)
        self.gains.append(result.gain)
        part = bytes(before * _FRAME) + to_pcm16(result.samples) + bytes(after * _FRAME)
        self._encoder.write(part)
        with self._lock:
            self._wav.writeframes(part)

    def _write_silence(self, samples: int) -> None:
        assert self._encoder is not None and self._wav is not None
        part = bytes(samples * _FRAME)
        self._encoder.write(part)
        with self._lock:
            self._wav.writeframes(part)

    def _raise_failure(self) -> None:
        for future in self._pending:
            if future.done() and future.exception() is not None:
                raise future.exception()  # type: ignore[misc]
