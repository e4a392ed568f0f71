"""Join the slides' speech into one narration track with pauses between slides."""

from __future__ import annotations

import logging
import warnings
import wave
from pathlib import Path

from ..core.types import Narration

logger = logging.getLogger(__name__)

_SAMPLE_WIDTH = 2  # bytes: 16-bit PCM
_CHANNELS = 1


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
    with warnings.catch_warnings():
        # pydub warns on import when no ffmpeg is on PATH; WAV in and out never needs one.
        warnings.simplefilter("ignore", RuntimeWarning)
        from pydub import AudioSegment

    speech = [AudioSegment.from_wav(str(n.wav)) for n in narrations]
    rate = speech[0].frame_rate
    frame = _SAMPLE_WIDTH * _CHANNELS
    lead, gap, end = (round(seconds * rate) for seconds in (lead_in, pause, tail))

    chunks: list[bytes] = []
    spans: list[tuple[float, float]] = []
    position = 0  # samples written so far
    last = len(speech) - 1
    for i, (narration, segment) in enumerate(zip(narrations, speech, strict=True)):
        segment = (
            segment.set_channels(_CHANNELS).set_sample_width(_SAMPLE_WIDTH).set_frame_rate(rate)
        )
        pcm = segment.raw_data
        before = lead if i == 0 else 0
        after = end if i == last else gap
        samples = before + len(pcm) // frame + after
        chunks += [bytes(before * frame), pcm, bytes(after * frame)]
        spans.append((position / rate, samples / rate))
        position += samples
        if abs(len(pcm) / frame / rate - narration.duration) > 0.05:
            logger.warning(
                "slide %d: WAV holds %.3f s of speech but the narration says %.3f s; using the WAV",
                narration.slide_number,
                len(pcm) / frame / rate,
                narration.duration,
            )

    with wave.open(str(out_wav), "wb") as track:
        track.setnchannels(_CHANNELS)
        track.setsampwidth(_SAMPLE_WIDTH)
        track.setframerate(rate)
        track.writeframes(b"".join(chunks))
    logger.debug("combined %d narrations into %.2f s of audio", len(narrations), position / rate)
    return spans
