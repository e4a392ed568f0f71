"""Finished outputs over HTTP: the MP4 (with Range), slide content, scripts and captions."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import falcon

from ..core.errors import InvalidRequest, NotFound
from ..core.request import check_generation_id
from ..store.runs import RunStore
from .ranges import parse_range

CHUNK = 256 * 1024
_VIDEO_NAME = re.compile(r"^[\w-]{1,128}\.mp4$")
CAPTION_TYPES = {"vtt": "text/vtt; charset=utf-8", "srt": "application/x-subrip; charset=utf-8"}


def inside(root: Path, *parts: str) -> Path:
    """Join parts under root and refuse any result that escapes it (symlinks resolved)."""
    base = root.resolve()
    path = base.joinpath(*parts).resolve()
    if path != base and base not in path.parents:
        raise NotFound("no such file")
    return path


def _read_slice(path: Path, start: int, length: int) -> Iterator[bytes]:
    with path.open("rb") as f:
        f.seek(start)
        while length > 0:
            chunk = f.read(min(CHUNK, length))
            if not chunk:
                return
            length -= len(chunk)
            yield chunk


def send_file(req: falcon.Request, resp: falcon.Response, path: Path, content_type: str) -> None:
    """Send a file with Accept-Ranges; a single byte range answers 206, a bad one 416."""
    if not path.is_file():
        raise NotFound("no such file")
    size = path.stat().st_size
    resp.content_type = content_type
    resp.accept_ranges = "bytes"
    resp.cache_control = ["no-cache"]
    byte_range = parse_range(req.get_header("Range"), size)
    if byte_range is None:
        start, end = 0, size - 1
    else:
        start, end = byte_range
        resp.status = falcon.HTTP_206
        resp.content_range = (start, end, size)
    length = max(0, end - start + 1)
    resp.content_length = length
    if req.method == "HEAD":
        return
    resp.stream = _read_slice(path, start, length)


class Video:
    """GET /api/video/{filename}: a finished MP4 by file name."""

    def __init__(self, videos_dir: Path):
        self.videos_dir = videos_dir

    def on_get(self, req: falcon.Request, resp: falcon.Response, filename: str) -> None:
        if not _VIDEO_NAME.fullmatch(filename):
            raise InvalidRequest(
                "a video file name is letters, digits, '_' or '-' and ends in .mp4"
            )
        send_file(req, resp, inside(self.videos_dir, filename), "video/mp4")

    on_head = on_get


class GenerationVideo:
    """GET /api/generations/{id}/video: the newest finished video of a generation id."""

    def __init__(self, store: RunStore, videos_dir: Path):
        self.store = store
        self.videos_dir = videos_dir

    def on_get(self, req: falcon.Request, resp: falcon.Response, generation_id: str) -> None:
        check_generation_id(generation_id)
        for run in self.store.history(generation_id):
            if run.status == "completed" and run.result and run.result.get("video"):
                path = inside(self.videos_dir, run.result["video"])
                send_file(req, resp, path, "video/mp4")
                return
        raise NotFound(f"generation {generation_id!r} has no finished video yet")

    on_head = on_get


class RunFile:
    """A JSON or caption file the newest run of a generation id wrote into its run folder."""

    def __init__(self, store: RunStore, runs_dir: Path, name: str):
        self.store = store
        self.runs_dir = runs_dir
        self.name = name

    def _path(self, generation_id: str, name: str) -> Path:
        check_generation_id(generation_id)
        run = self.store.newest(generation_id)
        if run is None:
            raise NotFound(f"no generation {generation_id!r}")
        path = inside(self.runs_dir, str(run.id), name)
        if not path.is_file():
            raise NotFound(f"generation {generation_id!r} has no {name} yet (status: {run.status})")
        return path

    def on_get(self, req: falcon.Request, resp: falcon.Response, generation_id: str) -> None:
        path = self._path(generation_id, self.name)
        resp.media = json.loads(path.read_text(encoding="utf-8"))


class Captions(RunFile):
    def __init__(self, store: RunStore, runs_dir: Path):
        super().__init__(store, runs_dir, "captions")

    def on_get(
        self, req: falcon.Request, resp: falcon.Response, generation_id: str, ext: str
    ) -> None:
        if ext not in CAPTION_TYPES:
            raise NotFound("captions are served as .vtt or .srt")
        path = self._path(generation_id, f"captions.{ext}")
        resp.content_type = CAPTION_TYPES[ext]
        resp.text = path.read_text(encoding="utf-8")
