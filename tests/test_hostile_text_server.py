"""Hostile text through the real server: prompt answers, a live /health, the narration limits.

Each hostile document shape of tests/test_text_limits.py, at the 200,000-character cap of
`source_text`, is POSTed to a real serve.py while a thread polls GET /health; the POST must
answer (with a 202 or a 4xx, never a 5xx) within a generous bound, and /health must keep
answering 200 meanwhile. Run with -s to see the real times.
"""

from __future__ import annotations

import json
import threading
import time

import pytest

from tests.helpers import request
from tests.test_text_limits import HOSTILE_SHAPES, sentences_of

pytestmark = [pytest.mark.server, pytest.mark.slow]

CAP = 200_000  # characters of source_text a request may send
BOUND = 10.0  # seconds; the real POSTs take well under a second
JSON = {"Content-Type": "application/json"}


class HealthPoller(threading.Thread):
    """Poll GET /health back to back, recording (status, seconds) of each answer."""

    def __init__(self, service):
        super().__init__(daemon=True)
        self.service = service
        self.answers: list[tuple[int, float]] = []
        self.stopping = threading.Event()
        self.answered = threading.Condition()

    def run(self) -> None:
        while not self.stopping.is_set():
            started = time.perf_counter()
            try:
                status = request(self.service, "GET", "/health", timeout=BOUND * 2)[0]
            except OSError:
                status = 0
            with self.answered:
                self.answers.append((status, time.perf_counter() - started))
                self.answered.notify_all()
            time.sleep(0.02)

    def wait_for(self, count: int) -> None:
        with self.answered:
            assert self.answered.wait_for(lambda: len(self.answers) >= count, BOUND * 2)


def post(service, body: dict) -> tuple[int, dict, float]:
    raw = json.dumps(body).encode()
    assert len(raw) <= 1 << 20  # within the body limit: the text itself is what is tested
    started = time.perf_counter()
    status, _headers, data = request(
        service, "POST", "/api/generate", raw=raw, headers=JSON, timeout=BOUND * 6
    )
    return status, json.loads(data) if data else {}, time.perf_counter() - started


def test_each_hostile_document_at_the_size_cap_is_answered_promptly_while_health_answers(
    make_service,
):
    service = make_service(VIDEOFORGE_MAX_QUEUED="100000", VIDEOFORGE_MAX_QUEUED_PER_CLIENT="1000")
    service.start_web()
    poller = HealthPoller(service)
    poller.start()
    rows, failures = [], []
    try:
        for name in sorted(HOSTILE_SHAPES):
            text = HOSTILE_SHAPES[name](CAP)
            assert len(text) <= CAP
            poller.wait_for(len(poller.answers) + 1)  # /health answered just before the POST
            during = len(poller.answers)
            status, answer, seconds = post(service, {"source_text": text})
            poller.wait_for(len(poller.answers) + 1)  # ... and answers after it
            health = poller.answers[during:]
            rows.append((name, status, seconds, max(t for _s, t in health)))
            if status >= 500 or seconds >= BOUND:
                failures.append(f"{name}: {status} after {seconds:.2f} s: {answer}")
            elif status != 202 and not (isinstance(answer.get("detail"), str) and answer["detail"]):
                failures.append(f"{name}: {status} without a detail: {answer}")
    finally:
        poller.stopping.set()
        poller.join(BOUND * 2)
    print(f"\n{'shape':32} status  POST s  slowest /health s")
    for name, status, seconds, slowest in rows:
        print(f"{name:32} {status:6} {seconds:7.3f} {slowest:8.3f}")
    assert not failures, "\n".join(failures)
    assert all(status == 200 for status, _ in poller.answers), poller.answers
    assert max(seconds for _status, seconds in poller.answers) < BOUND
    assert len(rows) == len(HOSTILE_SHAPES)
    assert "Traceback" not in service.logs()


def test_the_narration_limits_give_their_4xx_through_the_server(make_service):
    service = make_service(VIDEOFORGE_MAX_QUEUED_PER_CLIENT="1000")
    service.start_web()

    too_long_slide = [{"title": "Tides", "bullets": [], "narration": "Words here. " * 417}]
    status, answer, _ = post(service, {"slides": too_long_slide})  # 5,003 once trimmed
    assert status == 400
    assert "slides[0].narration is 5003 characters" in answer["detail"]
    assert "VIDEOFORGE_MAX_SLIDE_NARRATION" in answer["detail"]

    hour_plus = [
        {"title": f"Part {i}", "bullets": [], "narration": "Words here. " * 166} for i in range(30)
    ]
    status, answer, _ = post(service, {"topic": "Long talk", "slides": hour_plus})
    assert status == 422
    assert "VIDEOFORGE_MAX_NARRATION" in answer["detail"]
    assert "59,730 characters, about 1 h 6 min of speech" in answer["detail"]

    status, answer, seconds = post(service, {"source_text": "# Essay\n\n" + sentences_of(3800)})
    assert status == 422  # 195,000 characters of one paragraph, its numbers read as words
    assert "about 3 h 53 min" in answer["detail"] and "VIDEOFORGE_MAX_NARRATION" in answer["detail"]
    assert seconds < BOUND

    status, answer, _ = post(service, {"source_text": "# Tides\n\n" + sentences_of(250)})
    assert status == 202, answer  # one long section, spread over three slides

    small = make_service(VIDEOFORGE_MAX_NARRATION="1000", VIDEOFORGE_MAX_SLIDE_NARRATION="200")
    small.start_web()
    status, answer, _ = post(
        small, {"slides": [{"title": "T", "bullets": [], "narration": "x" * 201}]}
    )
    assert status == 400 and "at most 200" in answer["detail"]
    slides = [{"title": f"T{i}", "bullets": [], "narration": "x" * 200} for i in range(5)]
    assert post(small, {"topic": "Fits", "slides": slides})[0] == 202
    status, answer, _ = post(small, {"topic": "Too long", "slides": [*slides, slides[0]]})
    assert status == 422 and "at most 1,000" in answer["detail"]
    assert "Traceback" not in service.logs() + small.logs()
