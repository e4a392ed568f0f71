"""Hostile and odd inputs against the real server: the right 4xx with a JSON detail, or accepted."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from tests.helpers import request

pytestmark = [pytest.mark.server, pytest.mark.slow]

OUTLINE = [{"title": "Intro", "bullets": ["a"]}]


def body(**fields):
    return json.dumps(fields).encode()


# (name, method, path, raw body or None, expected status)
CASES = [
    ("empty topic", "POST", "/api/generate", body(topic="", slides=OUTLINE), 400),
    ("whitespace topic", "POST", "/api/generate", body(topic=" \t\n ", slides=OUTLINE), 400),
    ("10 kB topic", "POST", "/api/generate", body(topic="x" * 10_000, slides=OUTLINE), 400),
    ("topic is a number", "POST", "/api/generate", body(topic=42, slides=OUTLINE), 400),
    ("topic is a list", "POST", "/api/generate", body(topic=["a"], slides=OUTLINE), 400),
    ("no topic, no content", "POST", "/api/generate", body(num_slides=3), 400),
    ("num_slides as string", "POST", "/api/generate", body(slides=OUTLINE, num_slides="5"), 400),
    ("negative num_slides", "POST", "/api/generate", body(slides=OUTLINE, num_slides=-1), 400),
    ("huge num_slides", "POST", "/api/generate", body(slides=OUTLINE, num_slides=10**12), 400),
    ("zero num_slides", "POST", "/api/generate", body(slides=OUTLINE, num_slides=0), 400),
    ("boolean num_slides", "POST", "/api/generate", body(slides=OUTLINE, num_slides=True), 400),
    ("fractional num_slides", "POST", "/api/generate", body(slides=OUTLINE, num_slides=2.5), 400),
    ("unknown tone", "POST", "/api/generate", body(slides=OUTLINE, tone="angry"), 400),
    ("language wrong type", "POST", "/api/generate", body(slides=OUTLINE, language=7), 400),
    (
        "language without a voice",
        "POST",
        "/api/generate",
        body(slides=OUTLINE, language="klingon"),
        422,
    ),
    ("unknown fields", "POST", "/api/generate", body(slides=OUTLINE, colour="red", x=1), 400),
    ("body is a list", "POST", "/api/generate", b"[1, 2]", 400),
    ("invalid JSON", "POST", "/api/generate", b'{"topic": "a",', 400),
    ("empty body", "POST", "/api/generate", b"", 400),
    ("NaN in JSON", "POST", "/api/generate", b'{"topic": "a", "num_slides": NaN}', 400),
    (
        "lone surrogate in JSON",
        "POST",
        "/api/generate",
        b'{"topic": "\\ud800x", "slides": [{"title": "T", "bullets": []}]}',
        400,
    ),
    ("invalid UTF-8", "POST", "/api/generate", b'{"topic": "\xff\xfe"}', 400),
    ("deeply nested JSON", "POST", "/api/generate", b"[" * 100_000 + b"]" * 100_000, 400),
    ("10 MB body", "POST", "/api/generate", b'{"topic": "' + b"a" * 10_000_000 + b'"}', 413),
    ("emoji-only topic", "POST", "/api/generate", body(topic="🎉🚀✨", slides=OUTLINE), 400),
    ("empty outline", "POST", "/api/generate", body(topic="a", slides=[]), 400),
    ("31 slides", "POST", "/api/generate", body(topic="a", slides=OUTLINE * 31), 400),
    (
        "slide title not a string",
        "POST",
        "/api/generate",
        body(slides=[{"title": 1, "bullets": []}]),
        400,
    ),
    ("outline and document", "POST", "/api/generate", body(slides=OUTLINE, source_text="# A"), 400),
    ("unsupported size", "POST", "/api/generate", body(slides=OUTLINE, size="999x999"), 400),
    ("topic alone, no model", "POST", "/api/generate", body(topic="Black holes"), 422),
    (
        "right-to-left topic",
        "POST",
        "/api/generate",
        body(topic="مقدمة في التعلم الآلي", slides=OUTLINE),
        202,
    ),
    (
        "punctuation topic",
        "POST",
        "/api/generate",
        body(topic="C++ & Rust: a comparison!", slides=OUTLINE),
        202,
    ),
    (
        "document only",
        "POST",
        "/api/generate",
        body(source_text="# Cells\n\nCells are small. They divide.\n"),
        202,
    ),
    ("id with ..", "GET", "/api/progress/..", None, 400),
    ("id with %2F", "GET", "/api/status/" + quote("../etc", safe=""), None, 404),
    ("id with NUL", "GET", "/api/status/a%00b", None, 400),
    ("id with dots", "GET", "/api/status/a.b", None, 400),
    ("id too long", "GET", "/api/status/" + "a" * 200, None, 400),
    ("video path traversal", "GET", "/api/video/..%2F..%2Fvideoforge.db", None, 404),
    ("video not mp4", "GET", "/api/video/videoforge.db", None, 400),
    ("wrong method on generate", "PUT", "/api/generate", body(slides=OUTLINE), 405),
    ("GET on generate", "GET", "/api/generate", None, 405),
    ("wrong method on health", "DELETE", "/health", None, 405),
    ("POST to progress", "POST", "/api/progress/abc", b"{}", 405),
    ("unknown endpoint", "GET", "/api/nothing-here", None, 404),
    ("unknown id status", "GET", "/api/status/Never_posted", None, 404),
    ("cancel unknown id", "DELETE", "/api/generations/Never_posted", None, 404),
]


def test_hostile_inputs_get_the_right_answer_and_the_server_stays_healthy(service):
    service.start_web()
    failures = []
    for name, method, path, raw, expected in CASES:
        headers = {"Content-Type": "application/json"} if raw is not None else {}
        status, hdrs, data = request(service, method, path, raw=raw, headers=headers, timeout=60)
        if status != expected:
            failures.append(f"{name}: {status} (wanted {expected}) {data[:200]!r}")
            continue
        if status >= 400:
            try:
                detail = json.loads(data)["detail"]
            except (ValueError, KeyError):
                failures.append(f"{name}: no JSON detail: {data[:200]!r}")
                continue
            if not isinstance(detail, str) or not detail or "Traceback" in detail:
                failures.append(f"{name}: bad detail {detail!r}")
    assert not failures, "\n".join(failures)
    assert len(CASES) >= 25
    assert request(service, "GET", "/health")[0] == 200
    assert request(service, "GET", "/api/generations")[0] == 200  # no stored row breaks listing
    assert "Traceback" not in service.logs()
    # the accepted right-to-left topic is reachable under its Unicode id
    gid = quote("مقدمة_في_التعلم_الآلي")
    assert request(service, "GET", f"/api/status/{gid}")[0] == 200
