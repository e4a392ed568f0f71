"""The service as users run it: serve.py and worker.py as real processes, a plain HTTP client."""

from __future__ import annotations

import re
import signal
import socket
import time

import pytest

from tests.helpers import read_stream, request, request_json

pytestmark = [pytest.mark.server, pytest.mark.slow]

CONTRACT_ORDER = [
    "connected",
    "waiting",
    "started",
    "generating_content",
    "generating_scripts",
    "generating_audio",
    "combining_audio",
    "generating_media",
    "generating_animation",
    "fetching_image",
    "generating_slide",
    "composing_video",
    "completed",
    "error",
    "done",
]
OUTLINE = [{"title": "Intro", "bullets": ["one", "two"]}]


def post(service, topic, **extra):
    return request_json(
        service, "POST", "/api/generate", {"topic": topic, "slides": OUTLINE, **extra}
    )


def wait_for_status(service, gid, wanted, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        status, body = request_json(service, "GET", f"/api/status/{gid}")
        if status == 200 and body["run_status"] in wanted:
            return body
        time.sleep(0.05)
    raise AssertionError(f"{gid} did not reach {wanted}: {body}\n{service.logs()}")


def test_stream_follows_the_published_contract_end_to_end(service):
    service.env["VF_TEST_STEP_DELAY"] = "0.05"
    service.start_web()
    service.start_worker()
    status, body = post(service, "Introduction to Machine Learning")
    assert status == 202
    assert body["generation_id"] == "Introduction_to_Machine_Learn"
    assert body["progress_url"] == "/api/progress/Introduction_to_Machine_Learn"
    assert body["status_url"] == "/api/status/Introduction_to_Machine_Learn"

    code, headers, messages = read_stream(service, body["progress_url"])
    assert code == 200
    assert headers["content-type"].startswith("text/event-stream")
    assert headers["cache-control"] == "no-cache, no-transform"
    assert headers["x-accel-buffering"] == "no"
    assert headers["content-encoding"] == "none"

    assert messages[0].retry is not None
    data = [m.data for m in messages if m.data is not None]
    assert (
        data[0]["status"] == "connected" and data[0]["message"] == "📡 Connected to progress stream"
    )
    assert data[-1] == {**data[-1], "status": "done", "message": "✅ Stream ended"}
    assert data[-2]["status"] == "completed" and data[-2]["progress"] == 100
    assert data[-2]["message"] == "✅ Video generation complete!"
    for item in data:
        assert set(item) >= {"status", "progress", "message", "timestamp"}
        assert item["status"] in CONTRACT_ORDER
        assert isinstance(item["progress"], int) and 0 <= item["progress"] <= 100
        assert re.fullmatch(r"\d\d:\d\d:\d\d", item["timestamp"])
    steps = [
        d
        for d in data
        if not d.get("heartbeat") and d["status"] not in ("connected", "waiting", "done")
    ]
    assert [s["status"] for s in steps][:3] == [
        "started",
        "generating_content",
        "generating_scripts",
    ]
    progress = [s["progress"] for s in steps]
    assert progress == sorted(progress)
    # every message has an id, stored events' ids strictly increase
    assert all(m.id is not None for m in messages if m.data is not None)
    stored = [
        int(m.id)
        for m in messages
        if m.data
        and m.data["status"] not in ("connected", "waiting", "done")
        and not m.data.get("heartbeat")
    ]
    assert stored == sorted(set(stored))


def test_every_event_is_delivered_once_in_order_even_within_one_poll(make_service):
    # a 2 s poll while the double writes all its events within a fraction of a second
    svc = make_service(VIDEOFORGE_POLL_INTERVAL="2", VF_TEST_STEP_DELAY="0")
    svc.start_web()
    svc.start_worker()
    _, body = post(svc, "Burst of events")
    _, _, messages = read_stream(svc, body["progress_url"])
    statuses = [m.data["status"] for m in messages if m.data and not m.data.get("heartbeat")]
    assert statuses[0] == "connected"
    assert statuses[-2:] == ["completed", "done"]
    events = [s for s in statuses if s not in ("connected", "waiting", "done")]
    assert events == [
        "started",
        "generating_content",
        "generating_scripts",
        "generating_audio",
        "generating_audio",
        "combining_audio",
        "generating_media",
        "generating_slide",
        "composing_video",
        "completed",
    ]


def test_waiting_phase_then_quiet_polling_until_the_configured_timeout(make_service):
    svc = make_service(
        VIDEOFORGE_WAITING_PERIOD="1",
        VIDEOFORGE_STREAM_TIMEOUT="3",
        VIDEOFORGE_HEARTBEAT_INTERVAL="0.5",
    )
    svc.start_web()
    began = time.time()
    _, _, messages = read_stream(svc, "/api/progress/Nobody_asked_for_this")
    elapsed = time.time() - began
    assert 2.5 <= elapsed <= 8
    waiting = [m for m in messages if m.data and m.data["status"] == "waiting"]
    assert waiting and all(m.received_at - began <= 1.6 for m in waiting)
    later = [m for m in messages if m.received_at - began > 1.6]
    assert any(m.comment == "keepalive" for m in later)  # quiet: comments, no waiting messages
    assert messages[-1].data["status"] == "done" and "timed out" in messages[-1].data["message"]


def test_last_event_id_replays_exactly_the_events_after_it(service):
    service.start_web()
    service.start_worker()
    _, body = post(service, "Replay me")
    _, _, first = read_stream(service, body["progress_url"])
    stored = [
        m
        for m in first
        if m.data
        and m.data["status"] not in ("connected", "waiting", "done")
        and not m.data.get("heartbeat")
    ]
    cut = stored[3]
    _, _, again = read_stream(service, body["progress_url"], headers={"Last-Event-ID": cut.id})
    replayed = [m for m in again if m.data and m.data["status"] not in ("connected", "done")]
    assert [(m.id, m.data["status"]) for m in replayed] == [
        (m.id, m.data["status"]) for m in stored[4:]
    ]
    assert again[-1].data["status"] == "done"
    # a reconnect that already saw the final event (EventSource reconnects by itself) ends at once
    began = time.time()
    _, _, after_end = read_stream(
        service, body["progress_url"], headers={"Last-Event-ID": stored[-1].id}
    )
    assert [m.data["status"] for m in after_end] == ["connected", "done"]
    assert time.time() - began < 2


def test_a_finished_run_sends_its_final_status_and_done_at_once(service):
    service.start_web()
    service.start_worker()
    _, body = post(service, "Already done")
    wait_for_status(service, body["generation_id"], ("completed",))
    began = time.time()
    _, _, messages = read_stream(service, body["progress_url"])
    assert time.time() - began < 2
    assert [m.data["status"] for m in messages] == ["connected", "completed", "done"]


def test_heartbeats_every_interval_carry_the_latest_status(make_service):
    svc = make_service(
        VIDEOFORGE_HEARTBEAT_INTERVAL="0.25",
        VIDEOFORGE_POLL_INTERVAL="0.1",
        VF_TEST_STEP_DELAY="0.7",
    )
    svc.start_web()
    svc.start_worker()
    _, body = post(svc, "Slow steps")
    _, _, messages = read_stream(svc, body["progress_url"])
    beats = [m for m in messages if m.data and m.data.get("heartbeat")]
    assert len(beats) >= 5
    for beat in beats:
        previous = [
            m
            for m in messages
            if m.data and not m.data.get("heartbeat") and m.received_at <= beat.received_at
        ]
        assert beat.data["status"] in (previous[-1].data["status"], "waiting")
        assert beat.id == previous[-1].id  # the heartbeat does not move Last-Event-ID on


def test_a_failing_run_ends_in_an_error_event_naming_the_step_then_done(service):
    service.start_web()
    service.start_worker()
    _, body = post(service, "Please explode")
    _, _, messages = read_stream(service, body["progress_url"])
    data = [m.data for m in messages if m.data]
    assert data[-1]["status"] == "done"
    error = data[-2]
    assert error["status"] == "error" and error["progress"] == 0
    assert error["message"].startswith("❌ Error: generating_audio failed:")
    assert "asked to fail" in error["message"]
    status, info = request_json(service, "GET", f"/api/status/{body['generation_id']}")
    assert info["run_status"] == "error"
    # a failed run can be started again under the same id
    assert post(service, "Please explode")[0] == 202


def test_cancel_ends_the_run_with_an_error_event_then_done(make_service):
    svc = make_service(VF_TEST_STEP_DELAY="0.5")
    svc.start_web()
    svc.start_worker()
    _, body = post(svc, "Cancel me")
    gid = body["generation_id"]
    wait_for_status(svc, gid, ("running",))
    status, cancelled = request_json(svc, "DELETE", f"/api/generations/{gid}")
    assert status == 200 and cancelled["status"] == "cancelled"
    _, _, messages = read_stream(svc, body["progress_url"])
    data = [m.data for m in messages if m.data]
    assert data[-2]["status"] == "error" and "cancelled" in data[-2]["message"]
    assert data[-1]["status"] == "done"
    assert request_json(svc, "DELETE", f"/api/generations/{gid}")[0] == 409
    time.sleep(1.5)  # the worker noticed and did not complete it
    assert request_json(svc, "GET", f"/api/status/{gid}")[1]["run_status"] == "cancelled"
    # the worker is free for the next run
    _, nxt = post(svc, "Next one")
    wait_for_status(svc, nxt["generation_id"], ("completed",), timeout=20)


def test_a_second_post_while_running_is_409_and_history_keeps_runs(make_service):
    svc = make_service(VF_TEST_STEP_DELAY="0.3")
    svc.start_web()
    svc.start_worker()
    _, body = post(svc, "History")
    status, conflict = post(svc, "History")
    assert status == 409 and conflict["status"] in ("queued", "running") and conflict["detail"]
    wait_for_status(svc, "History", ("completed",))
    assert post(svc, "History")[0] == 202
    wait_for_status(svc, "History", ("completed",))
    _, item = request_json(svc, "GET", "/api/generations/History")
    assert len(item["history"]) == 2 and item["run_id"] == item["history"][0]["run_id"]
    _, listing = request_json(svc, "GET", "/api/generations?limit=1")
    assert listing["total"] == 2 and len(listing["generations"]) == 1


def test_two_workers_racing_over_50_runs_work_on_each_exactly_once(make_service):
    # all 50 are queued at once from one address, past the default per-client limit
    svc = make_service(VF_TEST_STEP_DELAY="0", VIDEOFORGE_MAX_QUEUED_PER_CLIENT="50")
    svc.start_web()
    ids = []
    for i in range(50):
        status, body = post(svc, f"race run {i}")
        assert status == 202
        ids.append(body["run_id"])
    svc.start_worker()
    svc.start_worker()
    for i in range(50):
        wait_for_status(svc, f"race_run_{i}", ("completed",), timeout=120)
    lines = (svc.data_dir / "runs.log").read_text().split()
    run_ids = lines[0::2]
    pids = set(lines[1::2])
    assert sorted(map(int, run_ids)) == sorted(ids)  # each run exactly once
    assert len(pids) == 2  # and both workers took part


def test_a_worker_killed_mid_run_is_replaced_and_the_stream_reports_completed(make_service):
    svc = make_service(VF_TEST_STEP_DELAY="0.4", VIDEOFORGE_LEASE_SECONDS="1.5")
    svc.start_web()
    doomed = svc.start_worker()
    _, body = post(svc, "Survive a crash")
    gid = body["generation_id"]
    deadline = time.time() + 20
    while time.time() < deadline:
        _, info = request_json(svc, "GET", f"/api/status/{gid}")
        if info["progress"] >= 20:
            break
        time.sleep(0.05)
    doomed.send_signal(signal.SIGKILL)
    doomed.wait()
    svc.start_worker()
    _, _, messages = read_stream(svc, body["progress_url"])
    data = [m.data for m in messages if m.data and not m.data.get("heartbeat")]
    assert data[-2]["status"] == "completed" and data[-1]["status"] == "done"
    assert any("Resuming" in d["message"] for d in data)
    progress = [d["progress"] for d in data if d["status"] not in ("connected", "waiting", "done")]
    assert progress == sorted(progress)  # never backwards within the run
    runs = (svc.data_dir / "runs.log").read_text().split()
    assert runs[0::2] == [str(body["run_id"])] * 2 and len(set(runs[1::2])) == 2


def test_sigterm_releases_the_running_run_and_the_worker_exits(make_service):
    svc = make_service(VF_TEST_STEP_DELAY="1")
    svc.start_web()
    first = svc.start_worker()
    _, body = post(svc, "Graceful")
    wait_for_status(svc, body["generation_id"], ("running",))
    time.sleep(0.3)
    first.send_signal(signal.SIGTERM)
    assert first.wait(timeout=10) == 0
    _, info = request_json(svc, "GET", f"/api/status/{body['generation_id']}")
    assert info["run_status"] == "queued" and info["attempts"] == 0
    svc.start_worker(env={"VF_TEST_STEP_DELAY": "0"})
    wait_for_status(svc, body["generation_id"], ("completed",), timeout=30)


def test_worker_once_drains_the_queue_and_exits(make_service):
    svc = make_service(VF_TEST_STEP_DELAY="0")
    svc.start_web()
    for i in range(3):
        post(svc, f"drain {i}")
    proc = svc.start_worker("--once")
    assert proc.wait(timeout=60) == 0
    for i in range(3):
        assert request_json(svc, "GET", f"/api/status/drain_{i}")[1]["run_status"] == "completed"


def test_past_the_stream_cap_a_client_gets_a_retry_hint_and_a_closed_stream(make_service):
    svc = make_service(
        VIDEOFORGE_MAX_STREAMS="2", VIDEOFORGE_BUSY_RETRY_MS="7000", VIDEOFORGE_WAITING_PERIOD="0"
    )
    svc.start_web()
    holders = []
    for _ in range(2):
        s = socket.create_connection(("127.0.0.1", svc.port))
        s.sendall(b"GET /api/progress/Held HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        s.recv(100)
        holders.append(s)
    began = time.time()
    code, headers, messages = read_stream(svc, "/api/progress/Held")
    assert code == 200 and headers["content-type"].startswith("text/event-stream")
    assert messages[0].retry == 7000 and time.time() - began < 2
    assert request(svc, "GET", "/health")[0] == 200
    for s in holders:
        s.close()
    deadline = time.time() + 10
    while time.time() < deadline:  # hung-up clients free their slots (and threads)
        if request_json(svc, "GET", "/health")[1]["open_streams"] == 0:
            break
        time.sleep(0.2)
    assert request_json(svc, "GET", "/health")[1]["open_streams"] == 0


def test_a_hang_up_frees_an_idle_stream_at_once_however_rare_its_heartbeats(make_service):
    # the stream sleeps until its next heartbeat; the change watcher notices the hang-up
    svc = make_service(
        VIDEOFORGE_HEARTBEAT_INTERVAL="30", VIDEOFORGE_POLL_INTERVAL="10", VF_TEST_STEP_DELAY="5"
    )
    svc.start_web()
    svc.start_worker()
    post(svc, "Long steps")
    wait_for_status(svc, "Long_steps", ("running",))
    s = socket.create_connection(("127.0.0.1", svc.port))
    s.sendall(b"GET /api/progress/Long_steps HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    s.recv(4096)
    time.sleep(0.5)  # caught up, asleep
    assert request_json(svc, "GET", "/health")[1]["open_streams"] == 1
    s.close()
    began = time.time()
    while time.time() - began < 10:
        if request_json(svc, "GET", "/health")[1]["open_streams"] == 0:
            break
        time.sleep(0.05)
    assert time.time() - began < 2


def test_api_token_guards_everything_but_health_and_the_page(make_service):
    svc = make_service(VIDEOFORGE_API_TOKEN="s3cret-token", VIDEOFORGE_STREAM_TIMEOUT="1")
    svc.start_web()
    assert request(svc, "GET", "/health")[0] == 200
    assert request(svc, "GET", "/")[0] == 200
    status, headers, body = request(svc, "GET", "/api/generations")
    assert status == 401 and b"detail" in body and "bearer" in headers["www-authenticate"].lower()
    ok = {"Authorization": "Bearer s3cret-token"}
    assert request(svc, "GET", "/api/generations", headers=ok)[0] == 200
    assert (
        request(svc, "GET", "/api/generations", headers={"Authorization": "Bearer wrong"})[0] == 401
    )
    code, _, messages = read_stream(svc, "/api/progress/X?token=s3cret-token", timeout=20)
    assert code == 200 and messages[0].data["status"] == "connected"


def test_configured_origins_get_cors_headers(service):
    service.start_web()
    _, headers, _ = request(
        service, "GET", "/api/generations", headers={"Origin": "http://localhost:5173"}
    )
    assert headers.get("access-control-allow-origin") == "http://localhost:5173"
    _, headers, _ = request(
        service, "GET", "/api/generations", headers={"Origin": "http://evil.example"}
    )
    assert "access-control-allow-origin" not in headers


@pytest.mark.postgres
def test_web_and_two_workers_share_postgresql_through_database_url(make_service, postgres_url):
    svc = make_service(
        DATABASE_URL=postgres_url, VF_TEST_STEP_DELAY="0", VIDEOFORGE_MAX_QUEUED_PER_CLIENT="10"
    )
    svc.start_web()
    assert request_json(svc, "GET", "/health")[1]["database"] == "postgres"
    for i in range(10):
        assert post(svc, f"pg run {i}")[0] == 202
    svc.start_worker()
    svc.start_worker()
    for i in range(10):
        wait_for_status(svc, f"pg_run_{i}", ("completed",), timeout=60)
    lines = (svc.data_dir / "runs.log").read_text().split()
    assert len(lines[0::2]) == len(set(lines[0::2])) == 10  # each run exactly once
    _, _, messages = read_stream(svc, "/api/progress/pg_run_3")
    assert [m.data["status"] for m in messages] == ["connected", "completed", "done"]
