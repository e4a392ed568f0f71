"""A small HTTP client for the API and its progress stream, on the standard library only.

The stream is read line by line as it arrives. When it ends without a final event (the
server's stream timeout) the client reconnects with ``Last-Event-ID`` and the server
replays what came after; when the connection drops, it reconnects once more.
"""

from __future__ import annotations

import http.client
import json
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

FINAL_STATUSES = ("completed", "error")
RECONNECT_DELAY = 1.0  # seconds before a dropped stream is opened again


class Multipart:
    """A multipart/form-data body: text fields and one file, built in memory."""

    def __init__(self, fields: dict[str, str], file_field: str, file: Path):
        boundary = f"videoforge-{uuid.uuid4().hex}"
        parts = []
        for name, value in fields.items():
            parts.append(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
                + value.encode("utf-8")
                + b"\r\n"
            )
        filename = file.name.replace('"', "'").replace("\r", "").replace("\n", "")
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{file_field}";'
            f' filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'.encode()
            + file.read_bytes()
            + b"\r\n"
        )
        parts.append(f"--{boundary}--\r\n".encode())
        self.data = b"".join(parts)
        self.content_type = f"multipart/form-data; boundary={boundary}"


class ApiError(Exception):
    """The server answered with an error status; carries the status and the API's detail."""

    def __init__(self, status: int, detail: str):
        super().__init__(f"{status}: {detail}")
        self.status = status
        self.detail = detail


class Unreachable(Exception):
    """The server could not be reached, or the connection broke for good."""


def quote_id(generation_id: str) -> str:
    """Return a generation id as a URL path segment."""
    return quote(generation_id, safe="")


class ApiClient:
    """Talk to one videoforge server (or any JSON API) at base_url with an optional token."""

    def __init__(self, base_url: str, token: str = "", *, timeout: float = 30.0):
        parts = urlsplit(base_url if "://" in base_url else f"http://{base_url}")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{base_url!r} is not an http:// or https:// URL")
        self.base_url = base_url
        self.scheme = parts.scheme
        self.host = parts.hostname
        self.port = parts.port
        self.prefix = parts.path.rstrip("/")
        self.token = token
        self.timeout = timeout

    def _connection(self, timeout: float | None = None) -> http.client.HTTPConnection:
        kind = http.client.HTTPSConnection if self.scheme == "https" else http.client.HTTPConnection
        return kind(self.host, self.port, timeout=timeout or self.timeout)

    def _headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {"Accept": "application/json", "User-Agent": "videoforge-cli"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers | (extra or {})

    def _open(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
    ) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
        """Send a request and return the connection and its response (the body unread)."""
        data = None
        hdrs = self._headers(headers)
        if isinstance(body, Multipart):
            data = body.data
            hdrs["Content-Type"] = body.content_type
        elif body is not None:
            data = json.dumps(body).encode("utf-8")
            hdrs["Content-Type"] = "application/json"
        conn = self._connection(timeout)
        try:
            conn.request(method, self.prefix + path, body=data, headers=hdrs)
            resp = conn.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            raise Unreachable(f"cannot reach {self.base_url}: {exc}") from exc
        if resp.status >= 400:
            try:
                raise ApiError(resp.status, _detail(resp.read()))
            finally:
                conn.close()
        return conn, resp

    def json(
        self, method: str, path: str, body: Any = None, *, timeout: float | None = None
    ) -> Any:
        """Send a request and return its JSON answer; raises ApiError on 4xx and 5xx."""
        conn, resp = self._open(method, path, body, timeout=timeout)
        try:
            data = resp.read()
        except (OSError, http.client.HTTPException) as exc:
            raise Unreachable(f"the answer from {self.base_url} broke off: {exc}") from exc
        finally:
            conn.close()
        try:
            return json.loads(data) if data else None
        except ValueError as exc:
            raise Unreachable(f"{self.base_url}{path} did not answer JSON: {exc}") from exc

    def download(self, path: str, dest: Path) -> int:
        """Write a GET's body to dest (through a temporary file beside it); return its size."""
        conn, resp = self._open("GET", path, headers={"Accept": "*/*"}, timeout=300)
        part = dest.with_name(f".{dest.name}.{os.getpid()}.part")
        size = 0
        try:
            with part.open("wb") as out:
                while chunk := resp.read(1 << 16):
                    out.write(chunk)
                    size += len(chunk)
            part.replace(dest)
        except (OSError, http.client.HTTPException) as exc:
            raise Unreachable(f"the download of {path} broke off: {exc}") from exc
        finally:
            conn.close()
            part.unlink(missing_ok=True)
        return size

    def events(self, path: str, *, idle_timeout: float = 120.0) -> Iterator[dict[str, Any]]:
        """Yield the stream's messages (JSON objects) until the final event and its `done`.

        A stream that ends without a final event is opened again with Last-Event-ID (the
        server's stream timeout ends long runs' streams); a connection that drops is opened
        again once, and a second drop in a row with nothing received raises Unreachable.
        """
        last_id: str | None = None
        finished = False
        drops = 0
        while True:
            received = False
            try:
                for event_id, data in self._stream_once(path, last_id, idle_timeout):
                    received = True
                    if event_id is not None:
                        last_id = event_id
                    yield data
                    status = data.get("status")
                    if status in FINAL_STATUSES and not data.get("heartbeat"):
                        finished = True
                    elif status == "done" and finished:
                        return
                if finished:
                    return  # the server closed after the final event without `done`
                if not received:
                    raise Unreachable(f"the progress stream at {self.base_url}{path} was empty")
                drops = 0  # an orderly end without the final event: the stream timed out
            except Unreachable:
                drops = 0 if received else drops + 1
                if drops > 1 or (not received and last_id is None):
                    raise
                time.sleep(RECONNECT_DELAY)

    def _stream_once(
        self, path: str, last_id: str | None, idle_timeout: float
    ) -> Iterator[tuple[str | None, dict[str, Any]]]:
        """Yield (id, data) for each message of one connection to the stream."""
        headers = {"Accept": "text/event-stream", "Cache-Control": "no-cache"}
        if last_id is not None:
            headers["Last-Event-ID"] = last_id
        conn, resp = self._open("GET", path, headers=headers, timeout=idle_timeout)
        try:
            fields: dict[str, str] = {}
            while True:
                try:
                    line = resp.readline()
                except (OSError, http.client.HTTPException) as exc:
                    raise Unreachable(f"the progress stream broke off: {exc}") from exc
                if not line:
                    return
                text = line.decode("utf-8", "replace").rstrip("\r\n")
                if text:
                    if not text.startswith(":"):  # a comment (keep-alive) has no fields
                        name, _, value = text.partition(":")
                        value = value[1:] if value.startswith(" ") else value
                        fields[name] = f"{fields[name]}\n{value}" if name in fields else value
                    continue
                if "data" in fields:
                    try:
                        data = json.loads(fields["data"])
                    except ValueError:
                        data = None
                    if isinstance(data, dict):
                        yield fields.get("id"), data
                fields = {}
        finally:
            conn.close()


def _detail(body: bytes) -> str:
    """Return the API's error detail from an error body (or its first characters)."""
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("detail"), str):
        return data["detail"]
    text = body.decode("utf-8", "replace").strip()
    return text[:300] or "no detail given"
