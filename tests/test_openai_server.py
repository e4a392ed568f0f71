"""A bare topic becomes a video through a language model: the real server and worker processes
talk to a local fake of the OpenAI API (the real openai client on the wire)."""

from __future__ import annotations

import sqlite3

import pytest

from tests.fake_openai import FakeOpenAI
from tests.helpers import read_stream, request, request_json

pytestmark = [pytest.mark.server, pytest.mark.slow]


@pytest.fixture
def fake():
    with FakeOpenAI() as server:
        yield server


def openai_service(make_service, fake, **extra):
    svc = make_service(
        OPENAI_API_KEY=fake.api_key,
        OPENAI_BASE_URL=fake.url,
        VIDEOFORGE_OPENAI_RETRIES="1",
        VIDEOFORGE_IMAGE_SOURCES="openai",
        **extra,
    )
    svc.start_web()
    svc.start_worker(pipeline=None)
    return svc


def events_of(svc, body, timeout=180):
    _, _, messages = read_stream(svc, body["progress_url"], timeout=timeout)
    return [m.data for m in messages if m.data and not m.data.get("heartbeat")]


def test_a_topic_alone_becomes_a_video_with_the_models_slides_voice_and_usage(make_service, fake):
    svc = openai_service(make_service, fake)
    _, voices = request_json(svc, "GET", "/api/voices")
    assert voices["default"] == "openai:alloy"
    assert any(v["id"] == "piper:en_US-joe-medium" for v in voices["voices"])
    status, body = request_json(
        svc,
        "POST",
        "/api/generate",
        {
            "topic": "How tides work",
            "num_slides": 3,
            "tone": "storytelling",
            "voice": "openai:nova",
        },
    )
    assert status == 202, body
    events = events_of(svc, body)
    assert [e["status"] for e in events][-2:] == ["completed", "done"], events[-3:]

    _, content = request_json(svc, "GET", f"/api/content/{body['generation_id']}")
    assert len(content["slides"]) == 3
    chat = fake.requests_to("chat")
    assert chat and "storytelling" in str(chat[0].messages).lower()
    speech = fake.requests_to("speech")
    assert len(speech) == 3 and all(r.body["voice"] == "nova" for r in speech)

    _, info = request_json(svc, "GET", f"/api/status/{body['generation_id']}")
    usage = info["usage"]
    assert usage["total_tokens"] > 0 and usage["speech_characters"] > 0
    status, _, video = request(svc, "GET", info["result"]["video_url"])
    assert status == 200 and len(video) > 10_000


def test_an_outline_without_narration_gets_it_from_the_model(make_service, fake):
    svc = openai_service(make_service, fake, VIDEOFORGE_SPEECH="piper")
    slides = [
        {"title": "Rust ownership", "bullets": ["One owner", "Borrowing"]},
        {"title": "Lifetimes", "bullets": ["Scopes"], "narration": "Lifetimes are scopes."},
    ]
    status, body = request_json(svc, "POST", "/api/generate", {"slides": slides})
    assert status == 202
    events = events_of(svc, body)
    assert events[-2]["status"] == "completed"
    _, script = request_json(svc, "GET", f"/api/script/{body['generation_id']}")
    narrations = [s["narration_text"] for s in script["scripts"]]
    assert narrations[1] == "Lifetimes are scopes."  # what the user wrote is kept
    assert narrations[0] and narrations[0] != "Rust ownership. One owner. Borrowing."
    assert len(fake.requests_to("chat")) == 1 and not fake.requests_to("speech")


def test_a_wrong_key_fails_fast_naming_the_setting_and_never_leaks_the_key(make_service, fake):
    svc = make_service(
        OPENAI_API_KEY="sk-live-SECRET-" + "z" * 30,
        OPENAI_BASE_URL=fake.url,
        VIDEOFORGE_SPEECH="piper",
    )
    svc.start_web()
    svc.start_worker(pipeline=None)
    status, body = request_json(svc, "POST", "/api/generate", {"topic": "Volcanoes"})
    assert status == 202
    events = events_of(svc, body)
    error = events[-2]
    assert error["status"] == "error" and events[-1]["status"] == "done"
    assert "generating_content" in error["message"] and "OPENAI_API_KEY" in error["message"]
    assert len(fake.requests_to("chat")) == 1  # 401 is not retried
    secret = "SECRET-" + "z" * 30
    _, _, listing = request(svc, "GET", "/api/generations")
    _, _, status_body = request(svc, "GET", f"/api/status/{body['generation_id']}")
    assert secret not in str(events) and secret.encode() not in listing + status_body
    assert secret not in svc.logs()
    db = sqlite3.connect(svc.data_dir / "videoforge.db")
    for table in ("runs", "events"):
        for row in db.execute(f"SELECT * FROM {table}"):  # noqa: S608 - fixed table names
            assert secret not in repr(row)


def test_server_errors_until_the_retries_are_spent_end_in_an_error_event(make_service, fake):
    svc = openai_service(make_service, fake, VIDEOFORGE_SPEECH="piper")
    fake.script_status("chat", [(500, None)] * 10)
    status, body = request_json(svc, "POST", "/api/generate", {"topic": "Glaciers"})
    events = events_of(svc, body)
    error = events[-2]
    assert error["status"] == "error" and error["progress"] == 0
    assert "openai" in error["message"] and "generating_content" in error["message"]
    _, info = request_json(svc, "GET", f"/api/status/{body['generation_id']}")
    assert info["run_status"] == "error" and info["attempts"] >= 1
