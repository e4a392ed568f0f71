from __future__ import annotations

import os
import shutil
import uuid

import pytest

from tests.helpers import Service, base_env, free_port
from videoforge.store.database import Database
from videoforge.store.runs import RunStore

POSTGRES_URL = os.environ.get("VIDEOFORGE_TEST_POSTGRES_URL", "")


def _postgres_schema_url() -> tuple[str, str]:
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in POSTGRES_URL else "?"
    return f"{POSTGRES_URL}{sep}options=-csearch_path%3D{schema}", schema


def _drop_schema(schema: str) -> None:
    import psycopg

    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request, tmp_path):
    """A migrated-from-nothing database URL: a SQLite file, and PostgreSQL when configured."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    if not POSTGRES_URL:
        if os.environ.get("VIDEOFORGE_REQUIRE_POSTGRES"):
            pytest.fail(
                "VIDEOFORGE_REQUIRE_POSTGRES is set but VIDEOFORGE_TEST_POSTGRES_URL is not"
            )
        pytest.skip(
            "no PostgreSQL here: VIDEOFORGE_TEST_POSTGRES_URL is not set (scripts/test sets it when PostgreSQL is installed)"
        )
    url, schema = _postgres_schema_url()
    yield url
    _drop_schema(schema)


@pytest.fixture
def postgres_url():
    """A fresh schema on the test PostgreSQL, as a DATABASE_URL."""
    if not POSTGRES_URL:
        if os.environ.get("VIDEOFORGE_REQUIRE_POSTGRES"):
            pytest.fail(
                "VIDEOFORGE_REQUIRE_POSTGRES is set but VIDEOFORGE_TEST_POSTGRES_URL is not"
            )
        pytest.skip("no PostgreSQL here: VIDEOFORGE_TEST_POSTGRES_URL is not set")
    url, schema = _postgres_schema_url()
    yield url
    _drop_schema(schema)


@pytest.fixture
def store(db_url):
    db = Database(db_url)
    db.migrate()
    yield RunStore(db, max_attempts=3)
    db.close()


@pytest.fixture
def service(tmp_path):
    """A real serve.py on a free port with a temporary SQLite database; start workers as needed."""
    port = free_port()
    svc = Service(tmp_path, port, base_env(tmp_path, port))
    yield svc
    svc.stop()


@pytest.fixture
def make_service(tmp_path):
    """Build a Service with extra environment settings (started by the test)."""
    made: list[Service] = []

    def factory(**overrides: str) -> Service:
        port = free_port()
        data = tmp_path / f"svc{len(made)}"
        data.mkdir()
        svc = Service(data, port, base_env(data, port, **overrides))
        made.append(svc)
        return svc

    yield factory
    for svc in made:
        svc.stop()


S3_URL = os.environ.get("VIDEOFORGE_TEST_S3_URL", "")
S3_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@pytest.fixture
def s3_bucket(monkeypatch):
    """A fresh bucket on the test S3 server (moto): (endpoint URL, bucket name)."""
    if not S3_URL:
        if os.environ.get("VIDEOFORGE_REQUIRE_S3"):
            pytest.fail("VIDEOFORGE_REQUIRE_S3 is set but VIDEOFORGE_TEST_S3_URL is not")
        pytest.skip(
            "no S3 server here: VIDEOFORGE_TEST_S3_URL is not set (scripts/test starts moto's"
            " server when it is installed: pip install -e '.[test]')"
        )
    import boto3

    for name, value in S3_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    bucket = f"vf-{uuid.uuid4().hex[:12]}"
    client = boto3.client("s3", endpoint_url=S3_URL, region_name="us-east-1")
    client.create_bucket(Bucket=bucket)
    yield S3_URL, bucket
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
        if keys:
            client.delete_objects(Bucket=bucket, Delete={"Objects": keys})
    client.delete_bucket(Bucket=bucket)


# A real browser for the page's tests: the system Chromium driven by Playwright.
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]


@pytest.fixture
def browser():
    if not (shutil.which(CHROMIUM) and _has_playwright()):
        if os.environ.get("VIDEOFORGE_REQUIRE_BROWSER"):
            pytest.fail("VIDEOFORGE_REQUIRE_BROWSER is set but Chromium or playwright is missing")
        pytest.skip("no browser here: install chromium (apt) and playwright (pip)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def _has_playwright() -> bool:
    try:
        import playwright  # noqa: F401
    except ImportError:
        return False
    return True
