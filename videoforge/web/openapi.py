"""The API described as OpenAPI 3.1, served at GET /api/openapi.json.

The request body's limits come from the rules on the ground floor (the request's fields, the
outline's slide limits, the animation-spec table), so the description cannot drift from what
the service accepts; tests fuzz the running server from it.
"""

from __future__ import annotations

from typing import Any

from .. import __version__
from ..core.animation_spec import animation_schema
from ..core.outline import (
    MAX_BULLET,
    MAX_BULLETS,
    MAX_IMAGE,
    MAX_PRONUNCIATIONS,
    MAX_SLIDES,
    MAX_SPOKEN,
    MAX_TITLE,
    MAX_WRITTEN,
)
from ..core.request import (
    CLOSINGS,
    DEFAULT_FPS,
    FRAME_RATES,
    MAX_SOURCE_TEXT,
    MAX_SUBTITLE,
    MAX_TOPIC,
    RERENDER_FIELDS,
    TONES,
)
from ..core.stages import STAGES
from ..core.themes import THEME_NAMES
from ..core.types import SUPPORTED_SIZES
from .inputs import JSON_FIELDS

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
        403: "a deck upload sent by another site's page (its Origin is not allowed)",
        404: "no such generation or file",
        410: "the retention policy removed the run's files",
        409: "a run of this id is still queued or running",
        413: "the body is too large",
        415: "the body is not application/json (or a deck upload's file is no PDF or PPTX)",
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
            "pronunciations": {
                "type": ["object", "null"],
                "maxProperties": MAX_PRONUNCIATIONS,
                "propertyNames": {"minLength": 1, "maxLength": MAX_WRITTEN},
                "additionalProperties": {"type": "string", "minLength": 1, "maxLength": MAX_SPOKEN},
                "description": "how the voice says a word or name: {written: spoken}",
            },
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
            **look_schema(),
        },
    }


def deck_form_schema(max_slide_narration: int) -> dict:
    """Return the schema of a multipart deck upload: the `deck` file and the usual fields.

    Form fields are text; the ones that are numbers, booleans or lists are sent as JSON
    (`fps=30`, `title_slide=true`, `narrations=["...", null]`).
    """
    fields = request_schema(max_slide_narration)["properties"]
    text = {
        name: {"type": "string", "description": f"as JSON: {json_schema_type(schema)}"}
        if name in JSON_FIELDS
        else {"type": "string"}
        for name, schema in fields.items()
        if name not in ("slides", "source_text")
    }
    return {
        "type": "object",
        "required": ["deck"],
        "properties": {
            "deck": {
                "type": "string",
                "format": "binary",
                "description": "a PDF or PowerPoint (.pptx) file, told by its bytes; at most"
                " VIDEOFORGE_DECK_MAX_MB (413 before the body is read)",
            },
            **text,
            "narrations": {
                "type": "string",
                "description": "as JSON: a list, one narration (or null: the slide's notes or"
                " text) per deck slide, hidden and skipped ones included",
            },
            "skip": {
                "type": "string",
                "description": "as JSON: a list of the deck's slide numbers (from 1) left out",
            },
        },
    }


def json_schema_type(schema: dict) -> str:
    kind = schema.get("type", "string")
    return "/".join(kind) if isinstance(kind, list) else kind


def look_schema() -> dict[str, dict]:
    """Return the schemas of the request fields that choose how the video looks."""
    return {
        "theme": {
            "type": ["string", "null"],
            "enum": [*THEME_NAMES, None],
            "description": "slide theme; null: the deployment's (VIDEOFORGE_THEME)",
        },
        "brand_color": {
            "type": ["string", "null"],
            "pattern": "^#?[0-9a-fA-F]{6}$",
            "description": "the brand theme's accent colour",
        },
        "logo": {
            "type": ["string", "null"],
            "maxLength": 200,
            "description": "a media library file shown on the title slide",
        },
        "title_slide": {"type": "boolean", "description": "open with a title slide"},
        "subtitle": {"type": ["string", "null"], "maxLength": MAX_SUBTITLE},
        "closing": {
            "type": ["string", "null"],
            "enum": [*CLOSINGS, None],
            "description": "end with a closing slide: a summary of the titles, or credits",
        },
        "burn_captions": {
            "type": "boolean",
            "description": "draw each sentence into the picture as it is spoken",
        },
    }


RUN_STATUSES = ("queued", "running", "completed", "error", "cancelled")
_PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
_NUMBER_OR_NULL = {"type": ["number", "null"]}
_STRING_OR_NULL = {"type": ["string", "null"]}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _binary(description: str, media: str, *, ranges: bool = True) -> dict[str, dict]:
    """Return the answers of a file download: 200, and 206 for a byte range."""
    answers = {"200": _answer(description, {"type": "string", "format": "binary"}, media)}
    if ranges:
        answers["206"] = _answer(
            "a byte range (HTTP Range)", answers["200"]["content"][media]["schema"], media
        )
    return answers


def _object(properties: dict[str, Any], *, required: list[str] | None = None) -> dict:
    return {
        "type": "object",
        "required": list(properties) if required is None else required,
        "properties": properties,
    }


def schemas(max_slide_narration: int) -> dict[str, dict]:
    """Return the components' schemas: the bodies the API answers with, and the stream's event."""
    slide = request_schema(max_slide_narration)["properties"]["slides"]["items"]
    run = _object(
        {
            "generation_id": {"type": "string"},
            "run_id": {"type": "integer"},
            "status": {"type": "string", "enum": list(RUN_STATUSES)},
            "topic": _STRING_OR_NULL,
            "attempts": {"type": "integer", "minimum": 0},
            "created_at": {"type": "number", "description": "seconds since the epoch"},
            "started_at": _NUMBER_OR_NULL,
            "finished_at": _NUMBER_OR_NULL,
            "error": _STRING_OR_NULL | {"description": "why an error or cancelled run ended"},
            "progress_url": {"type": "string"},
            "status_url": {"type": "string"},
            "result": {
                "type": "object",
                "description": "a completed run's video",
                "properties": {
                    "video": _STRING_OR_NULL | {"description": "the MP4's file name"},
                    "video_url": {"type": "string"},
                    "duration": {"type": "number", "description": "seconds"},
                    "slides": {"type": "integer", "minimum": 1},
                    "size": {"type": "string"},
                    "fps": {"type": "integer"},
                    "narrations_synthesized": {
                        "type": "integer",
                        "minimum": 0,
                        "description": "slides whose speech was made (not reused from the cache)",
                    },
                    "timings": {"type": "object", "additionalProperties": {"type": "number"}},
                    "chapters": {
                        "type": "array",
                        "items": _object(
                            {
                                "slide_number": {"type": "integer", "minimum": 1},
                                "title": {"type": "string"},
                                "start": {"type": "number"},
                                "duration": {"type": "number"},
                            }
                        ),
                    },
                    "visuals": {
                        "type": "array",
                        "items": {"type": "string", "enum": ["text", "image", "animation"]},
                    },
                },
            },
            "usage": {"type": "object", "description": "paid providers' use"},
            "pruned_at": {"type": "number", "description": "when retention removed its files"},
            "latest": {"type": "object"},
        },
        required=[
            "generation_id",
            "run_id",
            "status",
            "topic",
            "attempts",
            "created_at",
            "started_at",
            "finished_at",
            "error",
            "progress_url",
            "status_url",
        ],
    )
    event = _object(
        {
            "status": {
                "type": "string",
                "enum": [stage.status for stage in STAGES],
                "description": "the stage table's statuses (the README's milestone table)",
            },
            "progress": {"type": "integer", "minimum": 0, "maximum": 100},
            "message": {"type": "string"},
            "timestamp": {
                "type": "string",
                "pattern": "^[0-9]{2}:[0-9]{2}:[0-9]{2}$",
                "description": "HH:MM:SS, server local time",
            },
            "heartbeat": {
                "const": True,
                "description": "a repeat of the latest status sent when nothing happened for 2 s",
            },
        },
        required=["status", "progress", "message", "timestamp"],
    )
    content_slide = _object(
        {
            "slide_number": {"type": "integer", "minimum": 1},
            "title": {"type": "string"},
            "content_text": {"type": "string"},
            "bullets": {"type": "array", "items": {"type": "string"}},
            "needs_image": {"type": "boolean"},
            "image_keyword": {"type": "string"},
            "needs_animation": {"type": "boolean"},
            "animation_description": {"type": "string", "description": "the animation as JSON"},
            "duration": _NUMBER_OR_NULL | {"description": "seconds; null until the audio exists"},
            "visual": {"enum": ["text", "image", "animation", None]},
            "image_credit": {"type": ["object", "null"]},
            "kind": {"enum": ["content", "title", "closing"]},
            "subtitle": {"type": "string"},
        }
    )
    script_slide = _object(
        {
            "slide_number": {"type": "integer", "minimum": 1},
            "start_time": _NUMBER_OR_NULL,
            "end_time": _NUMBER_OR_NULL,
            "narration_text": {"type": "string"},
            "kind": {"enum": ["content", "title", "closing"]},
        }
    )
    return {
        "Error": _object(
            {
                "title": {"type": "string", "description": "the HTTP status's reason phrase"},
                "detail": {"type": "string", "description": "what went wrong and what to do"},
                "generation_id": {"type": "string", "description": "409 only"},
                "status": {
                    "type": "string",
                    "enum": list(RUN_STATUSES),
                    "description": "409 only: the run's status",
                },
            },
            required=["title", "detail"],
        ),
        "Run": run,
        "Generation": {
            "allOf": [
                run,
                _object({"history": {"type": "array", "items": _ref("Run")}}),
            ],
            "description": "the newest run and every run of the id, newest first",
        },
        "Generations": _object(
            {
                "generations": {"type": "array", "items": _ref("Run")},
                "total": {"type": "integer", "minimum": 0},
                "limit": {"type": "integer", "minimum": 1},
                "offset": {"type": "integer", "minimum": 0},
            }
        ),
        "Status": {
            "allOf": [
                {
                    "type": "object",
                    "properties": {k: v for k, v in run["properties"].items() if k != "status"},
                    "required": [k for k in run["required"] if k != "status"],
                },
                _object(
                    {
                        "status": event["properties"]["status"],
                        "progress": event["properties"]["progress"],
                        "message": {"type": "string"},
                        "timestamp": _STRING_OR_NULL,
                        "run_status": {"type": "string", "enum": list(RUN_STATUSES)},
                    }
                ),
            ],
            "description": "the newest run's latest event (`status`) and the run (`run_status`)",
        },
        "ProgressEvent": event,
        "OutlineSlide": slide,
        "Deck": _object(
            {
                "generation_id": {"type": "string"},
                "run_id": {"type": "integer"},
                "topic": {"type": "string"},
                "language": {"type": "string"},
                "tone": {"type": "string", "enum": list(TONES)},
                "size": {"type": "string", "enum": [str(s) for s in SUPPORTED_SIZES]},
                "fps": {"type": "integer", "enum": list(FRAME_RATES)},
                "voice": {"type": "string"},
                **look_schema(),
                "slides": {"type": "array", "items": _ref("OutlineSlide")},
            }
        ),
        "Content": _object(
            {
                "generation_id": {"type": "string"},
                "topic": {"type": "string"},
                "language": {"type": "string"},
                "tone": {"type": "string"},
                "size": {"type": "string"},
                "theme": {"type": "string", "enum": list(THEME_NAMES)},
                "total_slides": {"type": "integer", "minimum": 1},
                "slides": {"type": "array", "items": content_slide},
                "credits": {"type": "array", "items": {"type": "object"}},
            }
        ),
        "Script": _object(
            {
                "generation_id": {"type": "string"},
                "topic": {"type": "string"},
                "language": {"type": "string"},
                "total_duration": _NUMBER_OR_NULL,
                "slide_scripts": {"type": "array", "items": script_slide},
                "scripts": {"type": "array", "items": script_slide, "description": "alias"},
            }
        ),
        "Voices": _object(
            {
                "default": {"type": "string"},
                "voices": {
                    "type": "array",
                    "items": _object(
                        {
                            "id": {"type": "string"},
                            "provider": {"type": "string"},
                            "languages": {
                                "anyOf": [
                                    {"type": "array", "items": {"type": "string"}},
                                    {"const": "any"},
                                ]
                            },
                            "default": {"type": "boolean"},
                        }
                    ),
                },
            }
        ),
        "Health": _object(
            {
                "status": {"const": "ok"},
                "database": {"type": "string", "enum": ["sqlite", "postgres"]},
                "open_streams": {"type": "integer", "minimum": 0},
                "queries": {"type": "integer", "minimum": 0},
            },
            required=["status"],
        ),
    }


def rerender_schema() -> dict:
    """Return the JSON schema of a POST /api/generations/{id}/runs body."""
    fields = request_schema(1)["properties"]
    properties = {name: fields[name] for name in RERENDER_FIELDS if name != "slides"}
    properties["slides"] = {
        "type": "array",
        "minItems": 1,
        "maxItems": MAX_SLIDES,
        "items": _ref("OutlineSlide"),
    }
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["slides"],
        "properties": properties,
        "description": "the changed deck; language, tone, size, fps and voice stay the"
        " generation's unless sent",
    }


STREAM_DESCRIPTION = """Server-Sent Events. Each message has an `id:` line and one `data:` line
holding a JSON `ProgressEvent` (see its schema); the first message also has `retry: 3000`.
The stream sends `connected` at once, `waiting` while the id has no run (for 5 s, then only
`: keepalive` comments), every stored event of the newest run in order (with `Last-Event-ID`,
those after it), `heartbeat: true` repeats of the latest status when nothing happened for 2 s,
then `completed` or `error`, then `done` ("✅ Stream ended", or the timeout's message), and
closes. A re-render's `generating_audio` events say "♻️ Reused audio for slide n/N" for
speech the cache held. Past the stream limit the answer is 200 with only a `retry:` hint.
The statuses: """


def openapi(*, max_slide_narration: int, token: bool) -> dict:
    """Return the OpenAPI document of this deployment (token: whether requests need one)."""
    run = _ref("Run")
    files = (400, 401, 404, 410, 503)
    paths: dict[str, dict] = {
        "/api/generate": {
            "post": {
                "summary": "validate a request and queue a run",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": request_schema(max_slide_narration)},
                        "multipart/form-data": {"schema": deck_form_schema(max_slide_narration)},
                    },
                },
                "responses": {
                    "202": _answer("the queued run", run),
                    **_errors(400, 401, 403, 409, 413, 415, 422, 429, 503),
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
                    "200": {
                        "description": STREAM_DESCRIPTION
                        + ", ".join(f"`{stage.status}`" for stage in STAGES),
                        "content": {
                            "text/event-stream": {
                                "schema": {"type": "string"},
                                "x-event-data": _ref("ProgressEvent"),
                                "example": 'id: 12\ndata: {"status":"generating_audio",'
                                '"progress":35,"message":"♻️ Reused audio for slide 1/3",'
                                '"timestamp":"14:03:07"}\n\n',
                            }
                        },
                    },
                    **_errors(400, 401, 429, 503),
                },
            }
        },
        "/api/status/{generation_id}": {
            "get": {
                "summary": "the newest run and its latest event",
                "parameters": [_ID],
                "responses": {
                    "200": _answer("status", _ref("Status")),
                    **_errors(400, 401, 404, 503),
                },
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
                    "200": _answer("a page of runs", _ref("Generations")),
                    **_errors(400, 401, 503),
                },
            }
        },
        "/api/generations/{generation_id}": {
            "get": {
                "summary": "the newest run and the id's history",
                "parameters": [_ID],
                "responses": {
                    "200": _answer("the run", _ref("Generation")),
                    **_errors(400, 401, 404, 503),
                },
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
        "/api/generations/{generation_id}/runs": {
            "post": {
                "summary": "re-render: a new run of the same generation id from a changed deck",
                "description": "Send the deck of GET /api/generations/{id}/deck, changed (slides"
                " edited, added, deleted or reordered). Only the speech and pictures that"
                " changed are made again; the stream says which audio was reused. The id's"
                " history keeps the earlier runs.",
                "parameters": [_ID],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": rerender_schema()}},
                },
                "responses": {
                    "202": _answer("the queued run", run),
                    **_errors(400, 401, 404, 409, 413, 415, 422, 429, 503),
                },
            }
        },
        "/api/generations/{generation_id}/deck": {
            "get": {
                "summary": "the newest completed run's deck, as an outline to edit and send back",
                "parameters": [_ID],
                "responses": {"200": _answer("the deck", _ref("Deck")), **_errors(*files)},
            }
        },
        "/api/generations/{generation_id}/deck.pptx": {
            "get": {
                "summary": "the newest completed run's deck as PowerPoint: each slide's still,"
                " its title, its narration as speaker notes",
                "parameters": [_ID],
                "responses": {
                    **_binary("the deck (Content-Disposition: attachment)", _PPTX),
                    **_errors(*files, 416),
                },
            }
        },
        "/api/generations/{generation_id}/deck.pdf": {
            "get": {
                "summary": "the newest completed run's slide stills as a PDF, a page each",
                "parameters": [_ID],
                "responses": {
                    **_binary("the deck (Content-Disposition: attachment)", "application/pdf"),
                    **_errors(*files, 416),
                },
            }
        },
        "/api/generations/{generation_id}/slides/{number}.png": {
            "get": {
                "summary": "slide n's still, from the newest run that has stills",
                "parameters": [
                    _ID,
                    {
                        "name": "number",
                        "in": "path",
                        "required": True,
                        "description": "the slide's number, from 1",
                        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_SLIDES},
                    },
                ],
                "responses": {**_binary("the still", "image/png"), **_errors(*files, 416)},
            }
        },
        "/api/generations/{generation_id}/video": {
            "get": {
                "summary": "the newest finished MP4 of an id (HTTP Range)",
                "parameters": [_ID],
                "responses": {**_binary("the video", "video/mp4"), **_errors(*files, 416)},
            }
        },
        "/api/generations/{generation_id}/poster.jpg": {
            "get": {
                "summary": "the newest run's poster: its first slide as a JPEG",
                "parameters": [_ID],
                "responses": {**_binary("the poster", "image/jpeg"), **_errors(*files, 416)},
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
                    **_binary("the video", "video/mp4"),
                    **_errors(400, 401, 404, 416, 503),
                },
            }
        },
        "/api/content/{generation_id}": {
            "get": {
                "summary": "the slides (the reference's shape, with `total_slides`)",
                "parameters": [_ID],
                "responses": {"200": _answer("the slides", _ref("Content")), **_errors(*files)},
            }
        },
        "/api/script/{generation_id}": {
            "get": {
                "summary": "the narration (the reference's shape: `slide_scripts`)",
                "parameters": [_ID],
                "responses": {
                    "200": _answer("the narration", _ref("Script")),
                    **_errors(*files),
                },
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
                    "200": {
                        "description": "the captions: WebVTT for .vtt, SubRip for .srt",
                        "content": {
                            "text/vtt": {"schema": {"type": "string"}},
                            "application/x-subrip": {"schema": {"type": "string"}},
                        },
                    },
                    **_errors(*files),
                },
            }
        },
        "/api/voices": {
            "get": {
                "summary": "the voices a request may name, and the default",
                "responses": {"200": _answer("voices", _ref("Voices")), **_errors(400, 401)},
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
                "security": [],
                "responses": {
                    "200": _answer("healthy", _ref("Health")),
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
            "description": "Narrated slide videos from a topic, an outline or a document."
            ' Errors are JSON `{"title", "detail"}` with the HTTP status. With a token'
            " configured, send `Authorization: Bearer <token>`; only the progress stream, the"
            " videos, the captions, the poster and the slide images also take `?token=`.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas(max_slide_narration),
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
