"""Waitress for this app: its own refusals (a body over the limit, a malformed request) in JSON."""

from __future__ import annotations

import json
from typing import Any

from waitress.channel import HTTPChannel
from waitress.server import BaseWSGIServer, create_server
from waitress.task import ErrorTask


class JsonErrorTask(ErrorTask):
    """Answer a request Waitress refused before the app saw it with {"detail": ...}."""

    def execute(self) -> None:
        """Write the error as JSON and close the connection, as Waitress's own answer does."""
        error = self.request.error
        if error.code == 413:
            limit = self.channel.server.adj.max_request_body_size - 1
            detail = f"the request body is larger than {limit} bytes"
        else:
            detail = f"{error.reason}: {error.body}" if error.body else error.reason
        body = json.dumps({"detail": detail}).encode("utf-8")
        self.status = f"{error.code} {error.reason}"
        self.response_headers.append(("Content-Type", "application/json"))
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)


class JsonErrorChannel(HTTPChannel):
    """An HTTP channel whose refusals are JSON."""

    error_task_class = JsonErrorTask


def make_server(app: Any, *, max_body_bytes: int, **adjustments: Any) -> Any:
    """Create (not run) a Waitress server for app that refuses bodies over max_body_bytes.

    Waitress reads the body before the app runs, so its own limit is the one that keeps a
    large upload from being read at all; it refuses a body of exactly its limit, hence + 1.
    """
    sockets: dict = {}
    server = create_server(
        app, map=sockets, max_request_body_size=max_body_bytes + 1, **adjustments
    )
    for dispatcher in list(sockets.values()):  # one per listening socket
        if isinstance(dispatcher, BaseWSGIServer):
            dispatcher.channel_class = JsonErrorChannel
    return server
