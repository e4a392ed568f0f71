"""Retention: finished runs' files go by age and by size, never a live run's, never outside the data dir.

Store-backed tests run on a real SQLite file migrated from migrations/ and on PostgreSQL
when configured (the `store` fixture); the files are real files in tmp_path.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import falcon.testing
import pytest

from videoforge.core.request import Capabilities
from videoforge.core.settings import Settings
from videoforge.core.types import Run
from videoforge.pipeline.cache import Cache
from videoforge.store.database import Database
from videoforge.store.runs import RunStore
from videoforge.web.app import create_app
from videoforge.worker.retention import MB, Retention, prune, video_owners

ROOT = Path(__file__).resolve().parent.parent
NOW = 1_700_000_000.0
DAY = 86400.0
HOUR = 3600.0
REQ = {"topic": "t"}
FOREVER = 1e9  # a lease that never lapses within a test


def finished(store: RunStore, gid: str, at: float, status: str = "completed", **result) -> Run:
    """Make a run of gid that ended at `at`: completed (with result), error or cancelled."""
    run = store.enqueue(gid, REQ, at - 60)
    if status == "cancelled":
        store.cancel(gid, at)
    else:
        claimed = store.claim("w", at - 50, FOREVER)
        assert claimed is not None and claimed.id == run.id, "make finished runs before live ones"
        if status == "completed":
            store.complete(run.id, "w", {"video": f"{gid}-{run.id}.mp4", **result}, at)
        else:
            store.fail(run.id, "w", "boom", at, retry=False)
    ended = store.get(run.id)
    assert ended is not None and ended.status == status
    return ended


def running(store: RunStore, gid: str, started: float = NOW - 50) -> Run:
    """Make a run of gid that a worker holds now, since `started`."""
    run = store.enqueue(gid, REQ, started - 10)
    claimed = store.claim("w2", started, FOREVER)
    assert claimed is not None and claimed.id == run.id and claimed.started_at == started
    return claimed


def write(path: Path, size: int = 1000, mtime: float | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\0" * size)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def run_files(data: Path, run: Run, size: int = 1000) -> list[Path]:
    """Write `size` bytes of what the pipeline leaves for a run: its folder, a video per attempt."""
    folder = data / "runs" / str(run.id)
    return [
        write(folder / "1" / "narration.wav", size // 4),
        write(folder / "content.json", size // 4),
        write(data / "videos" / f"{run.generation_id}-{run.id}.mp4", size // 4),
        write(data / "videos" / f"{run.generation_id}-{run.id}-2.mp4", size - 3 * (size // 4)),
    ]


def cache_entry(data: Path, n: int, size: int, mtime: float, suffix: str = ".wav") -> Path:
    key = f"{n:02x}" * 32
    return write(data / "cache" / key[:2] / f"{key}{suffix}", size, mtime)


def shown(path: Path) -> str:
    """Name a cache file as a report does: relative to the data directory."""
    return f"cache/{path.parent.name}/{path.name}"


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() if p.is_file() else b"<dir>"
        for p in sorted(root.rglob("*"))
    }


@pytest.mark.parametrize(
    ("name", "owners"),
    [
        ("Intro-5.mp4", {("Intro", 5)}),
        ("Intro-5-2.mp4", {("Intro", 5), ("Intro-5", 2)}),
        ("COVID-19-5-1.mp4", {("COVID", 19), ("COVID-19", 5), ("COVID-19-5", 1)}),
        ("Intro-52.mp4", {("Intro", 52)}),
        ("x.mp4", set()),
        (".compose-1234abcd", set()),
    ],
)
def test_video_owners_names_every_run_a_video_file_name_may_belong_to(name, owners):
    assert video_owners(name) == owners


# --- the age policy ------------------------------------------------------------------------


def test_age_policy_removes_runs_that_ended_over_keep_days_ago_and_records_it(store, tmp_path):
    old = finished(store, "old", NOW - 40 * DAY)
    failed = finished(store, "failed", NOW - 35 * DAY, status="error")
    cancelled = finished(store, "cancelled", NOW - 31 * DAY, status="cancelled")
    recent = finished(store, "recent", NOW - 10 * DAY)
    files = {run.id: run_files(tmp_path, run) for run in (old, failed, cancelled, recent)}

    report = prune(store, tmp_path, keep_days=30, keep_mb=0, now=NOW)

    assert [(r.run_id, r.reason) for r in report.runs] == [
        (old.id, "age"),
        (failed.id, "age"),
        (cancelled.id, "age"),
    ]
    assert report.freed == 3 * 1000 and report.size_after == 1000
    for run in (old, failed, cancelled):
        assert not any(p.exists() for p in files[run.id])
        assert not (tmp_path / "runs" / str(run.id)).exists()
        assert store.pruned_at(run.id) == NOW
    assert all(p.exists() for p in files[recent.id])
    assert store.pruned_at(recent.id) is None
    # The rows stay: they are the history.
    assert store.get(old.id).status == "completed" and store.history("old")[0].id == old.id
    assert prune(store, tmp_path, keep_days=30, keep_mb=0, now=NOW).runs == []


def test_a_run_that_ended_moments_ago_is_left_to_settle_even_past_keep_days(store, tmp_path):
    # A worker that lost its lease or was cancelled mid-compose may still be writing.
    just = finished(store, "just", NOW - 60)
    files = run_files(tmp_path, just)
    report = prune(store, tmp_path, keep_days=0.0001, keep_mb=1, now=NOW)  # 8.6 s; 1 MB
    assert report.runs == [] and all(p.exists() for p in files)
    later = prune(store, tmp_path, keep_days=0.0001, keep_mb=0, now=NOW + 3600)
    assert [r.run_id for r in later.runs] == [just.id]


# --- the size policy -----------------------------------------------------------------------


def test_size_policy_removes_unused_cache_entries_first_then_the_oldest_finished_runs(
    store, tmp_path
):
    # Made out of order: the policy goes by when runs ended, not by id.
    middle = finished(store, "middle", NOW - 2 * HOUR)
    oldest = finished(store, "oldest", NOW - 3 * HOUR)
    newest = finished(store, "newest", NOW - 1 * HOUR)
    for run in (middle, oldest, newest):
        run_files(tmp_path, run, MB)
    # Used after every run ended, yet they go first: the cache can be rebuilt, videos cannot.
    cache = [cache_entry(tmp_path, n, MB, NOW - 30 * 60) for n in (1, 2)]

    report = prune(store, tmp_path, keep_days=0, keep_mb=1, now=NOW)

    assert report.cache_entries == [shown(p) for p in cache] and report.cache_size == 2 * MB
    assert not any(p.exists() for p in cache)
    assert [(r.run_id, r.reason) for r in report.runs] == [
        (oldest.id, "size"),
        (middle.id, "size"),
    ]
    assert report.size_before == 5 * MB and report.size_after == MB  # 1 MB is not past 1
    assert (tmp_path / "videos" / f"newest-{newest.id}.mp4").exists()
    assert store.pruned_at(newest.id) is None


def test_size_policy_removes_the_least_recently_used_cache_entries_first_and_only_the_caches_own(
    store, tmp_path
):
    run = finished(store, "only", NOW - 4 * HOUR)
    files = run_files(tmp_path, run, MB)
    first = cache_entry(tmp_path, 1, MB, NOW - 3 * HOUR)
    last = cache_entry(tmp_path, 2, MB, NOW - 1 * HOUR)
    second = cache_entry(tmp_path, 3, MB, NOW - 2 * HOUR)
    stray = write(tmp_path / "cache" / first.parent.name / "notes.txt", MB, NOW - 9 * HOUR)
    outside = write(tmp_path / "outside.wav", 10, NOW - 9 * HOUR)
    link = tmp_path / "cache" / "ee" / ("e" * 64 + ".wav")
    link.parent.mkdir()
    link.symlink_to(outside)

    report = prune(store, tmp_path, keep_days=0, keep_mb=3, now=NOW)

    assert report.cache_entries == [shown(first), shown(second)]
    assert not first.exists() and not second.exists() and last.exists()
    assert report.size_after == 3 * MB and report.cache_size == 2 * MB
    assert report.runs == [] and all(p.exists() for p in files)
    # Only the cache's own names go; its folders stay (a writer may be about to use one).
    assert stray.exists() and link.is_symlink() and outside.exists()
    assert first.parent.is_dir()


def test_a_keys_files_go_together_the_described_file_first_and_a_use_of_one_keeps_both(
    store, tmp_path
):
    # The pipeline stores a .wav's cues before the .wav and reads them after a hit on the
    # .wav alone: cues must never go while their .wav stays.
    old_wav = cache_entry(tmp_path, 1, MB, NOW - 3 * HOUR)
    old_cues = cache_entry(tmp_path, 1, 10, NOW - 3 * HOUR - 1, ".cues.json")
    used_cues = cache_entry(tmp_path, 2, MB, NOW - 5 * HOUR, ".cues.json")
    used_wav = cache_entry(tmp_path, 2, 10, NOW - 2 * HOUR)  # its hit was the later one
    png = cache_entry(tmp_path, 3, MB - 10, NOW - 1 * HOUR, ".png")
    credit = cache_entry(tmp_path, 3, 10, NOW - 1 * HOUR, ".credit.json")

    report = prune(store, tmp_path, keep_days=0, keep_mb=1, now=NOW)

    assert report.cache_entries == [
        shown(old_wav),
        shown(old_cues),
        shown(used_wav),
        shown(used_cues),
    ]
    assert png.exists() and credit.exists() and report.size_after == MB


# --- the cache while runs are running ------------------------------------------------------


def test_on_a_busy_deployment_unused_cache_entries_go_before_any_finished_runs_video(
    store, tmp_path
):
    # A run is nearly always running on a busy deployment; the cache must not crowd out videos.
    done = [finished(store, f"done{n}", NOW - (2 - n) * DAY) for n in range(2)]
    files = [path for run in done for path in run_files(tmp_path, run, MB)]
    running(store, "busy")
    stale = [
        cache_entry(tmp_path, n, MB, mtime)
        for n, mtime in enumerate((NOW - 3 * DAY, NOW - 12 * HOUR, NOW - 2 * HOUR))
    ]

    report = prune(store, tmp_path, keep_days=0, keep_mb=2, now=NOW)

    assert report.cache_entries == [shown(p) for p in stale] and report.cache_in_use == 0
    assert report.runs == [] and all(p.exists() for p in files)
    assert report.size_after == 2 * MB


def test_a_cache_entry_used_since_the_oldest_running_run_started_is_kept_while_it_runs(
    store, tmp_path
):
    done = finished(store, "done", NOW - DAY)
    files = run_files(tmp_path, done, MB)
    busy = running(store, "busy", started=NOW - 3 * HOUR)
    unused = cache_entry(tmp_path, 1, MB, NOW - 4 * HOUR)
    margin = cache_entry(tmp_path, 2, MB, NOW - 3 * HOUR - 30)  # clocks need not agree
    used = cache_entry(tmp_path, 3, MB, NOW - 1 * HOUR)

    report = prune(store, tmp_path, keep_days=0, keep_mb=2, now=NOW)

    # Past the unused entry, only the finished run's files can go; the running run's stay.
    assert report.cache_entries == [shown(unused)] and not unused.exists()
    assert margin.exists() and used.exists() and report.cache_in_use == 2
    assert "2 cache entries in use left alone" in report.summary()
    assert [r.run_id for r in report.runs] == [done.id] and not any(p.exists() for p in files)
    assert report.size_after == 2 * MB

    assert store.complete(busy.id, "w2", {"video": "x.mp4"}, NOW)
    after = prune(store, tmp_path, keep_days=0, keep_mb=1, now=NOW + HOUR)
    assert after.cache_entries == [shown(margin)] and used.exists() and after.cache_in_use == 0


# --- what is never touched -----------------------------------------------------------------


def test_files_of_queued_and_running_runs_are_never_touched_even_far_past_the_limits(
    store, tmp_path
):
    done = finished(store, "done", NOW - 40 * DAY)
    busy = running(store, "busy")
    waiting = store.enqueue("waiting", REQ, NOW - 50 * DAY)  # e.g. released after an attempt
    run_files(tmp_path, done, MB)
    live = run_files(tmp_path, busy, 2 * MB) + run_files(tmp_path, waiting, 2 * MB)
    for path in live:
        os.utime(path, (NOW - 60 * DAY, NOW - 60 * DAY))
    before = {str(p): p.read_bytes() for p in live}

    report = prune(store, tmp_path, keep_days=1, keep_mb=1, now=NOW)

    assert [r.run_id for r in report.runs] == [done.id]
    assert {str(p): p.read_bytes() for p in live} == before
    assert store.pruned_at(busy.id) is None and store.pruned_at(waiting.id) is None
    assert not store.mark_pruned(busy.id, NOW) and not store.mark_pruned(waiting.id, NOW)


def test_cache_entries_used_within_the_settle_time_are_kept_when_no_run_is_running(store, tmp_path):
    # A worker that lost its run may still be reading them, as it may still be writing files.
    old = cache_entry(tmp_path, 1, MB, NOW - HOUR)
    recent = cache_entry(tmp_path, 2, MB, NOW - 5 * 60)
    fresh = Cache(tmp_path / "cache").put(Cache.key("fresh"), ".wav", old)  # mtime: now

    report = prune(store, tmp_path, keep_days=0, keep_mb=1, now=NOW)

    assert report.cache_entries == [shown(old)] and report.cache_in_use == 2
    assert recent.exists() and fresh.exists()


class Meanwhile(RunStore):
    """A real store that runs `action` when asked for running runs the n-th time (a worker acting meanwhile).

    The cache is scanned before running runs are read, so the first call falls between the
    scan and the removals.
    """

    def __init__(self, store: RunStore, action, on_call: int = 1):
        super().__init__(store.db)
        self.action = action
        self.on_call = on_call
        self.calls = 0

    def running(self) -> list[Run]:
        self.calls += 1
        if self.calls == self.on_call:
            self.action()
        return super().running()


def test_a_run_that_starts_during_a_pass_keeps_the_cache_entries_it_uses(store, tmp_path):
    entries = [cache_entry(tmp_path, n, 10240, NOW - DAY + n) for n in range(250)]
    store.enqueue("next", REQ, NOW)

    def start_and_use() -> None:  # between the scan and the removals
        assert store.claim("w", NOW, FOREVER) is not None
        assert Cache(tmp_path / "cache").get(f"{100:02x}" * 32, ".wav") == entries[100]

    report = prune(Meanwhile(store, start_and_use), tmp_path, keep_days=0, keep_mb=1, now=NOW)

    # 148 entries bring 2.5 MB within 1 MB; the one the run used is passed over, not lost.
    assert len(report.cache_entries) == 148 and shown(entries[100]) not in report.cache_entries
    assert entries[100].exists() and not entries[148].exists() and entries[149].exists()


def test_a_cache_entry_written_again_after_the_scan_is_kept(store, tmp_path):
    entries = [cache_entry(tmp_path, n, 10240, NOW - DAY + n) for n in range(250)]

    def rewrite() -> None:  # a worker stores the same key again: the entry is in use
        os.utime(entries[100], (NOW, NOW))

    report = prune(Meanwhile(store, rewrite), tmp_path, keep_days=0, keep_mb=1, now=NOW)

    assert len(report.cache_entries) == 148 and report.cache_in_use == 0
    assert entries[100].exists() and not entries[148].exists() and entries[149].exists()


def test_paths_outside_the_data_dir_are_never_touched_links_included(store, tmp_path):
    data, outside = tmp_path / "data", tmp_path / "outside"
    secret = write(outside / "secret.txt", 7)
    inner = write(outside / "dir" / "inner.txt", 7)
    victim = write(outside / "victim.mp4", 7)
    other = write(outside / "dir2" / "kept.txt", 7)
    before = snapshot(outside)
    # A run folder holding links to a file and a folder outside.
    one = finished(store, "one", NOW - 40 * DAY, video="../../outside/victim.mp4")
    write(data / "runs" / str(one.id) / "content.json", 10)
    (data / "runs" / str(one.id) / "link-file").symlink_to(secret)
    (data / "runs" / str(one.id) / "link-dir").symlink_to(inner.parent, target_is_directory=True)
    # A run folder that is itself a link outside, and a video that is a link outside.
    two = finished(store, "two", NOW - 40 * DAY)
    (data / "runs").mkdir(exist_ok=True)
    (data / "runs" / str(two.id)).symlink_to(other.parent, target_is_directory=True)
    (data / "videos").mkdir()
    (data / "videos" / f"two-{two.id}.mp4").symlink_to(victim)

    report = prune(store, data, keep_days=30, keep_mb=0, now=NOW)

    assert snapshot(outside) == before
    assert not (data / "runs" / str(one.id)).exists()  # its links went, their targets stayed
    assert (data / "runs" / str(two.id)).is_symlink()
    assert (data / "videos" / f"two-{two.id}.mp4").is_symlink()
    kept = "\n".join(report.kept)
    assert f"runs/{two.id}: leads outside runs/" in kept
    assert f"videos/two-{two.id}.mp4: leads outside videos/" in kept
    assert "not a file name in videos/" in kept  # the result's "../../outside/victim.mp4"
    assert report.runs[0].paths == [f"runs/{one.id}"]


def test_a_video_name_that_another_kept_run_may_own_is_left_until_both_are_pruned(store, tmp_path):
    # Generation ids may hold "-" and digits: "a-1-2.mp4" is attempt 2 of run 1 of "a", or
    # run 2 of "a-1".
    first = finished(store, "a", NOW - 40 * DAY)
    second = running(store, f"a-{first.id}")
    own = write(tmp_path / "videos" / f"a-{first.id}.mp4")
    shared = write(tmp_path / "videos" / f"a-{first.id}-{second.id}.mp4")
    assert video_owners(shared.name) == {("a", first.id), (f"a-{first.id}", second.id)}

    report = prune(store, tmp_path, keep_days=30, keep_mb=0, now=NOW)

    assert not own.exists() and shared.exists()
    assert any(f"may be a file of run {second.id}" in line for line in report.kept)

    assert store.complete(second.id, "w2", {"video": shared.name}, NOW - 39 * DAY)
    later = prune(store, tmp_path, keep_days=30, keep_mb=0, now=NOW)
    assert [r.run_id for r in later.runs] == [second.id] and not shared.exists()


def test_dry_run_lists_exactly_what_a_real_pass_removes_and_removes_nothing(store, tmp_path):
    aged = finished(store, "aged", NOW - 40 * DAY)
    big = finished(store, "big", NOW - 2 * HOUR)
    small = finished(store, "small", NOW - 1 * HOUR)
    running(store, "busy", started=NOW - 90 * 60)
    run_files(tmp_path, aged, MB)
    run_files(tmp_path, big, 2 * MB)
    run_files(tmp_path, small, MB // 2)
    cache_entry(tmp_path, 1, MB, NOW - 1 * HOUR)  # used by the running run
    cache_entry(tmp_path, 2, MB // 2, NOW - 2 * HOUR)
    # The data folders only: a SQLite database beside them changes its index as it is read.
    folders = [tmp_path / name for name in ("videos", "runs", "cache")]
    before = [snapshot(folder) for folder in folders]

    dry = prune(store, tmp_path, keep_days=30, keep_mb=1, now=NOW, dry_run=True)

    assert [snapshot(folder) for folder in folders] == before
    assert all(store.pruned_at(r.id) is None for r in (aged, big, small))
    assert [(r.run_id, r.reason) for r in dry.runs] == [
        (aged.id, "age"),
        (big.id, "size"),
        (small.id, "size"),
    ]
    assert len(dry.cache_entries) == 1 and dry.cache_in_use == 1
    assert dry.summary().startswith("would prune 3 runs and 1 cache entry")
    real = prune(store, tmp_path, keep_days=30, keep_mb=1, now=NOW)
    assert [(r.run_id, r.reason, r.paths, r.size) for r in real.runs] == [
        (r.run_id, r.reason, r.paths, r.size) for r in dry.runs
    ]
    assert real.cache_entries == dry.cache_entries and real.freed == dry.freed
    assert real.cache_in_use == dry.cache_in_use
    assert real.summary().startswith("pruned 3 runs and 1 cache entry")


# --- the automatic policy ------------------------------------------------------------------


def test_an_uploaded_deck_goes_once_no_run_with_kept_files_names_it(store, tmp_path):
    def deck_run(gid: str, name: str, at: float) -> Run:
        deck = {"file": name, "kind": "pdf", "name": "d.pdf", "bytes": 1000}
        run = store.enqueue(gid, {"topic": gid, "deck": deck}, at - 60)
        assert store.claim("w", at - 50, FOREVER).id == run.id
        store.complete(run.id, "w", {"video": f"{gid}-{run.id}.mp4"}, at)
        return run

    old, kept, loose = ("a" * 64 + ".pdf", "b" * 64 + ".pdf", "c" * 64 + ".pdf")
    shared = "d" * 64 + ".pptx"
    deck_run("Old", old, NOW - 40 * DAY)
    deck_run("Kept", kept, NOW - DAY)
    deck_run("Shared1", shared, NOW - 40 * DAY)
    deck_run("Shared2", shared, NOW - DAY)  # a later run of the same deck keeps it
    fresh = "e" * 64 + ".pdf"  # stored moments ago, its request not queued yet
    uploads = tmp_path / "uploads"
    for name in (old, kept, loose, shared):
        write(uploads / name, 1000, NOW - 30 * DAY)
    write(uploads / fresh, 1000, NOW - 60)
    write(uploads / "notes.txt", 10, NOW - 30 * DAY)  # not ours: never touched

    preview = prune(store, tmp_path, keep_days=30, keep_mb=0, now=NOW, dry_run=True)
    assert sorted(preview.uploads) == [f"uploads/{old}", f"uploads/{loose}"]
    assert (uploads / old).exists()
    report = prune(store, tmp_path, keep_days=30, keep_mb=0, now=NOW)
    assert sorted(report.uploads) == sorted(preview.uploads) and report.uploads_size == 2000
    assert "removed 2 uploaded decks no kept run names (0.0 MB)" in report.summary()
    assert sorted(p.name for p in uploads.iterdir()) == sorted([kept, shared, fresh, "notes.txt"])


def test_automatic_policy_prunes_at_most_once_per_interval(store, tmp_path):
    first = finished(store, "first", NOW - 40 * DAY)
    run_files(tmp_path, first)
    policy = Retention(store, tmp_path, keep_days=30, keep_mb=0, every=HOUR)

    report = policy.maybe_prune(NOW)
    assert report is not None and [r.run_id for r in report.runs] == [first.id]

    second = finished(store, "second", NOW - 40 * DAY)
    files = run_files(tmp_path, second)
    assert policy.maybe_prune(NOW + 60) is None and all(p.exists() for p in files)
    later = policy.maybe_prune(NOW + HOUR)
    assert later is not None and [r.run_id for r in later.runs] == [second.id]


def test_automatic_policy_does_nothing_when_both_limits_are_off(store, tmp_path):
    old = finished(store, "old", NOW - 400 * DAY)
    files = run_files(tmp_path, old)
    policy = Retention(store, tmp_path, keep_days=0, keep_mb=0)
    assert not policy.enabled and policy.maybe_prune(NOW) is None
    assert all(p.exists() for p in files)


def test_mark_pruned_records_a_finished_run_once_and_never_a_live_one(store):
    busy = running(store, "busy")
    assert not store.mark_pruned(busy.id, NOW)
    assert store.complete(busy.id, "w2", {}, NOW)
    assert store.mark_pruned(busy.id, NOW + 1)
    assert not store.mark_pruned(busy.id, NOW + 2)
    assert store.pruned_at(busy.id) == NOW + 1
    assert store.finished_unpruned(NOW + 10) == []


def test_finished_unpruned_pages_oldest_first(store):
    made = [finished(store, f"g{n}", NOW - (10 - n) * HOUR) for n in range(5)]
    page = store.finished_unpruned(NOW, limit=2)
    assert [r.id for r in page] == [made[0].id, made[1].id]
    rest = store.finished_unpruned(NOW, after=(page[-1].finished_at, page[-1].id), limit=10)
    assert [r.id for r in rest] == [r.id for r in made[2:]]


# --- the API after pruning -----------------------------------------------------------------

OUTPUTS = (
    "/api/generations/lesson/video",
    "/api/content/lesson",
    "/api/script/lesson",
    "/api/captions/lesson.vtt",
)


@pytest.fixture
def pruned_client(tmp_path):
    """A client of the app over a data dir whose one completed run was pruned; and its run."""
    db = Database(f"sqlite:///{tmp_path / 'videoforge.db'}")
    db.migrate()
    store = RunStore(db)
    run = finished(store, "lesson", NOW - 40 * DAY)
    name = f"lesson-{run.id}.mp4"
    write(tmp_path / "videos" / name, 4096)
    folder = tmp_path / "runs" / str(run.id)
    for file in ("content.json", "script.json"):
        write(folder / file).write_text('{"slides": []}')
    write(folder / "captions.vtt").write_text("WEBVTT\n")
    app = create_app(Settings(data_dir=tmp_path), store, capabilities=Capabilities())
    client = falcon.testing.TestClient(app, headers={"Host": "localhost"})
    for path in (*OUTPUTS, f"/api/video/{name}"):
        assert client.simulate_get(path).status_code == 200, path
    assert [r.run_id for r in prune(store, tmp_path, keep_days=30, keep_mb=0, now=NOW).runs] == [
        run.id
    ]
    yield client, run
    db.close()


def test_api_answers_a_pruned_runs_outputs_with_a_json_404_or_410_never_a_broken_file(
    pruned_client,
):
    client, run = pruned_client
    for path in (*OUTPUTS, f"/api/video/lesson-{run.id}.mp4"):
        resp = client.simulate_get(path)
        assert resp.status_code in (404, 410), path
        assert resp.headers["content-type"].startswith("application/json"), path
        assert resp.json["detail"], path
    status = client.simulate_get("/api/status/lesson")
    assert status.status_code == 200 and status.json["run_status"] == "completed"
    assert status.json["pruned_at"] is not None  # the status says the files went


def test_api_says_a_pruned_runs_outputs_were_removed_by_retention_with_410(pruned_client):
    client, _run = pruned_client
    for path in OUTPUTS:
        resp = client.simulate_get(path)
        assert resp.status_code == 410, path
        assert "retention" in resp.json["detail"], path


# --- the command ---------------------------------------------------------------------------


def _prune_command(data: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIDEOFORGE_", "OPENAI_"))}
    env.pop("DATABASE_URL", None)
    env.update(VIDEOFORGE_DATA_DIR=str(data), VIDEOFORGE_LOG_LEVEL="WARNING")
    return subprocess.run(
        [sys.executable, "-m", "videoforge.cli", "prune", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.slow
def test_prune_command_previews_then_prunes_by_the_settings_and_its_overrides(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'videoforge.db'}")
    db.migrate()
    store = RunStore(db)
    now = time.time()
    old = finished(store, "old", now - 40 * DAY)
    recent = finished(store, "recent", now - 1 * DAY)
    old_files = run_files(tmp_path, old, MB)
    recent_files = run_files(tmp_path, recent, 2 * MB)

    preview = _prune_command(tmp_path, "--dry-run")
    assert preview.returncode == 0, preview.stderr
    assert f"run {old.id} (old): age, 1.0 MB: runs/{old.id}, videos/old-{old.id}-2.mp4" in (
        preview.stdout
    )
    assert "would prune 1 run and 0 cache entries, would free 1.0 MB" in preview.stdout
    assert all(p.exists() for p in old_files) and store.pruned_at(old.id) is None

    done = _prune_command(tmp_path)  # VIDEOFORGE_KEEP_DAYS: 30 by default
    assert done.returncode == 0, done.stderr
    assert "pruned 1 run and 0 cache entries, freed 1.0 MB" in done.stdout
    assert not any(p.exists() for p in old_files) and all(p.exists() for p in recent_files)
    assert store.pruned_at(old.id) is not None

    by_size = _prune_command(tmp_path, "--days", "0", "--mb", "1")
    assert by_size.returncode == 0, by_size.stderr
    assert f"run {recent.id} (recent): size, 2.0 MB" in by_size.stdout
    assert not any(p.exists() for p in recent_files)

    off = _prune_command(tmp_path, "--days", "0", "--mb", "0")
    assert off.returncode == 0 and "retention is off" in off.stdout
    bad = _prune_command(tmp_path, "--days", "-1")
    assert bad.returncode == 2 and "--days must be between 0" in bad.stderr
    db.close()
