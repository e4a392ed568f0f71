"""The OpenAI-compatible providers, run with the real openai client against a local fake."""

from __future__ import annotations

import array
import io
import json
import math
import struct
import wave

import openai
import pytest
from PIL import Image

from tests.fake_openai import (
    FakeOpenAI,
    animation_spec,
    as_json,
    deck_missing_field,
    deck_with_both_flags,
    deck_with_count,
    draw_png,
    valid_deck,
)
from videoforge.core.errors import ProviderError, RetryableProviderError
from videoforge.core.outline import narrate
from videoforge.core.types import Size, Slide, Usage
from videoforge.providers.llm.answers import extract_json, normalize_animation
from videoforge.providers.llm.openai_text import OpenAIText, forget_schema_rejections
from videoforge.providers.llm.schema import DECK_SCHEMA
from videoforge.providers.openai_client import OpenAIConfig, make_client, redact, translate_error
from videoforge.providers.openai_images import OpenAIImages, save_png
from videoforge.providers.openai_speech import (
    OpenAISpeech,
    normalize_wav,
    read_pcm,
    split_for_speech,
)

LANG = {"language": "English", "tone": "casual"}


@pytest.fixture(autouse=True)
def _fresh_schema_memory():
    forget_schema_rejections()
    yield
    forget_schema_rejections()


@pytest.fixture
def fake():
    with FakeOpenAI() as server:
        yield server


def config(fake: FakeOpenAI, **changes) -> OpenAIConfig:
    values = {"api_key": fake.api_key, "base_url": fake.url, "max_retries": 2, "timeout": 30}
    values.update(changes)
    return OpenAIConfig(**values)


def write_deck(fake: FakeOpenAI, n: int = 4, usage: Usage | None = None, **changes) -> list[Slide]:
    model = OpenAIText(config(fake, **changes))
    return model.write_deck(topic="Tides", num_slides=n, usage=usage or Usage(), **LANG)


# --- the deck ----------------------------------------------------------------------------------


def test_deck_comes_from_one_structured_output_call(fake):
    usage = Usage()
    slides = write_deck(fake, 4, usage)

    [request] = fake.requests
    assert request.body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "slide_deck", "strict": True, "schema": DECK_SCHEMA},
    }
    assert "exactly 4 slides" in request.messages[-1]["content"]
    assert [s.slide_number for s in slides] == [1, 2, 3, 4]
    assert slides[0].image == "ocean tide moon" and slides[0].animation is None
    assert slides[1].animation == {
        "type": "flow",
        "steps": ["Moon pulls", "Water bulges", "Tide rises"],
    }
    assert slides[1].image is None
    assert slides[2].animation == {
        "type": "bar_chart",
        "labels": ["Low", "High"],
        "values": [0.5, 3.2],
        "unit": "m",
    }
    assert slides[3].image is None and slides[3].animation is None
    assert all(s.title and s.bullets and s.narration for s in slides)
    assert usage.as_dict() == {
        "prompt_tokens": 120,
        "completion_tokens": 340,
        "total_tokens": 460,
        "speech_characters": 0,
        "images": 0,
        "requests": 1,
    }


def test_strict_schema_closes_every_object_and_requires_every_key():
    def check(node):
        if isinstance(node, dict):
            if node.get("type") == "object" or "object" in (node.get("type") or []):
                assert node["additionalProperties"] is False
                assert set(node["required"]) == set(node["properties"])
            for value in node.values():
                check(value)
        elif isinstance(node, list):
            for value in node:
                check(value)

    check(DECK_SCHEMA)


def test_rejected_json_schema_falls_back_to_plain_json_and_is_remembered(fake):
    fake.reject_json_schema = True
    model = OpenAIText(config(fake))

    slides = model.write_deck(topic="Tides", num_slides=3, usage=Usage(), **LANG)
    assert len(slides) == 3
    assert [r.status for r in fake.requests] == [400, 200]
    assert fake.requests[0].response_format["type"] == "json_schema"
    assert fake.requests[1].response_format is None

    model.write_deck(topic="Tides", num_slides=2, usage=Usage(), **LANG)
    assert len(fake.requests) == 3  # no second json_schema attempt in this process
    assert fake.requests[2].response_format is None


def test_forced_json_schema_mode_does_not_fall_back(fake):
    fake.reject_json_schema = True
    with pytest.raises(ProviderError, match="rejected the request") as caught:
        write_deck(fake, structured_output="json_schema")
    assert not isinstance(caught.value, RetryableProviderError)
    assert len(fake.requests) == 1


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param("```json\n" + as_json(valid_deck(3)) + "\n```", id="fenced"),
        pytest.param("Here you go: " + as_json(valid_deck(3)) + " Hope that helps!", id="prose"),
        pytest.param(as_json(valid_deck(3)["slides"]), id="top-level-list"),
        pytest.param(
            "Sure [1]. ```\n" + json.dumps(valid_deck(3), indent=2) + "\n``` Done.",
            id="bare-fence-and-brackets-in-prose",
        ),
    ],
)
def test_tolerated_answer_shapes_need_no_second_request(fake, answer):
    fake.script_chat([answer])
    slides = write_deck(fake, 3)
    assert len(fake.requests) == 1
    assert [s.title for s in slides] == ["Tides, part 1", "Tides, part 2", "Tides, part 3"]


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        pytest.param(as_json(deck_missing_field(3, "narration", 1)), "slides[1].narration is missing",
                     id="missing-narration"),
        pytest.param(as_json(deck_missing_field(3, "title", 0)), "slides[0].title is missing",
                     id="missing-title"),
        pytest.param(as_json(deck_missing_field(3, "bullets", 2)), "slides[2].bullets is required",
                     id="missing-bullets"),
        pytest.param(as_json(deck_with_count(2)), "it has 2 slides; exactly 3 are needed",
                     id="too-few-slides"),
        pytest.param(as_json(deck_with_count(5)), "it has 5 slides; exactly 3 are needed",
                     id="too-many-slides"),
        pytest.param("I'm sorry, I cannot produce slides today.", "the answer holds no JSON object",
                     id="not-json"),
        pytest.param("", "the answer was empty", id="empty"),
        pytest.param('{"deck": []}', 'must be an object {"slides": [...]}', id="wrong-key"),
    ],
)  # fmt: skip
def test_invalid_answer_is_asked_again_with_the_problem_named(fake, answer, problem):
    fake.script_chat([answer])
    usage = Usage()
    slides = write_deck(fake, 3, usage)

    assert len(slides) == 3
    first, retry = fake.requests
    assert retry.messages[: len(first.messages)] == first.messages
    assert retry.messages[-2] == {"role": "assistant", "content": answer}
    correction = retry.messages[-1]
    assert correction["role"] == "user"
    assert correction["content"].startswith("Your previous answer was invalid: ")
    assert problem in correction["content"]
    assert correction["content"].endswith("Answer again with only the JSON object.")
    assert usage.requests == 2 and usage.prompt_tokens == 240


def test_three_invalid_answers_give_a_provider_error(fake):
    fake.script_chat(["not json", "still not json", as_json(deck_with_count(1))])
    with pytest.raises(ProviderError) as caught:
        write_deck(fake, 3)
    assert not isinstance(caught.value, RetryableProviderError)
    assert str(caught.value) == (
        "openai: the text model gave no valid slide deck after 3 attempts: "
        "it has 1 slides; exactly 3 are needed"
    )
    assert len(fake.requests) == 3


def test_a_slide_with_image_and_usable_animation_keeps_the_animation(fake):
    fake.script_chat([as_json(deck_with_both_flags(3, index=1))])
    slides = write_deck(fake, 3)
    assert len(fake.requests) == 1  # a fix, not a retry
    assert slides[1].animation == {"type": "cycle", "stages": ["High", "Ebb", "Low", "Flood"]}
    assert slides[1].image is None


def test_a_slide_with_image_and_unusable_animation_keeps_the_image(fake):
    broken = animation_spec("bar_chart", labels=["a", "b", "c"], values=[1, 2])
    fake.script_chat([as_json(deck_with_both_flags(3, index=1, animation=broken))])
    slides = write_deck(fake, 3)
    assert len(fake.requests) == 1
    assert slides[1].animation is None
    assert slides[1].image == "tide pool"


def test_an_unusable_animation_alone_is_dropped(fake):
    deck = valid_deck(3)
    deck["slides"][1]["animation"] = animation_spec("flow", steps=["only one"])
    fake.script_chat([as_json(deck)])
    slides = write_deck(fake, 3)
    assert slides[1].animation is None and slides[1].image is None


def test_local_server_without_usage_still_counts_requests(fake):
    fake.include_usage = False
    usage = Usage()
    write_deck(fake, 2, usage)
    assert (usage.prompt_tokens, usage.completion_tokens, usage.requests) == (0, 0, 1)


# --- narration ---------------------------------------------------------------------------------


def _outline_slides() -> list[Slide]:
    return [
        Slide(1, "Why tides", ("The moon", "The sun"), narrate("Why tides", ("The moon", "The sun"))),
        Slide(2, "Spring tides", ("Sun and moon aligned",), "My own words about spring tides."),
        Slide(3, "Neap tides", ("Quarter moon",), "", animation={"type": "bullets"}),
    ]  # fmt: skip


def test_narration_is_written_for_slides_without_their_own(fake):
    usage = Usage()
    slides = OpenAIText(config(fake)).write_narration(
        _outline_slides(), topic="Tides", usage=usage, **LANG
    )

    [request] = fake.requests
    assert request.response_format["json_schema"]["name"] == "narrations"
    prompt = request.messages[-1]["content"]
    assert "exactly 2 narrations, for slides 1, 3" in prompt
    assert "Slide 1: Why tides [NARRATE]" in prompt and "Slide 2: Spring tides\n" in prompt
    assert slides[0].narration.startswith("Narration 1.")
    assert slides[1].narration == "My own words about spring tides."
    assert slides[2].narration.startswith("Narration 2.")
    assert [(s.title, s.bullets, s.animation) for s in slides] == [
        (s.title, s.bullets, s.animation) for s in _outline_slides()
    ]
    assert usage.requests == 1


def test_narration_with_the_wrong_count_is_asked_again(fake):
    fake.script_chat([as_json({"narrations": ["just one"]})])
    slides = OpenAIText(config(fake)).write_narration(
        _outline_slides(), topic="Tides", usage=Usage(), **LANG
    )
    assert len(fake.requests) == 2
    assert "it has 1 narrations; exactly 2 are needed" in fake.requests[1].messages[-1]["content"]
    assert slides[2].narration.startswith("Narration 2.")


def test_narration_needs_no_call_when_every_slide_has_its_own(fake):
    slides = [Slide(1, "A", ("b",), "Written by hand.")]
    assert (
        OpenAIText(config(fake)).write_narration(slides, topic="A", usage=Usage(), **LANG) == slides
    )
    assert fake.requests == []


# --- retries and errors ------------------------------------------------------------------------


def test_429_waits_for_retry_after_then_succeeds(fake):
    fake.script_status("chat", [(429, None, {"Retry-After": "1"})])
    slides = write_deck(fake, 2)
    assert len(slides) == 2
    limited, retried = fake.requests
    assert (limited.status, retried.status) == (429, 200)
    assert retried.at - limited.at >= 1.0
    assert retried.headers["x-stainless-retry-count"] == "1"


def test_500_until_the_retries_are_spent_is_retryable(fake):
    fake.script_status("chat", [(500, None, {})] * 3)
    with pytest.raises(RetryableProviderError) as caught:
        write_deck(fake, 2, max_retries=2)
    assert len(fake.requests) == 3  # the first try and the client's 2 retries
    message = str(caught.value)
    assert message.startswith("openai: generating_content: the service failed (HTTP 500)")
    assert "retries were spent" in message and "request id req_" in message


def test_wrong_key_fails_fast_naming_the_setting_without_the_key(fake):
    wrong = "sk-wrong-key-0123456789abcdefABCDEF"
    with pytest.raises(ProviderError) as caught:
        write_deck(fake, 2, api_key=wrong)
    assert not isinstance(caught.value, RetryableProviderError)
    assert len(fake.requests) == 1
    message = str(caught.value)
    assert "OPENAI_API_KEY is wrong or lacks access" in message
    assert wrong not in message and wrong[:8] not in message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_the_raw_client_error_does_carry_the_key_so_redaction_matters(fake):
    wrong = "sk-wrong-key-0123456789abcdefABCDEF"
    client = make_client(config(fake, api_key=wrong))
    with pytest.raises(openai.AuthenticationError) as caught:
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    assert wrong in str(caught.value)
    translated = translate_error(
        caught.value, step="generating_content", setting_hint="X", secrets=[wrong]
    )
    assert wrong not in str(translated) and "***" in str(translated)


def test_unknown_model_names_the_model_setting(fake):
    fake.script_status("chat", [(404, None)])
    with pytest.raises(ProviderError, match="check VIDEOFORGE_TEXT_MODEL and OPENAI_BASE_URL"):
        write_deck(fake, 2)
    assert len(fake.requests) == 1


def test_used_up_quota_is_not_retryable(fake):
    body = {"error": {"message": "You exceeded your current quota.", "type": "insufficient_quota",
                      "param": None, "code": "insufficient_quota"}}  # fmt: skip
    fake.script_status("chat", [(429, body, {"Retry-After": "0.01"})] * 3)
    with pytest.raises(ProviderError, match="no quota left") as caught:
        write_deck(fake, 2)
    assert not isinstance(caught.value, RetryableProviderError)


def test_unreachable_server_is_retryable():
    closed = OpenAIConfig(api_key="k", base_url="http://127.0.0.1:9/v1", max_retries=0, timeout=5)
    with pytest.raises(RetryableProviderError, match="could not connect"):
        OpenAIText(closed).write_deck(topic="T", num_slides=1, usage=Usage(), **LANG)


def test_redact_removes_secrets_and_their_long_prefixes():
    key = "sk-proj-ABCDEFGHIJKLMNOP"
    text = f"key {key}, cut {key[:12]}, short {key[:6]}, again {key}xyz"
    assert redact(text, [key]) == "key ***, cut ***, short sk-pro, again ***xyz"
    assert redact("pin 1234 here", ["1234"]) == "pin *** here"
    assert redact("nothing", ["", "zzzzzzzzzz"]) == "nothing"


def test_config_repr_hides_the_key():
    assert "sk-secret" not in repr(OpenAIConfig(api_key="sk-secret-123456", base_url=None))


# --- tolerant parsing and animation specs ------------------------------------------------------


def test_extract_json_prefers_the_longest_value_in_prose():
    assert extract_json('See [1] and {"slides": [{"a": 1}]} ok') == {"slides": [{"a": 1}]}
    assert extract_json("```\n[1, 2]\n```") == [1, 2]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (animation_spec("bullets"), {"type": "bullets"}),
        (animation_spec("flow", steps=[" a ", "b"]), {"type": "flow", "steps": ["a", "b"]}),
        (animation_spec("cycle", stages=["a", "b"]), None),
        (animation_spec("bar_chart", labels=["a"], values=[True]), None),
        (animation_spec("bar_chart", labels=["a"], values=[2], unit=""),
         {"type": "bar_chart", "labels": ["a"], "values": [2]}),
        (animation_spec("timeline", events=[{"label": "x", "when": "1900"}] * 2),
         {"type": "timeline", "events": [{"label": "x", "when": "1900"}] * 2}),
        (animation_spec("timeline", events=[{"label": "x"}] * 2), None),
        (animation_spec("function_plot", expression="sin(x) * x^2", x_min=-3, x_max=3.5),
         {"type": "function_plot", "expression": "sin(x) * x^2", "x_min": -3, "x_max": 3.5}),
        (animation_spec("function_plot", expression="__import__('os')", x_min=0, x_max=1), None),
        (animation_spec("function_plot", expression="x", x_min=2, x_max=1), None),
        (animation_spec("equation", terms=["E", "=", "mc^2"]),
         {"type": "equation", "terms": ["E", "=", "mc^2"]}),
        ({"type": "video", "url": "http://x"}, None),
        ("flow", None),
    ],
)  # fmt: skip
def test_normalize_animation(spec, expected):
    assert normalize_animation(spec, bullets=("A bullet",)) == expected


# --- speech ------------------------------------------------------------------------------------


def _tone_wav(seconds: float = 0.5, rate: int = 16000) -> bytes:
    samples = array.array(
        "h",
        (int(8000 * math.sin(2 * math.pi * 440 * i / rate)) for i in range(int(seconds * rate))),
    )
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(samples.tobytes())
    return out.getvalue()


def _streamed(raw: bytes) -> bytes:
    data = bytearray(raw)
    data[4:8] = data[40:44] = b"\xff\xff\xff\xff"
    return bytes(data)


def test_normalize_wav_rewrites_a_streamed_header(tmp_path):
    raw = _streamed(_tone_wav(0.5))
    with wave.open(io.BytesIO(raw)) as broken:
        assert broken.getnframes() > 1_000_000_000  # what a plain reader believes
    out = tmp_path / "fixed.wav"
    assert normalize_wav(raw, out) == pytest.approx(0.5)
    with wave.open(str(out)) as fixed:
        assert (fixed.getnframes(), fixed.getframerate()) == (8000, 16000)


def test_read_pcm_skips_other_chunks_and_refuses_non_wav():
    raw = _tone_wav(0.1)
    extra = b"LIST" + struct.pack("<I", 5) + b"abcde\x00"  # an odd-sized chunk and its pad byte
    channels, width, rate, frames = read_pcm(raw[:36] + extra + raw[36:])
    assert (channels, width, rate, len(frames)) == (1, 2, 16000, 3200)
    with pytest.raises(ProviderError, match="not a WAV file"):
        read_pcm(b"ID3\x04 an mp3 perhaps")


def test_split_for_speech_stays_under_the_limit_between_sentences():
    text = " ".join(f"Sentence number {i} is here." for i in range(400))
    pieces = split_for_speech(text)
    assert len(pieces) > 1 and all(len(p) <= 4000 for p in pieces)
    assert all(p.endswith(".") for p in pieces)
    assert " ".join(pieces) == text
    assert split_for_speech("Short.") == ["Short."]


def test_speech_voice_id_and_languages(fake):
    speech = OpenAISpeech(config(fake, speech_voice="nova"))
    assert speech.voice_id() == "openai:gpt-4o-mini-tts:nova"
    assert speech.supports("German") and speech.supports("ja") and not speech.supports(" ")


def test_speech_with_a_wrong_key_names_the_setting(fake, tmp_path):
    wrong = "sk-wrong-key-for-speech-0123456789"
    speech = OpenAISpeech(config(fake, api_key=wrong))
    with pytest.raises(ProviderError, match="generating_audio: .*OPENAI_API_KEY") as caught:
        speech.synthesize("Hello there.", tmp_path / "a.wav")
    assert wrong not in str(caught.value)
    assert not (tmp_path / "a.wav").exists()


@pytest.mark.slow
def test_speech_is_real_audible_wav_and_counted(fake, tmp_path):
    text = "Tides rise and fall twice a day because the moon pulls on the oceans."
    usage = Usage()
    speech = OpenAISpeech(config(fake)).with_usage(usage)
    out = tmp_path / "slide.wav"

    duration = speech.synthesize(text, out)

    [request] = fake.requests
    assert request.body == {
        "model": "gpt-4o-mini-tts",
        "voice": "alloy",
        "input": text,
        "response_format": "wav",
    }
    with wave.open(str(out)) as wav:
        frames = wav.readframes(wav.getnframes())
        assert wav.getnframes() / wav.getframerate() == pytest.approx(duration)
        assert len(frames) == wav.getnframes() * wav.getsampwidth() * wav.getnchannels()
    assert duration > 0.5
    samples = array.array("h", frames)
    assert math.sqrt(sum(s * s for s in samples) / len(samples)) > 300  # not silence
    assert (usage.speech_characters, usage.requests) == (len(text), 1)


# --- images ------------------------------------------------------------------------------------


def test_gpt_image_gives_a_png_without_asking_for_a_response_format(fake, tmp_path):
    usage = Usage()
    images = OpenAIImages(config(fake, image_model="gpt-image-1")).with_usage(usage)

    found = images.find("ocean tide moon", workdir=tmp_path, size=Size(1920, 1080))

    [request] = fake.requests
    assert "response_format" not in request.body
    assert request.body["size"] == "1536x1024" and request.body["model"] == "gpt-image-1"
    assert "ocean tide moon" in request.body["prompt"]
    assert found.path.parent == tmp_path and found.path.suffix == ".png"
    with Image.open(found.path) as image:
        assert (image.format, image.mode, image.size) == ("PNG", "RGB", (1536, 1024))
    assert (found.source, found.title, found.author, found.license) == (
        "openai",
        "ocean tide moon",
        "gpt-image-1",
        "generated",
    )
    assert (usage.images, usage.requests) == (1, 1)


def test_dall_e_3_is_asked_for_b64_json_at_its_own_sizes(fake, tmp_path):
    images = OpenAIImages(config(fake, image_model="dall-e-3"))
    found = images.find("water cycle", workdir=tmp_path, size=Size(1080, 1920))
    [request] = fake.requests
    assert request.body["response_format"] == "b64_json" and request.body["size"] == "1024x1792"
    with Image.open(found.path) as image:
        assert image.size == (1024, 1792)


def test_an_image_answered_by_url_only_is_not_fetched(fake, tmp_path):
    fake.image_as_url = True
    images = OpenAIImages(config(fake, image_model="dall-e-3"))
    assert images.find("moon", workdir=tmp_path, size=Size(1080, 1080)) is None
    assert len(fake.requests) == 1 and list(tmp_path.iterdir()) == []


def test_a_refused_image_prompt_gives_no_picture_but_no_error(fake, tmp_path):
    body = {"error": {"message": "Your request was rejected by the safety system.",
                      "type": "image_generation_user_error", "param": None,
                      "code": "moderation_blocked"}}  # fmt: skip
    fake.script_status("images", [(400, body)])
    images = OpenAIImages(config(fake, image_model="gpt-image-1"))
    assert images.find("something", workdir=tmp_path, size=Size(1280, 720)) is None


def test_image_errors_name_the_image_model_setting(fake, tmp_path):
    fake.script_status("images", [(404, None)])
    images = OpenAIImages(config(fake, image_model="gpt-image-9"))
    with pytest.raises(ProviderError, match="generating_media: .*VIDEOFORGE_IMAGE_MODEL"):
        images.find("moon", workdir=tmp_path, size=Size(1280, 720))


def test_no_image_model_is_a_clear_error(fake):
    with pytest.raises(ProviderError, match="set VIDEOFORGE_IMAGE_MODEL"):
        OpenAIImages(config(fake))


def test_save_png_refuses_non_images_and_oversized_ones(tmp_path):
    with pytest.raises(ProviderError, match="not an image"):
        save_png(b"<html>not a picture</html>", tmp_path / "a.png")
    with pytest.raises(ProviderError, match="over the 100-pixel limit"):
        save_png(draw_png(20, 10), tmp_path / "b.png", max_pixels=100)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_the_spoken_form_is_cut_to_the_services_limit(fake, tmp_path):
    # Numbers in words make a narration longer: the pieces are cut after, not before.
    from videoforge.core.spoken import spoken_form

    text = " ".join(
        f"In {1990 + i % 30}, sales rose {i % 90}% to ${1000 + i}.00." for i in range(60)
    )
    assert len(text) < 4000 < len(spoken_form(text))
    speech = OpenAISpeech(config(fake))
    speech.synthesize(text, tmp_path / "a.wav", say=spoken_form)
    sent = [r.body["input"] for r in fake.requests_to("speech")]
    assert len(sent) > 1 and all(len(piece) <= 4096 for piece in sent)
    assert " ".join(sent) == spoken_form(text)
