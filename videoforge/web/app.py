"""Wire the Falcon application: resources, middleware and the one error handler."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

import falcon

from ..core.errors import (
    Conflict,
    RangeNotSatisfiable,
    TooManyRequests,
    Unauthorized,
    VideoforgeError,
)
from ..core.request import Capabilities
from ..core.settings import Settings
from ..core.types import PDF_FILE, PPTX_FILE
from ..store.objects import Artifacts, S3Artifacts, open_artifacts
from ..store.runs import QueueLimits, RunStore
from ..store.uploads import Uploads
from .auth import TokenAuth
from .files import (
    Captions,
    Deck,
    DeckDownload,
    GenerationVideo,
    Poster,
    RunFile,
    SlideImage,
    Video,
)
from .generations import (
    Generate,
    GenerationItem,
    GenerationRuns,
    Generations,
    Status,
    Voices,
)
from .health import Health
from .hosts import HostCheck, allowed_hosts
from .inputs import DeckForm
from .openapi import OpenAPIDocument, openapi
from .progress import ProgressStream
from .stream import ChangeSignal, StreamGate, StreamTiming

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
PPTX_TYPE = "application/vnd.openxmlformats-officedocument.presentationml.presentation"


def _title(status: str | int) -> str:
    """Return the reason phrase of an HTTP status ("404 Not Found" -> "Not Found")."""
    code = falcon.code_to_http_status(status)
    return code.partition(" ")[2] or code


def _handle_error(req: falcon.Request, resp: falcon.Response, ex: VideoforgeError, params) -> None:
    resp.status = ex.status
    body: dict = {"title": _title(ex.status), "detail": ex.detail}
    if isinstance(ex, Conflict):
        body.update(ex.extra)
    if isinstance(ex, Unauthorized):
        resp.set_header("WWW-Authenticate", 'Bearer realm="videoforge"')
    if isinstance(ex, TooManyRequests):
        resp.set_header("Retry-After", str(ex.retry_after))
    if isinstance(ex, RangeNotSatisfiable):
        resp.set_header("Content-Range", f"bytes */{ex.size}")
    resp.content_type = falcon.MEDIA_JSON  # a resource may have set another type already
    resp.media = body


def _handle_unexpected(req: falcon.Request, resp: falcon.Response, ex: Exception, params) -> None:
    log.exception("unhandled error on %s %s", req.method, req.path)
    resp.status = falcon.HTTP_500
    resp.content_type = falcon.MEDIA_JSON
    resp.media = {
        "title": _title(falcon.HTTP_500),
        "detail": "internal error; the server log has the details",
    }


def _handle_database_down(
    req: falcon.Request, resp: falcon.Response, ex: Exception, params
) -> None:
    log.error("database error on %s %s: %s", req.method, req.path, ex)
    resp.status = falcon.HTTP_503
    resp.content_type = falcon.MEDIA_JSON
    resp.media = {
        "title": _title(falcon.HTTP_503),
        "detail": "the database cannot be reached right now; try again shortly",
    }


def _serialize_http_error(req: falcon.Request, resp: falcon.Response, ex: falcon.HTTPError) -> None:
    detail = ex.description or ex.title or str(ex.status)
    if ex.status_code == 404 and not ex.description:
        detail = f"no such endpoint: {req.method} {req.path}"
    elif ex.status_code == 405:
        allowed = resp.get_header("Allow") or ""
        detail = f"method {req.method} is not allowed here" + (
            f"; allowed: {allowed}" if allowed else ""
        )
    resp.content_type = falcon.MEDIA_JSON
    resp.media = {"title": _title(ex.status), "detail": detail}


class Index:
    """GET /: the studio, the page that makes, follows, plays and edits generations."""

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.content_type = falcon.MEDIA_HTML
        resp.text = (STATIC_DIR / "index.html").read_text(encoding="utf-8")


def create_app(
    settings: Settings,
    store: RunStore,
    *,
    capabilities: Capabilities | None = None,
    clock: Callable[[], float] = time.time,
    artifacts: Artifacts | None = None,
) -> falcon.App:
    """Build the WSGI app from its collaborators; no I/O happens here."""
    middleware: list = []
    hosts = allowed_hosts(settings)
    if hosts is not None:
        middleware.append(HostCheck(hosts))  # first: a foreign Host learns nothing else
    if settings.cors_origins:
        origins = "*" if "*" in settings.cors_origins else list(settings.cors_origins)
        middleware.append(falcon.CORSMiddleware(allow_origins=origins))
    if settings.api_token:
        middleware.append(TokenAuth(settings.api_token))
    app = falcon.App(middleware=middleware)
    app.req_options.strip_url_path_trailing_slash = True
    app.add_error_handler(Exception, _handle_unexpected)
    app.add_error_handler(VideoforgeError, _handle_error)
    app.add_error_handler(store.db.unavailable_errors, _handle_database_down)
    app.set_error_serializer(_serialize_http_error)

    capabilities = capabilities or Capabilities()
    gate = StreamGate(settings.max_streams, settings.max_streams_per_client)
    timing = StreamTiming(
        poll_interval=settings.poll_interval,
        heartbeat_interval=settings.heartbeat_interval,
        waiting_period=settings.waiting_period,
        timeout=settings.stream_timeout,
        retry_ms=settings.retry_ms,
    )
    files = artifacts if artifacts is not None else open_artifacts(settings)
    app.add_route("/", Index())
    app.add_static_route("/static", str(STATIC_DIR))  # the page's CSS and JavaScript
    app.add_route("/health", Health(store, gate, token=settings.api_token, public=settings.public))
    limits = QueueLimits(
        max_queued=settings.max_queued, max_per_client=settings.max_queued_per_client
    )
    bucket = files if isinstance(files, S3Artifacts) else None
    deck_form = DeckForm(
        settings.deck_max_bytes, settings.max_body_bytes, tuple(settings.cors_origins)
    )
    app.add_route(
        "/api/generate",
        Generate(
            store,
            capabilities,
            settings.max_body_bytes,
            clock,
            limits,
            uploads=Uploads(settings.uploads_dir, bucket),
            deck_form=deck_form,
        ),
    )
    app.add_route(
        "/api/progress/{generation_id}",
        ProgressStream(
            store,
            timing,
            gate,
            settings.busy_retry_ms,
            ChangeSignal(store, settings.change_interval),
        ),
    )
    app.add_route("/api/status/{generation_id}", Status(store))
    app.add_route("/api/voices", Voices(capabilities))
    app.add_route("/api/generations", Generations(store))
    app.add_route("/api/generations/{generation_id}", GenerationItem(store, clock))
    app.add_route("/api/generations/{generation_id}/video", GenerationVideo(store, files))
    app.add_route("/api/generations/{generation_id}/poster.jpg", Poster(store, files))
    app.add_route(
        "/api/generations/{generation_id}/runs",
        GenerationRuns(store, capabilities, settings.max_body_bytes, clock, limits),
    )
    app.add_route("/api/generations/{generation_id}/deck", Deck(store, files))
    app.add_route(
        "/api/generations/{generation_id}/deck.pptx",
        DeckDownload(store, files, PPTX_FILE, PPTX_TYPE),
    )
    app.add_route(
        "/api/generations/{generation_id}/deck.pdf",
        DeckDownload(store, files, PDF_FILE, "application/pdf"),
    )
    app.add_route("/api/generations/{generation_id}/slides/{number}.png", SlideImage(store, files))
    app.add_route("/api/video/{filename}", Video(files, store))
    app.add_route("/api/content/{generation_id}", RunFile(store, files, "content.json"))
    app.add_route("/api/script/{generation_id}", RunFile(store, files, "script.json"))
    app.add_route("/api/captions/{generation_id}.{ext}", Captions(store, files))
    document = openapi(
        max_slide_narration=settings.max_slide_narration, token=bool(settings.api_token)
    )
    app.add_route("/api/openapi.json", OpenAPIDocument(document))
    return app
