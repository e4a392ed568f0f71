"""Web and workers on separate machines: they share nothing but PostgreSQL and an S3 bucket.

Each process runs the real serve.py or worker.py (the real offline pipeline) in its own empty
working directory with its own empty VIDEOFORGE_DATA_DIR; the bucket is moto's S3 server.
"""

from __future__ import annotations

import http.client
import json
import signal
import subprocess
import sys
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import pytest

from tests.conftest import S3_CREDENTIALS
from tests.helpers import (
    ROOT,
    Service,
    base_env,
    free_port,
    request,
    request_json,
    stop_processes,
)
from tests.test_pipeline_server import OUTLINE, fetch_by_ranges
from videoforge.media import inspection

pytestmark = [pytest.mark.server, pytest.mark.slow]

DEADLINE = 240  # seconds a real run may take on a loaded 2-core machine (a safety net only)


@dataclass
class Machine:
    """One process as if on a machine of its own: an empty cwd and an empty data directory."""

    root: Path
    env: dict[str, str]
    procs: list[subprocess.Popen] = field(default_factory=list)

    @property
    def log(self) -> Path:
        return self.root / "process.log"

    def start(self, script: str) -> subprocess.Popen:
        out = self.log.open("ab")
        proc = subprocess.Popen(
            [sys.executable, str(ROOT / script)],
            cwd=self.root / "cwd",
            env=self.env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        self.procs.append(proc)
        return proc

    def files(self) -> list[Path]:
        """Return the files this machine keeps in its data dir, but for its database and cache."""
        data = self.root / "data"
        return [
            p for p in data.rglob("*") if p.is_file() and "cache" not in p.relative_to(data).parts
        ]


@pytest.fixture
def cluster(tmp_path, postgres_url, s3_bucket):
    """Build machines sharing only the database and the bucket; stop them all afterwards."""
    endpoint, bucket = s3_bucket
    made: list[Machine] = []

    def machine(name: str, port: int = 0, **overrides: str) -> Machine:
        root = tmp_path / name
        (root / "cwd").mkdir(parents=True)
        (root / "data").mkdir()
        env = base_env(
            root / "data",
            port,
            DATABASE_URL=postgres_url,
            VIDEOFORGE_S3_BUCKET=bucket,
            VIDEOFORGE_S3_PREFIX="deploy/",
            VIDEOFORGE_S3_ENDPOINT_URL=endpoint,
            **S3_CREDENTIALS,
            **overrides,
        )
        made.append(Machine(root, env))
        return made[-1]

    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    yield machine, client, bucket
    for m in made:
        stop_processes(m.procs, timeout=30)


def start_web(machine, **overrides: str) -> Service:
    """Start serve.py on a machine and wait for /health; return a Service to send requests to."""
    port = free_port()
    web = machine(f"web{port}", port, **overrides)
    proc = web.start("serve.py")
    service = Service(web.root / "data", port, web.env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, web.log.read_text()
        try:
            if request(service, "GET", "/health")[0] == 200:
                return service
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError("serve.py did not answer /health")


def wait_for(condition, what: str, timeout: float = DEADLINE):
    """Poll until condition() is truthy and return it (the timeout is a safety net)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def run_of(service: Service, gid: str) -> dict:
    status, body = request_json(service, "GET", f"/api/status/{gid}")
    assert status == 200, body
    return body


def keys(client, bucket: str, prefix: str) -> list[str]:
    answer = client.list_objects_v2(Bucket=bucket, Prefix=prefix)
    return sorted(item["Key"] for item in answer.get("Contents", []))


def get_url(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict, bytes]:
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        conn.request("GET", path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def follow(service: Service, path: str, headers: dict[str, str] | None = None):
    """GET a path from the web process and follow its redirect to the bucket, as a client does."""
    status, answer, body = request(service, "GET", path, headers=headers)
    assert status == 307, (status, body[:200])
    return get_url(answer["location"], headers)


def generate(service: Service, topic: str) -> str:
    status, body = request_json(
        service, "POST", "/api/generate", {"topic": topic, "slides": OUTLINE, "size": "1280x720"}
    )
    assert status == 202, body
    return body["generation_id"]


def test_runs_made_by_two_workers_are_served_from_the_bucket_streamed_or_redirected(
    cluster, tmp_path
):
    machine, client, bucket = cluster
    web = start_web(machine)
    presigning = start_web(machine, VIDEOFORGE_S3_PRESIGN_SECONDS="300")
    workers = [machine("worker-a"), machine("worker-b")]
    for worker in workers:
        worker.start("worker.py")

    gids = [generate(web, "Leaves and light"), generate(presigning, "Roots and water")]
    for gid in gids:
        wait_for(lambda gid=gid: run_of(web, gid)["run_status"] == "completed", "completed")

    for gid in gids:
        run = run_of(web, gid)
        video = run["result"]["video"]
        assert keys(client, bucket, f"deploy/videos/{video}") == [f"deploy/videos/{video}"]
        whole = fetch_by_ranges(web, f"/api/generations/{gid}/video")
        assert whole == fetch_by_ranges(web, f"/api/video/{video}")
        clip = tmp_path / f"{gid}.mp4"
        clip.write_bytes(whole)
        info = inspection.probe(clip)
        assert info.video is not None and info.audio is not None and info.duration > 3

        status, content = request_json(web, "GET", f"/api/content/{gid}")
        assert status == 200 and content["total_slides"] == len(OUTLINE)
        status, script = request_json(web, "GET", f"/api/script/{gid}")
        assert status == 200 and len(script["slide_scripts"]) == len(OUTLINE)
        status, deck = request_json(web, "GET", f"/api/generations/{gid}/deck")
        assert status == 200 and [s["title"] for s in deck["slides"]] == [
            s["title"] for s in OUTLINE
        ]
        status, headers, vtt = request(web, "GET", f"/api/captions/{gid}.vtt")
        assert status == 200 and vtt.startswith(b"WEBVTT")
        assert headers["content-type"].startswith("text/vtt")
        status, _, srt = request(web, "GET", f"/api/captions/{gid}.srt")
        assert status == 200 and b" --> " in srt
        served = {}
        for path, magic in [
            ("poster.jpg", b"\xff\xd8"),
            ("slides/1.png", b"\x89PNG"),
            ("slides/3.png", b"\x89PNG"),
            ("deck.pptx", b"PK"),
            ("deck.pdf", b"%PDF"),
        ]:
            status, headers, body = request(web, "GET", f"/api/generations/{gid}/{path}")
            assert status == 200 and body.startswith(magic), path
            assert int(headers["content-length"]) == len(body)
            served[path] = body
        assert request(web, "GET", f"/api/generations/{gid}/slides/4.png")[0] == 404

        # The presigning web process answers with redirects the client follows to the bucket.
        status, headers, body = follow(presigning, f"/api/generations/{gid}/video")
        assert status == 200 and body == whole
        status, headers, part = follow(
            presigning, f"/api/generations/{gid}/video", {"Range": "bytes=100-1099"}
        )
        assert status == 206 and part == whole[100:1100]
        assert headers["content-range"] == f"bytes 100-1099/{len(whole)}"
        assert headers["content-type"] == "video/mp4"
        status, headers, _ = follow(
            presigning, f"/api/generations/{gid}/video", {"Range": f"bytes={len(whole)}-"}
        )
        assert status == 416
        for path, body in served.items():
            status, headers, fetched = follow(presigning, f"/api/generations/{gid}/{path}")
            assert status == 200 and fetched == body, path
        assert "attachment" in headers["content-disposition"]  # deck.pdf is a download
        status, content_again = request_json(presigning, "GET", f"/api/content/{gid}")
        assert status == 200 and content_again == content

    # Nothing stays on the machines: the web never had the files, the workers' scratch is gone.
    for m in [*workers]:
        assert m.files() == [], m.files()
    assert [p for p in (web.data_dir).rglob("*") if p.suffix in (".mp4", ".json")] == []
    # Traversal stays inside the run's prefix.
    for path in ("/api/video/..%2F..%2Fetc.mp4", "/api/captions/..%2Fx.vtt"):
        assert request(web, "GET", path)[0] in (400, 404)


def test_a_worker_killed_mid_upload_is_retried_elsewhere_and_no_partial_object_is_served(
    cluster,
):
    machine, client, bucket = cluster
    web = start_web(machine)
    # A real deployment may cap a worker's upload bandwidth; here it makes the upload slow.
    slow = machine("slow-worker", VIDEOFORGE_S3_MAX_BANDWIDTH="2000")
    slow_proc = slow.start("worker.py")
    gid = generate(web, "Slow uploads")

    wait_for(lambda: "uploading" in slow.log.read_text(errors="replace"), "the upload to start")
    run_id = run_of(web, gid)["run_id"]
    wait_for(lambda: keys(client, bucket, f"deploy/runs/{run_id}/1/"), "a first uploaded object")
    # Mid-upload: the run is not completed and its video is not served.
    assert run_of(web, gid)["run_status"] == "running"
    assert request(web, "GET", f"/api/generations/{gid}/video")[0] == 404
    assert keys(client, bucket, "deploy/videos/") == []
    slow_proc.send_signal(signal.SIGKILL)
    slow_proc.wait()
    assert "uploaded" not in slow.log.read_text(errors="replace")
    assert request(web, "GET", f"/api/generations/{gid}/video")[0] == 404

    other = machine("other-worker")
    other.start("worker.py")
    wait_for(lambda: run_of(web, gid)["run_status"] == "completed", "the retry to complete")
    run = run_of(web, gid)
    assert run["attempts"] == 2
    assert run["result"]["video"].endswith("-a2.mp4")
    whole = fetch_by_ranges(web, f"/api/generations/{gid}/video")
    head = client.head_object(Bucket=bucket, Key=f"deploy/videos/{run['result']['video']}")
    assert head["ContentLength"] == len(whole)
    # The killed attempt's objects are swept; only the completing attempt's remain.
    assert keys(client, bucket, f"deploy/runs/{run_id}/1/") == []
    assert keys(client, bucket, "deploy/videos/") == [f"deploy/videos/{run['result']['video']}"]
    status, content = request_json(web, "GET", f"/api/content/{gid}")
    assert status == 200 and content["total_slides"] == len(OUTLINE)
    assert other.files() == []
    assert json.loads(json.dumps(run["result"]))["video"]


def test_a_deck_uploaded_to_one_machine_is_narrated_by_a_worker_on_another(cluster, tmp_path):
    from tests import decks

    machine, client, bucket = cluster
    web = start_web(machine)
    worker = machine("deck-worker")
    worker.start("worker.py")
    pdf = decks.make_pdf(tmp_path / "lecture.pdf")
    body, kind = decks.multipart({"size": "1280x720", "narrations": '["Hello cells."]'}, pdf)
    status, _, data = request(
        web, "POST", "/api/generate", raw=body, headers={"Content-Type": kind}
    )
    assert status == 202, data
    gid = json.loads(data)["generation_id"]
    stored = [k for k in keys(client, bucket, "deploy/uploads/") if k.endswith(".pdf")]
    assert len(stored) == 1  # the web put the deck in the bucket, where any worker finds it
    done = wait_for(
        lambda: run_of(web, gid)["run_status"] in ("completed", "error") and run_of(web, gid),
        "the deck's run to end",
    )
    assert done["run_status"] == "completed", (done, worker.log.read_text()[-2000:])
    assert [c["title"] for c in done["result"]["chapters"]] == ["Cells", "Tissues", "Organs"]
    # the worker fetched it from the bucket: its own data directory had no copy before
    assert (worker.root / "data" / "uploads" / stored[0].rsplit("/", 1)[1]).is_file()
