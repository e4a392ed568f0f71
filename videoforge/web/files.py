"""Finished outputs over HTTP: the MP4 (with Range), slide content, scripts and captions.

Each attempt at a run writes into its own folder, `runs/{run id}/{attempt}/`, and names its
MP4 `{generation id}-{run id}-{attempt}.mp4`; the run row says which attempt is current
(`attempts`) and which MP4 a completed run refers to (`result.video`). Only those are served,
from the configured artifacts (store/objects.py): the data directory, or an S3 bucket.
"""

from __future__ import annotations

import json
import re
import time

import falcon

from ..core.errors import Gone, InvalidRequest, NotFound
from ..core.request import check_generation_id
from ..core.types import DECK_FILE, STILLS_FOLDER, Run, still_name
from ..store.objects import Artifacts, Blob
from ..store.runs import RunStore
from .ranges import parse_range

_VIDEO_NAME = re.compile(r"^[\w-]{1,128}\.mp4$")
CAPTION_TYPES = {"vtt": "text/vtt; charset=utf-8", "srt": "application/x-subrip; charset=utf-8"}


def check_not_pruned(run: Run) -> None:
    """Raise Gone when the retention policy removed the run's files."""
    if run.pruned_at is not None:
        day = time.strftime("%Y-%m-%d", time.gmtime(run.pruned_at))
        raise Gone(
            f"the files of generation {run.generation_id!r} (run {run.id}) were removed on {day}"
            " by the retention policy (VIDEOFORGE_KEEP_DAYS, VIDEOFORGE_KEEP_MB); POST the"
            " request again to make them anew"
        )


def send_file(
    req: falcon.Request,
    resp: falcon.Response,
    blob: Blob | None,
    content_type: str,
    download_as: str | None = None,
) -> None:
    """Send a file with Accept-Ranges (206 for one range, 416 for a bad one), or redirect to it.

    When the artifacts give the file a presigned URL, the answer is a 307 to it: the
    client then fetches it, with its Range, from the bucket itself.
    """
    if blob is None:
        raise NotFound("no such file")
    url = blob.url(content_type, download_as)
    if url is not None:
        resp.status = falcon.HTTP_307
        resp.location = url
        resp.cache_control = ["no-store"]
        return
    size = blob.size
    resp.content_type = content_type
    resp.accept_ranges = "bytes"
    resp.cache_control = ["no-cache"]
    if download_as:
        resp.downloadable_as = download_as
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
    resp.stream = blob.read(start, length)


class Video:
    """GET /api/video/{filename}: a finished MP4 by file name.

    With a store, only an MP4 that a completed run refers to is served, never one an
    attempt that lost its run left behind.
    """

    def __init__(self, artifacts: Artifacts, store: RunStore | None = None):
        self.artifacts = artifacts
        self.store = store

    def on_get(self, req: falcon.Request, resp: falcon.Response, filename: str) -> None:
        if not _VIDEO_NAME.fullmatch(filename):
            raise InvalidRequest(
                "a video file name is letters, digits, '_' or '-' and ends in .mp4"
            )
        if self.store is not None and not self._referenced(filename):
            raise NotFound("no such file")
        send_file(req, resp, self.artifacts.find("videos", filename), "video/mp4")

    def _referenced(self, filename: str) -> bool:
        """Tell whether a completed run refers to this file name (`{gid}-{run}[-{attempt}].mp4`)."""
        assert self.store is not None
        parts = filename.removesuffix(".mp4").split("-")
        # The run id is the last part (names before attempts had their own) or the one before.
        candidates = {p for p in parts[-2:] if p.isascii() and p.isdigit() and len(p) < 19}
        for run_id in sorted(candidates):
            run = self.store.get(int(run_id))
            if run and run.status == "completed" and (run.result or {}).get("video") == filename:
                return True
        return False

    on_head = on_get


class GenerationVideo:
    """GET /api/generations/{id}/video: the newest finished video of a generation id."""

    def __init__(self, store: RunStore, artifacts: Artifacts):
        self.store = store
        self.artifacts = artifacts

    def on_get(self, req: falcon.Request, resp: falcon.Response, generation_id: str) -> None:
        check_generation_id(generation_id)
        for run in self.store.history(generation_id):
            if run.status == "completed" and run.result and run.result.get("video"):
                blob = self.artifacts.find("videos", run.result["video"])
                if blob is None:
                    check_not_pruned(run)
                send_file(req, resp, blob, "video/mp4")
                return
        raise NotFound(f"generation {generation_id!r} has no finished video yet")

    on_head = on_get


class RunFile:
    """A JSON or caption file the newest run of a generation id wrote into its run folder."""

    def __init__(self, store: RunStore, artifacts: Artifacts, name: str):
        self.store = store
        self.artifacts = artifacts
        self.name = name

    def _path(self, generation_id: str, name: str) -> Blob:
        """Return the file in the newest run's current attempt folder (or a run's older layout)."""
        check_generation_id(generation_id)
        run = self.store.newest(generation_id)
        if run is None:
            raise NotFound(f"no generation {generation_id!r}")
        # A run given back to the queue counts one attempt less until it is claimed again,
        # and its folder is reused then: attempt 0 reads as attempt 1.
        attempt = str(max(run.attempts, 1))
        for parts in ((str(run.id), attempt, name), (str(run.id), name)):
            blob = self.artifacts.find("runs", *parts)
            if blob is not None:
                return blob
        check_not_pruned(run)
        raise NotFound(f"generation {generation_id!r} has no {name} yet (status: {run.status})")

    def on_get(self, req: falcon.Request, resp: falcon.Response, generation_id: str) -> None:
        resp.media = json.loads(self._path(generation_id, self.name).text())


class Poster(RunFile):
    """GET /api/generations/{id}/poster.jpg: the newest run's first slide, as a JPEG.

    The run writes it as soon as its first slide is drawn, so a page can show it while the
    video is still being made.
    """

    def __init__(self, store: RunStore, artifacts: Artifacts):
        super().__init__(store, artifacts, "poster.jpg")

    def on_get(self, req: falcon.Request, resp: falcon.Response, generation_id: str) -> None:
        send_file(req, resp, self._path(generation_id, self.name), "image/jpeg")

    on_head = on_get


class Captions(RunFile):
    def __init__(self, store: RunStore, artifacts: Artifacts):
        super().__init__(store, artifacts, "captions")

    def on_get(
        self, req: falcon.Request, resp: falcon.Response, generation_id: str, ext: str
    ) -> None:
        if ext not in CAPTION_TYPES:
            raise NotFound("captions are served as .vtt or .srt")
        blob = self._path(generation_id, f"captions.{ext}")
        resp.content_type = CAPTION_TYPES[ext]
        resp.text = blob.text()


def _run_folders(run: Run) -> list[tuple[str, ...]]:
    """Return where a run's files may be: its current attempt's folder, then its older layout."""
    # A run given back to the queue counts one attempt less until it is claimed again.
    attempt = str(max(run.attempts, 1))
    return [(str(run.id), attempt), (str(run.id),)]


class CompletedRunFile:
    """A file the newest completed run of a generation id wrote: its deck and the deck's exports."""

    def __init__(self, store: RunStore, artifacts: Artifacts, name: str):
        self.store = store
        self.artifacts = artifacts
        self.name = name

    def _path(self, generation_id: str) -> tuple[Blob, Run]:
        """Return the file of the newest completed run; 404 without one, 410 when pruned."""
        check_generation_id(generation_id)
        history = self.store.history(generation_id)
        if not history:
            raise NotFound(f"no generation {generation_id!r}")
        run = next((r for r in history if r.status == "completed"), None)
        if run is None:
            raise NotFound(f"generation {generation_id!r} has no completed run yet")
        for folder in _run_folders(run):
            blob = self.artifacts.find("runs", *folder, self.name)
            if blob is not None:
                return blob, run
        check_not_pruned(run)
        raise NotFound(
            f"run {run.id} of generation {generation_id!r} has no {self.name}"
            " (it was made before this version); POST a new run to make one"
        )


class Deck(CompletedRunFile):
    """GET /api/generations/{id}/deck: the newest completed run's deck, as an outline to edit."""

    def __init__(self, store: RunStore, artifacts: Artifacts):
        super().__init__(store, artifacts, DECK_FILE)

    def on_get(self, req: falcon.Request, resp: falcon.Response, generation_id: str) -> None:
        blob, run = self._path(generation_id)
        deck = json.loads(blob.text())
        resp.media = deck | {"generation_id": generation_id, "run_id": run.id}


class DeckDownload(CompletedRunFile):
    """GET /api/generations/{id}/deck.pptx and deck.pdf: the newest completed run's exports."""

    def __init__(self, store: RunStore, artifacts: Artifacts, name: str, content_type: str):
        super().__init__(store, artifacts, name)
        self.content_type = content_type

    def on_get(self, req: falcon.Request, resp: falcon.Response, generation_id: str) -> None:
        blob, _ = self._path(generation_id)
        send_file(req, resp, blob, self.content_type, f"{generation_id}{blob.suffix}")

    on_head = on_get


_SLIDE_NUMBER = re.compile(r"[1-9][0-9]{0,2}")


class SlideImage:
    """GET /api/generations/{id}/slides/{n}.png: slide n's still, from the newest run that has stills.

    A run copies each still into its folder as the slide is done, so while a re-render is
    still speaking the earlier run's stills are served. Runs that ended in error or were
    cancelled are passed over: their deck was abandoned.
    """

    def __init__(self, store: RunStore, artifacts: Artifacts):
        self.store = store
        self.artifacts = artifacts

    def on_get(
        self, req: falcon.Request, resp: falcon.Response, generation_id: str, number: str
    ) -> None:
        check_generation_id(generation_id)
        if not _SLIDE_NUMBER.fullmatch(number):
            raise NotFound("slides are numbered from 1: /slides/1.png, /slides/2.png, ...")
        history = self.store.history(generation_id)
        if not history:
            raise NotFound(f"no generation {generation_id!r}")
        for run in history:
            if run.status in ("error", "cancelled"):
                continue
            for folder in _run_folders(run):
                if self.artifacts.has_folder("runs", *folder, STILLS_FOLDER):
                    blob = self.artifacts.find(
                        "runs", *folder, STILLS_FOLDER, still_name(int(number))
                    )
                    if blob is None:
                        raise NotFound(f"run {run.id} of {generation_id!r} has no slide {number}")
                    send_file(req, resp, blob, "image/png")
                    return
        check_not_pruned(history[0])
        raise NotFound(f"generation {generation_id!r} has no slide images yet")

    on_head = on_get
