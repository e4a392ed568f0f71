"""Load check for the progress stream (run by hand; not a test).

    .venv/bin/python bench/load_sse.py                       # 300 clients for 60 s
    .venv/bin/python bench/load_sse.py --clients 100 --seconds 20
    .venv/bin/python bench/load_sse.py --server-env VIDEOFORGE_POLL_INTERVAL=0.25
    .venv/bin/python bench/load_sse.py --clients 470            # issue 9 item 6: 470 streams

All clients connect from 127.0.0.1, so the service is started with its per-client caps raised
(VIDEOFORGE_MAX_STREAMS_PER_CLIENT, VIDEOFORGE_MAX_QUEUED_PER_CLIENT, VIDEOFORGE_MAX_QUEUED;
the values are printed, and --server-env overrides them); VIDEOFORGE_MAX_STREAMS keeps its
default unless --server-env sets it.

It starts its own serve.py and worker.py processes (the test double pipeline,
tests.doubles:make_pipeline) on a free loopback port with a temporary data directory, then for
--seconds keeps --clients Server-Sent-Events clients connected to GET /api/progress/{id} while
a run is posted every --post-interval seconds. Each client follows one generation at a time,
from before its run is posted or while it is queued or running, to the stream's "done", then
moves on to another. The client side is one asyncio loop on raw streams (HTTP/1.1, chunked).

Afterwards it checks every stream against a fresh `Last-Event-ID: 0` stream of the same
generation and the database, and reports: streams that got every stored event exactly once
and in order, event latency from commit (events.created_at, read from the SQLite file
read-only) to receipt, /health latency (a prober every 100 ms; p50, p95, p99, max), POST
/api/generate latency, the web process's queries per second (from /health's counter), its
peak RSS, threads and CPU.
Results are printed and written as JSON to bench/out/.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import shutil
import sqlite3
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.helpers import Service, base_env, free_port  # noqa: E402

SYNTHETIC = ("connected", "waiting", "done")
TERMINAL = ("completed", "error")
CLK_TCK = os.sysconf("SC_CLK_TCK")
# A stream whose "connected" arrived no earlier than this before its run's finished_at and that
# got only the terminal event joined a run that had (just) ended: the contract sends it only the
# final status. It is counted apart ("late_join"), not as a failure.
LATE_JOIN_SLACK = 0.05
CONTENDED_PCT = 40  # % of one core used by other processes that marks a second as contended
REFERENCE_STREAMS = 20  # Last-Event-ID: 0 streams open at once while checking


# --- tiny HTTP/1.1 client on asyncio streams ------------------------------------------------


async def read_head(reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
    line = await reader.readline()
    if not line:
        raise ConnectionError("connection closed before a status line")
    parts = line.decode("latin-1").split(" ", 2)
    status = int(parts[1])
    headers: dict[str, str] = {}
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers


async def read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
    if "chunked" in headers.get("transfer-encoding", "").lower():
        out = bytearray()
        while True:
            size = int((await reader.readline()).split(b";")[0].strip() or b"0", 16)
            if size == 0:
                await reader.readline()
                return bytes(out)
            out += (await reader.readexactly(size + 2))[:-2]
    if "content-length" in headers:
        return await reader.readexactly(int(headers["content-length"]))
    return await reader.read()


def request_bytes(port: int, method: str, path: str, headers: dict[str, str], body: bytes) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    if body or method == "POST":
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


async def http(
    port: int, method: str, path: str, body: object = None, timeout: float = 10.0
) -> tuple[int, dict[str, str], bytes]:
    """One request on a fresh connection (Connection: close), bounded by timeout."""

    async def go():
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            data = json.dumps(body).encode() if body is not None else b""
            hdrs = {"Connection": "close"}
            if body is not None:
                hdrs["Content-Type"] = "application/json"
            writer.write(request_bytes(port, method, path, hdrs, data))
            status, headers = await read_head(reader)
            return status, headers, await read_body(reader, headers)
        finally:
            writer.close()

    return await asyncio.wait_for(go(), timeout)


class SSEParser:
    """Incremental text/event-stream parser: feed bytes, get finished messages."""

    def __init__(self):
        self.buf = b""
        self.fields: dict[str, str] = {}
        self.comment: str | None = None

    def feed(self, data: bytes) -> list[dict]:
        self.buf += data
        out = []
        *lines, self.buf = self.buf.split(b"\n")
        for raw in lines:
            text = raw.decode("utf-8").rstrip("\r")
            if text == "":
                if self.fields or self.comment is not None:
                    out.append({"fields": self.fields, "comment": self.comment})
                self.fields, self.comment = {}, None
            elif text.startswith(":"):
                self.comment = text[1:].strip()
            else:
                name, _, value = text.partition(":")
                self.fields[name] = value[1:] if value.startswith(" ") else value
        return out


# --- bench state -----------------------------------------------------------------------------


@dataclass
class Gen:
    seq: int
    topic: str
    gid: str
    announced_at: float
    posted_at: float | None = None
    post_status: int | None = None
    active: int = 0  # clients following it now
    streams: int = 0  # clients that followed it
    started: bool = False  # some client saw a stored event
    finished: bool = False  # some client saw the terminal event (or the post failed)


@dataclass
class StreamRecord:
    client: int
    gid: str
    t_request: float = 0.0
    t_connected: float | None = None
    t_end: float | None = None
    status: int | None = None
    events: list[tuple[int, float, str]] = field(default_factory=list)  # (id, received, status)
    waiting: int = 0
    heartbeats: int = 0
    keepalives: int = 0
    done: bool = False
    busy: bool = False
    eof_before_done: bool = False
    cut: bool = False
    error: str | None = None


@dataclass
class Ctx:
    args: argparse.Namespace
    port: int
    t0: float = 0.0
    t_end: float = 0.0  # end of the load window: no new streams, no new posts
    hard_deadline: float = 0.0  # streams still open at this time are cut
    gens: list[Gen] = field(default_factory=list)
    records: list[StreamRecord] = field(default_factory=list)
    posts: list[dict] = field(default_factory=list)
    probes: list[dict] = field(default_factory=list)
    samples: list[dict] = field(default_factory=list)
    lag: list[float] = field(default_factory=list)
    open_streams: int = 0
    connect_errors: int = 0
    seq: int = 0
    tag: str = ""

    def announce(self) -> Gen:
        self.seq += 1
        topic = f"loadbench {self.tag} {self.seq:05d}"
        gen = Gen(self.seq, topic, topic.replace(" ", "_"), time.time())
        self.gens.append(gen)
        return gen

    def pick(self) -> Gen | None:
        """A generation whose run has not ended, the one with the fewest clients among those

        not started yet (the client connects before the run runs) or, for a --join-running
        share of the picks, among those already running (the client joins mid-run).
        """
        live = [g for g in self.gens if not g.finished]
        fresh = [g for g in live if not g.started]
        running = [g for g in live if g.started]
        if running and random.random() < self.args.join_running:
            pool = running
        else:
            pool = fresh or live
        return min(pool, key=lambda g: (g.active, g.seq)) if pool else None


async def follow(ctx: Ctx, gen: Gen, rec: StreamRecord) -> None:
    """Read one progress stream to its "done" (or EOF), recording what arrives and when."""
    reader, writer = await asyncio.open_connection("127.0.0.1", ctx.port)
    try:
        rec.t_request = time.time()
        writer.write(
            request_bytes(
                ctx.port,
                "GET",
                f"/api/progress/{gen.gid}",
                {"Accept": "text/event-stream", "Cache-Control": "no-cache"},
                b"",
            )
        )
        rec.status, headers = await read_head(reader)
        chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        parser = SSEParser()
        while not rec.done:
            if chunked:
                line = await reader.readline()
                if not line:
                    break
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    break
                payload = (await reader.readexactly(size + 2))[:-2]
            else:
                payload = await reader.read(65536)
                if not payload:
                    break
            now = time.time()
            for msg in parser.feed(payload):
                handle(ctx, gen, rec, msg, now)
        rec.eof_before_done = not rec.done and not rec.busy
    finally:
        rec.t_end = time.time()
        writer.close()


def handle(ctx: Ctx, gen: Gen, rec: StreamRecord, msg: dict, now: float) -> None:
    fields = msg["fields"]
    if "data" not in fields:
        if "retry" in fields and msg["comment"] and "too many" in msg["comment"]:
            rec.busy = True
        else:
            rec.keepalives += 1
        return
    data = json.loads(fields["data"])
    status = data.get("status")
    if status == "connected":
        rec.t_connected = now
    elif status == "done":
        rec.done = True
    elif data.get("heartbeat"):
        rec.heartbeats += 1
    elif status == "waiting":
        rec.waiting += 1
    else:
        rec.events.append((int(fields["id"]), now, status))
        gen.started = True
        if status in TERMINAL:
            gen.finished = True


async def client(ctx: Ctx, n: int) -> None:
    # Spread the first connections over the first 0.5 s rather than one burst.
    await asyncio.sleep(random.random() * 0.5)
    while time.time() < ctx.t_end:
        gen = ctx.pick()
        if gen is None:
            await asyncio.sleep(0.05)
            continue
        rec = StreamRecord(n, gen.gid)
        ctx.records.append(rec)
        gen.active += 1
        gen.streams += 1
        ctx.open_streams += 1
        try:
            budget = max(0.1, ctx.hard_deadline - time.time())
            await asyncio.wait_for(follow(ctx, gen, rec), budget)
        except TimeoutError:
            rec.cut = True
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            rec.error = f"{type(exc).__name__}: {exc}"
            ctx.connect_errors += 1
            await asyncio.sleep(0.2)
        finally:
            gen.active -= 1
            ctx.open_streams -= 1
        if rec.busy or (rec.status is not None and rec.status != 200):
            await asyncio.sleep(0.5)


async def poster(ctx: Ctx) -> None:
    a = ctx.args
    for _ in range(a.lead):
        ctx.announce()
    next_t = time.time()

    async def post(gen: Gen) -> None:
        body = {"topic": gen.topic, "slides": [{"title": "T", "bullets": ["a"]}]}
        t = time.time()
        gen.posted_at = t
        try:
            status, _, raw = await http(ctx.port, "POST", "/api/generate", body, timeout=30)
        except (OSError, TimeoutError, asyncio.IncompleteReadError) as exc:
            status, raw = None, repr(exc).encode()
        gen.post_status = status
        if status != 202:
            gen.finished = True  # nothing will ever run: let its clients go elsewhere
        ctx.posts.append(
            {"t": t, "latency": time.time() - t, "status": status, "gid": gen.gid}
            | ({"body": raw[:300].decode(errors="replace")} if status != 202 else {})
        )

    while time.time() < ctx.t_end:
        unposted = [g for g in ctx.gens if g.posted_at is None]
        await post(unposted[0])
        ctx.announce()
        next_t += a.post_interval
        await asyncio.sleep(max(0.0, next_t - time.time()))
    # Post what clients already wait for, so their streams can end.
    for gen in [g for g in ctx.gens if g.posted_at is None]:
        if gen.streams:
            await post(gen)
        else:
            gen.finished = True


async def prober(ctx: Ctx) -> None:
    next_t = time.time()
    while time.time() < ctx.t_end:
        t = time.time()
        entry: dict = {"t": t}
        try:
            status, _, raw = await http(ctx.port, "GET", "/health", timeout=10)
            entry["latency"] = time.time() - t
            entry["status"] = status
            if status == 200:
                body = json.loads(raw)
                entry["queries"] = body.get("queries")
                entry["open_streams"] = body.get("open_streams")
        except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError) as exc:
            entry["latency"] = time.time() - t
            entry["error"] = f"{type(exc).__name__}: {exc}"
        ctx.probes.append(entry)
        next_t += ctx.args.probe_interval
        now = time.time()
        if next_t < now:
            next_t = now  # a slow probe: start the next at once rather than bunch up
        await asyncio.sleep(next_t - now)


def proc_stat(pid: int) -> dict:
    out: dict = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmHWM", "VmRSS"):
                out[key] = int(value.split()[0])  # kB
            elif key == "Threads":
                out[key] = int(value)
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        out["cpu"] = (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime, seconds
    except (FileNotFoundError, ProcessLookupError):
        pass
    return out


def system_cpu() -> tuple[float, float]:
    """(busy, total) jiffies of all cores from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


async def sampler(ctx: Ctx, pids: dict[str, int]) -> None:
    while time.time() < ctx.t_end:
        entry = {"t": time.time(), "client_open_streams": ctx.open_streams}
        for name, pid in pids.items():
            entry[name] = proc_stat(pid)
        entry["system_cpu"] = system_cpu()
        entry["bench_cpu"] = sum(resource.getrusage(resource.RUSAGE_SELF)[:2])
        ctx.samples.append(entry)
        await asyncio.sleep(1.0)


async def lag_monitor(ctx: Ctx) -> None:
    """How late the bench's own event loop wakes up: if this grows, the client is the limit."""
    while time.time() < ctx.hard_deadline:
        t = time.perf_counter()
        await asyncio.sleep(0.05)
        ctx.lag.append(time.perf_counter() - t - 0.05)


async def reference(ctx: Ctx, gid: str, sem: asyncio.Semaphore) -> tuple[str, list[int] | str]:
    """The full list of stored-event ids of a generation, from a fresh Last-Event-ID: 0 stream."""
    async with sem:
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection("127.0.0.1", ctx.port), 10
            )
        except (OSError, TimeoutError) as exc:
            return gid, f"connect: {exc!r}"
        try:
            writer.write(
                request_bytes(
                    ctx.port,
                    "GET",
                    f"/api/progress/{gid}",
                    {"Accept": "text/event-stream", "Last-Event-ID": "0", "Connection": "close"},
                    b"",
                )
            )
            status, headers = await asyncio.wait_for(read_head(reader), 10)
            body = await asyncio.wait_for(read_body(reader, headers), 20)
        except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError) as exc:
            return gid, f"read: {exc!r}"
        finally:
            writer.close()
    ids = []
    for msg in SSEParser().feed(body):
        f = msg["fields"]
        if "data" in f:
            data = json.loads(f["data"])
            if data.get("status") not in SYNTHETIC and not data.get("heartbeat"):
                ids.append(int(f["id"]))
    return gid, ids


async def run_load(ctx: Ctx, pids: dict[str, int]) -> dict[str, list[int] | str]:
    a = ctx.args
    ctx.t0 = time.time()
    ctx.t_end = ctx.t0 + a.seconds
    ctx.hard_deadline = ctx.t_end + a.drain
    background = [
        asyncio.create_task(poster(ctx)),
        asyncio.create_task(prober(ctx)),
        asyncio.create_task(sampler(ctx, pids)),
    ]
    lag = asyncio.create_task(lag_monitor(ctx))
    clients = [asyncio.create_task(client(ctx, n)) for n in range(a.clients)]
    await asyncio.gather(*background)
    print(
        f"load window over; draining {ctx.open_streams} open stream(s) (at most {a.drain:g} s)",
        flush=True,
    )
    await asyncio.gather(*clients)
    lag.cancel()
    print("checking streams against Last-Event-ID: 0 replays", flush=True)
    sem = asyncio.Semaphore(REFERENCE_STREAMS)
    gids = sorted({r.gid for r in ctx.records})
    return dict(await asyncio.gather(*(reference(ctx, g, sem) for g in gids)))


# --- analysis --------------------------------------------------------------------------------


def pct(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile."""
    if not values:
        return None
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, int(round(p / 100 * len(ordered) + 0.5)) - 1))
    return ordered[k]


def dist(values: list[float], scale: float = 1000.0) -> dict:
    return {
        "n": len(values),
        "p50": _r(pct(values, 50), scale),
        "p90": _r(pct(values, 90), scale),
        "p95": _r(pct(values, 95), scale),
        "p99": _r(pct(values, 99), scale),
        "max": _r(max(values) if values else None, scale),
    }


def _r(value: float | None, scale: float) -> float | None:
    return None if value is None else round(value * scale, 1)


def read_db(path: Path) -> tuple[dict, dict]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        runs = {}
        for row in conn.execute(
            "SELECT id, generation_id, status, attempts, created_at, started_at, finished_at"
            " FROM runs ORDER BY id"
        ):
            runs[row["generation_id"]] = dict(row)  # newest run wins
        events: dict[int, dict] = {}
        for row in conn.execute("SELECT id, run_id, status, created_at FROM events ORDER BY id"):
            events[row["id"]] = dict(row)
    finally:
        conn.close()
    return runs, events


def classify(rec: StreamRecord, ref: list[int] | str | None, run: dict | None) -> str:
    if rec.error:
        return "error"
    if rec.busy:
        return "busy"
    if rec.status != 200:
        return f"http_{rec.status}"
    if rec.cut:
        return "cut_at_deadline"
    if not isinstance(ref, list):
        return "no_reference"
    got = [e[0] for e in rec.events]
    if got == ref and rec.done:
        return "ok"
    if (
        run
        and run["finished_at"]
        and rec.t_connected
        and rec.t_connected >= run["finished_at"] - LATE_JOIN_SLACK
        and len(got) == 1
        and got[0] == ref[-1]
    ):
        return "late_join"  # connected after the run ended: the contract sends only its end
    if len(set(got)) != len(got):
        return "duplicate"
    if any(b <= a for a, b in zip(got, got[1:], strict=False)):
        return "out_of_order"
    if set(got) - set(ref):
        return "unexpected_id"
    if set(ref) - set(got):
        return "missing"
    return "no_done" if not rec.done else "mismatch"


def contended_seconds(samples: list[dict], names: list[str]) -> list[tuple[int, int]]:
    """(second, % of one core) of each sample interval where other processes were busy."""
    out = []
    for a, b in zip(samples, samples[1:], strict=False):
        dt = b["t"] - a["t"]
        (b0, t0), (b1, t1) = a["system_cpu"], b["system_cpu"]
        busy = (os.cpu_count() or 1) * 100 * (b1 - b0) / max(1, t1 - t0)
        ours = 100 * (b["bench_cpu"] - a["bench_cpu"]) / dt
        for name in names:
            if a.get(name, {}).get("cpu") is not None and b.get(name, {}).get("cpu") is not None:
                ours += 100 * (b[name]["cpu"] - a[name]["cpu"]) / dt
        if busy - ours > CONTENDED_PCT:
            out.append((round(a["t"] - samples[0]["t"]), round(busy - ours)))
    return out


def analyse(ctx: Ctx, refs: dict, runs: dict, events: dict, pids: dict, final: dict) -> dict:
    a = ctx.args
    outcomes: dict[str, int] = {}
    per_client_ok: dict[int, bool] = {}
    live, replay, examples = [], [], []
    for rec in ctx.records:
        kind = classify(rec, refs.get(rec.gid), runs.get(rec.gid))
        rec_kind = kind
        outcomes[kind] = outcomes.get(kind, 0) + 1
        if kind != "cut_at_deadline":
            per_client_ok[rec.client] = per_client_ok.get(rec.client, True) and kind == "ok"
        if kind not in ("ok", "cut_at_deadline") and len(examples) < 10:
            examples.append(
                {
                    "kind": rec_kind,
                    "client": rec.client,
                    "gid": rec.gid,
                    "got": [e[0] for e in rec.events],
                    "expected": refs.get(rec.gid),
                    "error": rec.error,
                    "status": rec.status,
                    "connected_at": rec.t_connected,
                    "run": runs.get(rec.gid),
                }
            )
        for event_id, received, _status in rec.events:
            ev = events.get(event_id)
            if ev is None:
                continue
            delay = received - ev["created_at"]
            (live if ev["created_at"] >= rec.t_request else replay).append(delay)

    # The reference streams themselves against the database.
    ref_vs_db = {"equal": 0, "different": 0, "unreadable": 0}
    by_run: dict[int, list[int]] = {}
    for ev in events.values():
        by_run.setdefault(ev["run_id"], []).append(ev["id"])
    for gid, ref in refs.items():
        if not isinstance(ref, list):
            ref_vs_db["unreadable"] += 1
        elif gid in runs and by_run.get(runs[gid]["id"], []) == ref:
            ref_vs_db["equal"] += 1
        else:
            ref_vs_db["different"] += 1

    window = [p for p in ctx.probes if ctx.t0 <= p["t"] <= ctx.t_end]
    counted = [p for p in window if p.get("queries") is not None]
    qps = None
    if len(counted) >= 2:
        qps = (counted[-1]["queries"] - counted[0]["queries"]) / (
            counted[-1]["t"] - counted[0]["t"]
        )
    health_fail = [p for p in window if p.get("status") != 200]

    def cpu_share(name: str) -> float | None:
        s = [x for x in ctx.samples if x.get(name, {}).get("cpu") is not None]
        if len(s) < 2:
            return None
        return round(100 * (s[-1][name]["cpu"] - s[0][name]["cpu"]) / (s[-1]["t"] - s[0]["t"]), 1)

    sys_busy = None
    if len(ctx.samples) >= 2:
        (b0, t0), (b1, t1) = ctx.samples[0]["system_cpu"], ctx.samples[-1]["system_cpu"]
        sys_busy = round(100 * (b1 - b0) / max(1, t1 - t0), 1)
    busy_seconds = contended_seconds(ctx.samples, [k for k in pids])
    bench_cpu = None
    if len(ctx.samples) >= 2:
        bench_cpu = round(
            100
            * (ctx.samples[-1]["bench_cpu"] - ctx.samples[0]["bench_cpu"])
            / (ctx.samples[-1]["t"] - ctx.samples[0]["t"]),
            1,
        )
    web_threads = [s["web"].get("Threads", 0) for s in ctx.samples if s.get("web")]
    # Concurrency actually held: open streams seen by the clients and by the server.
    steady = [s for s in ctx.samples if s["t"] >= ctx.t0 + 2]
    client_open = [s["client_open_streams"] for s in steady]
    server_open = [
        p["open_streams"]
        for p in window
        if p.get("open_streams") is not None and p["t"] >= ctx.t0 + 2
    ]

    mine = [j for g, j in runs.items() if g.startswith(f"loadbench_{ctx.tag}_")]
    waits = [j["started_at"] - j["created_at"] for j in mine if j["started_at"]]
    run_times = [
        j["finished_at"] - j["started_at"] for j in mine if j["finished_at"] and j["started_at"]
    ]
    post_lat = [p["latency"] for p in ctx.posts]
    verified = sum(v for k, v in outcomes.items() if k not in ("cut_at_deadline", "late_join"))

    return {
        "config": {
            "clients": a.clients,
            "seconds": a.seconds,
            "workers": a.workers,
            "step_delay": a.step_delay,
            "post_interval": a.post_interval,
            "lead": a.lead,
            "join_running": a.join_running,
            "drain": a.drain,
            "probe_interval": a.probe_interval,
            "server_env": a.server_env,
            "bench_env": a.bench_env,
            "cpus": os.cpu_count(),
        },
        "streams": {
            "opened": len(ctx.records),
            "verified": verified,
            "ok": outcomes.get("ok", 0),
            "ok_pct": round(100 * outcomes.get("ok", 0) / verified, 2) if verified else None,
            "outcomes": outcomes,
            "clients_all_streams_ok": sum(per_client_ok.values()),
            "clients_with_streams": len(per_client_ok),
            "generations_followed": len(refs),
            "streams_per_generation": dist([g.streams for g in ctx.gens if g.streams], scale=1),
            "client_open_streams_steady": {
                "min": min(client_open, default=None),
                "mean": round(sum(client_open) / len(client_open), 1) if client_open else None,
            },
            "server_open_streams_steady": {
                "min": min(server_open, default=None),
                "max": max(server_open, default=None),
            },
            "connect_errors": ctx.connect_errors,
            "waiting_msgs": sum(r.waiting for r in ctx.records),
            "heartbeats": sum(r.heartbeats for r in ctx.records),
            "keepalives": sum(r.keepalives for r in ctx.records),
            "reference_vs_db": ref_vs_db,
            "examples": examples,
        },
        "event_latency_ms": {"live": dist(live), "replayed": dist(replay)},
        "health_ms": dist([p["latency"] for p in window])
        | {"failures": len(health_fail), "failure_examples": health_fail[:5]},
        "post_generate_ms": dist(post_lat)
        | {"non_202": [p for p in ctx.posts if p["status"] != 202][:5]},
        "web": {
            "queries_per_s": round(qps, 1) if qps is not None else None,
            "queries_per_open_stream_s": round(qps / (sum(server_open) / len(server_open)), 2)
            if qps and server_open
            else None,
            "peak_rss_mb": round(final.get("VmHWM", 0) / 1024, 1),
            "threads_max": max(web_threads, default=None),
            "threads_final": final.get("Threads"),
            "cpu_pct_of_one_core": cpu_share("web"),
        },
        "workers_cpu_pct": {k: cpu_share(k) for k in pids if k.startswith("worker")},
        "system_cpu_busy_pct_all_cores": sys_busy,
        # CPU used by processes other than this bench and its service (other runs on the host),
        # in % of one core: if large, the figures above were taken on a contended machine.
        "other_processes_cpu_pct_of_one_core": round(
            sys_busy * (os.cpu_count() or 1)
            - sum(v or 0 for v in [cpu_share("web"), bench_cpu])
            - sum(cpu_share(k) or 0 for k in pids if k.startswith("worker")),
            1,
        )
        if sys_busy is not None
        else None,
        # Seconds of the window in which other processes used over CONTENDED_PCT % of a core
        # (second from the start, % of one core): latency outliers there say little.
        "contended_seconds": busy_seconds,
        "bench": {
            "cpu_pct_of_one_core": bench_cpu,
            "loop_lag_ms": dist(ctx.lag),
        },
        "runs": {
            "posted": len(ctx.posts),
            "completed": sum(1 for j in mine if j["status"] == "completed"),
            "other": {
                s: sum(1 for j in mine if j["status"] == s)
                for s in ("queued", "running", "error", "cancelled")
            },
            "max_attempts_seen": max((j["attempts"] for j in mine), default=None),
            "queue_wait_s": dist(waits, scale=1),
            "run_s": dist(run_times, scale=1),
        },
    }


def show(result: dict, log_summary: dict) -> None:
    s, lat, w = result["streams"], result["event_latency_ms"], result["web"]

    def d(x: dict) -> str:
        return f"p50 {x['p50']}  p99 {x['p99']}  max {x['max']}  (n={x['n']})"

    def d95(x: dict) -> str:
        return f"p50 {x['p50']}  p95 {x['p95']}  p99 {x['p99']}  max {x['max']}  (n={x['n']})"

    rows = [
        ("clients x seconds", f"{result['config']['clients']} x {result['config']['seconds']} s"),
        ("service env set by the bench", json.dumps(result["config"]["bench_env"])),
        (
            "open streams (steady)",
            f"client side min {s['client_open_streams_steady']['min']} mean "
            f"{s['client_open_streams_steady']['mean']}; server min "
            f"{s['server_open_streams_steady']['min']} max {s['server_open_streams_steady']['max']}",
        ),
        ("streams opened / verified", f"{s['opened']} / {s['verified']}"),
        ("streams: every event once, in order", f"{s['ok']} / {s['verified']} ({s['ok_pct']}%)"),
        ("stream outcomes", json.dumps(s["outcomes"])),
        (
            "clients with all streams ok",
            f"{s['clients_all_streams_ok']} / {s['clients_with_streams']}",
        ),
        ("generations followed", f"{s['generations_followed']}"),
        ("reference stream vs DB", json.dumps(s["reference_vs_db"])),
        ("event latency live (ms)", d(lat["live"])),
        ("event latency replay (ms)", d(lat["replayed"])),
        (
            "/health (ms)",
            d95(result["health_ms"]) + f"  failures {result['health_ms']['failures']}",
        ),
        ("POST /api/generate (ms)", d95(result["post_generate_ms"])),
        (
            "web queries/s",
            f"{w['queries_per_s']}  ({w['queries_per_open_stream_s']} per open stream)",
        ),
        ("web peak RSS (VmHWM)", f"{w['peak_rss_mb']} MB"),
        ("web threads", f"max {w['threads_max']}"),
        ("web CPU", f"{w['cpu_pct_of_one_core']} % of one core"),
        ("workers CPU", json.dumps(result["workers_cpu_pct"])),
        (
            "system CPU busy",
            f"{result['system_cpu_busy_pct_all_cores']} % of all cores; other processes "
            f"{result['other_processes_cpu_pct_of_one_core']} % of one core; seconds over"
            f" {CONTENDED_PCT} %: {len(result['contended_seconds'])}"
            + (f" {result['contended_seconds']}" if result["contended_seconds"] else ""),
        ),
        (
            "bench CPU / loop lag",
            f"{result['bench']['cpu_pct_of_one_core']} % of one core; lag "
            f"{d(result['bench']['loop_lag_ms'])}",
        ),
        (
            "runs",
            f"posted {result['runs']['posted']}, completed {result['runs']['completed']}, "
            f"other {json.dumps(result['runs']['other'])}",
        ),
        ("run queue wait (s)", d(result["runs"]["queue_wait_s"])),
        ("run run time (s)", d(result["runs"]["run_s"])),
        ("web log warnings/errors", json.dumps(log_summary)),
    ]
    width = max(len(k) for k, _ in rows)
    print()
    for key, value in rows:
        print(f"{key.ljust(width)}  {value}")


def log_lines(path: Path) -> dict:
    if not path.exists():
        return {}
    lines = path.read_text(errors="replace").splitlines()
    bad = [ln for ln in lines if " WARNING " in ln or " ERROR " in ln or "Traceback" in ln]
    return {"warnings_errors": len(bad), "first": bad[:5]}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--clients", type=int, default=300, help="concurrent SSE clients (300)")
    p.add_argument("--seconds", type=float, default=60, help="load window (60)")
    p.add_argument("--workers", type=int, default=2, help="worker.py processes (2)")
    p.add_argument("--step-delay", type=float, default=0.5, help="VF_TEST_STEP_DELAY (0.5)")
    p.add_argument(
        "--post-interval",
        type=float,
        default=2.5,
        help="seconds between POSTs (2.5: one run runs ~4.1 s at the default step delay,"
        " so 2 workers keep up)",
    )
    p.add_argument(
        "--lead", type=int, default=2, help="generations announced to clients before their POST"
    )
    p.add_argument(
        "--join-running",
        type=float,
        default=0.25,
        help="share of stream starts that join a run already running (0.25)",
    )
    p.add_argument(
        "--drain", type=float, default=30, help="after the window, wait for open streams"
    )
    p.add_argument("--probe-interval", type=float, default=0.1, help="/health prober period")
    p.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra environment for serve.py and worker.py (repeatable)",
    )
    p.add_argument("--out", type=Path, help="result JSON (default bench/out/load_sse-<time>.json)")
    p.add_argument("--keep-data", action="store_true", help="keep the temporary data directory")
    a = p.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="vf-load-sse-"))
    port = free_port()
    extra = dict(kv.split("=", 1) for kv in a.server_env)
    # Every client of the bench is 127.0.0.1, so the per-client caps would refuse most of it
    # (a 429 past 64 streams or 5 queued runs): raise them, and say so.
    a.bench_env = {
        "VIDEOFORGE_MAX_STREAMS_PER_CLIENT": str(a.clients + REFERENCE_STREAMS + 16),
        "VIDEOFORGE_MAX_QUEUED_PER_CLIENT": "100000",
        "VIDEOFORGE_MAX_QUEUED": "100000",
    }
    env = base_env(
        data_dir,
        port,
        PYTHONPATH=str(ROOT),
        VF_TEST_STEP_DELAY=str(a.step_delay),
        VIDEOFORGE_LEASE_SECONDS="30",
        **(a.bench_env | extra),
    )
    svc = Service(data_dir, port, env)
    ctx = Ctx(a, port, tag=f"{int(time.time()) % 1_000_000:06d}")
    final: dict = {}
    refs: dict = {}
    try:
        web = svc.start_web()
        pids = {"web": web.pid}
        for i in range(a.workers):
            pids[f"worker{i + 1}"] = svc.start_worker().pid
        print(
            f"serve.py pid {web.pid} on 127.0.0.1:{port}, {a.workers} worker(s), data {data_dir};"
            f" {a.clients} clients for {a.seconds:g} s",
            flush=True,
        )
        print(
            "all clients are 127.0.0.1, so the service runs with "
            + ", ".join(f"{k}={env[k]}" for k in a.bench_env),
            flush=True,
        )
        overall = a.seconds + a.drain + 120
        try:
            refs = asyncio.run(asyncio.wait_for(run_load(ctx, pids), overall))
        except TimeoutError:
            print(f"the run did not finish within {overall:g} s; reporting what was seen")
        final = proc_stat(web.pid)
    finally:
        svc.stop()
    runs, events = read_db(data_dir / "videoforge.db")
    log_summary = log_lines(data_dir / "web.log")
    result = analyse(ctx, refs, runs, events, pids, final)
    result["web_log"] = log_summary
    result["worker_logs"] = {f.name: log_lines(f) for f in sorted(data_dir.glob("worker-*.log"))}
    show(result, log_summary)
    out = a.out or ROOT / "bench" / "out" / f"load_sse-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    raw = {
        "probes": ctx.probes,
        "posts": ctx.posts,
        "samples": ctx.samples,
        "generations": [asdict(g) for g in ctx.gens],
    }
    out.write_text(json.dumps(result | {"raw": raw}, indent=1, default=str))
    print(f"\nresult: {out}")
    if a.keep_data:
        print(f"data kept in {data_dir}")
    else:
        shutil.rmtree(data_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
