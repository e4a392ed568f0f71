"""The API described as OpenAPI 3.1, served at GET /api/openapi.json.

The request body's limits come from the rules on the ground floor (the request's fields, the
outline's slide limits, the animation-spec table), so the description cannot drift from what
the service accepts; tests fuzz the running server from it.
"""

from __future__ import annotations

from typing import Any

from .. import __version__
from ..core.animation_spec import animation_schema
from ..core.outline import MAX_BULLET, MAX_BULLETS, MAX_IMAGE, MAX_SLIDES, MAX_TITLE
from ..core.request import DEFAULT_FPS, FRAME_RATES, MAX_SOURCE_TEXT, MAX_TOPIC, TONES
from ..core.stages import STAGES
from ..core.types import SUPPORTED_SIZES

_ERROR = {"$ref": "#/components/schemas/Error"}
_ID = {
    "name": "generation_id",
    "in": "path",
    "required": True,
    "description": "the generation id (letters, digits, `_` and `-`; made from the topic)",
    "schema": {"type": "string", "minLength": 1, "maxLength": 64},
}


def _answer(description: str, schema: dict | None = None, media: str = "application/json"):
    answer: dict[str, Any] = {"description": description}
    if schema is not None:
        answer["content"] = {media: {"schema": schema}}
    return answer


def _errors(*codes: int) -> dict[str, dict]:
    words = {
        400: "malformed request, or a Host header not in VIDEOFORGE_ALLOWED_HOSTS",
        401: "the API token is missing or wrong",
        404: "no such generation or file",
        409: "a run of this id is still queued or running",
        413: "the body is too large",
        415: "the body is not sent as application/json",
        416: "the byte range cannot be served",
        422: "the request cannot be done on this deployment",
        429: "too many runs or streams; see Retry-After",
        503: "the database cannot be reached",
    }
    return {str(code): _answer(words[code], _ERROR) for code in codes}


def request_schema(max_slide_narration: int) -> dict:
    """Return the JSON schema of a POST /api/generate body."""
    slide = {
        "type": "object",
        "additionalProperties": False,
        "required": ["title", "bullets"],
        "properties": {
            "title": {"type": "string", "minLength": 1, "maxLength": MAX_TITLE},
            "bullets": {
                "type": "array",
                "maxItems": MAX_BULLETS,
                "items": {"type": "string", "minLength": 1, "maxLength": MAX_BULLET},
            },
            "narration": {"type": ["string", "null"], "maxLength": max_slide_narration},
            "image": {"type": ["string", "null"], "minLength": 1, "maxLength": MAX_IMAGE},
            "animation": {"anyOf": [animation_schema(), {"type": "null"}]},
        },
    }
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "topic": {"type": "string", "minLength": 1, "maxLength": MAX_TOPIC},
            "num_slides": {"type": "integer", "minimum": 1, "maximum": MAX_SLIDES},
            "language": {"type": "string", "minLength": 1, "maxLength": 40},
            "tone": {"type": "string", "enum": list(TONES)},
            "size": {"type": "string", "enum": [str(s) for s in SUPPORTED_SIZES]},
            "voice": {"type": "string", "description": "an id from GET /api/voices"},
            "fps": {
                "type": "integer",
                "enum": list(FRAME_RATES),
                "default": DEFAULT_FPS,
                "description": "frames a second of the video (constant)",
            },
            "slides": {"type": "array", "minItems": 1, "maxItems": MAX_SLIDES, "items": slide},
            "source_text": {"type": "string", "maxLength": MAX_SOURCE_TEXT},
        },
    }


def openapi(*, max_slide_narration: int, token: bool) -> dict:
    """Return the OpenAPI document of this deployment (token: whether requests need one)."""
    run = {"$ref": "#/components/schemas/Run"}
    json_file = _answer("the file's JSON", {"type": "object"})
    paths: dict[str, dict] = {
        "/api/generate": {
            "post": {
                "summary": "validate a request and queue a run",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": request_schema(max_slide_narration)}
                    },
                },
                "responses": {
                    "202": _answer("the queued run", run),
                    **_errors(400, 401, 409, 413, 415, 422, 429, 503),
                },
            }
        },
        "/api/progress/{generation_id}": {
            "get": {
                "summary": "the Server-Sent-Events progress stream",
                "parameters": [
                    _ID,
                    {"name": "Last-Event-ID", "in": "header", "schema": {"type": "string"}},
                ],
                "responses": {
                    "200": _answer(
                        "`data:` lines of JSON events: "
                        + ", ".join(stage.status for stage in STAGES),
                        {"type": "string"},
                        "text/event-stream",
                    ),
                    **_errors(400, 401, 429),
                },
            }
        },
        "/api/status/{generation_id}": {
            "get": {
                "summary": "the newest run and its latest event",
                "parameters": [_ID],
                "responses": {"200": _answer("status", run), **_errors(400, 401, 404, 503)},
            }
        },
        "/api/generations": {
            "get": {
                "summary": "runs, newest first",
                "parameters": [
                    {
                        "name": "limit",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 200},
                    },
                    {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0}},
                ],
                "responses": {
                    "200": _answer("a page of runs", {"type": "object"}),
                    **_errors(400, 401, 503),
                },
            }
        },
        "/api/generations/{generation_id}": {
            "get": {
                "summary": "the newest run and the id's history",
                "parameters": [_ID],
                "responses": {"200": _answer("the run", run), **_errors(400, 401, 404, 503)},
            },
            "delete": {
                "summary": "cancel a queued or running run",
                "parameters": [_ID],
                "responses": {
                    "200": _answer("the cancelled run", run),
                    **_errors(400, 401, 404, 409, 503),
                },
            },
        },
        "/api/generations/{generation_id}/video": {
            "get": {
                "summary": "the newest finished MP4 of an id (HTTP Range)",
                "parameters": [_ID],
                "responses": {
                    "200": _answer("the video", {"type": "string"}, "video/mp4"),
                    "206": _answer("a byte range", {"type": "string"}, "video/mp4"),
                    **_errors(400, 401, 404, 416, 503),
                },
            }
        },
        "/api/generations/{generation_id}/poster.jpg": {
            "get": {
                "summary": "the newest run's poster: its first slide as a JPEG",
                "parameters": [_ID],
                "responses": {
                    "200": _answer("the poster", {"type": "string"}, "image/jpeg"),
                    "206": _answer("a byte range", {"type": "string"}, "image/jpeg"),
                    **_errors(400, 401, 404, 416, 503),
                },
            }
        },
        "/api/video/{filename}": {
            "get": {
                "summary": "a finished MP4 by name",
                "parameters": [
                    {
                        "name": "filename",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                    }
                ],
                "responses": {
                    "200": _answer("the video", {"type": "string"}, "video/mp4"),
                    "206": _answer("a byte range", {"type": "string"}, "video/mp4"),
                    **_errors(400, 401, 404, 416, 503),
                },
            }
        },
        "/api/content/{generation_id}": {
            "get": {
                "summary": "the slides",
                "parameters": [_ID],
                "responses": {"200": json_file, **_errors(400, 401, 404, 503)},
            }
        },
        "/api/script/{generation_id}": {
            "get": {
                "summary": "the narration",
                "parameters": [_ID],
                "responses": {"200": json_file, **_errors(400, 401, 404, 503)},
            }
        },
        "/api/captions/{generation_id}.{ext}": {
            "get": {
                "summary": "captions, one cue per sentence",
                "parameters": [
                    _ID,
                    {
                        "name": "ext",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "enum": ["vtt", "srt"]},
                    },
                ],
                "responses": {
                    "200": _answer("the captions", {"type": "string"}, "text/vtt"),
                    **_errors(400, 401, 404, 503),
                },
            }
        },
        "/api/voices": {
            "get": {
                "summary": "the voices a request may name, and the default",
                "responses": {"200": _answer("voices", {"type": "object"}), **_errors(400, 401)},
            }
        },
        "/api/openapi.json": {
            "get": {
                "summary": "this description",
                "responses": {
                    "200": _answer("the OpenAPI document", {"type": "object"}),
                    **_errors(400, 401),
                },
            }
        },
        "/health": {
            "get": {
                "summary": "200 when the database answers, 503 when it does not (details only"
                " with the token, or on a local service without one)",
                "responses": {
                    "200": _answer("healthy", {"type": "object"}),
                    **_errors(400, 401, 503),
                },
            }
        },
    }
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "videoforge",
            "version": __version__,
            "description": "Narrated slide videos from a topic, an outline or a document.",
        },
        "paths": paths,
        "components": {
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["detail"],
                    "properties": {"detail": {"type": "string"}},
                },
                "Run": {
                    "type": "object",
                    "properties": {
                        "generation_id": {"type": "string"},
                        "run_id": {"type": "integer"},
                        "status": {"type": "string"},
                        "progress_url": {"type": "string"},
                        "status_url": {"type": "string"},
                    },
                },
            },
            "securitySchemes": {"token": {"type": "http", "scheme": "bearer"}},
        },
    }
    if token:
        document["security"] = [{"token": []}]
    return document


class OpenAPIDocument:
    """GET /api/openapi.json: the description above, built once."""

    def __init__(self, document: dict):
        self.document = document

    def on_get(self, req: Any, resp: Any) -> None:
        resp.media = self.document
