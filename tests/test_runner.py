"""The worker loop against a real database: it outlives a database that goes away, stops
when told, and never ends a run in error for the database's sake."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from tests.doubles import STEPS, ScriptedPipeline
from videoforge.core.errors import FFmpegError, FFmpegInterrupted, Stopped
from videoforge.core.settings import Settings
from videoforge.core.types import Run
from videoforge.store.database import Database
from videoforge.store.runs import RunStore
from videoforge.worker import loop
from videoforge.worker.loop import Worker

OUTLINE = {"topic": "t", "slides": []}


def wait_for(store: RunStore, gid: str, status: str, timeout: float = 20) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        run = store.newest(gid)
        if run and run.status == status:
            return
        time.sleep(0.05)
    raise AssertionError(f"{gid} never became {status}")


@pytest.mark.postgres
def test_a_worker_keeps_working_after_its_database_connections_are_killed(postgres_url, tmp_path):
    db = Database(postgres_url)
    db.migrate()
    worker = Worker(
        RunStore(db),
        ScriptedPipeline(Settings(data_dir=tmp_path)),
        runs_dir=tmp_path / "runs",
        poll_interval=0.05,
    )
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    client = RunStore(Database(postgres_url))
    try:
        client.enqueue("before", OUTLINE, time.time())
        wait_for(client, "before", "completed")
        # what a database restart does to every open connection
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        client = RunStore(Database(postgres_url))
        client.enqueue("after", OUTLINE, time.time())
        wait_for(client, "after", "completed")
        assert thread.is_alive()
    finally:
        worker.stop()
        thread.join(timeout=10)


# --- one run, a store that misbehaves, a pipeline double ------------------------------------------

LOCKED = sqlite3.OperationalError("database is locked")


class FlakyStore(RunStore):
    """A real store whose named calls fail: a count of times, or -1 for always."""

    def __init__(self, db: Database, **failing: int):
        super().__init__(db)
        self.failing = failing
        self.calls: Counter[str] = Counter()
        self.answer_lost = False  # complete() commits, then its answer is lost once

    def _call(self, name: str) -> None:
        self.calls[name] += 1
        left = self.failing.get(name, 0)
        if left:
            self.failing[name] = left - 1 if left > 0 else left
            raise LOCKED

    def max_progress(self, run_id):
        self._call("max_progress")
        return super().max_progress(run_id)

    def report(self, *args):
        self._call("report")
        return super().report(*args)

    def renew(self, *args):
        self._call("renew")
        return super().renew(*args)

    def complete(self, *args, **kwargs):
        self._call("complete")
        done = super().complete(*args, **kwargs)
        if self.answer_lost:
            self.answer_lost = False
            raise LOCKED
        return done


class Steps:
    """Reports a few steps, writes this attempt's MP4 and returns it as the result."""

    def __init__(self, videos: Path, *, before: Callable[[Worker], None] | None = None):
        self.videos = videos
        self.before = before
        self.worker: Worker | None = None

    def run(self, run, report, workdir):
        if self.before is not None:
            self.before(self.worker)
        for status, progress, message in STEPS[:3]:
            report(status, progress, message)
        (workdir / "content.json").write_text("{}")
        self.videos.mkdir(exist_ok=True)
        (self.videos / run.video_name).write_bytes(b"mp4")
        return {"video": run.video_name}


def one_run(store: RunStore, pipeline, tmp_path: Path, **options) -> tuple[Worker, Run]:
    """Build a worker for pipeline and enqueue and claim one run for it."""
    worker = Worker(
        store,
        pipeline,
        runs_dir=tmp_path / "runs",
        videos_dir=tmp_path / "videos",
        worker_id="w",
        **options,
    )
    if hasattr(pipeline, "worker"):
        pipeline.worker = worker
    store.enqueue("g", OUTLINE, time.time())
    return worker, store.claim("w", time.time(), worker.lease_seconds)


def event_statuses(store: RunStore, run_id: int) -> list[str]:
    return [e.status for e in store.events_after(run_id, 0)]


@pytest.fixture
def sqlite_db(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'runs.db'}")
    db.migrate()
    yield db
    db.close()


@pytest.fixture
def short_patience(monkeypatch):
    monkeypatch.setattr(loop, "REPORT_PATIENCE", 0.3)
    monkeypatch.setattr(loop, "COMPLETE_PATIENCE", 0.3)


def lease_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("lease-")]


def test_the_lease_renewer_does_not_outlive_a_run_whose_first_query_raised(
    sqlite_db, tmp_path, short_patience
):
    store = FlakyStore(sqlite_db, max_progress=-1)
    worker, run = one_run(store, Steps(tmp_path / "videos"), tmp_path, lease_seconds=0.3)
    assert worker.run_one(run) == "released"  # a database error gives the run back
    time.sleep(0.5)  # a renewer would have renewed five times by now
    assert store.calls["renew"] == 0 and not lease_threads()
    again = store.get(run.id)
    assert again.status == "queued" and again.attempts == 0 and again.lease_expires_at is None
    assert "error" not in event_statuses(store, run.id)


def test_a_report_meeting_a_busy_database_is_retried_and_the_run_completes(sqlite_db, tmp_path):
    store = FlakyStore(sqlite_db, report=2)
    worker, run = one_run(store, Steps(tmp_path / "videos"), tmp_path)
    assert worker.run_one(run) == "completed"
    assert event_statuses(store, run.id) == [
        "started",
        "generating_content",
        "generating_scripts",
        "generating_audio",
        "completed",
    ]
    assert not lease_threads()


def test_a_database_that_stays_away_while_reporting_gives_the_run_back_without_an_error(
    sqlite_db, tmp_path, short_patience
):
    store = FlakyStore(sqlite_db, report=-1)
    worker, run = one_run(store, Steps(tmp_path / "videos"), tmp_path)
    assert worker.run_one(run) == "released"
    again = store.get(run.id)
    assert again.status == "queued" and again.attempts == 0 and again.error is None
    assert event_statuses(store, run.id) == []


@pytest.mark.parametrize("how", ["busy twice", "answer lost"])
def test_completing_is_retried_and_the_finished_video_is_kept(sqlite_db, tmp_path, how):
    store = FlakyStore(sqlite_db, complete=2 if how == "busy twice" else 0)
    store.answer_lost = how == "answer lost"  # committed, but the worker never heard so
    worker, run = one_run(store, Steps(tmp_path / "videos"), tmp_path)
    assert worker.run_one(run) == "completed"
    done = store.get(run.id)
    assert done.status == "completed" and done.result == {"video": f"g-{run.id}-a1.mp4"}
    assert (tmp_path / "videos" / f"g-{run.id}-a1.mp4").is_file()


def test_a_database_that_stays_away_while_completing_never_ends_the_run_in_error(
    sqlite_db, tmp_path, short_patience
):
    store = FlakyStore(sqlite_db, complete=-1)
    worker, run = one_run(store, Steps(tmp_path / "videos"), tmp_path)
    assert worker.run_one(run) == "released"
    assert store.get(run.id).status == "queued"
    assert "error" not in event_statuses(store, run.id)


class UntilStopped:
    """Works until the run's stop check says stop, as Piper and ffmpeg do."""

    def __init__(self):
        self.noticed = threading.Event()

    def run(self, run, report, workdir):
        report(*STEPS[0])
        while not report.should_stop():
            time.sleep(0.01)
        self.noticed.set()
        raise Stopped("stopped")


def test_a_cancel_is_noticed_within_about_a_second_between_lease_renewals(sqlite_db, tmp_path):
    store = RunStore(sqlite_db)
    pipeline = UntilStopped()
    worker, run = one_run(store, pipeline, tmp_path, lease_seconds=30)  # renewals 10 s apart
    outcome: list[str] = []
    thread = threading.Thread(target=lambda: outcome.append(worker.run_one(run)))
    thread.start()
    time.sleep(0.3)
    store.cancel("g", time.time())
    cancelled = time.monotonic()
    assert pipeline.noticed.wait(10)
    noticed = time.monotonic() - cancelled
    thread.join(10)
    assert outcome == ["cancelled"] and noticed < 5, noticed  # checked every 0.5 s
    assert event_statuses(store, run.id)[-1] == "error"  # only the cancel's own event
    print(f"\ncancel noticed after {noticed:.2f} s")


def test_a_stopping_worker_gives_its_run_back_whatever_ended_the_step(sqlite_db, tmp_path):
    def stop_then_ffmpeg_dies(worker: Worker) -> None:
        worker.stop()  # the platform's SIGTERM reached the worker ...
        raise FFmpegInterrupted(["ffmpeg"], 255, "received signal 15")  # ... and ffmpeg

    store = RunStore(sqlite_db)
    worker, run = one_run(store, Steps(tmp_path / "videos", before=stop_then_ffmpeg_dies), tmp_path)
    assert worker.run_one(run) == "released"
    again = store.get(run.id)
    assert again.status == "queued" and again.attempts == 0
    assert "error" not in event_statuses(store, run.id)


def test_ffmpeg_killed_by_a_signal_while_the_worker_is_not_stopping_is_retried(sqlite_db, tmp_path):
    def ffmpeg_dies(worker: Worker) -> None:
        raise FFmpegInterrupted(["ffmpeg"], -9, "")

    store = RunStore(sqlite_db)
    worker, run = one_run(store, Steps(tmp_path / "videos", before=ffmpeg_dies), tmp_path)
    assert worker.run_one(run) == "queued"
    again = store.get(run.id)
    assert again.status == "queued" and again.attempts == 1  # this attempt counts
    assert "error" not in event_statuses(store, run.id)


def test_a_step_that_ignores_the_stop_is_given_back_at_the_deadline(sqlite_db, tmp_path):
    def stuck(worker: Worker) -> None:
        worker.stop()
        time.sleep(1.0)  # a network call that cannot be interrupted

    store = RunStore(sqlite_db)
    worker, run = one_run(store, Steps(tmp_path / "videos", before=stuck), tmp_path, stop_grace=0.2)
    outcome: list[str] = []
    thread = threading.Thread(target=lambda: outcome.append(worker.run_one(run)))
    thread.start()
    deadline = time.monotonic() + 10
    while store.get(run.id).status != "queued" and time.monotonic() < deadline:
        time.sleep(0.02)
    assert store.get(run.id).status == "queued"  # given back while the step still runs
    assert thread.is_alive()
    thread.join(10)
    assert outcome == ["released"] and store.get(run.id).attempts == 0
    assert "error" not in event_statuses(store, run.id)


def test_the_completing_attempt_removes_other_attempts_files_and_nothing_else(sqlite_db, tmp_path):
    store = RunStore(sqlite_db)
    worker, run = one_run(store, Steps(tmp_path / "videos"), tmp_path)
    videos, runs = tmp_path / "videos", tmp_path / "runs"
    videos.mkdir()
    others = [f"g-{run.id}-a7-a1.mp4", f"g-{run.id}-7-a1.mp4", f"g-{run.id}7-a1.mp4", "h-1-a1.mp4"]
    others.append(f"g-{run.id}.mp4")  # a run's video from before attempts had names
    for name in (f"g-{run.id}-a7.mp4", *others):
        (videos / name).write_bytes(b"x")  # a stale attempt's, then other runs' videos
    (runs / str(run.id) / "7").mkdir(parents=True)
    assert worker.run_one(run) == "completed"
    assert sorted(p.name for p in videos.iterdir()) == sorted([f"g-{run.id}-a1.mp4", *others])
    assert [p.name for p in (runs / str(run.id)).iterdir()] == ["1"]


def test_error_events_name_the_step_and_cause_without_server_paths(tmp_path):
    ffmpeg_failed = FFmpegError(
        ["/opt/venv/lib/ffmpeg-linux", "-i", "x"],
        1,
        f"Error opening input file {tmp_path}/runs/4/1/narration.wav.\n"
        "[Errno 2] No such file or directory: 'data/videos/.compose-1/video.mp4'",
    )
    message = loop.error_message(
        "composing_video", ffmpeg_failed, [Path("data"), Path("data").resolve()]
    )
    assert "composing_video" in message and "narration.wav" in message
    assert "video.mp4" in message and "/" not in message.replace("1/3", "")
    assert str(tmp_path) not in message and "data/" not in message
    os_error = OSError(2, "No such file or directory", "/srv/videoforge/runs/9/2/content.json")
    assert "/srv" not in loop.error_message("generating_content", os_error)
    assert "slide 1/3" in loop.scrub_paths("slide 1/3 at https://example.org/a/b")
    assert "https://example.org/a/b" in loop.scrub_paths("see https://example.org/a/b")
