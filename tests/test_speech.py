"""The offline Piper voice, run for real."""

from __future__ import annotations

import array
import math
import threading
import wave

import pytest

from videoforge.core.errors import ProviderError, Stopped
from videoforge.core.languages import normalize_language
from videoforge.providers.piper import MAX_PIECE_CHARS, PiperSpeech, speakable_pieces

SENTENCE = "Slides are easier to follow when someone explains them out loud."


def _rms(path) -> float:
    with wave.open(str(path), "rb") as wav:
        samples = array.array("h", wav.readframes(wav.getnframes()))
    return math.sqrt(sum(s * s for s in samples) / len(samples))


@pytest.mark.parametrize("name", ["english", "English", "en", "EN-us", " en_US ", "en-us"])
def test_joe_speaks_every_spelling_of_english(name):
    assert normalize_language(name) == "english"
    assert PiperSpeech().supports(name)


def test_joe_does_not_claim_other_languages():
    assert not PiperSpeech().supports("german")
    assert normalize_language(" Deutsch ") == "deutsch"


def test_voice_id_names_the_model_file():
    assert PiperSpeech().voice_id() == "piper:en_US-joe-medium"


@pytest.mark.slow
def test_synthesize_writes_audible_22050_hz_mono_and_returns_its_length(tmp_path):
    out = tmp_path / "speech.wav"
    duration = PiperSpeech().synthesize(SENTENCE, out)
    with wave.open(str(out), "rb") as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (22050, 1, 2)
        assert duration == wav.getnframes() / wav.getframerate()
    assert duration > 0.5
    assert _rms(out) > 500  # speech, not silence (int16 full scale is 32767)


@pytest.mark.slow
def test_voice_is_loaded_once_and_shared_by_calls_and_threads(tmp_path):
    speech = PiperSpeech()
    voices = []

    def speak(i: int) -> None:
        speech.synthesize(f"Call number {i}.", tmp_path / f"{i}.wav")
        voices.append(speech.voice())

    threads = [threading.Thread(target=speak, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    speak(3)
    assert len(voices) == 4
    assert all(voice is voices[0] for voice in voices)
    assert PiperSpeech().voice() is voices[0]  # once per process, not per instance


@pytest.mark.slow
def test_sentence_times_tile_the_file_in_order(tmp_path):
    out = tmp_path / "sentences.wav"
    text = "Hello there. This is the second sentence, a little longer! Is it the third?"
    duration, sentences = PiperSpeech().synthesize_sentences(text, out)
    assert [s for s, _, _ in sentences] == [
        "Hello there.",
        "This is the second sentence, a little longer!",
        "Is it the third?",
    ]
    assert sentences[0][1] == 0.0
    assert sentences[-1][2] == pytest.approx(duration, abs=1e-9)
    for (_, _, end), (_, start, _) in zip(sentences, sentences[1:], strict=False):
        assert start == end  # no gaps, no overlap
    assert all(end - start > 0.3 for _, start, end in sentences)
    with wave.open(str(out), "rb") as wav:
        assert duration == wav.getnframes() / 22050


@pytest.mark.slow
def test_empty_text_is_a_provider_error(tmp_path):
    with pytest.raises(ProviderError, match="no text"):
        PiperSpeech().synthesize("   ", tmp_path / "x.wav")


def test_missing_model_is_a_provider_error_on_first_use(tmp_path):
    speech = PiperSpeech(tmp_path / "missing.onnx")  # constructing loads nothing
    with pytest.raises(ProviderError, match="could not load the voice model"):
        speech.synthesize("Hello.", tmp_path / "x.wav")
    assert not (tmp_path / "x.wav").exists()


@pytest.mark.slow
def test_a_stop_is_heard_between_sentences_and_leaves_no_file(tmp_path):
    out = tmp_path / "stopped.wav"
    asked = []

    def should_stop() -> bool:
        asked.append(1)
        return len(asked) == 2  # after the first sentence

    with pytest.raises(Stopped):
        PiperSpeech().synthesize_sentences(
            f"{SENTENCE} {SENTENCE} {SENTENCE}", out, should_stop=should_stop
        )
    assert len(asked) == 2 and not out.exists()


@pytest.mark.slow
def test_a_long_sentence_is_spoken_in_pieces_and_keeps_one_cue(tmp_path):
    sentence = ", ".join(["the river carries sand from the hills down to the sea"] * 12) + "."
    asked = []
    duration, sentences = PiperSpeech().synthesize_sentences(
        sentence, tmp_path / "long.wav", should_stop=lambda: bool(asked.append(1))
    )
    assert len(asked) == len(speakable_pieces(sentence)) >= 3  # a stop is heard between pieces
    assert [(s, a) for s, a, _ in sentences] == [(sentence, 0.0)]
    assert sentences[0][2] == pytest.approx(duration) and duration > 20


def test_speakable_pieces_cut_long_sentences_after_commas_or_between_words():
    assert speakable_pieces("A short one.") == ["A short one."]
    words = "word " * 200
    pieces = speakable_pieces(words)
    assert all(len(p) <= MAX_PIECE_CHARS for p in pieces)
    assert " ".join(pieces) == words.strip()  # nothing lost, no word cut
    listed = ", ".join(["one two three four five six seven"] * 20)
    assert all(p.endswith(",") for p in speakable_pieces(listed)[:-1])
    assert [len(p) for p in speakable_pieces("x" * 600)] == [250, 250, 100]
