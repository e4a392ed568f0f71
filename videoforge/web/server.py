"""Waitress for this app: its own refusals (a body over the limit, a malformed request) in JSON.

A JSON body and a multipart deck upload have limits of their own; both are checked against
the request's Content-Length before its body is read (a chunked body, as it arrives).
"""

from __future__ import annotations

import json
from typing import Any

from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser
from waitress.server import BaseWSGIServer, create_server
from waitress.task import ErrorTask
from waitress.utilities import RequestEntityTooLarge


class JsonErrorTask(ErrorTask):
    """Answer a request Waitress refused before the app saw it with {"detail": ...}."""

    def execute(self) -> None:
        """Write the error as JSON and close the connection, as Waitress's own answer does."""
        error = self.request.error
        if error.code == 413:
            limit = getattr(self.request, "limit", None)
            if limit is None:
                limit = self.channel.server.adj.max_request_body_size - 1
            detail = f"the request body is larger than {limit} bytes"
            if getattr(self.request, "upload", False):
                detail += " (a deck upload: VIDEOFORGE_DECK_MAX_MB)"
        else:
            detail = f"{error.reason}: {error.body}" if error.body else error.reason
        body = json.dumps({"detail": detail}).encode("utf-8")
        self.status = f"{error.code} {error.reason}"
        self.response_headers.append(("Content-Type", "application/json"))
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)


UPLOAD_PATH = "/api/generate"


class LimitedParser(HTTPRequestParser):
    """A request parser whose body limit depends on the body's type: uploads may be larger."""

    max_body_bytes = 0  # set per server by make_server
    max_upload_bytes = 0
    limit: int | None = None
    upload = False

    def parse_header(self, header_plus: bytes) -> None:
        super().parse_header(header_plus)
        kind = self.headers.get("CONTENT_TYPE", "").split(";")[0].strip().lower()
        # Only where a deck is uploaded; any other request keeps the smaller limit.
        where = (self.command, (self.path or "").rstrip("/"))
        self.upload = kind == "multipart/form-data" and where == ("POST", UPLOAD_PATH)
        self.limit = self.max_upload_bytes if self.upload else self.max_body_bytes
        if self.content_length > self.limit:
            self._refuse()

    def received(self, data: bytes) -> int:
        consumed = super().received(data)
        if self.limit is not None and self.body_bytes_received > self.limit and not self.error:
            self._refuse()  # a chunked body, which names no length up front
        return consumed

    def _refuse(self) -> None:
        self.error = RequestEntityTooLarge(f"exceeds max_body of {self.limit}")
        self.completed = True
        self.body_rcv = None


class JsonErrorChannel(HTTPChannel):
    """An HTTP channel whose refusals are JSON."""

    error_task_class = JsonErrorTask


def make_server(
    app: Any, *, max_body_bytes: int, max_upload_bytes: int = 0, **adjustments: Any
) -> Any:
    """Create (not run) a Waitress server for app that refuses bodies over their limits.

    Waitress reads the body before the app runs, so its limits are the ones that keep a
    large body from being read at all: max_body_bytes for JSON and anything else,
    max_upload_bytes for a multipart/form-data deck upload.
    """
    upload = max(max_upload_bytes, max_body_bytes)
    parser = type(
        "Parser", (LimitedParser,), {"max_body_bytes": max_body_bytes, "max_upload_bytes": upload}
    )
    channel = type("Channel", (JsonErrorChannel,), {"parser_class": parser})
    sockets: dict = {}
    server = create_server(app, map=sockets, max_request_body_size=upload + 1, **adjustments)
    for dispatcher in list(sockets.values()):  # one per listening socket
        if isinstance(dispatcher, BaseWSGIServer):
            dispatcher.channel_class = channel
    return server
