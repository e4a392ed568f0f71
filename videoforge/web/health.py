"""GET /health: the database is reachable (200) or not (503)."""

from __future__ import annotations

import logging

import falcon

from ..core.errors import Unavailable
from ..store.runs import RunStore
from .stream import StreamGate

log = logging.getLogger(__name__)


class Health:
    def __init__(self, store: RunStore, gate: StreamGate):
        self.store = store
        self.gate = gate

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        try:
            self.store.ping()
        except Exception as exc:
            log.warning("health check: database unreachable: %s", exc)
            raise Unavailable("the database cannot be reached") from None
        resp.media = {
            "status": "ok",
            "database": self.store.db.dialect,
            "open_streams": self.gate.open,
            "queries": self.store.db.queries,
        }
