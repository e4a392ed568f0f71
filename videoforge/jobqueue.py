"""The job queue and the progress-event log: every SQL statement about jobs lives here."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any

from .db import Database
from .errors import Conflict, NotFound

log = logging.getLogger(__name__)

ACTIVE = ("queued", "running")
FINISHED = ("completed", "error", "cancelled")
TERMINAL_EVENTS = ("completed", "error")
CANCELLED_MESSAGE = "❌ Error: cancelled by request"
COMPLETED_MESSAGE = "✅ Video generation complete!"


@dataclass(frozen=True)
class Job:
    id: int
    generation_id: str
    status: str
    request: dict[str, Any]
    attempts: int
    worker_id: str | None
    lease_expires_at: float | None
    created_at: float
    started_at: float | None
    finished_at: float | None
    error: str | None
    result: dict[str, Any] | None
    usage: dict[str, Any] | None = None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Job:
        return cls(
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
        )

    @property
    def active(self) -> bool:
        return self.status in ACTIVE


@dataclass(frozen=True)
class Event:
    id: int
    job_id: int
    status: str
    progress: int
    message: str
    created_at: float

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Event:
        return cls(
            id=int(row["id"]),
            job_id=int(row["job_id"]),
            status=row["status"],
            progress=int(row["progress"]),
            message=row["message"],
            created_at=float(row["created_at"]),
        )

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL_EVENTS


_JOB_COLUMNS = (
    "id, generation_id, status, request, attempts, worker_id, lease_expires_at,"
    " created_at, started_at, finished_at, error, result, usage"
)
_EVENT_COLUMNS = "id, job_id, status, progress, message, created_at"


class JobStore:
    """Enqueue, claim, lease, finish and cancel jobs; append and read progress events."""

    def __init__(self, db: Database, *, max_attempts: int = 3):
        self.db = db
        self.max_attempts = max_attempts

    @property
    def _row_lock(self) -> str:
        """Lock the rows a read-then-write reads; SQLite's IMMEDIATE transaction already does."""
        return " FOR UPDATE" if self.db.dialect == "postgres" else ""

    # --- the web side -------------------------------------------------------------------

    def enqueue(self, generation_id: str, request: dict[str, Any], now: float) -> Job:
        """Add a queued run; 409 when the id's newest run is still queued or running."""
        try:
            with self.db.transaction(write=True) as cur:
                row = cur.execute(
                    f"INSERT INTO jobs (generation_id, status, request, created_at)"
                    f" VALUES (?, 'queued', ?, ?) RETURNING {_JOB_COLUMNS}",
                    (generation_id, json.dumps(request), now),
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
        return Job.from_row(row)

    def newest(self, generation_id: str) -> Job | None:
        """Return the newest run of a generation id, or None."""
        with self.db.transaction() as cur:
            row = cur.execute(
                f"SELECT {_JOB_COLUMNS} FROM jobs WHERE generation_id = ? ORDER BY id DESC LIMIT 1",
                (generation_id,),
            ).one()
        return Job.from_row(row) if row else None

    def get(self, job_id: int) -> Job | None:
        with self.db.transaction() as cur:
            row = cur.execute(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE id = ?", (job_id,)).one()
        return Job.from_row(row) if row else None

    def runs(self, *, limit: int, offset: int) -> tuple[list[Job], int]:
        """Return one page of runs, newest first, and the total number of runs."""
        with self.db.transaction() as cur:
            rows = cur.execute(
                f"SELECT {_JOB_COLUMNS} FROM jobs ORDER BY id DESC LIMIT ? OFFSET ?",
                (limit, offset),
            ).all()
            total = cur.execute("SELECT COUNT(*) AS n FROM jobs").scalar()
        return [Job.from_row(r) for r in rows], int(total)

    def history(self, generation_id: str) -> list[Job]:
        with self.db.transaction() as cur:
            rows = cur.execute(
                f"SELECT {_JOB_COLUMNS} FROM jobs WHERE generation_id = ? ORDER BY id DESC",
                (generation_id,),
            ).all()
        return [Job.from_row(r) for r in rows]

    def cancel(self, generation_id: str, now: float) -> Job:
        """Cancel the id's newest run if it is queued or running; it ends with an error event."""
        with self.db.transaction(write=True) as cur:
            row = cur.execute(
                f"SELECT {_JOB_COLUMNS} FROM jobs WHERE generation_id = ?"
                f" ORDER BY id DESC LIMIT 1{self._row_lock}",
                (generation_id,),
            ).one()
            if row is None:
                raise NotFound(f"no generation {generation_id!r}")
            cur.execute(
                "UPDATE jobs SET status = 'cancelled', error = 'cancelled by request',"
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

    def claim(self, worker_id: str, now: float, lease_seconds: float) -> Job | None:
        """Atomically take the oldest queued job, or one whose lease lapsed, for worker_id.

        A lapsed job that has used up its attempts is ended in error instead.
        """
        skip_locked = " FOR UPDATE SKIP LOCKED" if self.db.dialect == "postgres" else ""
        with self.db.transaction(write=True) as cur:
            exhausted = cur.execute(
                "SELECT id, attempts FROM jobs WHERE status = 'running'"
                f" AND lease_expires_at < ? AND attempts >= ?{skip_locked}",
                (now, self.max_attempts),
            ).all()
            for row in exhausted:
                message = (
                    f"❌ Error: the worker running this job stopped {row['attempts']} times;"
                    " giving up"
                )
                cur.execute(
                    "UPDATE jobs SET status = 'error', error = ?, finished_at = ?,"
                    " lease_expires_at = NULL WHERE id = ?",
                    (message, now, row["id"]),
                )
                self._insert_event(cur, row["id"], "error", 0, message, now)
            row = cur.execute(
                "UPDATE jobs SET status = 'running', worker_id = ?, lease_expires_at = ?,"
                " attempts = attempts + 1, started_at = COALESCE(started_at, ?)"
                " WHERE id = (SELECT id FROM jobs"
                "   WHERE status = 'queued' OR (status = 'running' AND lease_expires_at < ?)"
                f"   ORDER BY id LIMIT 1{skip_locked})"
                " AND (status = 'queued' OR (status = 'running' AND lease_expires_at < ?))"
                f" RETURNING {_JOB_COLUMNS}",
                (worker_id, now + lease_seconds, now, now, now),
            ).one()
        return Job.from_row(row) if row else None

    def renew(self, job_id: int, worker_id: str, now: float, lease_seconds: float) -> bool:
        """Extend a lease; False when the job is no longer this worker's running job."""
        with self.db.transaction(write=True) as cur:
            cur.execute(
                "UPDATE jobs SET lease_expires_at = ?"
                " WHERE id = ? AND worker_id = ? AND status = 'running'",
                (now + lease_seconds, job_id, worker_id),
            )
            return cur.rowcount == 1

    def report(
        self, job_id: int, worker_id: str, status: str, progress: int, message: str, now: float
    ) -> Event | None:
        """Append a progress event for a job this worker runs; None if it no longer does."""
        with self.db.transaction(write=True) as cur:
            # A shared row lock: a cancel waits until this event is in, never lands before it.
            shared = " FOR SHARE" if self.db.dialect == "postgres" else ""
            owned = cur.execute(
                "SELECT 1 FROM jobs WHERE id = ? AND worker_id = ? AND status = 'running'" + shared,
                (job_id, worker_id),
            ).one()
            if not owned:
                return None
            return self._insert_event(cur, job_id, status, progress, message, now)

    def complete(
        self,
        job_id: int,
        worker_id: str,
        result: dict[str, Any],
        now: float,
        usage: dict[str, Any] | None = None,
    ) -> bool:
        """Mark a running job completed and append the completed event, atomically."""
        with self.db.transaction(write=True) as cur:
            cur.execute(
                "UPDATE jobs SET status = 'completed', result = ?, usage = ?, finished_at = ?,"
                " lease_expires_at = NULL WHERE id = ? AND worker_id = ? AND status = 'running'",
                (json.dumps(result), _json_or_none(usage), now, job_id, worker_id),
            )
            if cur.rowcount != 1:
                return False
            self._insert_event(cur, job_id, "completed", 100, COMPLETED_MESSAGE, now)
            return True

    def fail(
        self,
        job_id: int,
        worker_id: str,
        message: str,
        now: float,
        *,
        retry: bool,
        usage: dict[str, Any] | None = None,
    ) -> str:
        """End a running job in error, or queue it again when retry is allowed and attempts remain.

        Returns the job's new status ('error', 'queued'), or '' when the job was not ours.
        """
        with self.db.transaction(write=True) as cur:
            row = cur.execute(
                "SELECT attempts FROM jobs WHERE id = ? AND worker_id = ? AND status = 'running'"
                + self._row_lock,
                (job_id, worker_id),
            ).one()
            if row is None:
                return ""
            mine = " WHERE id = ? AND worker_id = ? AND status = 'running'"
            if retry and row["attempts"] < self.max_attempts:
                cur.execute(
                    "UPDATE jobs SET status = 'queued', worker_id = NULL,"
                    " lease_expires_at = NULL, error = ?, usage = ?" + mine,
                    (message, _json_or_none(usage), job_id, worker_id),
                )
                return "queued" if cur.rowcount == 1 else ""
            cur.execute(
                "UPDATE jobs SET status = 'error', error = ?, usage = ?, finished_at = ?,"
                " lease_expires_at = NULL" + mine,
                (message, _json_or_none(usage), now, job_id, worker_id),
            )
            if cur.rowcount != 1:
                return ""
            self._insert_event(cur, job_id, "error", 0, message, now)
            return "error"

    def release(self, job_id: int, worker_id: str) -> bool:
        """Give a running job back to the queue (a worker shutting down); the attempt is not counted."""
        with self.db.transaction(write=True) as cur:
            cur.execute(
                "UPDATE jobs SET status = 'queued', worker_id = NULL, lease_expires_at = NULL,"
                " attempts = attempts - 1 WHERE id = ? AND worker_id = ? AND status = 'running'",
                (job_id, worker_id),
            )
            return cur.rowcount == 1

    # --- events -------------------------------------------------------------------------

    def events_after(self, job_id: int, after_id: int, limit: int = 500) -> list[Event]:
        """Return a job's events with ids above after_id, oldest first."""
        with self.db.transaction() as cur:
            rows = cur.execute(
                f"SELECT {_EVENT_COLUMNS} FROM events WHERE job_id = ? AND id > ?"
                " ORDER BY id LIMIT ?",
                (job_id, after_id, limit),
            ).all()
        return [Event.from_row(r) for r in rows]

    def latest_event(self, job_id: int) -> Event | None:
        with self.db.transaction() as cur:
            row = cur.execute(
                f"SELECT {_EVENT_COLUMNS} FROM events WHERE job_id = ? ORDER BY id DESC LIMIT 1",
                (job_id,),
            ).one()
        return Event.from_row(row) if row else None

    def max_progress(self, job_id: int) -> int:
        """Return the highest progress a job has reported (the floor for a resumed attempt)."""
        with self.db.transaction() as cur:
            value = cur.execute(
                "SELECT MAX(progress) AS p FROM events WHERE job_id = ? AND status <> 'error'",
                (job_id,),
            ).scalar()
        return int(value or 0)

    def recent_marks(self, window: int = 1000) -> tuple[tuple[int, int], dict[int, int]]:
        """Return a mark of the job list and, per job, its newest event id among the last window ids.

        A stream whose job's mark is above the last event it sent has news; any job without
        an entry has had no event lately. The window (rather than "ids above the last
        maximum") catches a PostgreSQL transaction that commits a lower id after a higher one.
        """
        with self.db.transaction() as cur:
            # The count catches a PostgreSQL job committed after a higher id, as for events.
            jobs = cur.execute(
                "SELECT COALESCE(MAX(id), 0) AS j, COUNT(*) AS n FROM jobs"
                " WHERE id > (SELECT COALESCE(MAX(id), 0) FROM jobs) - ?",
                (window,),
            ).one()
            rows = cur.execute(
                "SELECT job_id, MAX(id) AS last FROM events"
                " WHERE id > (SELECT COALESCE(MAX(id), 0) FROM events) - ?"
                " GROUP BY job_id",
                (window,),
            ).all()
        assert jobs is not None
        jobs_mark = (int(jobs["j"]), int(jobs["n"]))  # moves whenever a job is added
        return jobs_mark, {int(r["job_id"]): int(r["last"]) for r in rows}

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
        cur: Any, job_id: int, status: str, progress: int, message: str, now: float
    ) -> Event:
        row = cur.execute(
            "INSERT INTO events (job_id, status, progress, message, created_at)"
            f" VALUES (?, ?, ?, ?, ?) RETURNING {_EVENT_COLUMNS}",
            (job_id, status, int(progress), message, now),
        ).one()
        return Event.from_row(row)


def _json_or_none(value: Any) -> str | None:
    return json.dumps(value) if value is not None else None
