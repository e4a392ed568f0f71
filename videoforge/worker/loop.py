"""The worker loop: claim a run, hold its lease, run the pipeline, record how it ended."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from ..core.errors import Cancelled, Retryable, StageError, VideoforgeError
from ..core.stages import STAGE, event
from ..core.types import Pipeline, Run, Usage
from ..store.runs import RunStore

log = logging.getLogger(__name__)


class Released(Exception):
    """The worker is stopping and gives its run back to the queue."""


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def error_message(stage: str, exc: BaseException) -> str:
    """Word a failure for the error event: the step and the cause, never a traceback."""
    if isinstance(exc, StageError):
        stage, cause = exc.stage, exc.cause
    else:
        cause = exc
    if isinstance(cause, VideoforgeError):
        text = cause.detail
    elif isinstance(cause, BaseException):
        text = f"{type(cause).__name__}: {cause}" if str(cause) else type(cause).__name__
    else:
        text = str(cause)
    return STAGE["error"].message("failed", step=stage, cause=text)


class _Reporter:
    """The report callable handed to the pipeline for one run."""

    def __init__(self, worker: Worker, run: Run, lost: threading.Event, floor: int):
        self.worker = worker
        self.run = run
        self.lost = lost
        self.floor = floor
        self.stage = "started"
        # What the run consumes from paid services, carried over from earlier attempts.
        self.usage = Usage.from_dict(run.usage)

    def __call__(self, status: str, progress: int, message: str) -> None:
        if self.lost.is_set():
            raise Cancelled("the run was cancelled or its lease was lost")
        if self.worker.stopping.is_set():
            raise Released()
        progress = max(int(progress), self.floor)  # a resumed attempt never goes backwards
        self.floor = progress
        self.stage = status
        event = self.worker.store.report(
            self.run.id, self.worker.worker_id, status, progress, message, self.worker.clock()
        )
        if event is None:
            self.lost.set()
            raise Cancelled("the run was cancelled or its lease was lost")


class Worker:
    """Claims runs from the store and runs them through a pipeline, one at a time."""

    def __init__(
        self,
        store: RunStore,
        pipeline: Pipeline,
        *,
        runs_dir: Path,
        lease_seconds: float = 30.0,
        poll_interval: float = 0.5,
        worker_id: str | None = None,
        clock: Callable[[], float] = time.time,
    ):
        self.store = store
        self.pipeline = pipeline
        self.runs_dir = runs_dir
        self.lease_seconds = lease_seconds
        self.poll_interval = poll_interval
        self.worker_id = worker_id or new_worker_id()
        self.clock = clock
        self.stopping = threading.Event()

    def stop(self) -> None:
        """Stop claiming; the current run is released at its next progress report."""
        self.stopping.set()

    def run(self, *, once: bool = False) -> int:
        """Claim runs and work on them until stopped (or, with once, until the queue is empty)."""
        done = 0
        log.info("worker %s started", self.worker_id)
        failures = 0
        while not self.stopping.is_set():
            try:
                run = self.store.claim(self.worker_id, self.clock(), self.lease_seconds)
                if run is not None:
                    self.run_one(run)
                    done += 1
                failures = 0
            except Exception as exc:
                # The database is away (a restart, a network blip): keep trying, more slowly.
                # A run caught mid-way keeps its lease until it lapses and is claimed again.
                failures += 1
                delay = min(self.poll_interval * 2**failures, 30.0)
                log.error("worker %s: %s; retrying in %.1f s", self.worker_id, exc, delay)
                self.stopping.wait(delay)
                continue
            if run is None:
                if once:
                    break
                self.stopping.wait(self.poll_interval)
        log.info("worker %s stopped after %d run(s)", self.worker_id, done)
        return done

    def run_one(self, run: Run) -> str:
        """Work on one claimed run until it ends; returns how it ended."""
        log.info("run %s (%s): attempt %d", run.id, run.generation_id, run.attempts)
        lost = threading.Event()
        finished = threading.Event()
        renewer = threading.Thread(
            target=self._keep_lease,
            args=(run, lost, finished),
            daemon=True,
            name=f"lease-{run.id}",
        )
        renewer.start()
        reporter = _Reporter(self, run, lost, self.store.max_progress(run.id))
        try:
            if run.attempts > 1:
                reporter(*event("started", "resume", attempt=run.attempts))
            else:
                reporter(*event("started", "start"))
            workdir = self.runs_dir / str(run.id)
            workdir.mkdir(parents=True, exist_ok=True)
            result = self.pipeline.run(run, reporter, workdir)
            usage = reporter.usage.as_dict()
            if self.store.complete(run.id, self.worker_id, result, self.clock(), usage):
                log.info("run %s (%s): completed", run.id, run.generation_id)
                return "completed"
            log.warning("run %s: finished, but it was no longer ours to complete", run.id)
            return "lost"
        except Released:
            self.store.release(run.id, self.worker_id)
            log.info("run %s: released to the queue (worker stopping)", run.id)
            return "released"
        except Cancelled:
            log.info("run %s: cancelled or lease lost; stopped work on it", run.id)
            return "cancelled"
        except Exception as exc:
            message = error_message(reporter.stage, exc)
            retry = isinstance(exc, Retryable)
            log.error(
                "run %s (%s): %s",
                run.id,
                run.generation_id,
                message,
                exc_info=not isinstance(exc, VideoforgeError),
            )
            return self.store.fail(
                run.id,
                self.worker_id,
                message,
                self.clock(),
                retry=retry,
                usage=reporter.usage.as_dict(),
            )
        finally:
            finished.set()
            renewer.join(timeout=5)

    def _keep_lease(self, run: Run, lost: threading.Event, finished: threading.Event) -> None:
        interval = max(self.lease_seconds / 3, 0.05)
        while not finished.wait(interval):
            try:
                if not self.store.renew(run.id, self.worker_id, self.clock(), self.lease_seconds):
                    log.info("run %s: lease not renewed (cancelled or taken over)", run.id)
                    lost.set()
                    return
            except Exception:
                log.exception("run %s: lease renewal failed; will retry", run.id)
