"""The worker loop: claim a run, hold its lease, run the pipeline, record how it ended.

Each attempt works in its own folder (`runs/{run id}/{attempt}/`) and names its MP4 after
itself, so a worker that lost its lease never writes where the attempt that took over does;
the store's guarded `complete` decides whose output the run refers to, and the others'
files are removed. A stopping worker gives its run back (the attempt is not counted), and a
database that is away while reporting or completing never ends a run in error: the run is
given back, or its lease lapses and another attempt takes it.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from ..core.decks import DeckFile, run_copy
from ..core.errors import (
    Cancelled,
    Retryable,
    StageError,
    Stopped,
    StorageError,
    VideoforgeError,
)
from ..core.stages import STAGE, event
from ..core.types import Pipeline, Run, Usage
from ..store.objects import S3Artifacts
from ..store.runs import RunStore
from ..store.uploads import Uploads
from .retention import Retention

log = logging.getLogger(__name__)

T = TypeVar("T")

CHECK_INTERVAL = 0.5  # seconds between checks that the run is still ours (a cancel is seen)
REPORT_PATIENCE = 15.0  # seconds a progress report keeps retrying a database that is away
COMPLETE_PATIENCE = 120.0  # seconds completing keeps retrying: the MP4 is already made
UPLOAD_TRIES = 3  # tries of one upload (each with boto3's own retries) before the run is retried
STOP_GRACE = 20.0  # seconds a stopping worker waits for its run to stop before giving it back

_PATH_CHARS = r"[^\s'\"`,;:()\[\]<>{}|]"
_ABSOLUTE_PATH = re.compile(rf"(?<![\w.~/:-])/{_PATH_CHARS}*")


class Released(Stopped):
    """The worker is stopping and gives its run back to the queue."""

    def __init__(self, detail: str = "the worker is stopping; the run goes back to the queue"):
        super().__init__(detail)


class DatabaseAway(Exception):
    """The database could not record a step of the run, even after retrying for a while."""


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def scrub_paths(text: str, roots: Iterable[str | os.PathLike[str]] = ()) -> str:
    """Replace file paths in text by their last part, so no server layout reaches a client.

    Paths under any of `roots` (relative ones too, e.g. a data directory of "data") and
    every absolute path become their file name: "/srv/data/runs/4/1/narration.wav" reads
    "narration.wav".
    """
    for root in sorted({str(r).rstrip("/") for r in roots if str(r).strip("/.")}, key=len)[::-1]:
        pattern = re.compile(rf"(?<![\w.~/-]){re.escape(root)}/{_PATH_CHARS}*")
        text = pattern.sub(_last_part, text)
    return _ABSOLUTE_PATH.sub(_last_part, text)


def _last_part(match: re.Match[str]) -> str:
    path = match.group(0).rstrip("/")
    return path.rsplit("/", 1)[-1] or "/"


def error_message(
    stage: str, exc: BaseException, private: Iterable[str | os.PathLike[str]] = ()
) -> str:
    """Word a failure for the error event: the step and the cause, never a traceback or a path."""
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
    return STAGE["error"].message("failed", step=stage, cause=scrub_paths(text, private))


class _Attempt:
    """One claim of a run by this worker: the run as claimed and what has become of it."""

    def __init__(self, run: Run):
        self.run = run
        self.lost = threading.Event()  # cancelled or taken over: nothing more may be written
        self.finished = threading.Event()  # run_one is done with it
        self.given_back = threading.Event()  # released at the stop deadline


class _Reporter:
    """The report callable handed to the pipeline for one attempt."""

    def __init__(self, worker: Worker, attempt: _Attempt, floor: int):
        self.worker = worker
        self.attempt = attempt
        self.run = attempt.run
        self.floor = floor
        self.stage = "started"
        # What the run consumes from paid services, carried over from earlier attempts.
        self.usage = Usage.from_dict(self.run.usage)

    def should_stop(self) -> bool:
        """Tell whether the run must stop now (cancelled, taken over or the worker stopping)."""
        return self.attempt.lost.is_set() or self.worker.stopping.is_set()

    def check(self) -> None:
        """Raise Cancelled or Released when the run must stop; write nothing."""
        if self.attempt.lost.is_set():
            raise Cancelled("the run was cancelled or its lease was lost")
        if self.worker.stopping.is_set():
            raise Released()

    def __call__(self, status: str, progress: int, message: str) -> None:
        self.check()
        progress = max(int(progress), self.floor)  # a resumed attempt never goes backwards
        worker, run = self.worker, self.run
        stored = worker.retrying(
            f"report {status}",
            lambda: worker.store.report(
                run.id, worker.worker_id, status, progress, message, worker.clock()
            ),
            self.attempt,
            REPORT_PATIENCE,
            self.check,
        )
        if stored is None:
            self.attempt.lost.set()
            raise Cancelled("the run was cancelled or its lease was lost")
        self.floor = progress
        self.stage = status


class Worker:
    """Claims runs from the store and runs them through a pipeline, one at a time."""

    def __init__(
        self,
        store: RunStore,
        pipeline: Pipeline,
        *,
        runs_dir: Path,
        videos_dir: Path | None = None,
        lease_seconds: float = 30.0,
        poll_interval: float = 0.5,
        worker_id: str | None = None,
        clock: Callable[[], float] = time.time,
        stop_grace: float = STOP_GRACE,
        retention: Retention | None = None,
        objects: S3Artifacts | None = None,
        uploads: Uploads | None = None,
    ):
        self.store = store
        self.pipeline = pipeline
        self.runs_dir = runs_dir
        self.videos_dir = videos_dir
        self.lease_seconds = lease_seconds
        self.poll_interval = poll_interval
        self.worker_id = worker_id or new_worker_id()
        self.clock = clock
        self.stop_grace = stop_grace
        self.retention = retention  # prunes old files between runs, at most once an interval
        # With a bucket, runs_dir is a scratch folder: each attempt's files (and its MP4) are
        # uploaded before the run is completed, and removed from this machine afterwards.
        self.objects = objects
        self.uploads = uploads  # where uploaded decks are found (here, or in the bucket)
        self.stopping = threading.Event()
        self._current: _Attempt | None = None
        self._deadline: threading.Timer | None = None
        # What an error event must not show: where the service keeps its files. Absolute
        # paths are scrubbed anyway; these also catch a data directory given as relative.
        self.private_paths = [
            path
            for base in (runs_dir, runs_dir.parent, videos_dir, Path(tempfile.gettempdir()))
            if base is not None
            for path in (base, base.resolve())
        ]

    def stop(self) -> None:
        """Stop claiming; the current run stops at its next check and goes back to the queue.

        Should the run not have stopped within stop_grace seconds (a step that cannot be
        interrupted, such as a slow network call), it is given back anyway.
        """
        self.stopping.set()
        if self._deadline is None and self.stop_grace > 0:
            self._deadline = threading.Timer(self.stop_grace, self._give_back_at_deadline)
            self._deadline.daemon = True
            self._deadline.start()

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
            self._prune()
            if run is None:
                if once:
                    break
                self.stopping.wait(self.poll_interval)
        if self._deadline is not None:
            self._deadline.cancel()
        log.info("worker %s stopped after %d run(s)", self.worker_id, done)
        return done

    def _prune(self) -> None:
        """Apply the retention policy when it is due; a failure is logged, never fatal."""
        if self.retention is None:
            return
        try:
            report = self.retention.maybe_prune(self.clock())
        except Exception:
            log.exception(
                "worker %s: pruning old files failed; will try again later", self.worker_id
            )
            return
        if report is not None and (report.runs or report.cache_entries):
            log.info("worker %s: retention: %s", self.worker_id, report.summary())

    def run_one(self, run: Run) -> str:
        """Work on one claimed run until it ends; returns how it ended."""
        log.info("run %s (%s): attempt %d", run.id, run.generation_id, run.attempts)
        attempt = _Attempt(run)
        self._current = attempt
        renewer: threading.Thread | None = None
        reporter: _Reporter | None = None
        try:
            floor = self.retrying(
                "read progress",
                lambda: self.store.max_progress(run.id),
                attempt,
                REPORT_PATIENCE,
                None,
            )
            reporter = _Reporter(self, attempt, floor)
            # Started last, after everything that can raise: it ends in the finally below.
            renewer = threading.Thread(
                target=self._keep_lease, args=(attempt,), daemon=True, name=f"lease-{run.id}"
            )
            renewer.start()
            if run.attempts > 1:
                reporter(*event("started", "resume", attempt=run.attempts))
            else:
                reporter(*event("started", "start"))
            workdir = self.runs_dir / run.attempt_folder
            workdir.mkdir(parents=True, exist_ok=True)
            self._fetch_deck(run, workdir)
            result = self.pipeline.run(run, reporter, workdir)
            if self.objects is not None:
                self._upload(attempt, reporter, workdir, result)
            return self._complete(attempt, result, reporter.usage)
        except DatabaseAway as exc:
            log.error("run %s: %s", run.id, exc)
            return self._give_back(attempt, "the database is away")
        except Exception as exc:
            if attempt.given_back.is_set():
                log.info("run %s: stopped after it was given back at the stop deadline", run.id)
                return "released"
            if attempt.lost.is_set() or isinstance(exc, Cancelled):
                log.info("run %s: cancelled or lease lost; stopped work on it", run.id)
                self._discard(attempt)
                return "cancelled"
            if self.stopping.is_set():
                # Whatever ended the work (our own stop, or the platform's SIGTERM that also
                # reached a child), a stopping worker gives the run back; it is not a failure.
                if not isinstance(exc, Stopped):
                    log.info("run %s: %s while stopping", run.id, exc)
                return self._give_back(attempt, "worker stopping")
            stage = reporter.stage if reporter is not None else "started"
            message = error_message(stage, exc, self.private_paths)
            retry = isinstance(exc, Retryable)
            log.error(
                "run %s (%s): %s (%s)%s",
                run.id,
                run.generation_id,
                message,
                exc,
                "; queued again" if retry else "",
                exc_info=not isinstance(exc, VideoforgeError),
            )
            usage = (reporter.usage if reporter is not None else Usage()).as_dict()
            return self.store.fail(
                run.id, self.worker_id, message, self.clock(), retry=retry, usage=usage
            )
        finally:
            attempt.finished.set()
            if renewer is not None:
                renewer.join(timeout=5)
            self._current = None
            if self.objects is not None:
                self._clear_scratch(run)

    def _fetch_deck(self, run: Run, workdir: Path) -> None:
        """Put the run's uploaded deck, if it has one, in its folder (from the bucket if need be).

        A deck stored nowhere is left to the pipeline, which fails its content step saying so.
        """
        if not run.request.get("deck") or self.uploads is None:
            return
        deck = DeckFile.from_json(run.request["deck"])
        try:
            source = self.uploads.path(deck)
        except FileNotFoundError:
            log.warning("run %s: the uploaded deck %s is not stored", run.id, deck.file)
            return
        copy = workdir / run_copy(deck.kind)
        copy.unlink(missing_ok=True)
        try:
            os.link(source, copy)  # the same disk: no second copy of a large file
        except OSError:
            shutil.copyfile(source, copy)

    def retrying(
        self,
        what: str,
        call: Callable[[], T],
        attempt: _Attempt,
        patience: float,
        check: Callable[[], None] | None,
    ) -> T:
        """Run a store call, retrying with backoff while the database is away for up to patience s.

        `check` is asked between tries (it raises when the run must stop); once patience is
        spent, DatabaseAway is raised. The database's own errors are not told apart from
        other failures of a store call: any of them is worth a retry here.
        """
        deadline = time.monotonic() + patience
        delay = 0.1
        while True:
            try:
                return call()
            except Exception as exc:
                if time.monotonic() + delay > deadline or attempt.given_back.is_set():
                    raise DatabaseAway(f"could not {what} for {patience:.0f} s: {exc}") from exc
                log.warning(
                    "run %s: could not %s (%s); retrying in %.1f s",
                    attempt.run.id,
                    what,
                    exc,
                    delay,
                )
            time.sleep(delay)  # not the stopping event: a stopping worker still completes
            if check is not None:
                check()
            delay = min(delay * 2, 2.0)

    def _complete(self, attempt: _Attempt, result: dict[str, Any], usage: Usage) -> str:
        """Record the finished run, retrying a database that is away: the MP4 already exists."""
        run = attempt.run
        done = self.retrying(
            "complete the run",
            lambda: self.store.complete(
                run.id, self.worker_id, result, self.clock(), usage.as_dict()
            ),
            attempt,
            COMPLETE_PATIENCE,
            None,
        )
        if not done:
            # A commit whose answer was lost to a dropped connection looks like this too.
            now = self.retrying(
                "read the run", lambda: self.store.get(run.id), attempt, REPORT_PATIENCE, None
            )
            done = (
                now is not None
                and now.status == "completed"
                and now.worker_id == self.worker_id
                and (now.result or {}).get("video") == result.get("video")
            )
        if not done:
            log.warning("run %s: finished, but it was no longer ours to complete", run.id)
            self._discard(attempt)
            return "released" if attempt.given_back.is_set() else "lost"
        log.info("run %s (%s): completed", run.id, run.generation_id)
        self._sweep(run, result)
        if self.objects is not None:
            self._sweep_bucket(run)
        return "completed"

    def _upload(
        self, attempt: _Attempt, reporter: _Reporter, workdir: Path, result: dict[str, Any]
    ) -> None:
        """Upload the attempt's files, then its MP4, to the bucket; StorageError when it fails.

        The MP4 goes last and the run is completed only after it, so the web never refers to
        an object that is not whole. The narration WAV stays behind: nothing serves it.
        """
        assert self.objects is not None
        run = attempt.run
        uploads = [
            (path, ("runs", str(run.id), str(run.attempts), *path.relative_to(workdir).parts))
            for path in sorted(workdir.rglob("*"))
            if path.is_file() and path.suffix != ".wav" and not path.name.startswith(".")
        ]
        if result.get("video") and self.videos_dir is not None:
            uploads.append((self.videos_dir / result["video"], ("videos", result["video"])))
        size = sum(path.stat().st_size for path, _ in uploads)
        log.info(
            "run %s: uploading %d file(s), %d bytes, to %s",
            run.id,
            len(uploads),
            size,
            self.objects.describe(),
        )
        started = time.monotonic()
        for path, (area, *parts) in uploads:
            for tries in range(1, UPLOAD_TRIES + 1):
                reporter.check()
                try:
                    self.objects.upload(path, area, *parts)
                    break
                except StorageError as exc:
                    if tries == UPLOAD_TRIES:
                        raise
                    log.warning("run %s: %s; trying again", run.id, exc)
                    time.sleep(0.5 * 2**tries)
        log.info("run %s: uploaded %d bytes in %.2f s", run.id, size, time.monotonic() - started)

    def _clear_scratch(self, run: Run) -> None:
        """Remove the attempt's scratch folder and MP4 from this machine (the bucket has them)."""
        shutil.rmtree(self.runs_dir / run.attempt_folder, ignore_errors=True)
        try:
            (self.runs_dir / str(run.id)).rmdir()
        except OSError:
            pass  # another attempt's folder is still there, or it is already gone
        if self.videos_dir is not None:
            (self.videos_dir / run.video_name).unlink(missing_ok=True)

    def _sweep_bucket(self, run: Run) -> None:
        """Remove other attempts' objects of a run this attempt completed; failures are logged."""
        assert self.objects is not None
        try:
            for name in self.objects.list_names("runs", str(run.id)):
                if name.isdigit() and name != str(run.attempts):
                    self.objects.delete("runs", str(run.id), name, folder=True)
            for n in range(1, run.attempts):
                self.objects.delete("videos", f"{run.generation_id}-{run.id}-a{n}.mp4")
        except Exception as exc:  # the run is completed: a leftover object is no failure
            log.warning("run %s: could not remove stale attempts' objects (%s)", run.id, exc)

    def _give_back(self, attempt: _Attempt, why: str) -> str:
        """Release the run to the queue (the attempt is not counted), or let its lease lapse."""
        run = attempt.run
        try:
            released = self.store.release(run.id, self.worker_id)
        except Exception as exc:
            log.error(
                "run %s: could not give it back (%s); its lease will lapse and another"
                " attempt will take it",
                run.id,
                exc,
            )
            return "abandoned"
        if released:
            log.info("run %s: released to the queue (%s)", run.id, why)
            return "released"
        log.info("run %s: no longer ours to release (%s)", run.id, why)
        return "cancelled"

    def _give_back_at_deadline(self) -> None:
        """Give the current run back when it did not stop within the stop grace."""
        attempt = self._current
        if attempt is None or attempt.finished.is_set():
            return
        log.warning(
            "run %s: still busy %.0f s after the stop; giving it back now",
            attempt.run.id,
            self.stop_grace,
        )
        attempt.given_back.set()
        attempt.lost.set()  # the stuck step writes nothing more once it returns
        self._give_back(attempt, "stop deadline")

    def _keep_lease(self, attempt: _Attempt) -> None:
        """Renew the lease every third of it and check every CHECK_INTERVAL that the run is ours."""
        run = attempt.run
        renew_every = max(self.lease_seconds / 3, 0.05)
        check_every = min(CHECK_INTERVAL, renew_every)
        next_renewal = time.monotonic() + renew_every
        failing = False
        while not attempt.finished.wait(check_every) and not attempt.lost.is_set():
            try:
                if time.monotonic() >= next_renewal:
                    ours = self.store.renew(
                        run.id, self.worker_id, self.clock(), self.lease_seconds
                    )
                    next_renewal = time.monotonic() + renew_every
                else:
                    ours = self.store.owns(run.id, self.worker_id)
            except Exception as exc:
                if not failing:
                    log.warning("run %s: lease check failed (%s); will retry", run.id, exc)
                failing = True
                continue
            if failing:
                log.info("run %s: lease checks work again", run.id)
                failing = False
            if not ours:
                log.info("run %s: no longer ours (cancelled or taken over)", run.id)
                attempt.lost.set()
                return

    def _discard(self, attempt: _Attempt) -> None:
        """Remove what a stopped attempt made that nobody will refer to.

        Its MP4 always; its folder when another attempt has taken the run over (a cancelled
        run keeps its last attempt's folder for the web to show).
        """
        run = attempt.run
        if self.videos_dir is not None:
            (self.videos_dir / run.video_name).unlink(missing_ok=True)
        try:
            now = self.store.get(run.id)
        except Exception as exc:
            log.info("run %s: kept attempt %d's files (%s)", run.id, run.attempts, exc)
            return
        if now is not None and (now.attempts != run.attempts or now.worker_id != self.worker_id):
            shutil.rmtree(self.runs_dir / run.attempt_folder, ignore_errors=True)
            log.info("run %s: removed stale attempt %d's files", run.id, run.attempts)

    def _sweep(self, run: Run, result: dict[str, Any]) -> None:
        """Remove other attempts' folders and MP4s of a run this attempt completed."""
        folder = self.runs_dir / str(run.id)
        keep = str(run.attempts)
        for child in folder.iterdir() if folder.is_dir() else ():
            if child.is_dir() and child.name != keep and child.name.isdigit():
                shutil.rmtree(child, ignore_errors=True)
        if self.videos_dir is None or not self.videos_dir.is_dir():
            return
        ours = result.get("video")
        mine = re.compile(rf"{re.escape(run.generation_id)}-{run.id}-a\d+\.mp4")
        prefix = f"{run.generation_id}-{run.id}-a"
        for path in self.videos_dir.iterdir():
            if path.name.startswith(prefix) and path.name != ours and mine.fullmatch(path.name):
                path.unlink(missing_ok=True)
                log.info("run %s: removed a stale attempt's video %s", run.id, path.name)
