"""Entry points: read the environment once, configure logging, wire the parts, run.

``serve.py`` and ``worker.py`` at the top level call ``serve_main`` and ``worker_main``; the
``videoforge`` console script offers the same as sub-commands plus ``migrate`` and ``run``
(web and worker together, for a single machine).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence

from .core.request import Capabilities
from .core.settings import Settings
from .store.database import Database
from .store.runs import RunStore

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
    from .providers.registry import voices

    found, default = voices(settings)
    return Capabilities(
        text_model=settings.text_model_configured, voices=tuple(found), default_voice=default
    )


def serve_main(argv: Sequence[str] | None = None, environ: dict | None = None) -> int:
    """Run the web process: Waitress serving the Falcon app."""
    import waitress

    from .web.app import create_app

    parser = argparse.ArgumentParser(prog="serve.py", description="Run the videoforge web process")
    parser.parse_args(argv)
    settings = Settings.from_env(os.environ if environ is None else environ)
    _db, store = _setup(settings)
    app = create_app(settings, store, capabilities=capabilities_for(settings))
    log.info("serving on http://%s:%d (database: %s)", settings.host, settings.port, _db.dialect)
    waitress.serve(
        app,
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
    return 0


def load_pipeline(spec: str, settings: Settings):
    """Build the pipeline named by an operator's ``module:factory`` (default: the real one)."""
    module_name, _, attr = spec.partition(":")
    factory = getattr(importlib.import_module(module_name), attr or "make_pipeline")
    return factory(settings)


def worker_main(argv: Sequence[str] | None = None, environ: dict | None = None) -> int:
    """Run a worker process until SIGTERM/SIGINT, or with --once until the queue is empty."""
    from .worker.loop import Worker

    parser = argparse.ArgumentParser(prog="worker.py", description="Run a videoforge worker")
    parser.add_argument("--once", action="store_true", help="drain the queue, then exit")
    parser.add_argument(
        "--pipeline",
        default="videoforge.pipeline.video:make_pipeline",
        help="module:factory building the pipeline (default: the real one)",
    )
    args = parser.parse_args(argv)
    settings = Settings.from_env(os.environ if environ is None else environ)
    _db, store = _setup(settings)
    worker = Worker(
        store,
        load_pipeline(args.pipeline, settings),
        runs_dir=settings.runs_dir,
        lease_seconds=settings.lease_seconds,
        poll_interval=settings.worker_poll_interval,
        clock=store.now,  # leases in the database's time, whatever this machine's clock says
    )

    def _stop(signum, frame):
        log.info("signal %s: finishing up", signum)
        worker.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    worker.run(once=args.once)
    return 0


def migrate_main(argv: Sequence[str] | None = None) -> int:
    settings = Settings.from_env(os.environ)
    db, _store = _setup(settings)
    log.info("database is up to date (%s)", db.dialect)
    return 0


def run_main(argv: Sequence[str] | None = None) -> int:
    """Run web and one worker together on this machine (the single-server default)."""
    settings = Settings.from_env(os.environ)
    _setup(settings)
    argv = [sys.executable, "-m", "videoforge.cli", "worker"]
    worker = subprocess.Popen(argv)
    stopping = threading.Event()

    def supervise() -> None:
        nonlocal worker
        while not stopping.wait(2):
            if worker.poll() is not None:  # a worker that died is replaced
                log.error("the worker exited with %s; starting another", worker.returncode)
                worker = subprocess.Popen(argv)

    threading.Thread(target=supervise, daemon=True, name="worker-supervisor").start()
    try:
        return serve_main([])
    finally:
        stopping.set()
        worker.terminate()
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = {
        "serve": serve_main,
        "worker": worker_main,
        "migrate": migrate_main,
        "run": run_main,
    }
    if not argv or argv[0] not in commands:
        print("usage: videoforge {serve|worker|migrate|run} [options]", file=sys.stderr)
        return 2
    return commands[argv[0]](argv[1:])


if __name__ == "__main__":
    raise SystemExit(main())
