"""The worker loop against a real database: it outlives a database that goes away."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest

from tests.doubles import ScriptedPipeline
from videoforge.core.settings import Settings
from videoforge.store.database import Database
from videoforge.store.runs import RunStore
from videoforge.worker.loop import Worker

OUTLINE = {"topic": "t", "slides": []}


def wait_for(store: RunStore, gid: str, status: str, timeout: float = 20) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        run = store.newest(gid)
        if run and run.status == status:
            return
        time.sleep(0.05)
    raise AssertionError(f"{gid} never became {status}")


@pytest.mark.postgres
def test_a_worker_keeps_working_after_its_database_connections_are_killed(postgres_url, tmp_path):
    db = Database(postgres_url)
    db.migrate()
    worker = Worker(
        RunStore(db),
        ScriptedPipeline(Settings(data_dir=tmp_path)),
        runs_dir=tmp_path / "runs",
        poll_interval=0.05,
    )
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    client = RunStore(Database(postgres_url))
    try:
        client.enqueue("before", OUTLINE, time.time())
        wait_for(client, "before", "completed")
        # what a database restart does to every open connection
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        client = RunStore(Database(postgres_url))
        client.enqueue("after", OUTLINE, time.time())
        wait_for(client, "after", "completed")
        assert thread.is_alive()
    finally:
        worker.stop()
        thread.join(timeout=10)
