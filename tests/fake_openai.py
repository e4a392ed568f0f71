"""A local fake of the OpenAI HTTP API, faithful enough for the real openai client.

FakeOpenAI runs a ThreadingHTTPServer on 127.0.0.1 in a daemon thread and answers
POST /v1/chat/completions, /v1/audio/speech (real Piper speech as WAV) and
/v1/images/generations (a Pillow-drawn PNG as b64_json). It checks the bearer key and
logs every request in .requests. Tests script it from their own process, so it also serves
a worker running in another process that only talks HTTP to it:

    with FakeOpenAI() as fake:
        fake.script_chat(["```json\\n" + as_json(valid_deck(3)) + "\\n```"])
        fake.script_status("chat", [(429, None, {"Retry-After": "1"})])
        config = OpenAIConfig(api_key=fake.api_key, base_url=fake.url)

Each endpoint has a queue of replies, used in order: a string is the content of a chat
answer, a tuple (status, body[, headers]) is sent as is (body None gives an OpenAI-style
error body for the status). With the queue empty the fake answers by itself: a valid deck
with the slide count found in the prompt ("exactly N slides"), narrations for
"exactly N narrations", speech of the input text, a picture of the requested size.
"""

from __future__ import annotations

import base64
import io
import json
import re
import tempfile
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from videoforge.core.animation_spec import animation_schema

DEFAULT_KEY = "sk-test-fake-9f8e7d6c5b4a3210fedcba9876543210ZYXWVUTS"
ENDPOINTS = {
    "/v1/chat/completions": "chat",
    "/v1/audio/speech": "speech",
    "/v1/images/generations": "images",
}
_ERROR_TEXT = {
    400: ("Bad request.", "invalid_request_error", None),
    401: ("Unauthorized.", "invalid_request_error", "invalid_api_key"),
    403: ("You do not have access to this model.", "invalid_request_error", None),
    404: (
        "The model does not exist or you do not have access to it.",
        "invalid_request_error",
        "model_not_found",
    ),
    429: (
        "Rate limit reached for requests. Please try again in 1s.",
        "requests",
        "rate_limit_exceeded",
    ),
    500: (
        "The server had an error while processing your request. Sorry about that!",
        "server_error",
        None,
    ),
    503: ("The engine is currently overloaded, please try again later.", "server_error", None),
}

Reply = str | tuple  # chat content, or (status, body) / (status, body, headers)


@dataclass
class Recorded:
    """One request the fake received."""

    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: Any  # decoded JSON, or None
    at: float  # time.monotonic() when it arrived
    status: int = 0  # what the fake answered

    @property
    def endpoint(self) -> str:
        return ENDPOINTS.get(self.path, self.path)

    @property
    def messages(self) -> list[dict]:
        return (self.body or {}).get("messages", []) if isinstance(self.body, dict) else []

    @property
    def response_format(self) -> dict | None:
        return self.body.get("response_format") if isinstance(self.body, dict) else None


@dataclass
class FakeOpenAI:
    """The fake server; use it as a context manager, or call start() and stop()."""

    api_key: str = DEFAULT_KEY
    reject_json_schema: bool = False  # answer 400 to a json_schema response_format
    include_usage: bool = True  # local servers often leave "usage" out
    prompt_tokens: int = 120
    completion_tokens: int = 340
    streamed_wav_header: bool = True  # WAV sizes 0xFFFFFFFF, as OpenAI's streamed WAV has
    image_as_url: bool = False  # answer images with a URL only
    requests: list[Recorded] = field(default_factory=list)
    _queues: dict[str, deque] = field(
        init=False, default_factory=lambda: {name: deque() for name in ENDPOINTS.values()}
    )
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = field(init=False, default=None)
    _speech: Any = field(init=False, default=None)

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> FakeOpenAI:
        """Start serving on a free port of 127.0.0.1 in a daemon thread."""
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Return the base URL to configure, "http://127.0.0.1:PORT/v1"."""
        assert self._server is not None, "start the fake first"
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    # --- scripting ---------------------------------------------------------------------------

    def script(self, endpoint: str, replies: list[Reply]) -> None:
        """Queue replies for an endpoint ("chat", "speech" or "images"), used in order."""
        with self._lock:
            self._queues[endpoint].extend(replies)

    def script_chat(self, contents: list[str]) -> None:
        """Queue chat answers by their message content."""
        self.script("chat", list(contents))

    def script_status(self, endpoint: str, replies: list[tuple]) -> None:
        """Queue raw replies: (status, body or None, headers) tuples."""
        self.script(endpoint, list(replies))

    def pending(self, endpoint: str) -> int:
        """Return how many scripted replies the endpoint has not used yet."""
        with self._lock:
            return len(self._queues[endpoint])

    def requests_to(self, endpoint: str) -> list[Recorded]:
        """Return the requests an endpoint received, in order."""
        with self._lock:
            return [r for r in self.requests if r.endpoint == endpoint]

    # --- the server side ---------------------------------------------------------------------

    def _next(self, endpoint: str) -> Reply | None:
        with self._lock:
            queue = self._queues[endpoint]
            return queue.popleft() if queue else None

    def _record(self, request: Recorded) -> None:
        with self._lock:
            self.requests.append(request)

    def speech(self) -> Any:
        """Return the Piper voice the fake speaks with, made on first use."""
        if self._speech is None:
            from videoforge.providers.piper import PiperSpeech

            self._speech = PiperSpeech()
        return self._speech


# --- answers -------------------------------------------------------------------------------------


def error_body(status: int, message: str | None = None, *, code: str | None = None) -> dict:
    """Return an OpenAI-style error body for a status."""
    text, kind, default_code = _ERROR_TEXT.get(status, ("Error.", "invalid_request_error", None))
    return {
        "error": {
            "message": message or text,
            "type": kind,
            "param": None,
            "code": code if code is not None else default_code,
        }
    }


def _chat_answer(fake: FakeOpenAI, body: dict, content: str) -> dict:
    answer = {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", "fake"),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content, "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "system_fingerprint": None,
    }
    if fake.include_usage:
        answer["usage"] = {
            "prompt_tokens": fake.prompt_tokens,
            "completion_tokens": fake.completion_tokens,
            "total_tokens": fake.prompt_tokens + fake.completion_tokens,
        }
    return answer


def _default_chat_content(body: dict) -> str:
    """Return what the fake model says unscripted: the deck or narrations the prompt asks for."""
    text = "\n".join(
        m.get("content", "") for m in body.get("messages", []) if isinstance(m.get("content"), str)
    )
    if match := re.search(r"exactly (\d+) narrations", text):
        return as_json(narrations(int(match.group(1))))
    if match := re.search(r"exactly (\d+) slides", text):
        return as_json(valid_deck(int(match.group(1))))
    return "Hello! I am a fake model and nobody asked me for JSON."


def _mark_streamed(wav: bytes) -> bytes:
    """Return WAV bytes with the RIFF and data sizes set to 0xFFFFFFFF, as in a streamed WAV."""
    data = bytearray(wav)
    data[4:8] = b"\xff\xff\xff\xff"
    at = data.find(b"data", 12)
    data[at + 4 : at + 8] = b"\xff\xff\xff\xff"
    return bytes(data)


def draw_png(width: int, height: int, seed: str = "") -> bytes:
    """Return a real PNG of the given size: a gradient with a few shapes."""
    from PIL import Image, ImageDraw

    tint = sum(seed.encode()) % 120
    ramp = Image.linear_gradient("L").resize((width, height))
    shifted = ramp.point(lambda v: (v + tint) % 256)
    image = Image.merge("RGB", (ramp, shifted, Image.new("L", (width, height), 160)))
    draw = ImageDraw.Draw(image)
    draw.ellipse(
        (width // 6, height // 6, width // 2, height // 2 + height // 6), fill=(250, 200, 60)
    )
    draw.rectangle(
        (width // 2, height // 3, width - width // 8, height - height // 6), fill=(40, 120, 200)
    )
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    fake: FakeOpenAI  # set on the subclass made by FakeOpenAI.start()

    def log_message(self, format: str, *args: Any) -> None:
        """Keep the test output quiet."""

    def do_GET(self) -> None:
        request = self._read_and_record(b"")
        body = error_body(404, f"Invalid URL (GET {self.path})", code="unknown_url")
        self._reply(request, 404, body)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        request = self._read_and_record(raw)
        provided = self.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if provided != self.fake.api_key:
            # Real OpenAI masks the key here; the fake echoes it whole, to prove we redact it.
            message = (
                f"Incorrect API key provided: {provided}. You can find your API key at "
                "https://platform.openai.com/account/api-keys."
            )
            return self._reply(request, 401, error_body(401, message))
        endpoint = ENDPOINTS.get(self.path)
        if endpoint is None:
            body = error_body(404, f"Invalid URL (POST {self.path})", code="unknown_url")
            return self._reply(request, 404, body)
        body = request.body if isinstance(request.body, dict) else {}
        if endpoint == "chat" and self.fake.reject_json_schema:
            if (request.response_format or {}).get("type") == "json_schema":
                message = "response_format json_schema is not supported by this server"
                return self._reply(request, 400, error_body(400, message))
        scripted = self.fake._next(endpoint)
        if isinstance(scripted, tuple):
            status, answer, *rest = scripted
            headers = rest[0] if rest else {}
            if answer is None:
                answer = error_body(status) if status >= 400 else {}
            return self._reply(request, status, answer, headers)
        if endpoint == "chat":
            content = scripted if isinstance(scripted, str) else _default_chat_content(body)
            return self._reply(request, 200, _chat_answer(self.fake, body, content))
        if endpoint == "speech":
            return self._speech(request, body)
        return self._images(request, body)

    def _speech(self, request: Recorded, body: dict) -> None:
        text = body.get("input")
        if not isinstance(text, str) or not text.strip():
            return self._reply(request, 400, error_body(400, "input must be a non-empty string"))
        if body.get("response_format", "mp3") != "wav":
            message = "the fake speaks only response_format 'wav'"
            return self._reply(request, 400, error_body(400, message))
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "speech.wav"
            self.fake.speech().synthesize(text, out)
            wav = out.read_bytes()
        if self.fake.streamed_wav_header:
            wav = _mark_streamed(wav)
        self._reply(request, 200, wav, {"Content-Type": "audio/wav"})

    def _images(self, request: Recorded, body: dict) -> None:
        model = str(body.get("model") or "dall-e-2")
        response_format = body.get("response_format")
        if model.startswith("gpt-image") and response_format is not None:
            body = error_body(
                400, "Unknown parameter: 'response_format'.", code="unknown_parameter"
            )
            body["error"]["param"] = "response_format"
            return self._reply(request, 400, body)
        size = str(body.get("size") or "1024x1024")
        match = re.fullmatch(r"(\d{2,4})x(\d{2,4})", size)
        width, height = (int(match.group(1)), int(match.group(2))) if match else (1024, 1024)
        url_only = (
            self.fake.image_as_url
            or response_format == "url"
            or (response_format is None and model.startswith("dall-e"))
        )
        if url_only:
            item = {"url": f"{self.fake.url}/files/generated.png", "revised_prompt": None}
        else:
            png = draw_png(width, height, str(body.get("prompt", "")))
            item = {"b64_json": base64.b64encode(png).decode("ascii"), "revised_prompt": None}
        self._reply(request, 200, {"created": int(time.time()), "data": [item]})

    def _read_and_record(self, raw: bytes) -> Recorded:
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        request = Recorded(
            method=self.command,
            path=self.path,
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            at=time.monotonic(),
        )
        self.fake._record(request)
        return request

    def _reply(
        self, request: Recorded, status: int, body: Any, headers: dict | None = None
    ) -> None:
        request.status = status
        if isinstance(body, bytes):
            payload = body
            content_type = "application/octet-stream"
        else:
            payload = json.dumps(body).encode()
            content_type = "application/json"
        headers = {"Content-Type": content_type, **(headers or {})}
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("x-request-id", f"req_{uuid.uuid4().hex}")
        self.send_header("openai-processing-ms", "7")
        self.end_headers()
        self.wfile.write(payload)


# --- decks ---------------------------------------------------------------------------------------

# Strict structured output sends every key of the animation schema, the unused ones null.
_ANIMATION_KEYS = tuple(key for key in animation_schema()["properties"] if key != "type")


def animation_spec(kind: str, **fields: Any) -> dict:
    """Return an animation object as strict structured output gives it: every key, unused null."""
    spec = {"type": kind, **dict.fromkeys(_ANIMATION_KEYS)}
    spec.update(fields)
    return spec


def slide_dict(
    number: int, *, image: str | None = None, animation: dict | None = None, topic: str = "Tides"
) -> dict:
    """Return one valid slide object in the DECK_SCHEMA shape."""
    narration = (
        f"This is slide {number} about {topic.lower()}. "
        + "The moon pulls on the oceans and the water rises and falls twice a day. " * 4
    ).strip()
    return {
        "title": f"{topic}, part {number}",
        "bullets": [f"Point {number}.1 about {topic.lower()}", f"Point {number}.2, briefly"],
        "narration": narration,
        "needs_image": image is not None,
        "image_keyword": image or "",
        "needs_animation": animation is not None,
        "animation": animation,
    }


def valid_deck(n: int, *, topic: str = "Tides") -> dict:
    """Return a valid deck of n slides: slide 1 wants an image, 2 a flow, 3 a bar chart."""
    visuals: dict[int, dict] = {
        1: {"image": "ocean tide moon"},
        2: {
            "animation": animation_spec("flow", steps=["Moon pulls", "Water bulges", "Tide rises"])
        },
        3: {
            "animation": animation_spec(
                "bar_chart", labels=["Low", "High"], values=[0.5, 3.2], unit="m"
            )
        },
    }
    return {"slides": [slide_dict(i, topic=topic, **visuals.get(i, {})) for i in range(1, n + 1)]}


def deck_missing_field(n: int, field_name: str = "narration", index: int = 0) -> dict:
    """Return a deck whose slide at index lacks field_name."""
    deck = valid_deck(n)
    del deck["slides"][index][field_name]
    return deck


def deck_with_both_flags(n: int, index: int = 1, *, animation: dict | None = None) -> dict:
    """Return a deck whose slide at index asks for an image and an animation at once."""
    deck = valid_deck(n)
    slide = deck["slides"][index]
    slide.update(
        needs_image=True,
        image_keyword="tide pool",
        needs_animation=True,
        animation=animation or animation_spec("cycle", stages=["High", "Ebb", "Low", "Flood"]),
    )
    return deck


def deck_with_count(n: int) -> dict:
    """Return an otherwise valid deck of n slides (to answer a request for another count)."""
    return valid_deck(n)


def narrations(n: int) -> dict:
    """Return a valid narration answer of n narrations."""
    return {
        "narrations": [
            f"Narration {i}. " + "The tide comes in, the tide goes out, and we explain why. " * 5
            for i in range(1, n + 1)
        ]
    }


def as_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)
