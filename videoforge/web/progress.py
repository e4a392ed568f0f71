"""GET /api/progress/{id}: the Server-Sent-Events progress stream."""

from __future__ import annotations

import math

import falcon

from ..core.errors import TooManyRequests
from ..core.request import check_generation_id
from ..store.runs import RunStore
from .stream import (
    Admission,
    ChangeSignal,
    GatedStream,
    StreamGate,
    StreamTiming,
    progress_events,
)

SSE_HEADERS = {
    "Cache-Control": "no-cache, no-transform",
    "X-Accel-Buffering": "no",
    "Content-Encoding": "none",
}


class ProgressStream:
    """GET /api/progress/{id}: admit the stream through the gate, then stream its events."""

    def __init__(
        self,
        store: RunStore,
        timing: StreamTiming,
        gate: StreamGate,
        busy_retry_ms: int,
        signal: ChangeSignal | None = None,
    ):
        self.store = store
        self.signal = signal
        self.timing = timing
        self.gate = gate
        self.busy_retry_ms = busy_retry_ms

    def on_get(self, req: falcon.Request, resp: falcon.Response, generation_id: str) -> None:
        """Open the stream, or answer why not: a retry hint past the cap, 429 per client."""
        check_generation_id(generation_id)
        client = req.remote_addr or ""
        admission = self.gate.enter(client)
        if admission is Admission.CLIENT_FULL:
            # A 429 makes EventSource give up for good, which is what a client holding this
            # many streams deserves; a client that only opened too many at once retries later.
            raise TooManyRequests(
                f"this client address already holds {self.gate.per_client} open progress"
                " streams (VIDEOFORGE_MAX_STREAMS_PER_CLIENT); close one and try again",
                retry_after=max(1, math.ceil(self.busy_retry_ms / 1000)),
            )
        resp.content_type = "text/event-stream"  # exactly as published; SSE is always UTF-8
        resp.set_headers(SSE_HEADERS)
        if admission is Admission.BUSY:
            # Too many open streams: a 200 with only a retry hint makes EventSource come back
            # later, where a 503 would make it give up for good.
            resp.text = f"retry: {self.busy_retry_ms}\n: too many open streams; retry later\n\n"
            return
        try:
            last_event_id = _last_event_id(req)
            disconnected = req.env.get("waitress.client_disconnected") or (lambda: False)
            body = progress_events(
                self.store,
                generation_id,
                self.timing,
                signal=self.signal,
                last_event_id=last_event_id,
                disconnected=disconnected,
            )
        except BaseException:
            self.gate.leave(client)
            raise
        resp.stream = GatedStream(body, self.gate, client)


def _last_event_id(req: falcon.Request) -> int | None:
    raw = req.get_header("Last-Event-ID") or req.get_param("lastEventId")
    if raw is None or not raw.strip():
        return None
    try:
        value = int(raw.strip())
    except ValueError:
        return None  # an id we never sent: start over rather than refuse the stream
    return value if value >= 0 else None
