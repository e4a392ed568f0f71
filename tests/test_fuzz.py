"""Fuzz every endpoint of the real server from its own OpenAPI description: no answer is a 5xx.

The description is the one the server serves at /api/openapi.json; schemathesis generates
requests that fit it (and some that do not) and sends them to real serve.py and worker.py
processes on SQLite. Streams are kept short (a 0.5 s stream timeout) so that each fuzzed
progress request ends.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from tests.helpers import Service, base_env, free_port, request, request_json

pytestmark = [pytest.mark.server, pytest.mark.slow]

OUTLINE = {"topic": "Fuzz target", "slides": [{"title": "One", "bullets": ["a"]}]}


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory):
    """A real service (web and a test-double worker) with one finished run to find."""
    data = tmp_path_factory.mktemp("fuzz")
    port = free_port()
    env = base_env(
        data,
        port,
        VIDEOFORGE_STREAM_TIMEOUT="0.5",
        VIDEOFORGE_WAITING_PERIOD="0.2",
        VIDEOFORGE_HEARTBEAT_INTERVAL="0.2",
        VF_TEST_STEP_DELAY="0",
    )
    svc = Service(data, port, env)
    svc.start_web()
    svc.start_worker()
    status, body = request_json(svc, "POST", "/api/generate", OUTLINE)
    assert status == 202, body
    yield svc
    svc.stop()


def test_the_description_is_served_and_names_every_route(fuzzed):
    status, document = request_json(fuzzed, "GET", "/api/openapi.json")
    assert status == 200 and document["openapi"].startswith("3.")
    assert {
        "/api/generate",
        "/api/progress/{generation_id}",
        "/api/status/{generation_id}",
        "/api/generations",
        "/api/generations/{generation_id}",
        "/api/generations/{generation_id}/video",
        "/api/generations/{generation_id}/poster.jpg",
        "/api/generations/{generation_id}/runs",
        "/api/generations/{generation_id}/deck",
        "/api/generations/{generation_id}/deck.pptx",
        "/api/generations/{generation_id}/deck.pdf",
        "/api/generations/{generation_id}/slides/{number}.png",
        "/api/video/{filename}",
        "/api/content/{generation_id}",
        "/api/script/{generation_id}",
        "/api/captions/{generation_id}.{ext}",
        "/api/voices",
        "/api/openapi.json",
        "/health",
    } <= set(document["paths"])


def test_no_request_the_description_allows_gets_a_server_error(fuzzed):
    api = schemathesis.openapi.from_url(f"{fuzzed.base}/api/openapi.json")
    host = {"Host": f"127.0.0.1:{fuzzed.port}"}  # one the service allows, as a client's would be
    operations = [result.ok() for result in api.get_all_operations()]
    assert len(operations) >= 19
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=100,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def fuzz(case):
            response = case.call(headers=host, timeout=30)
            case.validate_response(response, checks=[not_a_server_error])

        try:
            fuzz()
        except Exception as exc:
            raise AssertionError(f"{operation.label}: {exc}") from exc


def test_the_fuzzed_service_still_answers_and_logged_no_unhandled_error(fuzzed):
    assert request(fuzzed, "GET", "/health")[0] == 200
    assert "unhandled error" not in fuzzed.logs()
