"""Every endpoint's live answers match /api/openapi.json: status documented, content type, JSON schema.

A real serve.py and worker.py (the offline pipeline, an API token configured) make a real
generation, then each operation of the document is called for its answers, good and bad,
and each answer is checked against the document the server itself serves.
"""

from __future__ import annotations

import json
from urllib.parse import quote

import jsonschema_rs
import pytest

from tests.helpers import Service, base_env, free_port, read_stream, request

pytestmark = [pytest.mark.server, pytest.mark.slow]

TOKEN = "s3cret-token-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
GID = "Live_check"
OUTLINE = [
    {"title": "First", "bullets": ["One"], "narration": "The first slide."},
    {"title": "Second", "bullets": ["Two"], "narration": "The second slide."},
]
MAGIC = {
    "video/mp4": lambda b: b[4:8] == b"ftyp",
    "image/png": lambda b: b.startswith(b"\x89PNG"),
    "image/jpeg": lambda b: b.startswith(b"\xff\xd8"),
    "application/pdf": lambda b: b.startswith(b"%PDF-"),
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": (
        lambda b: b.startswith(b"PK")
    ),
}


class Checker:
    """Calls the service and checks each answer against the operation it documents."""

    def __init__(self, service: Service):
        self.service = service
        status, _, raw = request(service, "GET", "/api/openapi.json", headers=AUTH)
        assert status == 200
        self.document = json.loads(raw)
        self.seen: dict[tuple[str, str], set[int]] = {}

    def call(
        self,
        method: str,
        operation: str,
        path: str,
        body: object = None,
        *,
        headers: dict[str, str] | None = None,
        auth: bool = True,
        expect: int,
        raw: bytes | None = None,
    ) -> tuple[dict[str, str], bytes]:
        """Send a request for an operation, check its answer is documented and well formed."""
        sent = (AUTH if auth else {}) | (headers or {})
        status, got, data = request(self.service, method, path, body, headers=sent, raw=raw)
        assert status == expect, (method, path, status, data[:300])
        self.check(method, operation, status, got, data)
        return got, data

    def check(self, method: str, operation: str, status: int, headers: dict, data: bytes) -> None:
        answers = self.document["paths"][operation][method.lower()]["responses"]
        assert str(status) in answers, f"{method} {operation}: {status} is not documented"
        self.seen.setdefault((method, operation), set()).add(status)
        content = answers[str(status)].get("content", {})
        media = headers.get("content-type", "").split(";")[0].strip()
        assert media in content, f"{method} {operation} {status}: {media} not in {list(content)}"
        if media == "application/json":
            self.validate(content[media]["schema"], json.loads(data), f"{operation} {status}")
        elif media in MAGIC:
            assert MAGIC[media](data), f"{operation}: not a {media}"

    def validate(self, schema: dict, instance: object, where: str) -> None:
        """Validate an instance against a schema of the document (its $refs resolved)."""
        root = {"allOf": [schema], "components": self.document["components"]}
        validator = jsonschema_rs.Draft202012Validator(root)
        errors = [str(e) for e in validator.iter_errors(instance)]
        assert not errors, (where, errors[:3], instance)


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    data = tmp_path_factory.mktemp("openapi-live")
    port = free_port()
    svc = Service(data, port, base_env(data, port, VIDEOFORGE_API_TOKEN=TOKEN))
    svc.start_web()
    svc.start_worker(pipeline=None)
    checker = Checker(svc)
    yield checker
    svc.stop()


def stream(checker: Checker, gid: str) -> list[dict]:
    """Read a progress stream and check each event's data against ProgressEvent."""
    status, headers, messages = read_stream(
        checker.service, f"/api/progress/{gid}", headers=AUTH, timeout=180
    )
    checker.check("GET", "/api/progress/{generation_id}", status, headers, b"")
    event = checker.document["components"]["schemas"]["ProgressEvent"]
    events = [m.data for m in messages if m.data is not None]
    for data in events:
        checker.validate(event, data, "ProgressEvent")
    return events


def test_every_endpoints_live_answers_match_the_openapi_document(live):
    c = live
    c.call("GET", "/health", "/health", auth=False, expect=200)
    c.call("GET", "/health", "/health", expect=200)
    c.call("GET", "/api/openapi.json", "/api/openapi.json", expect=200)
    c.call("GET", "/api/voices", "/api/voices", expect=200)

    # a generation: queued, streamed, finished
    generate = "/api/generate"
    c.call("POST", generate, generate, {"topic": "Live check", "slides": OUTLINE}, expect=202)
    c.call("POST", generate, generate, {"topic": "x", "colour": "red"}, expect=400)
    c.call("POST", generate, generate, {"topic": "Only a topic"}, expect=422)
    c.call(
        "POST",
        generate,
        generate,
        raw=b"topic=x",
        headers={"Content-Type": "text/plain"},
        expect=415,
    )
    c.call("POST", generate, generate, {"topic": "x"}, auth=False, expect=401)
    events = stream(c, GID)
    assert [e["status"] for e in events][-2:] == ["completed", "done"]

    status = "/api/status/{generation_id}"
    c.call("GET", status, f"/api/status/{GID}", expect=200)
    c.call("GET", status, "/api/status/Nothing_here", expect=404)
    c.call("GET", status, f"/api/status/{quote('bad id!')}", expect=400)
    c.call("GET", status, f"/api/status/{GID}?token={TOKEN}", auth=False, expect=401)

    c.call("GET", "/api/generations", "/api/generations?limit=5", expect=200)
    c.call("GET", "/api/generations", "/api/generations?limit=0", expect=400)
    item = "/api/generations/{generation_id}"
    c.call("GET", item, f"/api/generations/{GID}", expect=200)
    c.call("GET", item, "/api/generations/Nothing_here", expect=404)

    # the files of the finished run
    for name, operation in [
        ("deck", "/api/generations/{generation_id}/deck"),
        ("deck.pptx", "/api/generations/{generation_id}/deck.pptx"),
        ("deck.pdf", "/api/generations/{generation_id}/deck.pdf"),
        ("video", "/api/generations/{generation_id}/video"),
        ("poster.jpg", "/api/generations/{generation_id}/poster.jpg"),
    ]:
        c.call("GET", operation, f"/api/generations/{GID}/{name}", expect=200)
        c.call("GET", operation, f"/api/generations/Nothing_here/{name}", expect=404)
        if name != "deck":
            c.call(
                "GET",
                operation,
                f"/api/generations/{GID}/{name}",
                headers={"Range": "bytes=0-99"},
                expect=206,
            )
            c.call(
                "GET",
                operation,
                f"/api/generations/{GID}/{name}",
                headers={"Range": "bytes=999999999-"},
                expect=416,
            )
    slide = "/api/generations/{generation_id}/slides/{number}.png"
    c.call("GET", slide, f"/api/generations/{GID}/slides/1.png", expect=200)
    c.call("GET", slide, f"/api/generations/{GID}/slides/3.png", expect=404)
    # an <img> cannot send a header: the poster and the slide images take ?token=
    c.call(
        "GET", slide, f"/api/generations/{GID}/slides/2.png?token={TOKEN}", auth=False, expect=200
    )
    poster = "/api/generations/{generation_id}/poster.jpg"
    c.call(
        "GET", poster, f"/api/generations/{GID}/poster.jpg?token={TOKEN}", auth=False, expect=200
    )
    c.call("GET", slide, f"/api/generations/{GID}/slides/2.png?token=wrong", auth=False, expect=401)
    pptx = "/api/generations/{generation_id}/deck.pptx"
    c.call("GET", pptx, f"/api/generations/{GID}/deck.pptx?token={TOKEN}", auth=False, expect=401)

    _, raw = request(c.service, "GET", f"/api/status/{GID}", headers=AUTH)[1:]
    video_name = json.loads(raw)["result"]["video"]
    video = "/api/video/{filename}"
    c.call("GET", video, f"/api/video/{video_name}", expect=200)
    c.call("GET", video, f"/api/video/{video_name}", headers={"Range": "bytes=0-9"}, expect=206)
    c.call("GET", video, "/api/video/Nothing-1-a1.mp4", expect=404)
    c.call("GET", video, "/api/video/not%20a%20video", expect=400)
    c.call("GET", video, f"/api/video/{video_name}?token={TOKEN}", auth=False, expect=200)

    for name in ("content", "script"):
        operation = f"/api/{name}/{{generation_id}}"
        c.call("GET", operation, f"/api/{name}/{GID}", expect=200)
        c.call("GET", operation, f"/api/{name}/Nothing_here", expect=404)
    captions = "/api/captions/{generation_id}.{ext}"
    c.call("GET", captions, f"/api/captions/{GID}.vtt", expect=200)
    c.call("GET", captions, f"/api/captions/{GID}.srt", expect=200)
    c.call("GET", captions, f"/api/captions/{GID}.txt", expect=404)
    c.call("GET", captions, "/api/captions/Nothing_here.vtt", expect=404)

    # a re-render: queued, refused while it runs, cancelled, then made
    runs = "/api/generations/{generation_id}/runs"
    _, raw = c.call(
        "GET", "/api/generations/{generation_id}/deck", f"/api/generations/{GID}/deck", expect=200
    )
    slides = json.loads(raw)["slides"]
    slides[0]["narration"] = "The first slide, said again."
    c.call("POST", runs, f"/api/generations/{GID}/runs", {"slides": slides}, expect=202)
    c.call("POST", runs, f"/api/generations/{GID}/runs", {"slides": slides}, expect=409)
    c.call("DELETE", item, f"/api/generations/{GID}", expect=200)
    c.call("DELETE", item, f"/api/generations/{GID}", expect=409)
    c.call("DELETE", item, "/api/generations/Nothing_here", expect=404)
    c.call("POST", runs, "/api/generations/Nothing_here/runs", {"slides": slides}, expect=404)
    c.call(
        "POST", runs, f"/api/generations/{GID}/runs", {"slides": slides, "tone": "x"}, expect=400
    )
    c.call(
        "POST",
        runs,
        f"/api/generations/{GID}/runs",
        {"slides": slides, "language": "klingon"},
        expect=422,
    )
    c.call("POST", runs, f"/api/generations/{GID}/runs", {"slides": slides}, expect=202)
    events = stream(c, GID)
    assert [e["status"] for e in events][-2:] == ["completed", "done"]
    assert any(e["message"] == "♻️ Reused audio for slide 2/2" for e in events)
    c.call("GET", item, f"/api/generations/{GID}", expect=200)

    # every operation of the document was called, and answered 2xx at least once
    operations = {
        (method.upper(), path) for path, item in c.document["paths"].items() for method in item
    }
    assert operations == set(c.seen)
    assert all(any(s < 300 for s in statuses) for statuses in c.seen.values()), c.seen
