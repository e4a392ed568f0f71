"""Resources for generation runs: create, list, inspect, cancel, and re-render a changed deck."""

from __future__ import annotations

from collections.abc import Callable

import falcon

from ..core.decks import DeckFile
from ..core.errors import NotFound
from ..core.request import (
    Capabilities,
    check_generation_id,
    parse_generation_request,
    parse_rerender_request,
)
from ..core.stages import STAGE
from ..core.types import Run
from ..store.runs import QueueLimits, RunStore
from ..store.uploads import Uploads
from .inputs import DeckForm, int_param, is_multipart, read_deck_form, read_json
from .stream import clock_time


def run_summary(run: Run, latest: dict | None = None) -> dict:
    """Describe a run for JSON responses (never the raw request's secrets: it holds none)."""
    gid = run.generation_id
    summary = {
        "generation_id": gid,
        "run_id": run.id,
        "status": run.status,
        "topic": run.request.get("topic"),
        "attempts": run.attempts,
        "created_at": run.created_at,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "error": run.error if run.status in ("error", "cancelled") else None,
        "progress_url": f"/api/progress/{gid}",
        "status_url": f"/api/status/{gid}",
    }
    if run.result:
        summary["result"] = run.result
    if run.usage:
        summary["usage"] = run.usage
    if run.pruned_at is not None:
        summary["pruned_at"] = run.pruned_at  # the retention policy removed its files
    if latest is not None:
        summary["latest"] = latest
    return summary


class _Enqueuing:
    """A resource that validates requests and enqueues runs within the queue's limits."""

    def __init__(
        self,
        store: RunStore,
        capabilities: Capabilities,
        max_body_bytes: int,
        clock: Callable[[], float],
        limits: QueueLimits | None = None,
    ):
        self.store = store
        self.capabilities = capabilities
        self.max_body_bytes = max_body_bytes
        self.clock = clock
        self.limits = limits or QueueLimits()

    def _enqueue(
        self, req: falcon.Request, resp: falcon.Response, generation_id: str, request: dict
    ) -> None:
        """Queue a run of a validated request and answer 202 with its summary."""
        run = self.store.enqueue(
            generation_id,
            request,
            self.clock(),
            client=req.remote_addr or None,
            limits=self.limits,
        )
        resp.status = falcon.HTTP_202
        resp.location = f"/api/status/{run.generation_id}"
        resp.media = run_summary(run)


class Generate(_Enqueuing):
    """POST /api/generate: validate a request and enqueue a run, within the queue's limits.

    A JSON body is an outline, a document or a topic; a multipart/form-data body carries
    an uploaded deck (its `deck` file) and the same fields as form fields.
    """

    def __init__(
        self, *args, uploads: Uploads | None = None, deck_form: DeckForm | None = None, **kw
    ):
        super().__init__(*args, **kw)
        self.uploads = uploads
        self.deck_form = deck_form

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        """Answer 202 with the new run, or 4xx; 429 when a queue limit is reached."""
        if is_multipart(req) and self.uploads is not None and self.deck_form is not None:
            self._post_deck(req, resp, self.uploads, self.deck_form)
            return
        request = parse_generation_request(read_json(req, self.max_body_bytes), self.capabilities)
        self._enqueue(req, resp, request.generation_id, request.to_json())

    def _post_deck(
        self, req: falcon.Request, resp: falcon.Response, uploads: Uploads, form: DeckForm
    ) -> None:
        """Store the uploaded deck, then validate the fields and queue its run.

        The deck's file is removed again when the request is refused, this request stored
        it, and no run names it (another request may have sent the same bytes meanwhile).
        """

        def refused(deck: DeckFile, new: bool) -> None:
            if new and not self.store.names_deck(deck.file):
                uploads.discard(deck)

        fields, deck, new = read_deck_form(req, uploads, form, refused)
        try:
            request = parse_generation_request(fields, self.capabilities, deck)
            uploads.publish(deck)
            self._enqueue(req, resp, request.generation_id, request.to_json())
        except BaseException:
            refused(deck, new)
            raise


class GenerationRuns(_Enqueuing):
    """POST /api/generations/{id}/runs: a new run of an existing generation, from a changed deck.

    The body is an outline (what GET /api/generations/{id}/deck gives, edited) and,
    optionally, a new language, tone, size, fps or voice. The run keeps the generation's id
    and topic, and the id's history keeps the earlier runs; the pipeline's cache makes again
    only the speech and pictures that changed.
    """

    def on_post(self, req: falcon.Request, resp: falcon.Response, generation_id: str) -> None:
        """Answer 202 with the new run; 404 unknown id, 409 while a run of it is active."""
        check_generation_id(generation_id)
        body = read_json(req, self.max_body_bytes)
        newest = self.store.newest(generation_id)
        if newest is None:
            raise NotFound(f"no generation {generation_id!r}")
        request = parse_rerender_request(body, newest.request, self.capabilities)
        self._enqueue(req, resp, generation_id, request.to_json())


class Generations:
    """GET /api/generations: runs, newest first, a page at a time."""

    def __init__(self, store: RunStore):
        self.store = store

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        limit = int_param(req, "limit", 20, 1, 200)
        offset = int_param(req, "offset", 0, 0, 10**9)
        runs, total = self.store.runs(limit=limit, offset=offset)
        resp.media = {
            "generations": [run_summary(run) for run in runs],
            "total": total,
            "limit": limit,
            "offset": offset,
        }


class GenerationItem:
    """GET /api/generations/{id}: the newest run and the id's history; DELETE cancels it."""

    def __init__(self, store: RunStore, clock: Callable[[], float]):
        self.store = store
        self.clock = clock

    def on_get(self, req: falcon.Request, resp: falcon.Response, generation_id: str) -> None:
        check_generation_id(generation_id)
        history = self.store.history(generation_id)
        if not history:
            raise NotFound(f"no generation {generation_id!r}")
        resp.media = run_summary(history[0]) | {"history": [run_summary(run) for run in history]}

    def on_delete(self, req: falcon.Request, resp: falcon.Response, generation_id: str) -> None:
        check_generation_id(generation_id)
        run = self.store.cancel(generation_id, self.clock())
        resp.media = run_summary(run)


class Status:
    """GET /api/status/{id}: the latest event of the newest run."""

    def __init__(self, store: RunStore):
        self.store = store

    def on_get(self, req: falcon.Request, resp: falcon.Response, generation_id: str) -> None:
        check_generation_id(generation_id)
        run = self.store.newest(generation_id)
        if run is None:
            raise NotFound(f"no generation {generation_id!r}")
        event = self.store.latest_event(run.id)
        if event is None:
            queued = STAGE["waiting"].message("queued")
            latest = {"status": "waiting", "progress": 0, "message": queued, "timestamp": None}
        else:
            latest = {
                "status": event.status,
                "progress": event.progress,
                "message": event.message,
                "timestamp": clock_time(event.created_at),
            }
        resp.media = (
            latest | run_summary(run) | {"status": latest["status"], "run_status": run.status}
        )


class Voices:
    """GET /api/voices: the voices a request may name, and the default."""

    def __init__(self, capabilities: Capabilities):
        self.capabilities = capabilities

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        default = self.capabilities.default_voice
        resp.media = {
            "default": default,
            "voices": [
                {
                    "id": v.id,
                    "provider": v.id.partition(":")[0],
                    "languages": list(v.languages) if v.languages is not None else "any",
                    "default": v.id == default,
                }
                for v in self.capabilities.voices
            ],
        }
