"""Slides' speech joins into one track whose slide spans add up to the sample."""

from __future__ import annotations

import array
import math
import wave
from pathlib import Path

import pytest

from videoforge.core.types import Narration
from videoforge.pipeline.audio import combine_audio

RATE = 22050


def _tone(path: Path, samples: int, *, rate: int = RATE, channels: int = 1) -> Path:
    """Write a loud 440 Hz tone of exactly `samples` frames (no leading silence)."""
    data = array.array(
        "h",
        (
            int(12000 * math.sin(2 * math.pi * 440 * (i + 1) / rate)) or 1
            for i in range(samples)
            for _ in range(channels)
        ),
    )
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(data.tobytes())
    return path


def _read(path: Path) -> tuple[int, array.array]:
    with wave.open(str(path), "rb") as wav:
        assert (wav.getnchannels(), wav.getsampwidth()) == (1, 2)
        return wav.getframerate(), array.array("h", wav.readframes(wav.getnframes()))


def _narrations(tmp_path: Path, lengths: list[int]) -> list[Narration]:
    return [
        Narration(i + 1, _tone(tmp_path / f"{i}.wav", n), n / RATE) for i, n in enumerate(lengths)
    ]


def test_durations_sum_to_the_track_length_exactly(tmp_path):
    lengths = [12345, 22050, 7, 40001]
    spans = combine_audio(_narrations(tmp_path, lengths), tmp_path / "all.wav")
    rate, samples = _read(tmp_path / "all.wav")
    assert rate == RATE
    assert round(sum(d for _, d in spans) * RATE) == len(samples)
    # the rule: lead_in before the first speech, pause after each, tail after the last
    lead, gap, tail = round(0.3 * RATE), round(0.6 * RATE), round(0.5 * RATE)
    assert len(samples) == lead + sum(lengths) + gap * (len(lengths) - 1) + tail


def test_slides_tile_the_track_without_gaps(tmp_path):
    spans = combine_audio(_narrations(tmp_path, [1000, 2000, 3000]), tmp_path / "all.wav")
    assert spans[0][0] == 0.0
    for (start, duration), (next_start, _) in zip(spans, spans[1:], strict=False):
        assert round((start + duration) * RATE) == round(next_start * RATE)


def test_each_slides_speech_starts_at_its_start_plus_offset(tmp_path):
    lengths = [5000, 3000, 4000]
    spans = combine_audio(
        _narrations(tmp_path, lengths), tmp_path / "all.wav", pause=0.25, lead_in=0.1, tail=0.2
    )
    _, samples = _read(tmp_path / "all.wav")
    for i, ((start, duration), n) in enumerate(zip(spans, lengths, strict=True)):
        first = round(start * RATE) + (round(0.1 * RATE) if i == 0 else 0)
        assert all(s == 0 for s in samples[round(start * RATE) : first])  # lead-in is silent
        assert all(s != 0 for s in samples[first : first + n])  # the speech, whole
        end = round((start + duration) * RATE)
        assert all(s == 0 for s in samples[first + n : end])  # pause or tail is silent
        assert end - (first + n) == (round(0.2 * RATE) if i == 2 else round(0.25 * RATE))


def test_single_slide_gets_lead_in_and_tail(tmp_path):
    (span,) = combine_audio(_narrations(tmp_path, [100]), tmp_path / "one.wav")
    assert span == (0.0, (round(0.3 * RATE) + 100 + round(0.5 * RATE)) / RATE)


def test_other_rates_and_stereo_are_converted_to_the_first_rate(tmp_path):
    narrations = [
        Narration(1, _tone(tmp_path / "a.wav", 22050), 1.0),
        Narration(2, _tone(tmp_path / "b.wav", 44100, rate=44100, channels=2), 1.0),
    ]
    spans = combine_audio(narrations, tmp_path / "all.wav")
    rate, samples = _read(tmp_path / "all.wav")
    assert rate == RATE
    assert round(sum(d for _, d in spans) * RATE) == len(samples)
    assert spans[1][1] == pytest.approx(1.0 + 0.5, abs=2 / RATE)


def test_thirty_slides_do_not_drift(tmp_path):
    lengths = [RATE * 3 + 17 * i for i in range(30)]
    spans = combine_audio(_narrations(tmp_path, lengths), tmp_path / "all.wav")
    _, samples = _read(tmp_path / "all.wav")
    last_start, last_duration = spans[-1]
    assert abs(last_start + last_duration - len(samples) / RATE) < 1e-9


def test_no_narrations_is_an_error(tmp_path):
    with pytest.raises(ValueError):
        combine_audio([], tmp_path / "x.wav")
