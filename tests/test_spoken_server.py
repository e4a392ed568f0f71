"""Narration read the way a person would, through the real server and worker: the text the
speech engine receives (a local fake of the OpenAI speech endpoint records it) is the spoken
form, while the captions and the script keep what was written."""

from __future__ import annotations

import pytest

from tests.fake_openai import FakeOpenAI
from tests.helpers import read_stream, request, request_json

pytestmark = [pytest.mark.server, pytest.mark.slow]

WRITTEN = (
    "In 1850, Dr. Nguyen measured 25°C at the 3rd station. "
    "It cost $1,200, e.g. 45% of the budget, on Jan. 5, 2024."
)


@pytest.fixture
def fake():
    with FakeOpenAI() as server:
        yield server


def _run(make_service, fake, body: dict) -> tuple[dict, list[str], str]:
    svc = make_service(OPENAI_API_KEY=fake.api_key, OPENAI_BASE_URL=fake.url)
    svc.start_web()
    svc.start_worker(pipeline=None)
    status, posted = request_json(svc, "POST", "/api/generate", body)
    assert status == 202, posted
    _, _, messages = read_stream(svc, posted["progress_url"], timeout=180)
    assert messages[-2].data["status"] == "completed", [m.data for m in messages[-4:]]
    gid = posted["generation_id"]
    _, script = request_json(svc, "GET", f"/api/script/{gid}")
    _, _, vtt = request(svc, "GET", f"/api/captions/{gid}.vtt")
    said = [r.body["input"] for r in fake.requests_to("speech")]
    return script, said, vtt.decode()


def test_the_speech_engine_gets_the_spoken_form_and_captions_keep_the_written(make_service, fake):
    slide = {
        "title": "A survey",
        "bullets": ["Heat", "Cost"],
        "narration": WRITTEN,
        "pronunciations": {"Nguyen": "win"},
    }
    body = {"topic": "Field survey", "slides": [slide], "voice": "openai:alloy"}
    script, said, vtt = _run(make_service, fake, body)
    spoken = " ".join(said)
    for words in (
        "In eighteen fifty, Doctor win measured twenty-five degrees Celsius at the third station.",
        "one thousand two hundred dollars",
        "for example forty-five percent of the budget",
        "January fifth, twenty twenty-four",
    ):
        assert words in spoken, (words, spoken)
    for written in ("1850", "Dr.", "°C", "$", "%", "e.g.", "Nguyen"):
        assert written not in spoken, (written, spoken)
    assert script["slide_scripts"][0]["narration_text"] == WRITTEN
    assert "In 1850, Dr. Nguyen measured 25°C at the 3rd station." in vtt
    assert "e.g. 45% of the budget, on Jan. 5, 2024." in vtt


def test_another_language_is_read_as_written_but_for_its_pronunciations(make_service, fake):
    slide = {
        "title": "Eine Messung",
        "bullets": ["Wärme"],
        "narration": "Im Jahr 1850 maß Dr. Nguyen 25 Grad.",
        "pronunciations": {"Nguyen": "Wen"},
    }
    body = {"topic": "Messung", "slides": [slide], "voice": "openai:alloy", "language": "german"}
    _, said, _ = _run(make_service, fake, body)
    assert " ".join(said) == "Im Jahr 1850 maß Dr. Wen 25 Grad."
