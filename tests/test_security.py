"""What a hostile web client meets: content types, hosts, tokens, body size, rate limits, binds."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time

import falcon.testing
import pytest
from waitress.server import BaseWSGIServer

from tests.helpers import ROOT, Service, request, request_json, send_large_body
from videoforge.core.errors import Conflict, TooManyRequests
from videoforge.core.request import Capabilities
from videoforge.core.settings import Settings
from videoforge.store.database import Database
from videoforge.store.runs import QueueLimits, RunStore
from videoforge.web.app import create_app
from videoforge.web.hosts import allowed_hosts, host_name, unsafe_bind
from videoforge.web.server import JsonErrorChannel, make_server
from videoforge.web.stream import Admission, StreamGate

OUTLINE = [{"title": "Intro", "bullets": ["a"]}]
TOKEN = "s3cret-token"
BEARER = {"Authorization": f"Bearer {TOKEN}"}


def outline(topic: str) -> dict:
    return {"topic": topic, "slides": OUTLINE}


# --- quick cases: falcon.testing against create_app -------------------------------------------


@pytest.fixture
def make_client(tmp_path):
    """Build a test client for create_app with some settings changed; Host is localhost."""
    db = Database(f"sqlite:///{tmp_path / 'sec.db'}")
    db.migrate()
    store = RunStore(db)

    def factory(**changes) -> falcon.testing.TestClient:
        settings = Settings(
            data_dir=tmp_path, stream_timeout=0.3, waiting_period=0, poll_interval=0.05
        ).with_changes(**changes)
        app = create_app(settings, store, capabilities=Capabilities())
        return falcon.testing.TestClient(app, headers={"Host": "localhost:8000"})

    yield factory
    db.close()


def queued_total(client: falcon.testing.TestClient, **kw) -> int:
    return client.simulate_get("/api/generations", **kw).json["total"]


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded",
     "application/jsonp", "application/json; charset=latin-1"],
)  # fmt: skip
def test_a_post_not_labelled_utf8_json_is_415_and_queues_nothing(make_client, content_type):
    client = make_client()
    headers = {"Content-Type": content_type} if content_type else {}
    resp = client.simulate_post(
        "/api/generate", body=json.dumps(outline("Sneaky")), headers=headers
    )
    assert resp.status_code == 415
    assert "Content-Type: application/json" in resp.json["detail"] or "UTF-8" in resp.json["detail"]
    assert queued_total(client) == 0


def deck_form(boundary: str = "b0undary") -> tuple[bytes, dict]:
    """A multipart deck upload a page could send: a tiny PDF and a topic."""
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="topic"\r\n\r\nForm\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="deck"; filename="d.pdf"\r\n'
        f"Content-Type: application/pdf\r\n\r\n%PDF-1.4 not really\r\n--{boundary}--\r\n"
    ).encode()
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


@pytest.mark.parametrize("origin", ["https://evil.example", "null", "http://localhost:9999"])
def test_a_deck_upload_from_another_sites_page_is_403_and_stores_nothing(
    make_client, tmp_path, origin
):
    # multipart needs no CORS preflight: the Origin a browser sends is what tells them apart
    client = make_client()
    body, headers = deck_form()
    resp = client.simulate_post("/api/generate", body=body, headers=headers | {"Origin": origin})
    assert resp.status_code == 403 and "another site" in resp.json["detail"]
    assert queued_total(client) == 0
    assert not list((tmp_path / "uploads").glob("*.pdf"))


def test_a_deck_upload_from_this_sites_page_or_an_allowed_origin_is_queued(make_client):
    client = make_client(cors_origins=("https://studio.example",))
    for n, origin in enumerate(["http://localhost:8000", "https://studio.example", None]):
        body, headers = deck_form()
        headers |= {"Origin": origin} if origin else {}
        body = body.replace(b"\r\nForm\r\n", f"\r\nForm {n}\r\n".encode())
        resp = client.simulate_post("/api/generate", body=body, headers=headers)
        assert resp.status_code == 202, resp.json
    assert queued_total(client) == 3


def test_a_malformed_multipart_body_is_a_400_and_queues_nothing(make_client):
    client = make_client()
    resp = client.simulate_post(
        "/api/generate",
        body=json.dumps(outline("Sneaky")),
        headers={"Content-Type": "multipart/form-data; boundary=x"},
    )
    assert resp.status_code == 400 and resp.json["detail"]
    assert queued_total(client) == 0


@pytest.mark.parametrize(
    "content_type", ["application/json", "application/json; charset=utf-8", "Application/JSON"]
)
def test_a_json_post_with_or_without_a_utf8_charset_is_accepted(make_client, content_type):
    client = make_client()
    resp = client.simulate_post(
        "/api/generate", body=json.dumps(outline("Fine")), headers={"Content-Type": content_type}
    )
    assert resp.status_code == 202


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("localhost", "localhost"),
        ("LocalHost:8000", "localhost"),
        ("localhost.:8000", "localhost"),
        ("127.0.0.1:8000", "127.0.0.1"),
        ("[::1]:8000", "::1"),
        ("[::1]", "::1"),
        ("[::1", ""),
        ("::1", "::1"),
        ("evil.example:80", "evil.example"),
    ],
)
def test_host_name_drops_the_port_brackets_and_case(header, expected):
    assert host_name(header) == expected


def test_default_allowed_hosts_are_loopback_and_a_single_bound_address():
    loopback = {"localhost", "127.0.0.1", "::1"}
    assert allowed_hosts(Settings()) == loopback
    assert allowed_hosts(Settings(host="192.0.2.7")) == loopback | {"192.0.2.7"}
    assert allowed_hosts(Settings(host="Video.Example.org")) == loopback | {"video.example.org"}
    assert allowed_hosts(Settings(host="0.0.0.0")) == loopback
    assert allowed_hosts(Settings(host="::")) == loopback
    assert allowed_hosts(Settings(allowed_hosts=("Videos.Example.org",))) == {"videos.example.org"}
    assert allowed_hosts(Settings(allowed_hosts=("a.example", "*"))) is None


@pytest.mark.parametrize(
    ("env", "missing"),
    [
        ({}, []),
        ({"HOST": "localhost"}, []),
        ({"HOST": "127.0.0.2"}, []),
        ({"HOST": "::1"}, []),
        ({"HOST": "192.0.2.7"}, ["VIDEOFORGE_API_TOKEN"]),
        ({"HOST": "videos.example.org"}, ["VIDEOFORGE_API_TOKEN"]),
        ({"HOST": "192.0.2.7", "VIDEOFORGE_PUBLIC": "1"}, []),
        ({"HOST": "192.0.2.7", "VIDEOFORGE_API_TOKEN": TOKEN}, []),
        ({"HOST": "0.0.0.0"}, ["VIDEOFORGE_API_TOKEN", "VIDEOFORGE_ALLOWED_HOSTS"]),
        ({"HOST": "::", "VIDEOFORGE_API_TOKEN": TOKEN}, ["VIDEOFORGE_ALLOWED_HOSTS"]),
        (
            {"HOST": "0.0.0.0", "VIDEOFORGE_PUBLIC": "1", "VIDEOFORGE_ALLOWED_HOSTS": "a.example"},
            [],
        ),
    ],
)
def test_only_a_loopback_or_a_declared_bind_is_served(env, missing):
    reasons = unsafe_bind(Settings.from_env(env))
    assert len(reasons) == len(missing)
    for reason, setting in zip(reasons, missing, strict=True):
        assert setting in reason
    if "VIDEOFORGE_API_TOKEN" in missing:
        assert "VIDEOFORGE_PUBLIC=1" in reasons[0]


@pytest.mark.parametrize("path", ["/health", "/", "/api/generations", "/api/voices"])
@pytest.mark.parametrize(
    "host", ["evil.example", "localhost.evil.example", "127.0.0.1.nip.io:8000", "[::2]:8000"]
)
def test_a_foreign_host_is_400_naming_the_setting_on_every_path(make_client, path, host):
    resp = make_client().simulate_get(path, headers={"Host": host})
    assert resp.status_code == 400
    assert "VIDEOFORGE_ALLOWED_HOSTS" in resp.json["detail"]


def test_a_request_without_a_host_header_is_400(make_client):
    resp = make_client().simulate_get("/health", headers={"Host": ""})
    assert resp.status_code == 400 and "Host" in resp.json["detail"]


def test_a_foreign_host_cannot_queue_a_run(make_client):
    client = make_client()
    resp = client.simulate_post(
        "/api/generate", json=outline("Rebound"), headers={"Host": "attacker.example"}
    )
    assert resp.status_code == 400
    assert queued_total(client) == 0


@pytest.mark.parametrize("host", ["localhost:8000", "127.0.0.1:8000", "[::1]:8000", "LOCALHOST"])
def test_loopback_hosts_are_served_by_default(make_client, host):
    assert make_client().simulate_get("/health", headers={"Host": host}).status_code == 200


def test_configured_hosts_replace_the_defaults_and_star_allows_any(make_client):
    client = make_client(allowed_hosts=("videos.example.org",))
    assert client.simulate_get("/health", headers={"Host": "videos.example.org"}).status_code == 200
    assert client.simulate_get("/health", headers={"Host": "localhost"}).status_code == 400
    anyone = make_client(allowed_hosts=("*",))
    assert anyone.simulate_get("/health", headers={"Host": "whatever.example"}).status_code == 200


def test_a_query_token_is_refused_where_a_header_can_be_sent(make_client):
    client = make_client(api_token=TOKEN)
    for method, path in (
        ("GET", "/api/generations"),
        ("GET", "/api/generations/video"),  # an id named "video", not a video
        ("GET", "/api/status/Intro"),
        ("GET", "/api/content/Intro"),
        ("GET", "/api/voices"),
        ("GET", "/api/generations/Intro/deck"),
        ("GET", "/api/generations/Intro/deck.pptx"),
        ("POST", "/api/generations/Intro/runs"),
        ("DELETE", "/api/generations/Intro"),
        ("POST", "/api/generate"),
        ("GET", "/health"),
    ):
        resp = client.simulate_request(
            method, path, params={"token": TOKEN}, json=outline("Q") if method == "POST" else None
        )
        assert resp.status_code == 401, path
        assert "Authorization: Bearer" in resp.json["detail"], path
        # even alongside a valid header: the token must not travel in URLs at all
        resp = client.simulate_request(method, path, params={"token": TOKEN}, headers=BEARER)
        assert resp.status_code == 401, path
    assert queued_total(client, headers=BEARER) == 0


def test_a_query_token_opens_the_stream_videos_captions_poster_and_slide_images(make_client):
    client = make_client(api_token=TOKEN)
    resp = client.simulate_get("/api/progress/Intro", params={"token": TOKEN})
    assert resp.status_code == 200 and resp.text.startswith("retry:")
    for path in (
        "/api/video/Intro-1.mp4",
        "/api/generations/Intro/video",
        "/api/captions/Intro.vtt",
        "/api/generations/Intro/poster.jpg",  # <video poster>, <img>
        "/api/generations/Intro/slides/1.png",
    ):
        assert client.simulate_get(path, params={"token": TOKEN}).status_code == 404, path
        assert client.simulate_get(path, params={"token": "wrong"}).status_code == 401, path
        assert client.simulate_get(path).status_code == 401, path


def test_health_details_need_the_token_when_one_is_configured(make_client):
    client = make_client(api_token=TOKEN)
    assert client.simulate_get("/health").json == {"status": "ok"}
    wrong = {"Authorization": "Bearer nope"}
    assert client.simulate_get("/health", headers=wrong).json == {"status": "ok"}
    detailed = client.simulate_get("/health", headers=BEARER).json
    assert detailed["status"] == "ok" and detailed["database"] == "sqlite"
    assert {"open_streams", "queries"} <= set(detailed)


def test_health_details_are_never_shown_by_an_open_public_service(make_client):
    assert make_client(public=True).simulate_get("/health").json == {"status": "ok"}
    # a local service without a token shows them (tests and benchmarks read them)
    assert "open_streams" in make_client().simulate_get("/health").json
    # a public service with a token shows them to its operator
    client = make_client(public=True, api_token=TOKEN)
    assert "database" in client.simulate_get("/health", headers=BEARER).json


def test_past_the_queued_cap_a_post_is_429_naming_the_setting(make_client):
    client = make_client(max_queued=2, max_queued_per_client=10)
    for i, addr in enumerate(("10.0.0.1", "10.0.0.2")):
        resp = client.simulate_post("/api/generate", json=outline(f"q{i}"), remote_addr=addr)
        assert resp.status_code == 202
    resp = client.simulate_post("/api/generate", json=outline("q3"), remote_addr="10.0.0.3")
    assert resp.status_code == 429 and "VIDEOFORGE_MAX_QUEUED " in resp.json["detail"]
    assert int(resp.headers["Retry-After"]) > 0
    assert queued_total(client) == 2
    # a cancelled run frees its place
    assert client.simulate_delete("/api/generations/q0").status_code == 200
    resp = client.simulate_post("/api/generate", json=outline("q3"), remote_addr="10.0.0.3")
    assert resp.status_code == 202


def test_past_the_per_client_cap_a_post_is_429_and_other_clients_still_queue(make_client):
    client = make_client(max_queued=100, max_queued_per_client=2)
    for i in range(2):
        resp = client.simulate_post("/api/generate", json=outline(f"c{i}"), remote_addr="10.0.0.9")
        assert resp.status_code == 202
    resp = client.simulate_post("/api/generate", json=outline("c2"), remote_addr="10.0.0.9")
    assert resp.status_code == 429
    assert "VIDEOFORGE_MAX_QUEUED_PER_CLIENT" in resp.json["detail"]
    assert int(resp.headers["Retry-After"]) > 0
    other = client.simulate_post("/api/generate", json=outline("c2"), remote_addr="10.0.0.10")
    assert other.status_code == 202


def test_the_stream_gate_caps_each_client_before_the_whole_process():
    gate = StreamGate(limit=3, per_client=2)
    assert gate.enter("a") is Admission.ADMITTED
    assert gate.enter("a") is Admission.ADMITTED
    assert gate.enter("a") is Admission.CLIENT_FULL
    assert gate.enter("b") is Admission.ADMITTED
    assert gate.enter("c") is Admission.BUSY
    gate.leave("a")
    assert gate.enter("c") is Admission.ADMITTED
    for client in ("a", "b", "c"):
        gate.leave(client)
    assert gate.open == 0 and gate.by_client == {}


def test_every_listening_socket_answers_waitress_refusals_in_json():
    server = make_server(
        lambda environ, start_response: [], max_body_bytes=1024, listen="127.0.0.1:0 127.0.0.2:0"
    )
    try:
        listeners = [d for d in server.map.values() if isinstance(d, BaseWSGIServer)]
        assert len(listeners) == 2
        assert all(issubclass(d.channel_class, JsonErrorChannel) for d in listeners)
        assert server.adj.max_request_body_size == 1025  # Waitress refuses at its limit
    finally:
        server.close()


# --- the store: counting and inserting cannot be interleaved ---------------------------------


@pytest.mark.parametrize("cap", ["per_client", "queued"])
def test_racing_enqueues_never_pass_a_queue_limit(store, cap):
    # 12 threads post at once against a limit of 3: exactly 3 runs get in, on either database
    limits = QueueLimits(max_per_client=3) if cap == "per_client" else QueueLimits(max_queued=3)
    barrier = threading.Barrier(12)
    outcomes: list[str] = []

    def post(i: int) -> None:
        barrier.wait()
        try:
            store.enqueue(f"race{i}", {"topic": "t"}, 1.0, client="10.1.1.1", limits=limits)
            outcomes.append("ok")
        except TooManyRequests:
            outcomes.append("429")

    threads = [threading.Thread(target=post, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(outcomes) == ["429"] * 9 + ["ok"] * 3
    assert store.queue_counts("10.1.1.1") == (3, 3)


def test_running_runs_count_for_their_client_and_finished_ones_do_not(store):
    limits = QueueLimits(max_per_client=2)
    store.enqueue("a", {"topic": "t"}, 1.0, client="c", limits=limits)
    store.enqueue("b", {"topic": "t"}, 1.0, client="c", limits=limits)
    run = store.claim("w", 2.0, 30)
    assert store.queue_counts("c") == (1, 2)
    with pytest.raises(TooManyRequests):
        store.enqueue("x", {"topic": "t"}, 3.0, client="c", limits=limits)
    store.complete(run.id, "w", {"video": "a.mp4"}, 4.0)
    store.enqueue("x", {"topic": "t"}, 5.0, client="c", limits=limits)
    with pytest.raises(Conflict):  # the 409 rule still holds under the limits
        store.enqueue("x", {"topic": "t"}, 6.0, client="d", limits=limits)


# --- through the real processes --------------------------------------------------------------

server = pytest.mark.server
slow = pytest.mark.slow


def raw_stream(port: int, path: str, source: str = "127.0.0.1") -> socket.socket:
    """Open a progress stream from a source address and keep it open; return the socket."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(source, 0))
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
    assert s.recv(200).startswith(b"HTTP/1.1 200")
    return s


def get_from(port: int, path: str, source: str) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=(source, 0))
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read(2000)
    finally:
        conn.close()


@server
@slow
def test_a_cross_site_text_plain_post_is_415_and_nothing_is_queued(service):
    service.start_web()
    # what <form enctype="text/plain"> or fetch(..., {mode: "no-cors"}) sends, with no preflight
    body = json.dumps(outline("Drive-by")).encode()
    status, headers, data = request(
        service,
        "POST",
        "/api/generate",
        raw=body,
        headers={"Content-Type": "text/plain", "Origin": "http://evil.example"},
    )
    assert status == 415 and headers["content-type"].startswith("application/json")
    assert "application/json" in json.loads(data)["detail"]
    assert request_json(service, "GET", "/api/generations")[1]["total"] == 0


@server
@slow
def test_a_foreign_host_is_400_and_an_allowed_one_is_served(make_service):
    svc = make_service(VIDEOFORGE_ALLOWED_HOSTS="videos.example.org,127.0.0.1")
    svc.start_web()
    for path in ("/health", "/", "/api/generations"):
        status, body = request_json(svc, "GET", path, headers={"Host": "rebound.example:8000"})
        assert status == 400 and "VIDEOFORGE_ALLOWED_HOSTS" in body["detail"], path
    status, _ = request_json(
        svc, "POST", "/api/generate", outline("Rebound"), headers={"Host": "rebound.example"}
    )
    assert status == 400
    assert request(svc, "GET", "/health", headers={"Host": "Videos.Example.org"})[0] == 200
    assert request(svc, "GET", "/health", headers={"Host": "localhost"})[0] == 400  # replaced
    assert request_json(svc, "GET", "/api/generations")[1]["total"] == 0


def run_serve(svc: Service, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "serve.py")],
        cwd=ROOT,
        env={**svc.env, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@server
@slow
def test_an_open_public_bind_refuses_to_start(make_service):
    svc = make_service()
    began = time.time()
    done = run_serve(svc, HOST="0.0.0.0")
    assert done.returncode == 2
    assert "VIDEOFORGE_API_TOKEN" in done.stderr and "VIDEOFORGE_PUBLIC=1" in done.stderr
    assert "VIDEOFORGE_ALLOWED_HOSTS" in done.stderr
    assert time.time() - began < 30
    # a token alone is not enough on a wildcard bind: the names it answers to are needed too
    done = run_serve(svc, HOST="0.0.0.0", VIDEOFORGE_API_TOKEN=TOKEN)
    assert done.returncode == 2 and "VIDEOFORGE_ALLOWED_HOSTS" in done.stderr
    assert "VIDEOFORGE_API_TOKEN" not in done.stderr
    # a host name that is not loopback needs the token as well
    done = run_serve(svc, HOST="videos.example.org")
    assert done.returncode == 2 and "VIDEOFORGE_API_TOKEN" in done.stderr
    assert not (svc.data_dir / "videoforge.db").exists()  # refused before touching anything


@server
@slow
def test_videoforge_run_refuses_an_open_public_bind_before_starting_a_worker(make_service):
    svc = make_service()
    done = subprocess.run(
        [sys.executable, "-m", "videoforge.cli", "run"],
        cwd=ROOT,
        env={**svc.env, "HOST": "0.0.0.0"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "VIDEOFORGE_API_TOKEN" in done.stderr
    assert "worker" not in done.stderr.lower()  # no worker was started, so none was stopped
    assert not (svc.data_dir / "videoforge.db").exists()


@server
@slow
def test_a_deliberately_open_public_bind_starts_and_keeps_its_internals(make_service):
    svc = make_service(
        HOST="0.0.0.0", VIDEOFORGE_PUBLIC="1", VIDEOFORGE_ALLOWED_HOSTS="127.0.0.1,videos.example"
    )
    svc.start_web()
    assert request_json(svc, "GET", "/health") == (200, {"status": "ok"})
    assert request(svc, "GET", "/health", headers={"Host": "videos.example"})[0] == 200
    assert request(svc, "GET", "/health", headers={"Host": "elsewhere.example"})[0] == 400


@server
@slow
def test_waitress_answers_a_body_over_the_limit_with_413_before_reading_it(make_service):
    svc = make_service(VIDEOFORGE_API_TOKEN=TOKEN)
    svc.start_web()
    # Headers announcing 5 MB and no body at all: only a server that refuses from the
    # Content-Length can answer; the app would first wait for the whole body.
    began = time.time()
    with socket.create_connection(("127.0.0.1", svc.port), timeout=10) as s:
        s.sendall(
            f"POST /api/generate HTTP/1.1\r\nHost: 127.0.0.1:{svc.port}\r\n"
            "Content-Type: application/json\r\nContent-Length: 5000000\r\n\r\n".encode()
        )
        resp = http.client.HTTPResponse(s)
        resp.begin()
        status, content_type, data = resp.status, resp.getheader("Content-Type"), resp.read()
    elapsed = time.time() - began
    assert status == 413 and content_type == "application/json"  # before the token check
    assert "1048576 bytes" in json.loads(data)["detail"]
    assert elapsed < 10, elapsed
    # the whole 5 MB, sent as a client does that stops when answered
    status, headers, data = send_large_body(
        svc, "POST", "/api/generate", b"x" * 5_000_000, headers={"Content-Type": "application/json"}
    )
    assert status == 413 and json.loads(data)["detail"]
    # chunked, so no Content-Length: refused once 1 MiB has arrived
    with socket.create_connection(("127.0.0.1", svc.port), timeout=10) as s:
        s.sendall(
            f"POST /api/generate HTTP/1.1\r\nHost: 127.0.0.1:{svc.port}\r\n"
            "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
        )
        chunk = b"%x\r\n%s\r\n" % (65536, b"y" * 65536)
        try:
            for _ in range(80):  # 5 MB
                s.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        resp = http.client.HTTPResponse(s)
        resp.begin()
        assert resp.status == 413 and json.loads(resp.read())["detail"]
    # Waitress's other refusals are JSON too
    with socket.create_connection(("127.0.0.1", svc.port), timeout=10) as s:
        s.sendall(
            f"POST /api/generate HTTP/1.1\r\nHost: 127.0.0.1:{svc.port}\r\n"
            "Content-Length: lots\r\n\r\n".encode()
        )
        resp = http.client.HTTPResponse(s)
        resp.begin()
        assert resp.status == 400 and json.loads(resp.read())["detail"]
    # a body at the limit still reaches the app, which answers it
    at_limit = b'{"topic": "' + b"a" * (1048576 - 13) + b'"}'
    assert len(at_limit) == 1048576
    status, _, data = send_large_body(
        svc,
        "POST",
        "/api/generate",
        at_limit,
        headers={"Content-Type": "application/json", **BEARER},
    )
    assert status == 400 and "topic" in json.loads(data)["detail"]
    assert request(svc, "GET", "/health")[0] == 200


@server
@slow
def test_the_queue_caps_answer_429_with_retry_after(make_service):
    svc = make_service(VIDEOFORGE_MAX_QUEUED="3", VIDEOFORGE_MAX_QUEUED_PER_CLIENT="2")
    svc.start_web()  # no worker: every run stays queued
    for i in range(2):
        assert request_json(svc, "POST", "/api/generate", outline(f"mine {i}"))[0] == 202
    status, headers, data = request(svc, "POST", "/api/generate", outline("mine 2"))
    assert status == 429 and int(headers["retry-after"]) > 0
    assert "VIDEOFORGE_MAX_QUEUED_PER_CLIENT" in json.loads(data)["detail"]
    # another address (the whole of 127/8 is loopback) has its own allowance...
    conn = http.client.HTTPConnection(
        "127.0.0.1", svc.port, timeout=10, source_address=("127.0.0.2", 0)
    )
    headers = {"Content-Type": "application/json"}
    conn.request("POST", "/api/generate", json.dumps(outline("theirs 0")), headers)
    assert conn.getresponse().status == 202
    conn.close()
    # ...until the queue as a whole is full
    conn = http.client.HTTPConnection(
        "127.0.0.1", svc.port, timeout=10, source_address=("127.0.0.2", 0)
    )
    conn.request("POST", "/api/generate", json.dumps(outline("theirs 1")), headers)
    resp = conn.getresponse()
    detail = json.loads(resp.read())["detail"]
    conn.close()
    assert resp.status == 429 and int(resp.getheader("Retry-After")) > 0
    assert "VIDEOFORGE_MAX_QUEUED " in detail
    assert request_json(svc, "GET", "/api/generations")[1]["total"] == 3


@server
@slow
def test_one_client_cannot_hold_every_stream_slot(make_service):
    svc = make_service(
        VIDEOFORGE_MAX_STREAMS_PER_CLIENT="2",
        VIDEOFORGE_BUSY_RETRY_MS="7000",
        VIDEOFORGE_WAITING_PERIOD="0",
    )
    svc.start_web()
    holders = [raw_stream(svc.port, "/api/progress/Held") for _ in range(2)]
    status, headers, data = get_from(svc.port, "/api/progress/Held", "127.0.0.1")
    assert status == 429 and headers["content-type"] == "application/json"
    assert headers["retry-after"] == "7"
    assert "VIDEOFORGE_MAX_STREAMS_PER_CLIENT" in json.loads(data)["detail"]
    other = raw_stream(svc.port, "/api/progress/Held", source="127.0.0.2")  # its own slots
    other.close()
    for s in holders:
        s.close()
    deadline = time.time() + 10
    while time.time() < deadline:  # hung-up streams give their client's slots back
        if request_json(svc, "GET", "/health")[1]["open_streams"] == 0:
            break
        time.sleep(0.1)
    raw_stream(svc.port, "/api/progress/Held").close()


@server
@slow
def test_the_token_travels_in_urls_only_to_the_stream_and_media(make_service):
    svc = make_service(VIDEOFORGE_API_TOKEN=TOKEN, VIDEOFORGE_STREAM_TIMEOUT="0.5")
    svc.start_web()
    for path in ("/api/generations", "/api/status/X", "/api/voices"):
        status, headers, data = request(svc, "GET", f"{path}?token={TOKEN}")
        assert status == 401 and "Authorization: Bearer" in json.loads(data)["detail"], path
        assert "bearer" in headers["www-authenticate"].lower()
    status, _, data = request(svc, "GET", f"/api/progress/X?token={TOKEN}")
    assert status == 200 and data.startswith(b"retry:")
    assert request(svc, "GET", f"/api/video/X-1.mp4?token={TOKEN}")[0] == 404
    assert request(svc, "GET", f"/api/generations/X/video?token={TOKEN}")[0] == 404
    assert request(svc, "GET", f"/api/captions/X.srt?token={TOKEN}")[0] == 404
    # /health: the status for anyone, the internals for the operator only
    assert request_json(svc, "GET", "/health") == (200, {"status": "ok"})
    status, body = request_json(svc, "GET", "/health", headers=BEARER)
    assert status == 200 and body["database"] == "sqlite" and "open_streams" in body


def test_a_refused_upload_never_removes_a_deck_a_queued_run_names(make_client, tmp_path):
    client = make_client()
    body, headers = deck_form()
    assert client.simulate_post("/api/generate", body=body, headers=headers).status_code == 202
    (stored,) = (tmp_path / "uploads").glob("*.pdf")
    stored.unlink()  # as if removed between the two requests: the next one stores it anew
    bad = body.replace(b'name="topic"', b'name="colour"')
    assert client.simulate_post("/api/generate", body=bad, headers=headers).status_code == 400
    assert stored.exists()  # the queued run names it, so the refused request left it
    stored.unlink()  # and refused while the form is read, after its deck (a field that is no JSON)
    late = body.replace(
        b"--b0undary--",
        b'--b0undary\r\nContent-Disposition: form-data; name="fps"\r\n\r\nthirty\r\n--b0undary--',
    )
    assert client.simulate_post("/api/generate", body=late, headers=headers).status_code == 400
    assert stored.exists()
    again = body.replace(b"\r\nForm\r\n", b"\r\nForm again\r\n")
    os.utime(stored, (1, 1))
    assert client.simulate_post("/api/generate", body=again, headers=headers).status_code == 202
    assert stored.stat().st_mtime > 1  # stored again: retention counts its time from now
