"""Process and HTTP helpers for the server tests: real processes, plain HTTP clients."""

from __future__ import annotations

import http.client
import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LARGE_BODY = 256 * 1024  # bodies above this are sent watching for an early answer


def offline_service(data_dir: Path) -> Iterator[Service]:
    """Run a real web process and worker (the real offline pipeline) on data_dir; stop them after."""
    port = free_port()
    svc = Service(data_dir, port, base_env(data_dir, port))
    svc.start_web()
    svc.start_worker(pipeline=None)
    try:
        yield svc
    finally:
        svc.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def base_env(data_dir: Path, port: int, **overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIDEOFORGE_", "OPENAI_"))}
    env.pop("DATABASE_URL", None)
    env.update(
        VIDEOFORGE_DATA_DIR=str(data_dir),
        PORT=str(port),
        HOST="127.0.0.1",
        PYTHONUNBUFFERED="1",
        VIDEOFORGE_WORKER_POLL_INTERVAL="0.05",
        VIDEOFORGE_LEASE_SECONDS="3",
        VIDEOFORGE_LOG_LEVEL="INFO",
    )
    env.update(overrides)
    return env


@dataclass
class Service:
    """A web process and its workers, started from serve.py and worker.py."""

    data_dir: Path
    port: int
    env: dict[str, str]
    procs: list[subprocess.Popen] = field(default_factory=list)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start_web(self) -> subprocess.Popen:
        log = open(self.data_dir / "web.log", "ab")  # noqa: SIM115
        proc = subprocess.Popen(
            [sys.executable, str(ROOT / "serve.py")],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.procs.append(proc)
        deadline = time.time() + 30
        while time.time() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"serve.py exited: {(self.data_dir / 'web.log').read_text()}")
            try:
                if request(self, "GET", "/health")[0] == 200:
                    return proc
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("serve.py did not answer /health within 30 s")

    def start_worker(
        self,
        *args: str,
        pipeline: str | None = "tests.doubles:make_pipeline",
        env: dict[str, str] | None = None,
    ) -> subprocess.Popen:
        argv = [sys.executable, str(ROOT / "worker.py"), *args]
        if pipeline:
            argv += ["--pipeline", pipeline]
        log = open(self.data_dir / f"worker-{len(self.procs)}.log", "ab")  # noqa: SIM115
        proc = subprocess.Popen(
            argv, cwd=ROOT, env={**self.env, **(env or {})}, stdout=log, stderr=subprocess.STDOUT
        )
        self.procs.append(proc)
        return proc

    def stop(self) -> None:
        stop_processes(self.procs, timeout=10)

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.data_dir.glob("*.log")))


def request(
    service: Service,
    method: str,
    path: str,
    body: object = None,
    *,
    headers: dict[str, str] | None = None,
    raw: bytes | None = None,
    timeout: float = 30,
) -> tuple[int, dict[str, str], bytes]:
    hdrs = dict(headers or {})
    data = raw
    if body is not None:
        data = json.dumps(body).encode()
        hdrs.setdefault("Content-Type", "application/json")
    if data is not None and len(data) > LARGE_BODY:
        return send_large_body(service, method, path, data, headers=hdrs, timeout=timeout)
    conn = http.client.HTTPConnection("127.0.0.1", service.port, timeout=timeout)
    try:
        conn.request(method, path, body=data, headers=hdrs)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def send_large_body(
    service: Service,
    method: str,
    path: str,
    data: bytes,
    *,
    headers: dict[str, str] | None = None,
    timeout: float = 30,
) -> tuple[int, dict[str, str], bytes]:
    """Send a large body as curl does: stop sending once the server has answered early.

    A server that refuses the body from its Content-Length answers and closes without
    reading the rest; a client that kept writing would meet a reset instead of the answer.
    """
    hdrs = {"Host": f"127.0.0.1:{service.port}", "Content-Length": str(len(data))}
    hdrs |= headers or {}
    head = f"{method} {path} HTTP/1.1\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in hdrs.items()) + "\r\n"
    sock = socket.create_connection(("127.0.0.1", service.port), timeout=timeout)
    try:
        sock.sendall(head.encode("latin-1"))
        view, sent = memoryview(data), 0
        deadline = time.time() + timeout
        while sent < len(data) and time.time() < deadline:
            readable, writable, _ = select.select([sock], [sock], [], 1)
            if readable:
                break  # answered before the whole body went out
            if writable:
                try:
                    sent += sock.send(view[sent : sent + 65536])
                except (BrokenPipeError, ConnectionResetError):
                    break  # closed after answering; the answer is waiting to be read
        resp = http.client.HTTPResponse(sock)
        resp.begin()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        sock.close()


def request_json(service: Service, method: str, path: str, body: object = None, **kw):
    status, headers, data = request(service, method, path, body, **kw)
    return status, json.loads(data) if data else None


@dataclass
class SSEMessage:
    id: str | None
    data: dict | None
    retry: int | None
    comment: str | None
    received_at: float


def read_stream(
    service: Service, path: str, *, headers: dict[str, str] | None = None, timeout: float = 60
) -> tuple[int, dict[str, str], list[SSEMessage]]:
    """Read a whole SSE response with a plain HTTP client, parsing messages as they arrive."""
    conn = http.client.HTTPConnection("127.0.0.1", service.port, timeout=timeout)
    try:
        conn.request("GET", path, headers=headers or {})
        resp = conn.getresponse()
        hdrs = {k.lower(): v for k, v in resp.getheaders()}
        messages: list[SSEMessage] = []
        fields: dict[str, str] = {}
        comment = None
        while True:
            line = resp.readline()
            if not line:
                break
            text = line.decode("utf-8").rstrip("\r\n")
            if text == "":
                if fields or comment is not None:
                    messages.append(
                        SSEMessage(
                            fields.get("id"),
                            json.loads(fields["data"]) if "data" in fields else None,
                            int(fields["retry"]) if "retry" in fields else None,
                            comment,
                            time.time(),
                        )
                    )
                fields, comment = {}, None
                continue
            if text.startswith(":"):
                comment = text[1:].strip()
                continue
            name, _, value = text.partition(":")
            fields[name] = value[1:] if value.startswith(" ") else value
        return resp.status, hdrs, messages
    finally:
        conn.close()


def stop_processes(procs: list[subprocess.Popen], timeout: float) -> None:
    """SIGTERM every process still running, wait up to timeout for each, then kill it."""
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
