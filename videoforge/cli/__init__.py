"""Entry points: read the environment once, configure logging, wire the parts, run.

``serve.py`` and ``worker.py`` at the top level call ``serve_main`` and ``worker_main``; the
``videoforge`` console script offers the same as sub-commands plus ``migrate``, ``run`` (web
and worker together, for a single machine), ``prune``, and the terminal client's
``generate`` (cli/generate.py) and ``doctor`` (cli/doctor.py).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path

from ..core.request import Capabilities
from ..core.settings import Settings
from ..store.database import Database
from ..store.runs import RunStore

log = logging.getLogger("videoforge")


def _setup(settings: Settings) -> tuple[Database, RunStore]:
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s[%(process)d]: %(message)s",
    )
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.database, pool_size=16)
    db.migrate()
    return db, RunStore(db, max_attempts=settings.max_attempts)


def capabilities_for(settings: Settings) -> Capabilities:
    """Say what this deployment can do, from its settings and voice files (no model is loaded)."""
    from ..providers.registry import voices

    found, default = voices(settings)
    return Capabilities(
        text_model=settings.text_model_configured,
        voices=tuple(found),
        default_voice=default,
        max_slide_narration=settings.max_slide_narration,
        max_narration=settings.max_narration,
        theme=settings.theme,
        title_slide=settings.title_slide,
        media_library=settings.media_library,
    )


def serve_main(argv: Sequence[str] | None = None, environ: dict | None = None) -> int:
    """Run the web process: Waitress serving the Falcon app; 2 when the bind would be unsafe."""
    from ..web.app import create_app
    from ..web.hosts import unsafe_bind
    from ..web.server import make_server

    parser = argparse.ArgumentParser(
        prog="serve.py",
        description="Run the videoforge web process (Waitress serving the API, the page and"
        " the progress stream) on HOST:PORT; settings come from the environment."
        " Example: PORT=8080 python serve.py",
    )
    parser.parse_args(argv)
    settings = Settings.from_env(os.environ if environ is None else environ)
    refusals = unsafe_bind(settings)
    if refusals:  # before anything is touched: no database, no socket
        for refusal in refusals:
            print(f"serve.py: {refusal}", file=sys.stderr)
        return 2
    _db, store = _setup(settings)
    app = create_app(settings, store, capabilities=capabilities_for(settings))
    server = make_server(
        app,
        max_body_bytes=settings.max_body_bytes,
        max_upload_bytes=settings.deck_max_bytes + settings.max_body_bytes,
        host=settings.host,
        port=settings.port,
        threads=settings.threads,
        connection_limit=settings.connection_limit,
        channel_request_lookahead=1,
        asyncore_use_poll=True,  # select() fails past 1024 descriptors; streams need more
        backlog=2048,
        ident="videoforge",
        clear_untrusted_proxy_headers=True,
    )
    log.info("serving on http://%s:%d (database: %s)", settings.host, settings.port, _db.dialect)
    server.run()
    return 0


def load_pipeline(spec: str, settings: Settings):
    """Build the pipeline named by an operator's ``module:factory`` (default: the real one)."""
    module_name, _, attr = spec.partition(":")
    factory = getattr(importlib.import_module(module_name), attr or "make_pipeline")
    return factory(settings)


def worker_main(argv: Sequence[str] | None = None, environ: dict | None = None) -> int:
    """Run a worker process until SIGTERM/SIGINT, or with --once until the queue is empty.

    A signal makes the worker stop claiming and give its current run back to the queue (it
    stops Piper and ffmpeg at their next check), then exit; a second one changes nothing.
    """
    from ..media.ffmpeg import ffmpeg_exe
    from ..store.objects import S3Artifacts, open_artifacts
    from ..store.uploads import Uploads
    from ..worker.loop import Worker
    from ..worker.retention import Retention

    parser = argparse.ArgumentParser(
        prog="worker.py",
        description="Run a videoforge worker: claim queued runs and make their videos until"
        " SIGTERM or Ctrl-C. Example: python worker.py --once",
    )
    parser.add_argument("--once", action="store_true", help="drain the queue, then exit")
    parser.add_argument(
        "--pipeline",
        default="videoforge.pipeline.video:make_pipeline",
        help="module:factory building the pipeline (default: the real one)",
    )
    args = parser.parse_args(argv)
    settings = Settings.from_env(os.environ if environ is None else environ)
    _db, store = _setup(settings)
    # imageio-ffmpeg checks its binary by running it on first use; a signal that met that
    # check mid-run would fail a run, so it happens now, before any run is claimed.
    ffmpeg_exe()
    artifacts = open_artifacts(settings)
    objects = artifacts if isinstance(artifacts, S3Artifacts) else None
    scratch: Path | None = None
    runs_dir = settings.runs_dir
    if objects is not None:
        # Stateless: the attempts' files live here only until they are uploaded.
        scratch = Path(tempfile.mkdtemp(prefix=".scratch-", dir=settings.data_dir))
        runs_dir = scratch / "runs"
        log.info("worker: artifacts go to %s; scratch folder %s", objects.describe(), scratch)
    worker = Worker(
        store,
        load_pipeline(args.pipeline, settings),
        runs_dir=runs_dir,
        videos_dir=settings.videos_dir,
        lease_seconds=settings.lease_seconds,
        poll_interval=settings.worker_poll_interval,
        clock=store.now,  # leases in the database's time, whatever this machine's clock says
        retention=Retention(
            store, settings.data_dir, keep_days=settings.keep_days, keep_mb=settings.keep_mb
        ),
        objects=objects,
        uploads=Uploads(settings.uploads_dir, objects),
    )

    def _stop(signum, frame):
        log.info("signal %s: giving the current run back and stopping", signum)
        worker.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        worker.run(once=args.once)
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    return 0


def migrate_main(argv: Sequence[str] | None = None) -> int:
    """Apply the database migrations not yet applied, then exit."""
    argparse.ArgumentParser(
        prog="videoforge migrate",
        description="Bring the database (DATABASE_URL, or the SQLite file in"
        " VIDEOFORGE_DATA_DIR) up to date with migrations/; serve and worker do it at start too."
        " Example: DATABASE_URL=postgresql://vf@db/vf videoforge migrate",
    ).parse_args(argv)
    settings = Settings.from_env(os.environ)
    db, _store = _setup(settings)
    log.info("database is up to date (%s)", db.dialect)
    return 0


RUN_STOP_WAIT = 25.0  # seconds `videoforge run` waits for its worker before killing it


def run_main(argv: Sequence[str] | None = None) -> int:
    """Run web and one worker together on this machine (the single-server default).

    SIGTERM or SIGINT (Ctrl-C reaches the whole foreground group) is passed on to the
    worker, which gives its run back to the queue; the web stops, the worker is waited for
    (RUN_STOP_WAIT seconds at most, then killed) and the command exits 0, leaving no process.
    """
    from ..web.hosts import unsafe_bind

    argparse.ArgumentParser(
        prog="videoforge run",
        description="Run the web process and one worker together on this machine (the"
        " single-server default); Ctrl-C stops both. Example: PORT=8080 videoforge run",
    ).parse_args(argv)
    stopping = threading.Event()
    lock = threading.Lock()  # held while the worker is replaced, so a stop sees the new one
    worker: subprocess.Popen | None = None
    argv = [sys.executable, "-m", "videoforge.cli", "worker"]

    def on_signal(signum: int, frame: object) -> None:
        first = not stopping.is_set()
        stopping.set()
        if worker is not None and worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
        if first:
            log.info("signal %s: stopping the web and the worker", signum)
            raise KeyboardInterrupt  # ends Waitress's loop (or the start-up) in the main thread

    def supervise() -> None:
        nonlocal worker
        while not stopping.wait(2):
            with lock:
                if stopping.is_set() or worker is None or worker.poll() is None:
                    continue
                # a worker that died is replaced (one that is stopping is not)
                log.error("the worker exited with %s; starting another", worker.returncode)
                worker = subprocess.Popen(argv)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        settings = Settings.from_env(os.environ)
        if refusals := unsafe_bind(settings):  # refuse before a worker is started
            for refusal in refusals:
                print(f"videoforge run: {refusal}", file=sys.stderr)
            return 2
        _setup(settings)
        worker = subprocess.Popen(argv)
        threading.Thread(target=supervise, daemon=True, name="worker-supervisor").start()
        code = serve_main([])
    except KeyboardInterrupt:
        code = 0
    finally:
        stopping.set()
        with lock:
            current = worker
        if current is not None:
            if current.poll() is None:
                current.send_signal(signal.SIGTERM)
            try:
                current.wait(timeout=RUN_STOP_WAIT)
            except subprocess.TimeoutExpired:
                log.error("the worker did not stop within %.0f s; killing it", RUN_STOP_WAIT)
                current.kill()
                current.wait()
    if current is not None:
        log.info("stopped (the worker exited with %s)", current.returncode)
    return code


def prune_main(argv: Sequence[str] | None = None, environ: dict | None = None) -> int:
    """Remove finished runs' files now by the retention settings (or --days, --mb); 1 on errors."""
    from ..core.settings import ConfigError, settings_rows
    from ..worker.retention import prune

    parser = argparse.ArgumentParser(
        prog="videoforge prune",
        description="Remove the files of runs that finished more than VIDEOFORGE_KEEP_DAYS ago;"
        " past VIDEOFORGE_KEEP_MB, the oldest finished runs' files, then the least recently"
        " written cache entries. Queued and running runs are never touched."
        " Example: videoforge prune --days 7 --dry-run",
    )
    parser.add_argument("--dry-run", action="store_true", help="list what would go; remove nothing")
    parser.add_argument(
        "--days",
        metavar="N",
        help="keep finished runs' files N days (0: forever); instead of VIDEOFORGE_KEEP_DAYS",
    )
    parser.add_argument(
        "--mb",
        metavar="N",
        help="keep at most N MB of videos, runs and cache (0: no limit);"
        " instead of VIDEOFORGE_KEEP_MB",
    )
    args = parser.parse_args(argv)
    settings = Settings.from_env(os.environ if environ is None else environ)
    rows = {f.name: row for f, row in settings_rows()}
    changes = {}
    for name, flag, raw in (("keep_days", "--days", args.days), ("keep_mb", "--mb", args.mb)):
        if raw is not None:  # read by the setting's own parser: its range is written once
            try:
                changes[name] = rows[name].parser(flag, raw, getattr(settings, name))
            except ConfigError as exc:
                parser.error(str(exc))
    settings = settings.with_changes(**changes)
    if not settings.keep_days and not settings.keep_mb:
        print("retention is off (VIDEOFORGE_KEEP_DAYS and VIDEOFORGE_KEEP_MB are 0); nothing to do")
        return 0
    _db, store = _setup(settings)
    report = prune(
        store,
        settings.data_dir,
        keep_days=settings.keep_days,
        keep_mb=settings.keep_mb,
        now=store.now(),  # finished_at is written with the database's clock
        dry_run=args.dry_run,
    )
    for run in report.runs:
        print(run.line())
    if args.dry_run:
        for entry in report.cache_entries:
            print(f"cache entry: {entry}")
    for path in report.uploads:
        print(f"uploaded deck: {path}")
    for line in report.kept:
        print(f"left alone: {line}")
    for line in report.errors:
        print(f"error: {line}", file=sys.stderr)
    print(report.summary())
    return 1 if report.errors else 0


COMMANDS = {  # name: (module in this package, function, one line for the usage)
    "generate": ("generate", "generate_main", "make a video from a topic, outline or document"),
    "doctor": ("doctor", "doctor_main", "check ffmpeg, the voice, the database, disk, providers"),
    "serve": ("", "serve_main", "run the web process"),
    "worker": ("", "worker_main", "run a worker process"),
    "run": ("", "run_main", "run web and one worker together on this machine"),
    "migrate": ("", "migrate_main", "bring the database's tables up to date"),
    "prune": ("", "prune_main", "remove old runs' files by the retention settings"),
}


def usage() -> str:
    """Return the console script's usage: each command with its line, and an example."""
    lines = ["usage: videoforge COMMAND [options]   (videoforge COMMAND --help for more)", ""]
    lines += [f"  {name:<9} {text}" for name, (_, _, text) in COMMANDS.items()]
    lines += [
        "",
        "examples:",
        '  videoforge generate "Photosynthesis" --outline deck.md -o photosynthesis.mp4',
        "  videoforge doctor",
        "  videoforge run",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command argv names (the ``videoforge`` console script)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    if not argv or argv[0] not in COMMANDS:
        print(usage(), file=sys.stderr)
        return 2
    module, function, _ = COMMANDS[argv[0]]
    if module:  # the terminal client's commands load only when asked for
        command = getattr(importlib.import_module(f"{__name__}.{module}"), function)
    else:
        command = globals()[function]
    return command(argv[1:])


if __name__ == "__main__":
    raise SystemExit(main())
