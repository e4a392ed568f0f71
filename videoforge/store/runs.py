"""The run queue and the progress-event log: every SQL statement about runs lives here."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any

from ..core.errors import Conflict, NotFound, TooManyRequests
from ..core.stages import STAGE
from ..core.types import Event, Run
from .database import Database

log = logging.getLogger(__name__)

CANCELLED_MESSAGE = STAGE["error"].message("cancelled")
COMPLETED_MESSAGE = STAGE["completed"].message("done")


def run_from_row(row: dict[str, Any]) -> Run:
    """Build a Run from a row of the runs table (JSON columns decoded)."""
    return Run(
        id=int(row["id"]),
        generation_id=row["generation_id"],
        status=row["status"],
        request=json.loads(row["request"]),
        attempts=int(row["attempts"]),
        worker_id=row["worker_id"],
        lease_expires_at=row["lease_expires_at"],
        created_at=row["created_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        error=row["error"],
        result=json.loads(row["result"]) if row["result"] else None,
        usage=json.loads(row["usage"]) if row.get("usage") else None,
        pruned_at=row.get("pruned_at"),
    )


def event_from_row(row: dict[str, Any]) -> Event:
    """Build an Event from a row of the events table."""
    return Event(
        id=int(row["id"]),
        run_id=int(row["run_id"]),
        status=row["status"],
        progress=int(row["progress"]),
        message=row["message"],
        created_at=float(row["created_at"]),
    )


_RUN_COLUMNS = (
    "id, generation_id, status, request, attempts, worker_id, lease_expires_at,"
    " created_at, started_at, finished_at, error, result, usage, pruned_at"
)
_EVENT_COLUMNS = "id, run_id, status, progress, message, created_at"
# The PostgreSQL advisory lock that serializes enqueues checked against the queue's limits.
ENQUEUE_LOCK = 7262


@dataclass(frozen=True)
class QueueLimits:
    """How many runs may wait: queued in all, and queued or running per client address."""

    max_queued: int | None = None
    max_per_client: int | None = None
    retry_after: int = 30  # seconds, for the 429's Retry-After: about one short run


class RunStore:
    """Enqueue, claim, lease, finish and cancel runs; append and read progress events."""

    def __init__(self, db: Database, *, max_attempts: int = 3):
        self.db = db
        self.max_attempts = max_attempts

    @property
    def _row_lock(self) -> str:
        """Lock the rows a read-then-write reads; SQLite's IMMEDIATE transaction already does."""
        return " FOR UPDATE" if self.db.dialect == "postgres" else ""

    # --- the web side -------------------------------------------------------------------

    def enqueue(
        self,
        generation_id: str,
        request: dict[str, Any],
        now: float,
        *,
        client: str | None = None,
        limits: QueueLimits | None = None,
    ) -> Run:
        """Add a queued run for a client address; 409 or 429 when it may not be added.

        409 when the id's newest run is still queued or running; 429 when the queue or the
        client is at one of its limits. The counts and the insert share one transaction that
        no other enqueue can interleave with, so two requests racing for the last place
        cannot both get it.
        """
        try:
            with self.db.transaction(write=True) as cur:
                if limits is not None:
                    self._check_queue_limits(cur, client, limits)
                row = cur.execute(
                    f"INSERT INTO runs (generation_id, status, request, created_at, client)"
                    f" VALUES (?, 'queued', ?, ?, ?) RETURNING {_RUN_COLUMNS}",
                    (generation_id, json.dumps(request), now, client),
                ).one()
        except self.db.integrity_errors:
            current = self.newest(generation_id)
            status = current.status if current else "queued"
            raise Conflict(
                f"generation {generation_id!r} is already {status}; wait for it to finish"
                f" or cancel it with DELETE /api/generations/{generation_id}",
                generation_id=generation_id,
                status=status,
            ) from None
        assert row is not None
        return run_from_row(row)

    def _check_queue_limits(self, cur: Any, client: str | None, limits: QueueLimits) -> None:
        """Raise TooManyRequests when a new run would pass a queue limit (inside enqueue)."""
        if self.db.dialect == "postgres":
            # SQLite's IMMEDIATE transaction already serializes writers. On PostgreSQL two
            # READ COMMITTED transactions could both count before either inserts, so every
            # limited enqueue takes this lock first; it is released at commit or rollback.
            cur.execute(f"SELECT pg_advisory_xact_lock({ENQUEUE_LOCK})")
        if limits.max_queued is not None:
            queued = self._count_queued(cur)
            if queued >= limits.max_queued:
                raise TooManyRequests(
                    f"the queue is full: {queued} runs are waiting (VIDEOFORGE_MAX_QUEUED is"
                    f" {limits.max_queued}); try again later",
                    retry_after=limits.retry_after,
                )
        if client is not None and limits.max_per_client is not None:
            active = self._count_active_for_client(cur, client)
            if active >= limits.max_per_client:
                raise TooManyRequests(
                    f"this client address already has {active} runs queued or running"
                    f" (VIDEOFORGE_MAX_QUEUED_PER_CLIENT is {limits.max_per_client}); wait"
                    " for one to finish or cancel one with DELETE /api/generations/{id}",
                    retry_after=limits.retry_after,
                )

    @staticmethod
    def _count_queued(cur: Any) -> int:
        """Count the runs waiting for a worker."""
        return int(cur.execute("SELECT COUNT(*) AS n FROM runs WHERE status = 'queued'").scalar())

    @staticmethod
    def _count_active_for_client(cur: Any, client: str) -> int:
        """Count a client address's queued or running runs (the partial index answers it)."""
        return int(
            cur.execute(
                "SELECT COUNT(*) AS n FROM runs"
                " WHERE status IN ('queued', 'running') AND client = ?",
                (client,),
            ).scalar()
        )

    def queue_counts(self, client: str | None = None) -> tuple[int, int]:
        """Return the runs queued in all and a client address's runs queued or running."""
        with self.db.transaction() as cur:
            queued = self._count_queued(cur)
            active = self._count_active_for_client(cur, client) if client is not None else 0
        return queued, active

    def newest(self, generation_id: str) -> Run | None:
        """Return the newest run of a generation id, or None."""
        with self.db.transaction() as cur:
            row = cur.execute(
                f"SELECT {_RUN_COLUMNS} FROM runs WHERE generation_id = ? ORDER BY id DESC LIMIT 1",
                (generation_id,),
            ).one()
        return run_from_row(row) if row else None

    def get(self, run_id: int) -> Run | None:
        with self.db.transaction() as cur:
            row = cur.execute(f"SELECT {_RUN_COLUMNS} FROM runs WHERE id = ?", (run_id,)).one()
        return run_from_row(row) if row else None

    def runs(self, *, limit: int, offset: int) -> tuple[list[Run], int]:
        """Return one page of runs, newest first, and the total number of runs."""
        with self.db.transaction() as cur:
            rows = cur.execute(
                f"SELECT {_RUN_COLUMNS} FROM runs ORDER BY id DESC LIMIT ? OFFSET ?",
                (limit, offset),
            ).all()
            total = cur.execute("SELECT COUNT(*) AS n FROM runs").scalar()
        return [run_from_row(r) for r in rows], int(total)

    def history(self, generation_id: str) -> list[Run]:
        with self.db.transaction() as cur:
            rows = cur.execute(
                f"SELECT {_RUN_COLUMNS} FROM runs WHERE generation_id = ? ORDER BY id DESC",
                (generation_id,),
            ).all()
        return [run_from_row(r) for r in rows]

    def cancel(self, generation_id: str, now: float) -> Run:
        """Cancel the id's newest run if it is queued or running; it ends with an error event."""
        with self.db.transaction(write=True) as cur:
            row = cur.execute(
                f"SELECT {_RUN_COLUMNS} FROM runs WHERE generation_id = ?"
                f" ORDER BY id DESC LIMIT 1{self._row_lock}",
                (generation_id,),
            ).one()
            if row is None:
                raise NotFound(f"no generation {generation_id!r}")
            cur.execute(
                "UPDATE runs SET status = 'cancelled', error = 'cancelled by request',"
                " finished_at = ?, lease_expires_at = NULL"
                " WHERE id = ? AND status IN ('queued', 'running')",
                (now, row["id"]),
            )
            if cur.rowcount != 1:
                raise Conflict(
                    f"generation {generation_id!r} already ended ({row['status']});"
                    " there is nothing to cancel",
                    generation_id=generation_id,
                    status=row["status"],
                )
            self._insert_event(cur, row["id"], "error", 0, CANCELLED_MESSAGE, now)
        return self.get(int(row["id"]))  # type: ignore[return-value]

    # --- the worker side ----------------------------------------------------------------

    def claim(self, worker_id: str, now: float, lease_seconds: float) -> Run | None:
        """Atomically take the oldest queued run, or one whose lease lapsed, for worker_id.

        A lapsed run that has used up its attempts is ended in error instead.
        """
        skip_locked = " FOR UPDATE SKIP LOCKED" if self.db.dialect == "postgres" else ""
        with self.db.transaction(write=True) as cur:
            exhausted = cur.execute(
                "SELECT id, attempts FROM runs WHERE status = 'running'"
                f" AND lease_expires_at < ? AND attempts >= ?{skip_locked}",
                (now, self.max_attempts),
            ).all()
            for row in exhausted:
                message = STAGE["error"].message("gave_up", attempts=row["attempts"])
                cur.execute(
                    "UPDATE runs SET status = 'error', error = ?, finished_at = ?,"
                    " lease_expires_at = NULL WHERE id = ?",
                    (message, now, row["id"]),
                )
                self._insert_event(cur, row["id"], "error", 0, message, now)
            row = cur.execute(
                "UPDATE runs SET status = 'running', worker_id = ?, lease_expires_at = ?,"
                " attempts = attempts + 1, started_at = COALESCE(started_at, ?)"
                " WHERE id = (SELECT id FROM runs"
                "   WHERE status = 'queued' OR (status = 'running' AND lease_expires_at < ?)"
                f"   ORDER BY id LIMIT 1{skip_locked})"
                " AND (status = 'queued' OR (status = 'running' AND lease_expires_at < ?))"
                f" RETURNING {_RUN_COLUMNS}",
                (worker_id, now + lease_seconds, now, now, now),
            ).one()
        return run_from_row(row) if row else None

    def renew(self, run_id: int, worker_id: str, now: float, lease_seconds: float) -> bool:
        """Extend a lease; False when the run is no longer running on this worker."""
        with self.db.transaction(write=True) as cur:
            cur.execute(
                "UPDATE runs SET lease_expires_at = ?"
                " WHERE id = ? AND worker_id = ? AND status = 'running'",
                (now + lease_seconds, run_id, worker_id),
            )
            return cur.rowcount == 1

    def owns(self, run_id: int, worker_id: str) -> bool:
        """Tell whether a run is still running on this worker (one light read, no lock taken)."""
        with self.db.transaction() as cur:
            row = cur.execute(
                "SELECT 1 AS ours FROM runs WHERE id = ? AND worker_id = ? AND status = 'running'",
                (run_id, worker_id),
            ).one()
        return row is not None

    def report(
        self, run_id: int, worker_id: str, status: str, progress: int, message: str, now: float
    ) -> Event | None:
        """Append a progress event for a run on this worker; None if it no longer does."""
        with self.db.transaction(write=True) as cur:
            # A shared row lock: a cancel waits until this event is in, never lands before it.
            shared = " FOR SHARE" if self.db.dialect == "postgres" else ""
            owned = cur.execute(
                "SELECT 1 FROM runs WHERE id = ? AND worker_id = ? AND status = 'running'" + shared,
                (run_id, worker_id),
            ).one()
            if not owned:
                return None
            return self._insert_event(cur, run_id, status, progress, message, now)

    def complete(
        self,
        run_id: int,
        worker_id: str,
        result: dict[str, Any],
        now: float,
        usage: dict[str, Any] | None = None,
    ) -> bool:
        """Mark a running run completed and append the completed event, atomically."""
        with self.db.transaction(write=True) as cur:
            cur.execute(
                "UPDATE runs SET status = 'completed', result = ?, usage = ?, finished_at = ?,"
                " lease_expires_at = NULL WHERE id = ? AND worker_id = ? AND status = 'running'",
                (json.dumps(result), _json_or_none(usage), now, run_id, worker_id),
            )
            if cur.rowcount != 1:
                return False
            self._insert_event(cur, run_id, "completed", 100, COMPLETED_MESSAGE, now)
            return True

    def fail(
        self,
        run_id: int,
        worker_id: str,
        message: str,
        now: float,
        *,
        retry: bool,
        usage: dict[str, Any] | None = None,
    ) -> str:
        """End a running run in error, or queue it again when retry is allowed and attempts remain.

        Returns the run's new status ('error', 'queued'), or '' when the run was not ours.
        """
        with self.db.transaction(write=True) as cur:
            row = cur.execute(
                "SELECT attempts FROM runs WHERE id = ? AND worker_id = ? AND status = 'running'"
                + self._row_lock,
                (run_id, worker_id),
            ).one()
            if row is None:
                return ""
            mine = " WHERE id = ? AND worker_id = ? AND status = 'running'"
            if retry and row["attempts"] < self.max_attempts:
                cur.execute(
                    "UPDATE runs SET status = 'queued', worker_id = NULL,"
                    " lease_expires_at = NULL, error = ?, usage = ?" + mine,
                    (message, _json_or_none(usage), run_id, worker_id),
                )
                return "queued" if cur.rowcount == 1 else ""
            cur.execute(
                "UPDATE runs SET status = 'error', error = ?, usage = ?, finished_at = ?,"
                " lease_expires_at = NULL" + mine,
                (message, _json_or_none(usage), now, run_id, worker_id),
            )
            if cur.rowcount != 1:
                return ""
            self._insert_event(cur, run_id, "error", 0, message, now)
            return "error"

    def release(self, run_id: int, worker_id: str) -> bool:
        """Give a running run back to the queue (a worker shutting down); the attempt is not counted."""
        with self.db.transaction(write=True) as cur:
            cur.execute(
                "UPDATE runs SET status = 'queued', worker_id = NULL, lease_expires_at = NULL,"
                " attempts = attempts - 1 WHERE id = ? AND worker_id = ? AND status = 'running'",
                (run_id, worker_id),
            )
            return cur.rowcount == 1

    # --- events -------------------------------------------------------------------------

    def events_after(self, run_id: int, after_id: int, limit: int = 500) -> list[Event]:
        """Return a run's events with ids above after_id, oldest first."""
        with self.db.transaction() as cur:
            rows = cur.execute(
                f"SELECT {_EVENT_COLUMNS} FROM events WHERE run_id = ? AND id > ?"
                " ORDER BY id LIMIT ?",
                (run_id, after_id, limit),
            ).all()
        return [event_from_row(r) for r in rows]

    def latest_event(self, run_id: int) -> Event | None:
        with self.db.transaction() as cur:
            row = cur.execute(
                f"SELECT {_EVENT_COLUMNS} FROM events WHERE run_id = ? ORDER BY id DESC LIMIT 1",
                (run_id,),
            ).one()
        return event_from_row(row) if row else None

    def max_progress(self, run_id: int) -> int:
        """Return the highest progress a run has reported (the floor for a resumed attempt)."""
        with self.db.transaction() as cur:
            value = cur.execute(
                "SELECT MAX(progress) AS p FROM events WHERE run_id = ? AND status <> 'error'",
                (run_id,),
            ).scalar()
        return int(value or 0)

    def recent_marks(self, window: int = 1000) -> tuple[tuple[int, int], dict[int, int]]:
        """Return a mark of the run list and, per run, its newest event id among the last window ids.

        A stream whose run's mark is above the last event it sent has news; any run without
        an entry has had no event lately. The window (rather than "ids above the last
        maximum") catches a PostgreSQL transaction that commits a lower id after a higher one.
        """
        with self.db.transaction() as cur:
            # The count catches a PostgreSQL run committed after a higher id, as for events.
            runs = cur.execute(
                "SELECT COALESCE(MAX(id), 0) AS j, COUNT(*) AS n FROM runs"
                " WHERE id > (SELECT COALESCE(MAX(id), 0) FROM runs) - ?",
                (window,),
            ).one()
            rows = cur.execute(
                "SELECT run_id, MAX(id) AS last FROM events"
                " WHERE id > (SELECT COALESCE(MAX(id), 0) FROM events) - ?"
                " GROUP BY run_id",
                (window,),
            ).all()
        assert runs is not None
        runs_mark = (int(runs["j"]), int(runs["n"]))  # moves whenever a run is added
        return runs_mark, {int(r["run_id"]): int(r["last"]) for r in rows}

    def now(self) -> float:
        """Return the database's clock, so workers on different machines agree on leases."""
        if self.db.dialect == "sqlite":
            return time.time()  # one machine: the file's clock is this machine's
        with self.db.transaction() as cur:
            return float(cur.execute("SELECT EXTRACT(EPOCH FROM clock_timestamp())").scalar())

    def ping(self) -> None:
        """Run a trivial query; raises when the database cannot be reached."""
        with self.db.transaction() as cur:
            cur.execute("SELECT 1").scalar()

    @staticmethod
    def _insert_event(
        cur: Any, run_id: int, status: str, progress: int, message: str, now: float
    ) -> Event:
        row = cur.execute(
            "INSERT INTO events (run_id, status, progress, message, created_at)"
            f" VALUES (?, ?, ?, ?, ?) RETURNING {_EVENT_COLUMNS}",
            (run_id, status, int(progress), message, now),
        ).one()
        return event_from_row(row)

    # --- retention ----------------------------------------------------------------------

    def finished_unpruned(
        self, before: float, *, after: tuple[float, int] | None = None, limit: int = 100
    ) -> list[Run]:
        """Return finished runs whose files are kept and that ended before `before`, oldest first.

        Page with after, the (finished_at, id) of the previous page's last run.
        """
        sql = (
            f"SELECT {_RUN_COLUMNS} FROM runs"
            " WHERE pruned_at IS NULL AND status IN ('completed', 'error', 'cancelled')"
            " AND finished_at < ?"
        )
        params: list[Any] = [before]
        if after is not None:
            sql += " AND (finished_at > ? OR (finished_at = ? AND id > ?))"
            params += [after[0], after[0], after[1]]
        with self.db.transaction() as cur:
            rows = cur.execute(sql + " ORDER BY finished_at, id LIMIT ?", (*params, limit)).all()
        return [run_from_row(r) for r in rows]

    def names_deck(self, file: str) -> bool:
        """Say whether any run's request names the uploaded deck `file`."""
        with self.db.transaction() as cur:
            row = cur.execute(
                "SELECT 1 FROM runs WHERE request LIKE ? LIMIT 1", (f'%"file": "{file}"%',)
            ).one()
        return row is not None

    def deck_files_kept(self) -> list[tuple[int, str]]:
        """Return (run id, uploaded deck file) of the runs whose files are kept (or to be made).

        A re-render of such a run's generation reads its deck again; a deck no such run names
        can go.
        """
        with self.db.transaction() as cur:
            rows = cur.execute(
                "SELECT id, request FROM runs WHERE pruned_at IS NULL AND request LIKE ?",
                ('%"deck": {%',),
            ).all()
        named = []
        for row in rows:
            deck = json.loads(row["request"]).get("deck")
            if isinstance(deck, dict) and isinstance(deck.get("file"), str):
                named.append((int(row["id"]), deck["file"]))
        return named

    def running(self) -> list[Run]:
        """Return the runs a worker holds (status running), oldest first."""
        with self.db.transaction() as cur:
            rows = cur.execute(
                f"SELECT {_RUN_COLUMNS} FROM runs WHERE status = 'running' ORDER BY id"
            ).all()
        return [run_from_row(r) for r in rows]

    def mark_pruned(self, run_id: int, now: float) -> bool:
        """Record that retention removed a finished run's files; False if not finished or already so."""
        with self.db.transaction(write=True) as cur:
            cur.execute(
                "UPDATE runs SET pruned_at = ? WHERE id = ? AND pruned_at IS NULL"
                " AND status IN ('completed', 'error', 'cancelled')",
                (now, run_id),
            )
            return cur.rowcount == 1

    def pruned_at(self, run_id: int) -> float | None:
        """Return when retention removed a run's files, or None while they are kept."""
        with self.db.transaction() as cur:
            value = cur.execute("SELECT pruned_at FROM runs WHERE id = ?", (run_id,)).scalar()
        return float(value) if value is not None else None


def _json_or_none(value: Any) -> str | None:
    return json.dumps(value) if value is not None else None
