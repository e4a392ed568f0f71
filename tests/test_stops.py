"""Stops, outages and attempts through the real processes: serve.py, worker.py, `videoforge run`,
real Piper speech and real ffmpeg. Timings are printed (run with -s to see them); the only
timed assertions are generous bounds."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from tests.helpers import ROOT, free_port, read_stream, request, request_json
from videoforge.media import inspection
from videoforge.store.database import Database
from videoforge.store.runs import RunStore

pytestmark = [pytest.mark.server, pytest.mark.slow]

SIZE = "1280x720"
FRAME = 1 / 30


def outline(slides: int, sentences: int = 3) -> list[dict]:
    """An outline whose narration takes Piper a while (about 7 s of speech per sentence)."""
    return [
        {
            "title": f"Part {i}",
            "bullets": [f"Point {i}.{j}" for j in range(1, sentences + 1)],
            "narration": " ".join(
                f"Part {i} explains point {j} in plain words, so that anyone listening can"
                " follow the idea without reading every line that is shown on the screen."
                for j in range(1, sentences + 1)
            ),
        }
        for i in range(1, slides + 1)
    ]


LONG = outline(8)  # about 3 minutes of speech: composing it takes ffmpeg a couple of seconds
SHORT = outline(2, 1)


# --- processes and files ------------------------------------------------------------------------


def children(pid: int) -> list[int]:
    """Return the pids of a process's children (from /proc)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(p) for p in (task / "children").read_text().split()]
        except OSError:
            pass
    return found


def cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return raw.decode(errors="replace").split("\0")


def alive(pid: int) -> bool:
    """Tell whether pid is a process that has not ended (a zombie counts as ended)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def group_members(pgid: int) -> list[int]:
    """Return the live processes whose process group is pgid."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(entry.name))
    return members


def processes_mentioning(text: str) -> list[int]:
    """Return the live processes whose command line mentions text (e.g. a data directory)."""
    return [
        int(e.name)
        for e in Path("/proc").iterdir()
        if e.name.isdigit() and text in " ".join(cmdline(int(e.name))) and alive(int(e.name))
    ]


def wait_until(check, timeout: float, what: str, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"{what} did not happen within {timeout} s")


def compose_ffmpeg(worker_pid: int, timeout: float = 120, step: str = "encoder") -> int:
    """Wait for one of the worker's composing ffmpegs and return its pid.

    Composition runs beside the speech: the "encoder" is the narration's AAC encoder, fed
    from the first slide's speech to the end; the "mux" joins the finished tracks (a
    fraction of a second, and it ends on its own).
    """

    def find():
        for pid in children(worker_pid):
            argv = cmdline(pid)
            if step == "encoder" and "pipe:0" in argv and "aac" in argv:
                return pid
            if step == "mux" and "-map_chapters" in argv:
                return pid
        return None

    return wait_until(find, timeout, f"composition ({step})", interval=0.005)


def store_of(url: str) -> RunStore:
    return RunStore(Database(url))


def sqlite_url(svc) -> str:
    return f"sqlite:///{svc.data_dir / 'videoforge.db'}"


def statuses(store: RunStore, run_id: int) -> list[str]:
    return [e.status for e in store.events_after(run_id, 0)]


def wait_for_run(store: RunStore, run_id: int, wanted: tuple[str, ...], timeout: float = 120):
    def reached():
        try:
            run = store.get(run_id)
        except Exception:  # the database may be restarting
            return None
        return run if run and run.status in wanted else None

    return wait_until(reached, timeout, f"run {run_id} reaching {wanted}")


def wait_for_event(store: RunStore, run_id: int, status: str, timeout: float = 120):
    return wait_until(
        lambda: status in statuses(store, run_id), timeout, f"run {run_id} reporting {status}"
    )


def post(svc, topic: str, slides: list[dict]) -> dict:
    status, body = request_json(
        svc, "POST", "/api/generate", {"topic": topic, "slides": slides, "size": SIZE}
    )
    assert status == 202, body
    return body


def check_video(svc, run, tmp_path: Path) -> Path:
    """Fetch the completed run's MP4 through the web and check that it is whole."""
    name = run.result["video"]
    assert name == f"{run.generation_id}-{run.id}-a{run.attempts}.mp4"
    # after a database restart each stale pooled connection of the web answers one 503
    for _ in range(20):
        status, _, data = request(svc, "GET", f"/api/video/{name}")
        if status != 503:
            break
    assert status == 200
    video = tmp_path / f"check-{run.id}.mp4"
    video.write_bytes(data)
    info = inspection.probe(video)
    assert info.video.codec == "h264" and info.audio.codec == "aac"
    assert abs(info.duration - run.result["duration"]) <= FRAME
    samples = inspection.decode_audio(video, sample_rate=8000)
    assert abs(len(samples) / 8000 - run.result["duration"]) <= FRAME
    return video


def run_videos(svc, run) -> list[str]:
    prefix = f"{run.generation_id}-{run.id}-"
    return sorted(
        p.name for p in (svc.data_dir / "videos").glob("*.mp4") if p.name.startswith(prefix)
    )


# --- SIGTERM and Ctrl-C -------------------------------------------------------------------------


def test_sigterm_to_a_worker_and_its_ffmpeg_gives_the_run_back_and_another_worker_completes_it(
    make_service, tmp_path
):
    svc = make_service()
    svc.start_web()
    worker = svc.start_worker(pipeline=None)
    body = post(svc, "Stopped while composing", LONG)
    streamed: list = []
    reader = threading.Thread(
        target=lambda: streamed.append(read_stream(svc, body["progress_url"], timeout=300)),
        daemon=True,
    )
    reader.start()
    store = store_of(sqlite_url(svc))

    ffmpeg = compose_ffmpeg(worker.pid)
    assert os.getsid(ffmpeg) != os.getsid(worker.pid)  # a terminal's or group's signal misses it
    started = time.monotonic()
    worker.send_signal(signal.SIGTERM)  # what a platform does: every process gets it
    os.kill(ffmpeg, signal.SIGTERM)
    assert worker.wait(timeout=30) == 0
    stopped = time.monotonic() - started
    assert not alive(ffmpeg)
    run = store.get(body["run_id"])
    assert run.status == "queued" and run.attempts == 0  # given back; the attempt not counted
    assert "error" not in statuses(store, run.id)

    svc.start_worker(pipeline=None)
    run = wait_for_run(store, run.id, ("completed", "error"))
    reader.join(timeout=60)
    assert run.status == "completed", svc.logs()
    events = [m.data for m in streamed[0][2] if m.data and not m.data.get("heartbeat")]
    assert [e["status"] for e in events][-2:] == ["completed", "done"]
    assert not [e for e in events if e["status"] == "error"]
    check_video(svc, run, tmp_path)
    print(f"\nworker stopped {stopped:.2f} s after SIGTERM during composition")


def start_videoforge_run(svc) -> subprocess.Popen:
    """Start `videoforge run` as a terminal would: in a process group of its own."""
    log = open(svc.data_dir / f"run-{time.monotonic_ns()}.log", "ab")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "videoforge.cli", "run"],
        cwd=ROOT,
        env=svc.env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    svc.procs.append(proc)
    wait_until(lambda: _healthy(svc) or proc.poll() is not None, 60, "videoforge run answering")
    assert proc.poll() is None, svc.logs()
    return proc


def _healthy(svc) -> bool:
    try:
        return request(svc, "GET", "/health", timeout=2)[0] == 200
    except OSError:
        return False


def test_ctrl_c_on_videoforge_run_during_speech_gives_the_run_back_and_a_restart_completes_it(
    make_service, tmp_path
):
    svc = make_service()
    app = start_videoforge_run(svc)
    body = post(svc, "Interrupted while speaking", outline(4))
    store = store_of(sqlite_url(svc))
    wait_for_event(store, body["run_id"], "generating_audio")

    started = time.monotonic()
    os.killpg(app.pid, signal.SIGINT)  # Ctrl-C: the whole foreground group gets SIGINT
    assert app.wait(timeout=40) == 0
    wait_until(lambda: not group_members(app.pid), 10, "every process of the group ending")
    stopped = time.monotonic() - started
    assert not processes_mentioning(str(svc.data_dir))
    run = store.get(body["run_id"])
    assert run.status == "queued" and run.attempts == 0
    assert "error" not in statuses(store, run.id)

    again = start_videoforge_run(svc)
    run = wait_for_run(store, run.id, ("completed", "error"))
    assert run.status == "completed", svc.logs()
    assert "error" not in statuses(store, run.id)
    assert statuses(store, run.id).count("started") == 2  # the one attempt, then its resumption
    check_video(svc, run, tmp_path)
    os.killpg(again.pid, signal.SIGINT)
    assert again.wait(timeout=40) == 0
    print(f"\nvideoforge run and its worker ended {stopped:.2f} s after Ctrl-C during speech")


def test_sigterm_to_videoforge_run_leaves_no_process_and_gives_the_run_back(make_service):
    svc = make_service()
    app = start_videoforge_run(svc)
    body = post(svc, "Terminated while speaking", outline(4))
    store = store_of(sqlite_url(svc))
    wait_for_event(store, body["run_id"], "generating_audio")
    members = group_members(app.pid)
    assert len(members) >= 2  # the web and its worker

    started = time.monotonic()
    app.send_signal(signal.SIGTERM)  # to `videoforge run` alone, as a process manager may
    assert app.wait(timeout=40) == 0
    wait_until(lambda: not group_members(app.pid), 10, "every process of the group ending")
    stopped = time.monotonic() - started
    assert not [pid for pid in members if alive(pid)]
    assert not processes_mentioning(str(svc.data_dir))
    run = store.get(body["run_id"])
    assert run.status == "queued" and run.attempts == 0
    assert "error" not in statuses(store, run.id)
    print(f"\nvideoforge run and its worker ended {stopped:.2f} s after SIGTERM")


# --- a database restarted mid-run ---------------------------------------------------------------


PG_BIN = next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin"))[-1:]), None)


def _as_postgres(*argv: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["runuser", "-u", "postgres", "--", *argv],
        check=check,
        capture_output=True,
        text=True,
        timeout=120,
    )


class OwnPostgres:
    """A throwaway PostgreSQL cluster of one test's own, which it may stop and start again."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.port = free_port()
        data = folder / "data"
        _as_postgres(str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres")
        self.ctl = [str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(folder / "log"), "-w"]
        self.options = f"-p {self.port} -k {folder} -c fsync=off -c listen_addresses=127.0.0.1"
        self.start()
        _as_postgres(str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "vf")
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/vf"

    def start(self) -> None:
        _as_postgres(*self.ctl, "-o", self.options, "start")

    def stop(self, mode: str = "fast", check: bool = True) -> None:
        _as_postgres(*self.ctl, "-m", mode, "stop", check=check)


@pytest.fixture
def own_postgres():
    """A throwaway PostgreSQL cluster this test may restart (root runs it as postgres)."""
    if PG_BIN is None or shutil.which("runuser") is None or os.geteuid() != 0:
        pytest.skip("needs PostgreSQL's binaries and root (to run them as the postgres user)")
    folder = Path(tempfile.mkdtemp(prefix="vf-pg-"))
    shutil.chown(folder, "postgres", "postgres")
    try:
        cluster = OwnPostgres(folder)
        yield cluster
        cluster.stop("immediate", check=False)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.postgres
@pytest.mark.parametrize(
    "outage",
    [
        pytest.param(5, id="reports-wait-it-out"),
        pytest.param(20, id="longer-than-a-report-waits"),
    ],
)
def test_a_run_completes_when_its_postgresql_restarts_mid_run(
    make_service, own_postgres, tmp_path, outage
):
    url = own_postgres.url
    svc = make_service(DATABASE_URL=url)
    svc.start_web()
    svc.start_worker(pipeline=None)
    body = post(svc, "Outage", outline(4))
    store = store_of(url)
    wait_until(
        lambda: statuses(store, body["run_id"]).count("generating_audio") >= 3,
        120,
        "the second slide's speech",
    )

    started = time.monotonic()
    own_postgres.stop()  # every connection is cut, mid-speech: the next reports meet it
    time.sleep(outage)
    own_postgres.start()
    away = time.monotonic() - started

    store = store_of(url)
    run = wait_for_run(store, body["run_id"], ("completed", "error", "cancelled"))
    assert run.status == "completed", svc.logs()
    assert "error" not in statuses(store, run.id)
    assert "could not report" in svc.logs()  # a report did meet the outage
    if outage < 15:  # within a report's patience the attempt simply carries on
        assert run.attempts == 1
    check_video(svc, run, tmp_path)
    print(f"\ndatabase away {away:.1f} s; the run completed in attempt {run.attempts}")


# --- two workers, one run -----------------------------------------------------------------------


def test_a_worker_that_lost_its_lease_never_replaces_the_newer_attempts_video(
    make_service, tmp_path
):
    svc = make_service()  # leases of 3 s
    svc.start_web()
    first = svc.start_worker(pipeline=None)
    body = post(svc, "Two workers", LONG)
    store = store_of(sqlite_url(svc))

    stale_ffmpeg = compose_ffmpeg(first.pid, step="mux")
    first.send_signal(signal.SIGSTOP)  # paused mid-composition, past its lease
    try:
        second = svc.start_worker(pipeline=None)
        wait_until(lambda: store.get(body["run_id"]).attempts == 2, 60, "the second attempt")
        # the paused worker's ffmpeg has written its MP4: on waking, the stale worker's
        # next step is the final rename, while the second attempt is composing
        wait_until(lambda: not alive(stale_ffmpeg), 60, "the stale attempt's ffmpeg finishing")
    finally:
        first.send_signal(signal.SIGCONT)
    run = wait_for_run(store, body["run_id"], ("completed", "error"))
    assert run.status == "completed", svc.logs()
    assert run.attempts == 2 and run.result["video"] == f"{run.generation_id}-{run.id}-a2.mp4"
    assert "error" not in statuses(store, run.id)

    # the stale attempt notices and removes what it made; nothing of it is served
    wait_until(
        lambda: (
            run_videos(svc, run) == [run.result["video"]]
            and [p.name for p in (svc.data_dir / "runs" / str(run.id)).iterdir()] == ["2"]
        ),
        20,
        "the stale attempt's files going",
    )
    stale = f"{run.generation_id}-{run.id}-a1.mp4"
    assert request(svc, "GET", f"/api/video/{stale}")[0] == 404
    check_video(svc, run, tmp_path)
    status, content = request_json(svc, "GET", f"/api/content/{run.generation_id}")
    assert status == 200 and len(content["slides"]) == len(LONG)
    status, script = request_json(svc, "GET", f"/api/script/{run.generation_id}")
    assert abs(script["total_duration"] - run.result["duration"]) < 1e-3
    assert first.poll() is None and second.poll() is None  # both workers are still there
    assert "no longer ours" in svc.logs() or "cancelled or lease lost" in svc.logs()


# --- cancel ------------------------------------------------------------------------------------


def test_cancel_during_speech_stops_piper_and_frees_the_worker_within_seconds(make_service):
    svc = make_service()
    svc.start_web()
    worker = svc.start_worker(pipeline=None)
    body = post(svc, "Cancelled while speaking", outline(6))
    store = store_of(sqlite_url(svc))
    wait_for_event(store, body["run_id"], "generating_audio")
    time.sleep(0.5)  # well inside a slide's speech
    nxt = post(svc, "Next in line", SHORT)

    started = time.monotonic()
    assert request_json(svc, "DELETE", f"/api/generations/{body['generation_id']}")[0] == 200
    wait_for_event(store, nxt["run_id"], "started", timeout=30)  # the worker took the next run
    freed = time.monotonic() - started
    assert freed < 10, freed  # generous: the design bound is about 1.5 s
    assert store.get(body["run_id"]).status == "cancelled"
    assert statuses(store, body["run_id"])[-1] == "error"  # the cancel's own event, nothing after
    assert "cancelled or lease lost" in svc.logs() and worker.poll() is None
    assert wait_for_run(store, nxt["run_id"], ("completed", "error")).status == "completed"
    print(f"\nworker free {freed:.2f} s after a cancel during speech")


def test_cancel_during_composition_kills_ffmpeg_and_frees_the_worker_within_seconds(make_service):
    svc = make_service()
    svc.start_web()
    worker = svc.start_worker(pipeline=None)
    body = post(svc, "Cancelled while composing", LONG)
    store = store_of(sqlite_url(svc))
    ffmpeg = compose_ffmpeg(worker.pid)
    nxt = post(svc, "Next after compose", SHORT)

    started = time.monotonic()
    assert request_json(svc, "DELETE", f"/api/generations/{body['generation_id']}")[0] == 200
    wait_until(lambda: not alive(ffmpeg), 30, "ffmpeg ending", interval=0.01)
    killed = time.monotonic() - started
    wait_for_event(store, nxt["run_id"], "started", timeout=30)
    freed = time.monotonic() - started
    assert killed < 10, killed  # generous: the design bound is about 0.7 s
    assert "stopped ffmpeg" in svc.logs()  # it was killed, not left to finish
    run = store.get(body["run_id"])
    assert run.status == "cancelled" and run_videos(svc, run) == []
    assert wait_for_run(store, nxt["run_id"], ("completed", "error")).status == "completed"
    print(f"\nffmpeg gone {killed:.2f} s and the worker free {freed:.2f} s after a cancel")
