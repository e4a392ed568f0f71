"""GET /api/progress/{id}: the Server-Sent-Events progress stream."""

from __future__ import annotations

import falcon

from ..core.request import check_generation_id
from ..store.runs import RunStore
from .stream import ChangeSignal, GatedStream, StreamGate, StreamTiming, progress_events

SSE_HEADERS = {
    "Cache-Control": "no-cache, no-transform",
    "X-Accel-Buffering": "no",
    "Content-Encoding": "none",
}


class ProgressStream:
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
        check_generation_id(generation_id)
        resp.content_type = "text/event-stream"  # exactly as published; SSE is always UTF-8
        resp.set_headers(SSE_HEADERS)
        if not self.gate.enter():
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
            self.gate.leave()
            raise
        resp.stream = GatedStream(body, self.gate)


def _last_event_id(req: falcon.Request) -> int | None:
    raw = req.get_header("Last-Event-ID") or req.get_param("lastEventId")
    if raw is None or not raw.strip():
        return None
    try:
        value = int(raw.strip())
    except ValueError:
        return None  # an id we never sent: start over rather than refuse the stream
    return value if value >= 0 else None
