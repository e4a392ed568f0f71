"""The run store's contract, run on a real SQLite file and on PostgreSQL when configured."""

from __future__ import annotations

import sqlite3
import threading

import psycopg
import pytest

from videoforge.core.errors import Conflict, NotFound
from videoforge.store.database import Database, split_sql
from videoforge.store.runs import CANCELLED_MESSAGE

REQ = {"topic": "t"}
DB_ERRORS = (sqlite3.Error, psycopg.Error)


def test_migrate_twice_applies_nothing_the_second_time(db_url):
    db = Database(db_url)
    first = db.migrate()
    assert first and first[0].startswith("0001_")
    assert db.migrate() == []
    db.close()


def test_failing_migration_leaves_nothing_half_applied(db_url, tmp_path):
    migrations = tmp_path / "mig"
    migrations.mkdir()
    (migrations / "0001_ok.sql").write_text("CREATE TABLE a (x INTEGER);\n")
    (migrations / "0002_bad.sql").write_text(
        "CREATE TABLE b (x INTEGER);\nINSERT INTO no_such_table VALUES (1);\n"
    )
    db = Database(db_url)
    with pytest.raises(DB_ERRORS):
        db.migrate(migrations)
    with db.transaction() as cur:
        names = [r["name"] for r in cur.execute("SELECT name FROM schema_migrations").all()]
    assert names == ["0001_ok.sql"]
    with pytest.raises(DB_ERRORS), db.transaction() as cur:  # table b was rolled back
        cur.execute("SELECT * FROM b").all()
    db.close()


def test_split_sql_ignores_comments_and_keeps_multiline_statements():
    script = "-- c\nCREATE TABLE a (\n x INT\n);\n\nCREATE INDEX i ON a (x);\n"
    assert split_sql(script) == ["CREATE TABLE a (\n x INT\n)", "CREATE INDEX i ON a (x)"]


def test_second_enqueue_of_an_active_id_is_a_conflict_carrying_its_status(store):
    store.enqueue("g", REQ, 1.0)
    with pytest.raises(Conflict) as err:
        store.enqueue("g", REQ, 2.0)
    assert err.value.extra["status"] == "queued"


def test_finished_run_allows_a_new_run_and_history_keeps_both(store):
    first = store.enqueue("g", REQ, 1.0)
    run = store.claim("w", 2.0, 30)
    assert run.id == first.id and run.attempts == 1
    assert store.complete(run.id, "w", {"video": "x.mp4"}, 3.0)
    second = store.enqueue("g", REQ, 4.0)
    assert store.newest("g").id == second.id
    assert [j.id for j in store.history("g")] == [second.id, first.id]


def test_claim_takes_oldest_queued_and_never_the_same_run_twice(store):
    ids = [store.enqueue(f"g{i}", REQ, float(i)).id for i in range(3)]
    claimed = [store.claim("w", 10.0, 30).id for _ in range(3)]
    assert claimed == ids
    assert store.claim("w", 10.0, 30) is None


def test_lapsed_lease_is_claimed_again_until_attempts_run_out(store):
    store.enqueue("g", REQ, 0.0)
    run = store.claim("w1", 1.0, 5)
    assert store.claim("w2", 2.0, 5) is None  # lease still held
    again = store.claim("w2", 7.0, 5)  # lease lapsed at 6
    assert again.id == run.id and again.attempts == 2 and again.worker_id == "w2"
    assert not store.renew(run.id, "w1", 7.5, 5)  # the first worker lost it
    third = store.claim("w3", 20.0, 5)
    assert third.attempts == 3
    assert store.claim("w4", 40.0, 5) is None  # attempts used up: ended in error
    ended = store.get(run.id)
    assert ended.status == "error" and "stopped 3 times" in ended.error
    last = store.latest_event(run.id)
    assert last.status == "error" and last.progress == 0


def test_report_is_refused_once_the_run_is_not_ours(store):
    store.enqueue("g", REQ, 0.0)
    run = store.claim("w1", 1.0, 30)
    assert store.report(run.id, "w1", "started", 0, "go", 1.1) is not None
    assert store.report(run.id, "other", "started", 0, "go", 1.1) is None
    store.cancel("g", 2.0)
    assert store.report(run.id, "w1", "generating_content", 10, "x", 2.1) is None
    assert not store.complete(run.id, "w1", {}, 3.0)


def test_cancel_ends_with_an_error_event_and_cannot_cancel_twice(store):
    store.enqueue("g", REQ, 0.0)
    run = store.cancel("g", 1.0)
    assert run.status == "cancelled"
    event = store.latest_event(run.id)
    assert event.status == "error" and "cancelled" in event.message
    with pytest.raises(Conflict):
        store.cancel("g", 2.0)
    with pytest.raises(NotFound):
        store.cancel("nope", 2.0)


def test_events_after_returns_each_event_once_in_order(store):
    store.enqueue("g", REQ, 0.0)
    run = store.claim("w", 1.0, 30)
    sent = [
        store.report(run.id, "w", "generating_audio", 30 + i, f"m{i}", 2.0).id for i in range(5)
    ]
    assert [e.id for e in store.events_after(run.id, 0)] == sent
    assert [e.id for e in store.events_after(run.id, sent[2])] == sent[3:]
    assert store.max_progress(run.id) == 34


def test_fail_requeues_retryable_errors_until_attempts_are_spent(store):
    store.enqueue("g", REQ, 0.0)
    run = store.claim("w", 1.0, 30)
    assert store.fail(run.id, "w", "boom", 2.0, retry=True) == "queued"
    run = store.claim("w", 3.0, 30)
    assert run.attempts == 2
    assert store.fail(run.id, "w", "boom", 4.0, retry=False) == "error"
    assert store.latest_event(run.id).message == "boom"


def test_release_gives_the_run_back_without_counting_the_attempt(store):
    store.enqueue("g", REQ, 0.0)
    run = store.claim("w", 1.0, 30)
    assert store.release(run.id, "w")
    again = store.claim("w2", 2.0, 30)
    assert again.id == run.id and again.attempts == 1


def test_runs_are_paginated_newest_first(store):
    for i in range(5):
        store.enqueue(f"g{i}", REQ, float(i))
    page, total = store.runs(limit=2, offset=1)
    assert total == 5
    assert [j.generation_id for j in page] == ["g3", "g2"]


def test_concurrent_claims_from_threads_never_share_a_run(store):
    for i in range(40):
        store.enqueue(f"g{i}", REQ, float(i))
    got: list[int] = []
    lock = threading.Lock()

    def grab(name: str) -> None:
        while (run := store.claim(name, 100.0, 30)) is not None:
            with lock:
                got.append(run.id)

    threads = [threading.Thread(target=grab, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 40 and len(set(got)) == 40


def test_recent_marks_name_each_runs_newest_event_and_the_newest_run(store):
    a = store.enqueue("a", REQ, 0.0)
    b = store.enqueue("b", REQ, 0.0)
    store.claim("w", 1.0, 30)
    store.claim("w", 1.0, 30)
    ea = store.report(a.id, "w", "started", 0, "x", 2.0)
    eb = store.report(b.id, "w", "started", 0, "x", 2.0)
    ea2 = store.report(a.id, "w", "generating_content", 10, "x", 2.0)
    runs, marks = store.recent_marks()
    assert runs == (b.id, 2)
    assert marks == {a.id: ea2.id, b.id: eb.id} and ea.id < ea2.id
    assert store.recent_marks(window=1)[1] == {a.id: ea2.id}  # only the newest id in the window


def test_usage_is_stored_whether_a_run_completes_or_fails(store):
    store.enqueue("a", REQ, 0.0)
    store.enqueue("b", REQ, 0.0)
    a = store.claim("w", 1.0, 30)
    b = store.claim("w", 1.0, 30)
    assert store.complete(a.id, "w", {}, 2.0, {"prompt_tokens": 5})
    assert (
        store.fail(b.id, "w", "boom", 2.0, retry=False, usage={"speech_characters": 9}) == "error"
    )
    assert store.get(a.id).usage == {"prompt_tokens": 5}
    assert store.get(b.id).usage == {"speech_characters": 9}


@pytest.mark.parametrize("ending", ["complete", "fail_retry", "report"])
def test_cancel_racing_the_worker_leaves_one_consistent_ending(store, ending):
    # cancel and the worker's own step run at the same moment, many times; whoever wins,
    # the run ends one way only, its last event says so, and nothing runs it again
    for i in range(20):
        gid = f"{ending}{i}"
        store.enqueue(gid, REQ, 0.0)
        run = store.claim("w", 1.0, 30)
        outcome: dict[str, object] = {}
        barrier = threading.Barrier(2)

        def cancel(gid=gid, outcome=outcome, barrier=barrier):
            barrier.wait()
            try:
                outcome["cancel"] = store.cancel(gid, 2.0).status
            except Conflict:
                outcome["cancel"] = "conflict"

        def worker(run=run, outcome=outcome, barrier=barrier):
            barrier.wait()
            if ending == "complete":
                outcome["worker"] = store.complete(run.id, "w", {"video": "v.mp4"}, 2.0)
            elif ending == "fail_retry":
                outcome["worker"] = store.fail(run.id, "w", "boom", 2.0, retry=True)
            else:
                outcome["worker"] = store.report(run.id, "w", "generating_audio", 30, "x", 2.0)

        threads = [threading.Thread(target=cancel), threading.Thread(target=worker)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        final = store.get(run.id)
        last = store.latest_event(run.id)
        if outcome["cancel"] == "cancelled":
            # a retry that queued the run first is then cancelled like any queued run
            assert final.status == "cancelled" and last.message == CANCELLED_MESSAGE
            assert final.result is None
            if ending == "complete":
                assert outcome["worker"] is False
        else:
            assert ending == "complete" and outcome["worker"] is True
            assert final.status == "completed" and last.status == "completed"
        again = store.claim("w2", 3.0, 30)
        assert again is None or again.id != run.id  # a cancelled run is never claimed again


def test_the_database_clock_is_a_unix_time(store):
    # workers take lease times from it, so machines with skewed clocks still agree
    import time

    assert abs(store.now() - time.time()) < 5


def test_owns_says_whether_the_run_is_still_running_on_this_worker(store):
    store.enqueue("g", REQ, 0.0)
    run = store.claim("w1", 1.0, 5)
    assert store.owns(run.id, "w1") and not store.owns(run.id, "w2")
    assert store.claim("w2", 7.0, 5).attempts == 2  # the lease lapsed: taken over
    assert not store.owns(run.id, "w1") and store.owns(run.id, "w2")
    store.cancel("g", 8.0)
    assert not store.owns(run.id, "w2")


def test_only_the_worker_holding_a_run_completes_it_after_a_takeover(store):
    # the stale attempt's result is never the one the run refers to
    store.enqueue("g", REQ, 0.0)
    run = store.claim("w1", 1.0, 5)
    store.claim("w2", 7.0, 5)
    assert not store.complete(run.id, "w1", {"video": f"g-{run.id}-1.mp4"}, 8.0)
    assert not store.release(run.id, "w1") and store.fail(run.id, "w1", "x", 8.0, retry=True) == ""
    assert store.complete(run.id, "w2", {"video": f"g-{run.id}-2.mp4"}, 9.0)
    assert store.get(run.id).result == {"video": f"g-{run.id}-2.mp4"}
