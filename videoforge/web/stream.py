"""The progress stream: Server-Sent Events read from the event log, per the published contract."""

from __future__ import annotations

import enum
import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field

from ..core.stages import STAGE
from ..core.types import Event, Run
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


class Turn(enum.Enum):
    """Where a stream stands with the change signal's turns."""

    ASLEEP = "asleep"  # waiting for a change or its own deadline: a change puts it in line
    QUEUED = "queued"  # in line for a turn
    WORKING = "working"  # holds a turn
    AWAY = "away"  # waiting for the database, without a turn; it takes one when back
    GONE = "gone"  # the stream ended


class Subscription:
    """One open stream as the change signal sees it: what it follows, how to wake it.

    ``run_id`` is the run the stream follows, or None while it has none (it then follows
    the run list, waiting for its run to appear).
    """

    __slots__ = ("disconnected", "run_id", "turn", "_calm")

    def __init__(self, disconnected: Callable[[], bool]):
        self.disconnected = disconnected
        self.run_id: int | None = None
        self.turn = Turn.ASLEEP
        # Held while no wake-up is pending; waking releases it. A bare lock is the cheapest
        # thing a thread can sleep on with a timeout (an Event adds a Condition per wait).
        self._calm = threading.Lock()
        self._calm.acquire()

    def wake(self) -> None:
        """Make the stream's current or next sleep return at once."""
        try:
            self._calm.release()
        except RuntimeError:  # already released: a wake-up is pending
            pass

    def sleep(self, timeout: float | None) -> None:
        """Sleep until woken or timeout seconds have passed (None: no limit)."""
        if timeout is None:
            self._calm.acquire()
        elif not (timeout > 0 and self._calm.acquire(timeout=timeout)):
            self._calm.acquire(blocking=False)  # take a wake-up that came meanwhile


class ChangeSignal:
    """Watch the event log from one thread, and wake only the streams that have work.

    One cheap query per interval serves every stream of the process. A change wakes the
    streams following a run that has new events and, when the run list moved, the streams
    still waiting for their run; the others sleep on until their own next deadline (a
    heartbeat, a waiting message, the timeout). The watcher reads a changed run's new
    events before waking its streams, and streams that ask the same question at the same
    change share one query. It also checks at every interval whether a stream's client
    hung up, and wakes that stream, so an idle stream need not wake to find out. It polls
    only while some stream is open.

    Streams take turns: at most ``turns`` of them work at once (between two sleeps), the
    others wait in line, first come first served. A change that concerns hundreds of
    streams (a run ending while all its followers watch) then keeps a few threads busy
    instead of making hundreds runnable together, where the Waitress thread that accepts
    and reads every request (``/health``'s too) would queue behind all of them for the GIL.
    """

    def __init__(self, store: RunStore, interval: float, *, turns: int = 2):
        self.store = store
        self.interval = interval
        self.turns = turns
        self.marks = Marks()
        self._lock = threading.Lock()  # guards subscriptions, turns and publishing marks
        self._subs: dict[int | None, set[Subscription]] = {}  # by run id; None: no run yet
        self._open = 0
        self._working = 0
        self._line: deque[Subscription] = deque()
        self._wanted = threading.Event()
        self._started = False
        self._answers: dict[tuple, Future] = {}
        self._answers_version = -1
        self._answers_lock = threading.Lock()

    # --- subscriptions and turns ----------------------------------------------------------

    def subscribe(self, disconnected: Callable[[], bool] = lambda: False) -> Subscription:
        """Register an open stream (following the run list until it follows a run).

        Returns once the stream has a turn; it keeps it until its next wait.
        """
        sub = Subscription(disconnected)
        with self._lock:
            if not self._started:
                self._started = True
                threading.Thread(target=self._watch, daemon=True, name="change-signal").start()
            self._subs.setdefault(None, set()).add(sub)
            self._open += 1
            self._wanted.set()
        self._take_turn(sub)
        return sub

    def follow(self, sub: Subscription, run_id: int) -> None:
        """From now on, wake sub when this run has new events (not when the run list moves)."""
        with self._lock:
            self._remove(sub)
            sub.run_id = run_id
            self._subs.setdefault(run_id, set()).add(sub)

    def unsubscribe(self, sub: Subscription) -> None:
        """Forget a stream that ended, and pass its turn on."""
        with self._lock:
            self._remove(sub)
            self._open -= 1
            if sub.turn is Turn.QUEUED:
                self._line.remove(sub)
            woken = self._end_turn(sub, Turn.GONE)
            sub.turn = Turn.GONE  # a wake-up on its way (a change, a hang-up) finds it gone
        for other in woken:
            other.wake()

    def _remove(self, sub: Subscription) -> None:
        group = self._subs.get(sub.run_id)
        if group is not None:
            group.discard(sub)
            if not group:
                del self._subs[sub.run_id]

    def wait(self, sub: Subscription, seen: int, timeout: float) -> Marks:
        """Pass the turn on, sleep until woken or timeout, take a turn, return the marks.

        Marks newer than ``seen`` return at once: they may hold a change published while
        the stream was busy, before it followed the run that changed.
        """
        self._pass_turn(sub, Turn.ASLEEP)
        sub.sleep(timeout if self.marks.version == seen else 0)
        self._take_turn(sub)
        return self.marks  # read after waking: a change published later wakes it again

    def _take_turn(self, sub: Subscription) -> None:
        """Return once sub holds a turn: at once if one is free, else when its turn comes."""
        with self._lock:
            if sub.turn in (Turn.ASLEEP, Turn.AWAY):
                if self._working < self.turns and not self._line:
                    sub.turn = Turn.WORKING
                    self._working += 1
                else:
                    sub.turn = Turn.QUEUED
                    self._line.append(sub)
        while sub.turn is not Turn.WORKING:  # set under the lock by whoever hands it over
            sub.sleep(None)

    def _pass_turn(self, sub: Subscription, then: Turn) -> None:
        """Give sub's turn to the next in line; sub is then ASLEEP or AWAY."""
        with self._lock:
            woken = self._end_turn(sub, then)
        for other in woken:
            other.wake()

    def _end_turn(self, sub: Subscription, then: Turn) -> list[Subscription]:
        """Give sub's turn (if it holds one) to the next in line; return whom to wake.

        The caller holds the lock and wakes them after releasing it.
        """
        if sub.turn is Turn.WORKING:
            sub.turn = then
            self._working -= 1
        return self._hand_out_turns()

    def _hand_out_turns(self) -> list[Subscription]:
        woken = []
        while self._working < self.turns and self._line:
            sub = self._line.popleft()
            sub.turn = Turn.WORKING
            self._working += 1
            woken.append(sub)
        return woken

    def _call(self, subs: list[Subscription]) -> None:
        """Put sleeping streams in line for a turn, and wake those whose turn it is.

        Streams that are working or in line already look at the marks before they sleep;
        a stream away at the database does so when it is back.
        """
        with self._lock:
            for sub in subs:
                if sub.turn is Turn.ASLEEP:
                    sub.turn = Turn.QUEUED
                    self._line.append(sub)
            woken = self._hand_out_turns()
        for sub in woken:
            sub.wake()

    # --- questions the streams share ------------------------------------------------------

    def newest(self, generation_id: str, version: int, sub: Subscription) -> Run | None:
        """The newest run of an id, read once per change however many streams ask."""
        key = ("newest", generation_id)
        return self._shared(key, version, sub, self.store.newest, generation_id)

    def latest_event(self, run_id: int, version: int, sub: Subscription) -> Event | None:
        """A run's latest event, read once per change however many streams ask."""
        return self._shared(("latest", run_id), version, sub, self.store.latest_event, run_id)

    def events_after(
        self, run_id: int, after_id: int, version: int, sub: Subscription | None
    ) -> list[Event]:
        """A run's events after an id, read once per change however many streams ask."""
        key = ("after", run_id, after_id)
        return self._shared(key, version, sub, self.store.events_after, run_id, after_id)

    def _shared(
        self, key: tuple, version: int, sub: Subscription | None, query: Callable, *args: object
    ):
        """Answer a question from the first asker's query since the marks' version moved.

        An asker holds marks of some version; any answer read after that version was
        published is fresh enough for it (a later change bumps the version and wakes it
        again), so askers with older marks share the current answers too. A failure is not
        kept: the next asker tries again. A stream that has to wait for the database gives
        its turn to the next in line meanwhile, so a slow or unreachable database holds up
        only the streams that need it.
        """
        with self._answers_lock:
            if version > self._answers_version:
                self._answers, self._answers_version = {}, version
            future = self._answers.get(key)
            owner = future is None
            if owner:
                future = self._answers[key] = Future()
        if future.done():
            return future.result()
        if sub is not None:
            self._pass_turn(sub, Turn.AWAY)
        try:
            if owner:
                try:
                    future.set_result(query(*args))
                except Exception as exc:
                    with self._answers_lock:
                        if self._answers.get(key) is future:
                            del self._answers[key]
                    future.set_exception(exc)
            return future.result()
        finally:
            if sub is not None:
                self._take_turn(sub)

    # --- the watcher ----------------------------------------------------------------------

    def _watch(self) -> None:
        while True:
            self._wanted.wait()
            try:
                self._look()
            except Exception:  # every open stream depends on this thread: it must go on
                log.exception("change signal: unexpected error")
            with self._lock:
                if self._open == 0:
                    self._wanted.clear()
            time.sleep(self.interval)

    def _look(self) -> None:
        """Read the marks once, wake the streams they concern, and those that hung up."""
        try:
            runs, run_events = self.store.recent_marks()
        except Exception as exc:  # the streams' own queries report the outage
            log.warning("change signal: cannot read the event log: %s", exc)
        else:
            self._publish(runs, run_events)
        self._wake_hung_up()

    def _publish(self, runs: tuple[int, int], run_events: dict[int, int]) -> None:
        with self._lock:
            old = self.marks
            if runs == old.runs and run_events == old.run_events:
                return
            self.marks = marks = Marks(old.version + 1, runs, run_events)
            woken: list[Subscription] = []
            if runs != old.runs:
                woken += self._subs.get(None, ())
            news = []  # (run, the event id its caught-up streams have sent up to)
            for run_id, last in run_events.items():
                if old.run_events.get(run_id) != last and run_id in self._subs:
                    woken += self._subs[run_id]
                    news.append((run_id, old.run_events.get(run_id, 0)))
        # Read each changed run's news before waking its streams, so that the streams that
        # were up to date find the answer ready instead of queueing for it together.
        for run_id, after_id in news:
            try:
                self.events_after(run_id, after_id, marks.version, None)
            except Exception as exc:  # the streams ask again and meet the error themselves
                log.warning("change signal: cannot read run %s's events: %s", run_id, exc)
        self._call(woken)

    def _wake_hung_up(self) -> None:
        with self._lock:
            subs = [sub for group in self._subs.values() for sub in group]
        gone = []
        for sub in subs:
            try:
                if sub.disconnected():
                    gone.append(sub)
            except Exception:  # a broken check must not stop the watcher: let the stream look
                log.debug("change signal: hang-up check failed", exc_info=True)
                gone.append(sub)
        if gone:
            self._call(gone)


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
    ChangeSignal the stream queries only after its run (or, before it has one, the run list)
    changed, and sleeps until then or its own next deadline; without one it queries at
    every poll.
    """
    started = clock()
    last_id = last_event_id or 0
    yield sse(_payload("connected", 0, CONNECTED, started), last_id, retry_ms=timing.retry_ms)
    with _subscription(signal, disconnected) as sub:
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
                if signal is None:
                    run = store.newest(generation_id)
                    latest = store.latest_event(run.id) if run else None
                else:
                    runs_checked = marks.runs
                    run = signal.newest(generation_id, marks.version, sub)
                    if run is not None:
                        signal.follow(sub, run.id)  # before the wait: see ChangeSignal.wait
                        latest = signal.latest_event(run.id, marks.version, sub)
                if run is not None:
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
                if signal is None:
                    events = store.events_after(run.id, last_id)
                else:
                    events = signal.events_after(run.id, last_id, marks.version, sub)
                for event in events:
                    yield sse(_event_payload(event), event.id)
                    last_id, latest, last_write = event.id, event, clock()
                    if event.terminal:
                        yield sse(_payload("done", 100, DONE, clock()), last_id)
                        return
            now = clock()
            if now - started >= timing.timeout:
                yield sse(
                    _payload("done", latest.progress if latest else 0, TIMED_OUT, now), last_id
                )
                return
            waiting_phase = run is None and now - started < timing.waiting_period
            if waiting_phase:
                if now - last_waiting >= timing.poll_interval:
                    yield sse(_payload("waiting", 0, WAITING, now), last_id)
                    last_waiting = last_write = now
            elif now - last_write >= timing.heartbeat_interval:
                if latest is not None:
                    beat = _payload(
                        latest.status, latest.progress, latest.message, now, heartbeat=True
                    )
                    yield sse(beat, last_id)
                elif run is not None:  # queued, not yet started by a worker
                    yield sse(_payload("waiting", 0, WAITING, now, heartbeat=True), last_id)
                else:  # no run at all: keep the connection alive without a message event
                    yield b": keepalive\n\n"
                last_write = now
            if disconnected():
                log.debug("progress stream for %s: client went away", generation_id)
                return
            if signal is None:
                sleep(timing.poll_interval)
                continue
            # Sleep until this stream has something to do: a waiting message, a heartbeat or the
            # timeout, unless its run changes first (or its client hangs up: the watcher wakes it).
            if waiting_phase:
                due = last_waiting + timing.poll_interval
            else:
                due = last_write + timing.heartbeat_interval
            due = min(due, started + timing.timeout)
            marks = signal.wait(sub, marks.version, due - clock())


@contextmanager
def _subscription(
    signal: ChangeSignal | None, disconnected: Callable[[], bool]
) -> Iterator[Subscription | None]:
    """Hold a stream's subscription to the change signal (if any) while it runs."""
    if signal is None:
        yield None
        return
    sub = signal.subscribe(disconnected)
    try:
        yield sub
    finally:
        signal.unsubscribe(sub)


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
