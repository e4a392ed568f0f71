"""Sentences end at the punctuation of each script: for captions, speech chunks and documents."""

from __future__ import annotations

import pytest

from tests.fake_openai import FakeOpenAI
from tests.helpers import read_stream, request, request_json
from videoforge.core.text import split_sentences
from videoforge.pipeline.captions import sentence_cues

HINDI = "प्रकाश संश्लेषण पौधों में होता है। पत्तियाँ सूर्य का प्रकाश लेती हैं। क्या यह सरल है? हाँ, यह सरल है॥"
CHINESE = "植物利用阳光制造食物。叶子是绿色的！这很简单吗？「是的。」最后一句"
ARABIC = "هل هذا سهل؟ نعم، هذا سهل."


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            HINDI,
            [
                "प्रकाश संश्लेषण पौधों में होता है।",
                "पत्तियाँ सूर्य का प्रकाश लेती हैं।",
                "क्या यह सरल है?",
                "हाँ, यह सरल है॥",
            ],
        ),
        (
            CHINESE,
            ["植物利用阳光制造食物。", "叶子是绿色的！", "这很简单吗？", "「是的。」", "最后一句"],
        ),
        (ARABIC, ["هل هذا سهل؟", "نعم، هذا سهل."]),
        (
            "日本語です。English follows. また日本語。",
            ["日本語です。", "English follows.", "また日本語。"],
        ),
        ("No script marks here, e.g. Dr. Smith.", ["No script marks here, e.g. Dr. Smith."]),
    ],
)
def test_sentences_end_at_each_scripts_punctuation(text, expected):
    assert split_sentences(text) == expected


@pytest.mark.parametrize("text, count", [(HINDI, 4), (CHINESE, 5)])
def test_length_timed_captions_get_one_cue_per_sentence(text, count):
    cues = sentence_cues(text, 12.0)
    assert len(cues) == count
    assert cues[0].start == 0 and cues[-1].end == pytest.approx(12.0)
    assert "".join(c.text for c in cues).replace(" ", "") == text.replace(" ", "")


@pytest.mark.server
@pytest.mark.slow
@pytest.mark.parametrize(
    ("language", "text", "count"), [("hindi", HINDI, 4), ("chinese", CHINESE, 5)]
)
def test_a_hindi_or_chinese_narration_gets_a_caption_per_sentence(
    make_service, language, text, count
):
    # Through the real server and worker; the speech service is a local fake of OpenAI's.
    with FakeOpenAI() as fake:
        svc = make_service(OPENAI_API_KEY=fake.api_key, OPENAI_BASE_URL=fake.url)
        svc.start_web()
        svc.start_worker(pipeline=None)
        slide = {"title": "Slide", "bullets": ["One"], "narration": text}
        body = {"topic": f"Captions {language}", "slides": [slide], "language": language}
        status, posted = request_json(svc, "POST", "/api/generate", body)
        assert status == 202, posted
        _, _, messages = read_stream(svc, posted["progress_url"], timeout=180)
        assert messages[-2].data["status"] == "completed", [m.data for m in messages[-4:]]
        _, _, vtt = request(svc, "GET", f"/api/captions/{posted['generation_id']}.vtt")
    cues = [block for block in vtt.decode().split("\n\n") if " --> " in block]
    assert len(cues) == count, cues
    for cue, sentence in zip(cues, split_sentences(text), strict=True):
        assert cue.splitlines()[-1] == sentence
