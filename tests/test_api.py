"""The HTTP API through falcon.testing against create_app with a real SQLite store."""

from __future__ import annotations

import falcon.testing
import pytest

from videoforge.core.request import Capabilities, generation_id_for
from videoforge.core.settings import Settings
from videoforge.store.database import Database
from videoforge.store.runs import RunStore
from videoforge.web.app import create_app

OUTLINE = [{"title": "Intro", "bullets": ["a"]}]


def local_client(app: falcon.App) -> falcon.testing.TestClient:
    """Return a test client that names the service as a local browser would."""
    # falcon.testing's default Host, falconframework.org, is not on the allow-list.
    return falcon.testing.TestClient(app, headers={"Host": "localhost:8000"})


@pytest.fixture
def settings(tmp_path):
    return Settings(data_dir=tmp_path, max_body_bytes=64 * 1024)


@pytest.fixture
def client(settings, tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'api.db'}")
    db.migrate()
    app = create_app(settings, RunStore(db), capabilities=Capabilities())
    return local_client(app)


@pytest.mark.parametrize(
    ("topic", "expected"),
    [
        ("Introduction to Machine Learning", "Introduction_to_Machine_Learn"),
        ("  spaced\t\n out  ", "spaced_out"),
        ("C++ & Rust: a comparison!", "C__Rust_a_comparison"),
        ("Ünïcödé façade", "Ünïcödé_façade"),
        ("مقدمة في التعلم الآلي", "مقدمة_في_التعلم_الآلي"),
        ("🎉🎉🎉", ""),
        ("a-b_c d", "a-b_c_d"),
        ("x" * 40, "x" * 29),
    ],
)
def test_generation_id_follows_the_contract_rule(topic, expected):
    assert generation_id_for(topic) == expected


def test_post_answers_202_with_the_urls_a_client_needs(client):
    resp = client.simulate_post("/api/generate", json={"topic": "Intro to X", "slides": OUTLINE})
    assert resp.status_code == 202
    body = resp.json
    assert body["generation_id"] == "Intro_to_X"
    assert body["status"] == "queued"
    assert body["progress_url"] == "/api/progress/Intro_to_X"
    assert body["status_url"] == "/api/status/Intro_to_X"


def test_topic_is_derived_from_the_outline_when_missing(client):
    resp = client.simulate_post("/api/generate", json={"slides": OUTLINE})
    assert resp.status_code == 202 and resp.json["generation_id"] == "Intro"


def test_topic_alone_without_a_model_is_422_saying_what_to_configure(client):
    resp = client.simulate_post("/api/generate", json={"topic": "Quantum"})
    assert resp.status_code == 422
    assert "OPENAI_API_KEY" in resp.json["detail"] and "slides" in resp.json["detail"]


def test_a_language_no_voice_speaks_is_422_saying_how_to_add_one(client):
    resp = client.simulate_post("/api/generate", json={"slides": OUTLINE, "language": "klingon"})
    assert resp.status_code == 422
    assert "klingon" in resp.json["detail"] and "VIDEOFORGE_PIPER_VOICE" in resp.json["detail"]


def test_voices_lists_the_offline_voice_as_default(client):
    resp = client.simulate_get("/api/voices")
    assert resp.status_code == 200
    (voice,) = resp.json["voices"]
    assert voice["id"] == "piper:en_US-joe-medium" and voice["default"] is True


def test_an_unknown_voice_is_400(client):
    resp = client.simulate_post("/api/generate", json={"slides": OUTLINE, "voice": "nobody"})
    assert resp.status_code == 400 and "/api/voices" in resp.json["detail"]


def test_oversized_body_is_413(client):
    resp = client.simulate_post(
        "/api/generate", body=b"{" + b" " * 70_000 + b"}", content_type="application/json"
    )
    assert resp.status_code == 413 and resp.json["detail"]


def test_unknown_route_and_wrong_method_answer_json_detail(client):
    resp = client.simulate_get("/api/nothing")
    assert resp.status_code == 404 and "no such endpoint" in resp.json["detail"]
    resp = client.simulate_put("/api/generate")
    assert resp.status_code == 405 and resp.json["detail"].startswith("method PUT")


def test_status_of_an_unknown_id_is_404(client):
    resp = client.simulate_get("/api/status/Never_seen")
    assert resp.status_code == 404 and "Never_seen" in resp.json["detail"]


def test_status_reports_the_newest_run_and_its_latest_event(client):
    client.simulate_post("/api/generate", json={"slides": OUTLINE})
    resp = client.simulate_get("/api/status/Intro")
    assert resp.status_code == 200
    assert resp.json["status"] == "waiting" and resp.json["run_status"] == "queued"
    assert resp.json["progress"] == 0


def test_list_rejects_bad_paging(client):
    assert client.simulate_get("/api/generations", params={"limit": "0"}).status_code == 400
    assert client.simulate_get("/api/generations", params={"limit": "x"}).status_code == 400
    assert client.simulate_get("/api/generations", params={"limit": "5"}).status_code == 200


def test_health_is_503_when_the_database_cannot_be_reached(settings, tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    db = Database(f"sqlite:///{blocker / 'db.sqlite'}")  # its parent is a file
    app = create_app(settings, RunStore(db))
    resp = local_client(app).simulate_get("/health")
    assert resp.status_code == 503 and resp.json["detail"]


def test_outputs_of_an_unknown_or_unfinished_run_are_404(client):
    client.simulate_post("/api/generate", json={"slides": OUTLINE})
    for path in (
        "/api/content/Intro",
        "/api/script/Intro",
        "/api/captions/Intro.vtt",
        "/api/generations/Intro/video",
        "/api/video/Intro-1.mp4",
    ):
        resp = client.simulate_get(path)
        assert resp.status_code == 404 and resp.json["detail"], path
    assert client.simulate_get("/api/captions/Intro.txt").status_code == 404


def test_video_names_cannot_escape_the_videos_folder(client, settings):
    (settings.data_dir / "secret.mp4").write_bytes(b"x")
    for name in ("..%2Fsecret.mp4", "%2E%2E%2Fsecret.mp4", "....mp4", "a.mp4%00"):
        resp = client.simulate_get(f"/api/video/{name}")
        assert resp.status_code in (400, 404), name


def test_api_calls_answer_503_not_500_when_the_database_is_away(settings, tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    app = create_app(settings, RunStore(Database(f"sqlite:///{blocker / 'db.sqlite'}")))
    client = local_client(app)
    for method, path in (
        ("GET", "/api/status/x"),
        ("GET", "/api/generations"),
        ("POST", "/api/generate"),
    ):
        resp = client.simulate_request(method, path, json={"slides": OUTLINE})
        assert resp.status_code == 503 and "database" in resp.json["detail"], path
