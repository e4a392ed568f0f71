"""The progress stream: Server-Sent Events read from the event log, per the published contract."""

from __future__ import annotations

import enum
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field

from ..core.stages import STAGE
from ..core.types import Event
from ..store.runs import RunStore

log = logging.getLogger(__name__)

CONNECTED = STAGE["connected"].message("connected")
WAITING = STAGE["waiting"].message("waiting")
DONE = STAGE["done"].message("done")
TIMED_OUT = STAGE["done"].message("timed_out")


@dataclass(frozen=True)
class StreamTiming:
    poll_interval: float = 0.5
    heartbeat_interval: float = 2.0
    waiting_period: float = 5.0
    timeout: float = 300.0
    retry_ms: int = 3000


def clock_time(epoch: float) -> str:
    """Format an epoch time as the contract's HH:MM:SS (server local time)."""
    return time.strftime("%H:%M:%S", time.localtime(epoch))


def sse(data: dict, event_id: int | None = None, *, retry_ms: int | None = None) -> bytes:
    """Encode one SSE message (retry hint, id, one data line) as bytes."""
    lines = []
    if retry_ms is not None:
        lines.append(f"retry: {retry_ms}")
    if event_id is not None:
        lines.append(f"id: {event_id}")
    lines.append("data: " + json.dumps(data, ensure_ascii=False, separators=(",", ":")))
    return ("\n".join(lines) + "\n\n").encode("utf-8")


def _payload(status: str, progress: int, message: str, at: float, **extra: object) -> dict:
    return {
        "status": status,
        "progress": progress,
        "message": message,
        "timestamp": clock_time(at),
        **extra,
    }


def _event_payload(event: Event) -> dict:
    return _payload(event.status, event.progress, event.message, event.created_at)


@dataclass(frozen=True)
class Marks:
    """What the change signal last saw: a version, a run-list mark, newest event id per run."""

    version: int = 0
    runs: tuple[int, int] = (-1, -1)
    run_events: dict[int, int] = field(default_factory=dict)


class ChangeSignal:
    """Watch the event log from one thread and wake the streams when it changes.

    One cheap query per interval serves every stream of the process, and a stream queries
    the database only when its own run (or, before its run exists, the run list) changed,
    so an open stream with nothing new costs no queries. The watcher polls only while some
    stream is waiting.
    """

    def __init__(self, store: RunStore, interval: float):
        self.store = store
        self.interval = interval
        self.marks = Marks()
        self._cond = threading.Condition()
        self._wanted = threading.Event()
        self._waiting = 0
        self._started = False
        self._shared: dict[tuple[int, int], Future] = {}
        self._shared_version = -1
        self._shared_lock = threading.Lock()

    def events_after(self, run_id: int, after_id: int, version: int) -> list[Event]:
        """Read a run's events after an id once per change, however many streams ask.

        Streams that follow the same run wake together on the same change and ask the same
        question; the first one queries and the others share its answer.
        """
        with self._shared_lock:
            if version != self._shared_version:
                self._shared, self._shared_version = {}, version
            future = self._shared.get((run_id, after_id))
            owner = future is None
            if owner:
                future = self._shared[(run_id, after_id)] = Future()
        if owner:
            try:
                future.set_result(self.store.events_after(run_id, after_id))
            except Exception as exc:
                future.set_exception(exc)
        return future.result()

    def wait(self, seen: int, timeout: float) -> Marks:
        """Return the current marks, first waiting up to timeout while their version is seen."""
        with self._cond:
            if not self._started:
                self._started = True
                threading.Thread(target=self._watch, daemon=True, name="change-signal").start()
            self._waiting += 1
            self._wanted.set()
            try:
                if self.marks.version == seen:
                    self._cond.wait(timeout)
                return self.marks
            finally:
                self._waiting -= 1

    def _watch(self) -> None:
        while True:
            self._wanted.wait()
            try:
                runs, run_events = self.store.recent_marks()
            except Exception as exc:  # the streams' own queries report the outage
                log.warning("change signal: cannot read the event log: %s", exc)
                time.sleep(self.interval)
                continue
            with self._cond:
                old = self.marks
                if runs != old.runs or run_events != old.run_events:
                    self.marks = Marks(old.version + 1, runs, run_events)
                    self._cond.notify_all()
                if self._waiting == 0:
                    self._wanted.clear()
            time.sleep(self.interval)


def progress_events(
    store: RunStore,
    generation_id: str,
    timing: StreamTiming,
    *,
    signal: ChangeSignal | None = None,
    last_event_id: int | None = None,
    disconnected: Callable[[], bool] = lambda: False,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[bytes]:
    """Yield the contract's event stream for a generation id until completed/error, then done.

    Every stored event is sent once, in order, with its row id as the SSE id; synthetic
    messages (connected, waiting, heartbeats, done) carry the id of the last stored event
    sent, so a reconnect with Last-Event-ID replays exactly the events after it. With a
    ChangeSignal the stream queries only after the event log changed; without one it queries
    at every poll.
    """
    started = clock()
    last_id = last_event_id or 0
    yield sse(_payload("connected", 0, CONNECTED, started), last_id, retry_ms=timing.retry_ms)
    last_write = started
    last_waiting = float("-inf")
    run = None
    latest: Event | None = None
    # Marks are read before querying, so a change during a query wakes the next wait at once.
    marks = signal.marks if signal else None
    runs_checked = (-2, -2)  # the run-list mark when this stream last looked for its run
    caught_up = False  # this stream has read its run's events at least once

    while True:
        if run is None and (marks is None or marks.runs != runs_checked):
            runs_checked = marks.runs if marks else runs_checked
            run = store.newest(generation_id)
            if run is not None:
                latest = store.latest_event(run.id)
                if latest is not None and latest.terminal:
                    if last_event_id is None:  # a finished run: its final status, then done
                        yield sse(_event_payload(latest), latest.id)
                        yield sse(_payload("done", 100, DONE, clock()), latest.id)
                        return
                    if last_event_id >= latest.id:  # a reconnect that already saw the end
                        yield sse(_payload("done", 100, DONE, clock()), last_event_id)
                        return
                if last_event_id is None and latest is not None:
                    last_id = 0  # a run in progress: replay its events from the start
        if run is not None and (
            marks is None or not caught_up or marks.run_events.get(run.id, 0) > last_id
        ):
            caught_up = True
            if signal is None or marks is None:
                events = store.events_after(run.id, last_id)
            else:
                events = signal.events_after(run.id, last_id, marks.version)
            for event in events:
                yield sse(_event_payload(event), event.id)
                last_id, latest, last_write = event.id, event, clock()
                if event.terminal:
                    yield sse(_payload("done", 100, DONE, clock()), last_id)
                    return
        now = clock()
        if now - started >= timing.timeout:
            yield sse(_payload("done", latest.progress if latest else 0, TIMED_OUT, now), last_id)
            return
        if run is None and now - started < timing.waiting_period:
            if now - last_waiting >= timing.poll_interval:
                yield sse(_payload("waiting", 0, WAITING, now), last_id)
                last_waiting = last_write = now
        elif now - last_write >= timing.heartbeat_interval:
            if latest is not None:
                beat = _payload(latest.status, latest.progress, latest.message, now, heartbeat=True)
                yield sse(beat, last_id)
            elif run is not None:  # queued, not yet started by a worker
                yield sse(_payload("waiting", 0, WAITING, now, heartbeat=True), last_id)
            else:  # no run at all: keep the connection alive without a message event
                yield b": keepalive\n\n"
            last_write = now
        if disconnected():
            log.debug("progress stream for %s: client went away", generation_id)
            return
        if signal is None or marks is None:
            sleep(timing.poll_interval)
        else:
            marks = signal.wait(marks.version, timing.poll_interval)


class Admission(enum.Enum):
    """What the gate said to a new stream."""

    ADMITTED = "admitted"
    BUSY = "busy"  # every slot of the process is taken
    CLIENT_FULL = "client_full"  # this client address holds all the slots it may


class StreamGate:
    """Count open streams across threads: at most ``limit`` in all, ``per_client`` per address."""

    def __init__(self, limit: int, per_client: int | None = None):
        self.limit = limit
        self.per_client = per_client
        self.open = 0
        self.by_client: dict[str, int] = {}
        self._lock = threading.Lock()

    def enter(self, client: str = "") -> Admission:
        """Take a slot for a stream of client, or say why not."""
        with self._lock:
            held = self.by_client.get(client, 0)
            if self.per_client is not None and held >= self.per_client:
                return Admission.CLIENT_FULL
            if self.open >= self.limit:
                return Admission.BUSY
            self.open += 1
            self.by_client[client] = held + 1
            return Admission.ADMITTED

    def leave(self, client: str = "") -> None:
        """Give back a slot taken by enter(client)."""
        with self._lock:
            self.open -= 1
            held = self.by_client.get(client, 0) - 1
            if held > 0:
                self.by_client[client] = held
            else:
                self.by_client.pop(client, None)


class GatedStream:
    """A WSGI body that releases its gate slot exactly once, when the server closes it."""

    def __init__(self, body: Iterator[bytes], gate: StreamGate, client: str = ""):
        self._body = body
        self._gate = gate
        self._client = client
        self._closed = False

    def __iter__(self) -> Iterator[bytes]:
        return self._body

    def close(self) -> None:
        """Close the body and free the slot (WSGI calls this once the response is done)."""
        if self._closed:
            return
        self._closed = True
        try:
            close = getattr(self._body, "close", None)
            if close:
                close()
        finally:
            self._gate.leave(self._client)
