"""The progress stream's wake-ups, in process: progress_events and ChangeSignal on a real store.

The server tests check the contract through a real Waitress; these check how a stream
sleeps: until its own deadline or a change of its own run, never on a poll, taking turns.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter

import pytest

from videoforge.web.stream import ChangeSignal, StreamTiming, progress_events

REQ = {"topic": "t"}
WATCH = 0.02  # the change watcher's interval in these tests


class CountingSignal(ChangeSignal):
    """A ChangeSignal that counts each stream's waits (how often its thread woke up)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.waits: Counter = Counter()

    def wait(self, sub, seen, timeout):
        self.waits[threading.get_ident()] += 1
        return super().wait(sub, seen, timeout)


class Reader(threading.Thread):
    """Read one stream on its own thread (as Waitress does), recording what arrives when."""

    def __init__(self, store, gid, timing, signal, **kwargs):
        super().__init__(daemon=True)
        self.gone = threading.Event()
        self.messages: list[tuple[float, dict | str]] = []
        self.body = progress_events(
            store, gid, timing, signal=signal, disconnected=self.gone.is_set, **kwargs
        )

    def run(self):
        for chunk in self.body:
            self.messages.append((time.monotonic(), parse(chunk)))

    def statuses(self) -> list[str]:
        return [m["status"] for _, m in self.messages if isinstance(m, dict)]

    def stored(self) -> list[dict]:
        return [
            m
            for _, m in self.messages
            if isinstance(m, dict)
            and not m.get("heartbeat")
            and m["status"] not in ("connected", "waiting", "done")
        ]

    def hang_up(self, timeout: float = 5) -> None:
        self.gone.set()
        self.join(timeout)
        assert not self.is_alive()


def parse(chunk: bytes) -> dict | str:
    text = chunk.decode("utf-8")
    for line in text.splitlines():
        if line.startswith("data: "):
            return json.loads(line[len("data: ") :])
    return text.strip()


def running_run(store, gid: str):
    store.enqueue(gid, REQ, time.time())
    run = store.claim(f"w-{gid}", time.time(), 300)
    store.report(run.id, f"w-{gid}", "started", 0, "go", time.time())
    return run


def until(condition, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


@pytest.fixture
def signal(store):
    return CountingSignal(store, WATCH)


def test_an_idle_stream_wakes_for_its_heartbeats_not_for_each_poll(store, signal):
    running_run(store, "idle")
    timing = StreamTiming(poll_interval=0.02, heartbeat_interval=0.4, waiting_period=0)
    reader = Reader(store, "idle", timing, signal)
    reader.start()
    time.sleep(2.1)
    reader.hang_up()
    beats = [t for t, m in reader.messages if isinstance(m, dict) and m.get("heartbeat")]
    assert 4 <= len(beats) <= 6
    assert all(0.3 <= b - a <= 0.6 for a, b in zip(beats, beats[1:], strict=False))
    # about one wake-up per heartbeat, where polling every 0.02 s would have made ~100
    assert sum(signal.waits.values()) <= 12


def test_heartbeats_and_timeout_keep_their_time_whatever_the_poll_interval(store, signal):
    running_run(store, "slow_poll")
    timing = StreamTiming(poll_interval=10, heartbeat_interval=0.25, waiting_period=0, timeout=1)
    reader = Reader(store, "slow_poll", timing, signal)
    began = time.monotonic()
    reader.start()
    reader.join(5)
    assert not reader.is_alive()
    assert 0.9 <= reader.messages[-1][0] - began <= 1.5  # the timeout, not the 10 s poll
    assert reader.statuses()[-1] == "done" and "timed out" in reader.messages[-1][1]["message"]
    beats = [m for _, m in reader.messages if isinstance(m, dict) and m.get("heartbeat")]
    assert len(beats) >= 3


def test_a_change_wakes_the_streams_of_its_run_and_no_other(store, signal):
    a = running_run(store, "run_a")
    running_run(store, "run_b")
    timing = StreamTiming(heartbeat_interval=30, waiting_period=0)
    ra = Reader(store, "run_a", timing, signal)
    rb = Reader(store, "run_b", timing, signal)
    ra.start()
    rb.start()
    assert until(lambda: ra.stored() and rb.stored())
    time.sleep(5 * WATCH)  # both caught up and asleep
    waits_b = signal.waits[rb.ident]
    sent = time.monotonic()
    store.report(a.id, "w-run_a", "generating_content", 10, "news", time.time())
    assert until(lambda: len(ra.stored()) == 2)
    arrived = next(t for t, m in ra.messages if isinstance(m, dict) and m["message"] == "news")
    assert arrived - sent < 0.5
    time.sleep(5 * WATCH)
    assert signal.waits[rb.ident] == waits_b  # run_b's stream slept through it
    ra.hang_up()
    rb.hang_up()


def test_streams_of_one_run_share_one_query_per_change(store, signal):
    run = running_run(store, "crowd")
    asked = Counter()
    events_after = store.events_after

    def counting(run_id, after_id, limit=500):
        asked[(run_id, after_id)] += 1
        return events_after(run_id, after_id, limit)

    store.events_after = counting
    timing = StreamTiming(heartbeat_interval=30, waiting_period=0)
    readers = [Reader(store, "crowd", timing, signal) for _ in range(20)]
    for reader in readers:
        reader.start()
    assert until(lambda: all(r.stored() for r in readers))
    time.sleep(5 * WATCH)
    last = store.latest_event(run.id).id
    store.report(run.id, "w-crowd", "generating_content", 10, "news", time.time())
    assert until(lambda: all(len(r.stored()) == 2 for r in readers))
    assert asked[(run.id, last)] == 1  # one read of the news, for all twenty streams
    for reader in readers:
        reader.hang_up()


def test_a_client_that_hangs_up_frees_its_stream_without_waiting_for_a_heartbeat(store, signal):
    running_run(store, "leaver")
    timing = StreamTiming(poll_interval=5, heartbeat_interval=30, waiting_period=0)
    reader = Reader(store, "leaver", timing, signal)
    reader.start()
    assert until(lambda: reader.stored())
    time.sleep(5 * WATCH)
    gone = time.monotonic()
    reader.gone.set()
    reader.join(5)
    assert not reader.is_alive() and time.monotonic() - gone < 0.5


def test_waiting_messages_every_poll_then_keepalives_at_the_heartbeat(store, signal):
    timing = StreamTiming(poll_interval=0.2, heartbeat_interval=0.5, waiting_period=1, timeout=2)
    reader = Reader(store, "nobody", timing, signal)
    began = time.monotonic()
    reader.start()
    reader.join(5)
    waiting = [
        t - began for t, m in reader.messages if isinstance(m, dict) and m["status"] == "waiting"
    ]
    assert 4 <= len(waiting) <= 6 and waiting[-1] < 1.1
    keepalives = [t - began for t, m in reader.messages if m == ": keepalive"]
    assert 1 <= len(keepalives) <= 3 and keepalives[0] > 1.2
    assert reader.statuses()[-1] == "done"


def test_a_run_posted_while_a_stream_waits_is_followed_from_its_first_event(store, signal):
    timing = StreamTiming(poll_interval=0.2, heartbeat_interval=30, waiting_period=5)
    reader = Reader(store, "later", timing, signal)
    reader.start()
    assert until(lambda: "waiting" in reader.statuses())
    run = running_run(store, "later")
    assert until(lambda: reader.stored())
    store.report(run.id, "w-later", "completed", 100, "all done", time.time())
    reader.join(5)
    assert [m["status"] for m in reader.stored()] == ["started", "completed"]
    assert reader.statuses()[-1] == "done"


def test_at_most_turns_streams_work_at_once(store):
    signal = ChangeSignal(store, WATCH, turns=1)
    first = signal.subscribe()  # holds the only turn
    got = threading.Event()

    def second():
        sub = signal.subscribe()
        got.set()
        signal.unsubscribe(sub)

    thread = threading.Thread(target=second, daemon=True)
    thread.start()
    assert not got.wait(0.3)  # waits in line
    signal.wait(first, signal.marks.version, 0.2)  # sleeping, it passes its turn on
    assert got.wait(2)
    signal.unsubscribe(first)
    thread.join(2)


def test_a_stream_waiting_for_the_database_lets_the_others_work(store):
    signal = ChangeSignal(store, WATCH, turns=1)
    newest = store.newest
    release = threading.Event()

    def slow_newest(generation_id):
        if generation_id == "stuck":
            release.wait(10)
        return newest(generation_id)

    store.newest = slow_newest
    timing = StreamTiming(poll_interval=0.1, heartbeat_interval=30, waiting_period=5)
    stuck = Reader(store, "stuck", timing, signal)
    stuck.start()
    time.sleep(0.2)  # it now waits for the database
    other = Reader(store, "other", timing, signal)
    other.start()
    assert until(lambda: other.statuses().count("waiting") >= 3, timeout=2)
    release.set()
    assert until(lambda: "waiting" in stuck.statuses())
    stuck.hang_up()
    other.hang_up()


def test_a_failed_query_is_not_shared_with_later_askers(store):
    signal = ChangeSignal(store, WATCH)
    run = running_run(store, "flaky")
    events_after = store.events_after
    failures = [RuntimeError("database away")]

    def flaky(run_id, after_id, limit=500):
        if failures:
            raise failures.pop()
        return events_after(run_id, after_id, limit)

    store.events_after = flaky
    with pytest.raises(RuntimeError):
        signal.events_after(run.id, 0, 0, None)
    assert [e.status for e in signal.events_after(run.id, 0, 0, None)] == ["started"]
