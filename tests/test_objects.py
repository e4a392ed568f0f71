"""Artifacts in the data directory or an S3 bucket (moto's server), and the worker's uploads."""

from __future__ import annotations

import http.client
import json
import time
import urllib.parse
from pathlib import Path

import pytest

from tests.doubles import ScriptedPipeline
from videoforge.core.errors import NotFound
from videoforge.core.settings import Settings
from videoforge.store.objects import LocalArtifacts, S3Artifacts, Throttle, open_artifacts
from videoforge.worker.loop import Worker

OUTLINE = {"topic": "t", "slides": []}


@pytest.mark.parametrize(
    "parts",
    [("..", "x.json"), ("1", "..", "..", "x"), ("a/b",), ("",), (".",), ("a\\b",), ("a\0",)],
)
def test_no_part_can_leave_the_runs_prefix_or_folder(parts, tmp_path):
    s3 = S3Artifacts("bucket", prefix="p", client=object())
    with pytest.raises(NotFound):
        s3.key("runs", *parts)
    local = LocalArtifacts(tmp_path / "videos", tmp_path / "runs")
    (tmp_path / "runs").mkdir()
    (tmp_path / "secret.json").write_text("{}")
    if parts[0] == "..":
        with pytest.raises(NotFound):
            local.find("runs", "..", "secret.json")


def test_only_the_two_areas_are_reachable(tmp_path):
    s3 = S3Artifacts("bucket", prefix="/deploy/", client=object())
    assert s3.key("videos", "a-1-a1.mp4") == "deploy/videos/a-1-a1.mp4"
    assert s3.key("runs", "4", "2", "slides", "01.png") == "deploy/runs/4/2/slides/01.png"
    for area in ("cache", "", ".."):
        with pytest.raises(NotFound):
            s3.key(area, "x")
        with pytest.raises(NotFound):
            LocalArtifacts(tmp_path, tmp_path).find(area, "x")


def test_the_data_directory_is_the_default_and_a_bucket_setting_selects_s3(tmp_path):
    assert isinstance(open_artifacts(Settings(data_dir=tmp_path)), LocalArtifacts)
    settings = Settings.from_env(
        {
            "VIDEOFORGE_DATA_DIR": str(tmp_path),
            "VIDEOFORGE_S3_BUCKET": "videos",
            "VIDEOFORGE_S3_PREFIX": "vf",
            "VIDEOFORGE_S3_ENDPOINT_URL": "http://127.0.0.1:9",
            "VIDEOFORGE_S3_REGION": "us-east-1",
        }
    )
    artifacts = open_artifacts(settings)
    assert isinstance(artifacts, S3Artifacts)
    assert artifacts.describe() == "s3://videos/vf/ at http://127.0.0.1:9"


def test_the_throttle_holds_uploads_to_its_rate():
    now = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    throttle = Throttle(1000, sleep=sleep, clock=lambda: now[0])
    for _ in range(10):
        throttle(500)
    throttle(-500)  # a retried request rewinds its body: not counted
    assert sum(slept) == pytest.approx(5.0)  # 5000 bytes at 1000 bytes a second
    now[0] += 60  # idle time earns no burst beyond the next chunk's own share
    throttle(2000)
    assert slept[-1] == pytest.approx(2.0)


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.request("GET", f"{parts.path}?{parts.query}", headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def test_a_bucket_stores_reads_ranges_presigns_lists_and_deletes(s3_bucket, tmp_path):
    endpoint, bucket = s3_bucket
    s3 = S3Artifacts(
        bucket, prefix="vf", endpoint_url=endpoint, region="us-east-1", presign_seconds=60
    )
    big = tmp_path / "big.mp4"
    data = bytes(range(256)) * (6 * 4096 + 7)  # over 6 MB: a multipart upload of 5 MB parts
    big.write_bytes(data)
    s3.part_bytes = 5 * 1024 * 1024
    s3.upload(big, "videos", "g-1-a1.mp4")
    (tmp_path / "content.json").write_text('{"topic": "t"}')
    s3.upload(tmp_path / "content.json", "runs", "1", "1", "content.json")
    s3.upload(big, "runs", "1", "2", "slides", "01.png")

    blob = s3.find("videos", "g-1-a1.mp4")
    assert blob is not None and blob.size == len(data)
    assert b"".join(blob.read(0, blob.size)) == data
    assert b"".join(blob.read(1000, 5000)) == data[1000:6000]
    assert s3.find("runs", "1", "1", "content.json").text() == '{"topic": "t"}'
    assert s3.find("videos", "absent.mp4") is None
    assert s3.has_folder("runs", "1", "2", "slides") and not s3.has_folder("runs", "1", "1", "x")
    assert sorted(s3.list_names("runs", "1")) == ["1", "2"]

    status, body = get(blob.url("video/mp4"), {"Range": "bytes=10-19"})
    assert status == 206 and body == data[10:20]

    assert s3.delete("runs", "1", "2", folder=True) == 1
    assert s3.list_names("runs", "1") == ["1"]


class _Writes(ScriptedPipeline):
    """The scripted pipeline, writing a run file and an MP4 as the real one does."""

    def __init__(self, settings: Settings, videos: Path):
        super().__init__(settings)
        self.delay = 0
        self.videos = videos

    def run(self, run, report, workdir):
        super().run(run, report, workdir)
        (workdir / "content.json").write_text('{"topic": "t"}')
        (workdir / "narration.wav").write_bytes(b"RIFF")
        self.videos.mkdir(exist_ok=True)
        (self.videos / run.video_name).write_bytes(b"\0\0\0\x18ftypmp42")
        return {"video": run.video_name}


def test_a_worker_uploads_before_completing_and_keeps_nothing(store, s3_bucket, tmp_path):
    endpoint, bucket = s3_bucket
    s3 = S3Artifacts(bucket, endpoint_url=endpoint, region="us-east-1")
    videos = tmp_path / "videos"
    worker = Worker(
        store,
        _Writes(Settings(data_dir=tmp_path), videos),
        runs_dir=tmp_path / "scratch",
        videos_dir=videos,
        worker_id="w",
        objects=s3,
    )
    store.enqueue("g", OUTLINE, time.time())
    run = store.claim("w", time.time(), 30)
    assert worker.run_one(run) == "completed"
    assert s3.find("videos", "g-1-a1.mp4").text().endswith("ftypmp42")
    assert s3.find("runs", "1", "1", "content.json") is not None
    assert s3.find("runs", "1", "1", "narration.wav") is None  # nothing serves it
    assert list((tmp_path / "scratch").iterdir()) == [] and list(videos.iterdir()) == []


def test_a_run_whose_upload_failed_is_not_completed(store, s3_bucket, tmp_path):
    endpoint, _ = s3_bucket
    s3 = S3Artifacts("no-such-bucket-here", endpoint_url=endpoint, region="us-east-1")
    worker = Worker(
        store,
        _Writes(Settings(data_dir=tmp_path), tmp_path / "videos"),
        runs_dir=tmp_path / "scratch",
        videos_dir=tmp_path / "videos",
        worker_id="w",
        objects=s3,
    )
    store.enqueue("g", OUTLINE, time.time())
    run = store.claim("w", time.time(), 30)
    worker.run_one(run)
    after = store.get(run.id)
    assert after.status == "queued" and after.result is None  # queued again for a retry
    assert list((tmp_path / "videos").iterdir()) == []


@pytest.mark.slow
def test_doctor_checks_the_bucket_is_reachable_writable_and_readable(s3_bucket, tmp_path):
    from tests.conftest import S3_CREDENTIALS
    from tests.test_cli import cli_env, videoforge

    endpoint, bucket = s3_bucket
    env = cli_env(
        tmp_path / "data",
        VIDEOFORGE_S3_BUCKET=bucket,
        VIDEOFORGE_S3_ENDPOINT_URL=endpoint,
        **S3_CREDENTIALS,
    )
    proc = videoforge("doctor", "--json", cwd=tmp_path, env=env)
    checks = {c["name"]: c for c in json.loads(proc.stdout)["checks"]}
    assert checks["object storage"]["status"] == "OK", checks["object storage"]
    assert "reachable, writable, readable" in checks["object storage"]["detail"]
    assert proc.returncode == 0, proc.stdout

    env["VIDEOFORGE_S3_BUCKET"] = "no-such-bucket-here"
    proc = videoforge("doctor", "--json", cwd=tmp_path, env=env)
    storage = {c["name"]: c for c in json.loads(proc.stdout)["checks"]}["object storage"]
    assert storage["status"] == "FAIL" and "is not reachable" in storage["detail"]
    assert "VIDEOFORGE_S3_BUCKET" in storage["fix"] and proc.returncode == 1


def test_a_bucket_that_is_away_is_a_503_never_a_500(store, tmp_path):
    import boto3
    import falcon.testing
    from botocore.config import Config

    from tests.helpers import free_port
    from videoforge.web.app import create_app

    endpoint = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="t",
        aws_secret_access_key="t",
        config=Config(retries={"max_attempts": 1}, connect_timeout=2),
    )
    s3 = S3Artifacts("away", endpoint_url=endpoint, client=client)
    app = create_app(Settings(data_dir=tmp_path), store, artifacts=s3)
    web = falcon.testing.TestClient(app, headers={"Host": "localhost:8000"})
    store.enqueue("g", OUTLINE, time.time())
    for path in ("/api/content/g", "/api/captions/g.vtt", "/api/generations/g/poster.jpg"):
        answer = web.simulate_get(path)
        assert answer.status_code == 503, (path, answer.text)
        assert "object storage" in answer.json["detail"]
        assert endpoint not in answer.json["detail"]
