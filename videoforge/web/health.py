"""GET /health: the database is reachable (200) or not (503); details only for the operator."""

from __future__ import annotations

import logging

import falcon

from ..core.errors import Unavailable
from ..store.runs import RunStore
from .auth import bearer_token, token_matches
from .stream import StreamGate

log = logging.getLogger(__name__)


class Health:
    """Answer {"status": "ok"}, plus the database kind, open streams and queries when allowed.

    The details go to a request with the API token when one is configured; without a token
    they go to anyone unless the service is deliberately open (VIDEOFORGE_PUBLIC), where
    strangers have no business seeing them.
    """

    def __init__(self, store: RunStore, gate: StreamGate, *, token: str = "", public: bool = False):
        self.store = store
        self.gate = gate
        self.token = token
        self.public = public

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        """Ping the database and say so."""
        try:
            self.store.ping()
        except Exception as exc:
            log.warning("health check: database unreachable: %s", exc)
            raise Unavailable("the database cannot be reached") from None
        body: dict = {"status": "ok"}
        if self._shows_details(req):
            body |= {
                "database": self.store.db.dialect,
                "open_streams": self.gate.open,
                "queries": self.store.db.queries,
            }
        resp.media = body

    def _shows_details(self, req: falcon.Request) -> bool:
        if self.token:
            return token_matches(bearer_token(req), self.token)
        return not self.public
