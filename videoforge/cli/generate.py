"""`videoforge generate`: make a video from the terminal, against a server or in this process.

Against a server (``--server URL``) the request goes to ``POST /api/generate``, the progress
comes from ``GET /api/progress/{id}`` and the MP4 from ``GET /api/generations/{id}/video``.
Without one, the run is queued in the configured database (the SQLite file in the data
directory by default), a worker in this process makes it with the real pipeline, and the
progress is read from the store's event log, as the stream reads it.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import shutil
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from ..core.errors import Conflict, VideoforgeError
from ..core.request import CLOSINGS, DEFAULT_FPS, FRAME_RATES, MAX_SOURCE_TEXT, TONES
from ..core.settings import ConfigError, Settings
from ..core.themes import THEME_NAMES
from ..core.types import SUPPORTED_SIZES
from .client import ApiClient, ApiError, Multipart, Unreachable, quote_id

DEFAULT_PIPELINE = "videoforge.pipeline.video:make_pipeline"
FOLLOW_INTERVAL = 0.1  # seconds between reads of the event log in-process
JOIN_PATIENCE = 30.0  # seconds an interrupted run gets to stop its worker thread

# Exit statuses.
EXIT_COMPLETED = 0
EXIT_FAILED = 1  # an error event, a cancelled run, a server that cannot be reached
EXIT_REFUSED = 2  # a refused request (4xx) or bad arguments
EXIT_INTERRUPTED = 130  # Ctrl-C

OUTLINE_HELP = """\
outline files (--outline):
  JSON: the "slides" list of POST /api/generate, [{"title": ..., "bullets": [...],
  "narration": ..., "image": ..., "animation": ...}], or an object holding it, such as
  the deck GET /api/generations/{id}/deck answers (its topic, language, tone, size, fps
  and voice are used unless given here).
  Markdown: each "# Title" line starts a slide; "- bullet" (or "* bullet") lines are its
  bullets; other text is its narration, spoken as written (a slide without narration
  speaks its title and bullets); a "![picture phrase]" line asks for a picture. E.g.:

    # What is photosynthesis?
    - Light becomes sugar
    - Happens in leaves
    Plants turn sunlight, water and air into food.
    ![green leaf in sunlight]

    # Why it matters
    - Oxygen
    - Food chains

documents (--document): Markdown or plain text, sent as source_text; headings become slides.

decks (--deck): a PDF or PowerPoint (.pptx) file, uploaded and narrated as it is: each page
  is a slide, speaking --narrations FILE (a JSON list, one per deck slide; null: its own),
  its speaker notes, or its own text; --skip 2,5 leaves slides out.

exit status: 0 completed; 1 the run failed (the step and the cause are printed), was
cancelled, or the server could not be reached; 2 the request was refused (the API's
detail is printed) or the arguments are wrong; 130 interrupted (Ctrl-C; in-process, the
run is cancelled first)."""

EXAMPLES = """\
examples:
  videoforge generate "Photosynthesis" --outline deck.md -o photosynthesis.mp4
  videoforge generate --document notes.md --size 1280x720 --json
  videoforge generate --deck lecture.pdf --narrations said.json -o lecture.mp4
  videoforge generate "The water cycle" --slides 4 --server http://localhost:8000 --token T"""


class Refused(Exception):
    """The request was refused before any run started (a 4xx, or bad arguments)."""

    def __init__(self, detail: str, status: int | None = None):
        super().__init__(detail)
        self.detail = detail
        self.status = status


@dataclass
class Outcome:
    """How a generation ended, as the final report says it."""

    generation_id: str
    status: str  # "completed", "error" or "cancelled"
    run_id: int | None = None
    video: str | None = None  # the path written with -o
    duration: float | None = None  # seconds of video
    error: str | None = None  # the error event's message

    def as_json(self) -> dict[str, Any]:
        return {
            "generation_id": self.generation_id,
            "run_id": self.run_id,
            "status": self.status,
            "video": self.video,
            "duration": self.duration,
            "error": self.error,
        }


# --- the request ---------------------------------------------------------------------------------

_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$")
_BULLET = re.compile(r"^\s{0,3}[-*+]\s+(.*)$")
_PICTURE = re.compile(r"^\s*!\[([^\]]*)\](?:\([^)]*\))?\s*$")


def read_outline(path: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Read an outline file: its slides, and the request fields a JSON deck carries.

    JSON is a slides list or an object with "slides" (and perhaps topic, language, tone,
    size, fps, voice); anything else is Markdown (see OUTLINE_HELP). Raises Refused naming
    the file and line of a problem; the slides' own rules are the server's to check.
    """
    text = _read_text(path)
    if text.lstrip().startswith(("[", "{")):
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise Refused(f"{path} is not valid JSON: {exc}") from None
        if isinstance(data, dict):
            if not isinstance(data.get("slides"), list):
                raise Refused(f'{path}: a JSON outline object needs a "slides" list')
            fields = ("topic", "language", "tone", "size", "fps", "voice")
            return data["slides"], {k: data[k] for k in fields if data.get(k) is not None}
        if isinstance(data, list):
            return data, {}
        raise Refused(f"{path}: a JSON outline is a list of slides or an object with slides")
    return parse_markdown_outline(text, str(path)), {}


def parse_markdown_outline(text: str, name: str = "outline") -> list[dict[str, Any]]:
    """Turn a Markdown outline into POST /api/generate's slides (see OUTLINE_HELP)."""
    slides: list[dict[str, Any]] = []
    narration: list[str] = []
    in_bullet = False

    def finish() -> None:
        if slides and narration:
            slides[-1]["narration"] = " ".join(narration)
        narration.clear()

    for number, line in enumerate(text.replace("\r\n", "\n").split("\n"), start=1):
        if not line.strip():
            in_bullet = False
            continue
        if heading := _HEADING.match(line):
            finish()
            slides.append({"title": heading.group(1), "bullets": []})
            in_bullet = False
            continue
        if not slides:
            raise Refused(
                f"{name}, line {number}: an outline starts each slide with a '# Title' line"
                " (write a document with --document instead)"
            )
        slide = slides[-1]
        if bullet := _BULLET.match(line):
            slide["bullets"].append(bullet.group(1).strip())
            in_bullet = True
        elif picture := _PICTURE.match(line):
            slide["image"] = picture.group(1).strip()
            in_bullet = False
        elif in_bullet and line[:1].isspace():
            slide["bullets"][-1] += " " + line.strip()  # a bullet's continuation line
        else:
            narration.append(line.strip())
            in_bullet = False
    finish()
    if not slides:
        raise Refused(f"{name} has no slides: start each with a '# Title' line")
    return slides


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise Refused(f"cannot read {path}: {exc}") from None


def build_request(args: argparse.Namespace) -> dict[str, Any]:
    """Return the POST /api/generate body the arguments describe."""
    body: dict[str, Any] = {}
    if args.outline is not None:
        slides, fields = read_outline(args.outline)
        body.update(fields)
        body["slides"] = slides
    elif args.document is not None:
        text = _read_text(args.document)
        if len(text) > MAX_SOURCE_TEXT:
            raise Refused(f"{args.document} is longer than {MAX_SOURCE_TEXT:,} characters")
        body["source_text"] = text
    elif args.deck is not None:
        if not args.deck.is_file():
            raise Refused(f"cannot read {args.deck}: no such file")
    elif not args.topic:
        raise Refused(
            "say what the video is about: a topic, --outline FILE, --document FILE or --deck FILE"
        )
    if (args.narrations is not None or args.skip) and args.deck is None:
        raise Refused("--narrations and --skip go with --deck")
    if args.narrations is not None:
        try:
            body["narrations"] = json.loads(_read_text(args.narrations))
        except ValueError as exc:
            raise Refused(f"{args.narrations} is not a JSON list: {exc}") from None
    if args.skip:
        try:
            body["skip"] = [int(n) for n in args.skip.split(",") if n.strip()]
        except ValueError:
            raise Refused("--skip takes deck slide numbers, such as 2,5") from None
    given = {
        "topic": args.topic,
        "num_slides": args.slides,
        "language": args.language,
        "tone": args.tone,
        "voice": args.voice,
        "size": args.size,
        "fps": args.fps,
        "theme": args.theme,
        "brand_color": args.brand_color,
        "logo": args.logo,
        "title_slide": args.title_slide,
        "subtitle": args.subtitle,
        "closing": args.closing,
        "burn_captions": args.burn_captions or None,
    }
    body.update({key: value for key, value in given.items() if value is not None})
    return body


# --- showing progress ----------------------------------------------------------------------------


class Display:
    """Show the stream's messages: a rich bar on a terminal, plain lines otherwise, or nothing."""

    def __init__(self, out: TextIO, *, quiet: bool = False, bar: bool | None = None):
        self.out = out
        self.quiet = quiet
        self.bar = (out.isatty() if bar is None else bar) and not quiet
        self._last: tuple[str, str] | None = None
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> Display:
        if self.bar:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                Progress,
                TaskProgressColumn,
                TextColumn,
                TimeElapsedColumn,
            )

            self._progress = Progress(
                TextColumn("{task.description}", markup=False),
                BarColumn(),
                TaskProgressColumn(),
                TimeElapsedColumn(),
                console=Console(file=self.out),
                transient=False,
            )
            self._progress.start()
            self._task = self._progress.add_task("Starting...", total=100)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def show(self, data: dict[str, Any]) -> None:
        """Show one message of the stream."""
        if self.quiet:
            return
        status = str(data.get("status", ""))
        message = str(data.get("message", ""))
        progress = data.get("progress")
        progress = progress if isinstance(progress, int) else 0
        if self._progress is not None:
            self._progress.update(self._task, completed=progress, description=message)
        if data.get("heartbeat") or (status, message) == self._last:
            return
        self._last = (status, message)
        line = f"[{data.get('timestamp') or '--:--:--'}] {progress:>3}% {status}: {message}"
        if self._progress is not None:
            self._progress.console.print(line, markup=False, highlight=False, style="dim")
        else:
            print(line, file=self.out, flush=True)

    def note(self, text: str) -> None:
        """Print a line of the client's own (not a stream message)."""
        if self.quiet:
            return
        if self._progress is not None:
            self._progress.console.print(text, markup=False, highlight=False)
        else:
            print(text, file=self.out, flush=True)


# --- against a server ----------------------------------------------------------------------------


def generate_remote(
    client: ApiClient,
    body: dict[str, Any],
    output: Path | None,
    display: Display,
    deck: Path | None = None,
) -> Outcome:
    """Queue the run on the server, follow its stream and download the MP4.

    With a deck, the request is a multipart upload: the file and the fields as form fields.
    """
    sent: Any = body
    if deck is not None:
        fields = {k: v if isinstance(v, str) else json.dumps(v) for k, v in body.items()}
        sent = Multipart(fields, "deck", deck)
    try:
        summary = client.json("POST", "/api/generate", sent)
    except ApiError as exc:
        if 400 <= exc.status < 500:
            raise Refused(exc.detail, exc.status) from None
        raise
    gid = summary["generation_id"]
    display.note(f"queued {gid} on {client.base_url}")
    final: dict[str, Any] | None = None
    for data in client.events(f"/api/progress/{quote_id(gid)}"):
        display.show(data)
        if data.get("status") in ("completed", "error") and not data.get("heartbeat"):
            final = data
    status = client.json("GET", f"/api/status/{quote_id(gid)}")
    outcome = Outcome(gid, status.get("run_status") or "error", run_id=status.get("run_id"))
    if final is None or final["status"] != "completed" or outcome.status != "completed":
        outcome.status = outcome.status if outcome.status != "completed" else "error"
        outcome.error = (final or {}).get("message") or status.get("error") or "the run failed"
        return outcome
    target = output or Path(f"{gid}.mp4")
    client.download(f"/api/generations/{quote_id(gid)}/video", target)
    outcome.video = str(target)
    outcome.duration = (status.get("result") or {}).get("duration")
    return outcome


# --- in this process -----------------------------------------------------------------------------


def generate_in_process(
    settings: Settings,
    body: dict[str, Any],
    output: Path | None,
    display: Display,
    *,
    pipeline_spec: str = DEFAULT_PIPELINE,
    deck: Path | None = None,
) -> Outcome:
    """Queue the run in the configured database and make it with a worker in this process.

    Runs queued before it in the same database (by a server sharing the data directory)
    are made first. Ctrl-C cancels the run: the worker stops Piper and ffmpeg, and the
    KeyboardInterrupt goes on to the caller once the worker thread has stopped.
    """
    from ..core.request import parse_generation_request
    from ..media.ffmpeg import ffmpeg_exe
    from ..store.database import Database
    from ..store.runs import RunStore
    from ..web.stream import clock_time
    from ..worker.loop import Worker
    from . import capabilities_for, load_pipeline

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        db = Database(settings.database, pool_size=4)
    except ValueError as exc:  # a DATABASE_URL of no known kind
        raise Refused(str(exc)) from None
    try:
        db.migrate()
        store = RunStore(db, max_attempts=settings.max_attempts)
        try:
            stored = _store_deck(settings, deck) if deck is not None else None
            request = parse_generation_request(body, capabilities_for(settings), stored)
        except VideoforgeError as exc:
            raise Refused(exc.detail) from None
        ffmpeg_exe()  # resolved before any run starts (imageio-ffmpeg checks it by running it)
        pipeline = load_pipeline(pipeline_spec, settings)
        try:
            run = store.enqueue(request.generation_id, request.to_json(), store.now())
        except Conflict as exc:
            raise Refused(exc.detail, 409) from None
        display.note(f"queued {run.generation_id} in {db.dialect} ({settings.data_dir})")
        worker = Worker(
            store,
            pipeline,
            runs_dir=settings.runs_dir,
            videos_dir=settings.videos_dir,
            lease_seconds=settings.lease_seconds,
            poll_interval=settings.worker_poll_interval,
            clock=store.now,
            uploads=_uploads(settings),
        )
        thread = threading.Thread(
            target=worker.run, kwargs={"once": True}, daemon=True, name="videoforge-worker"
        )
        thread.start()
        try:
            # A server's worker sharing the database may be the one making it.
            def working() -> bool:
                current = store.get(run.id)
                return thread.is_alive() or (current is not None and current.active)

            for event in _follow(store, run.id, working):
                display.show(
                    {
                        "status": event.status,
                        "progress": event.progress,
                        "message": event.message,
                        "timestamp": clock_time(event.created_at),
                    }
                )
        except KeyboardInterrupt:
            display.note("interrupted: cancelling the run...")
            try:
                store.cancel(run.generation_id, store.now())
            except VideoforgeError:
                pass  # it had already ended
            raise
        finally:
            worker.stop()
            thread.join(timeout=JOIN_PATIENCE)
        ended = store.get(run.id)
        assert ended is not None
        latest = store.latest_event(run.id)
        outcome = Outcome(run.generation_id, ended.status, run_id=run.id)
        if ended.status != "completed":
            if ended.status in ("queued", "running"):
                outcome.status = "error"  # the worker thread ended without finishing it
            outcome.error = (
                latest.message if latest and latest.status == "error" else ended.error
            ) or "the run did not finish"
            return outcome
        result = ended.result or {}
        target = output or Path(f"{run.generation_id}.mp4")
        shutil.copyfile(settings.videos_dir / result["video"], target)
        outcome.video = str(target)
        outcome.duration = result.get("duration")
        return outcome
    finally:
        db.close()


def _uploads(settings: Settings) -> Any:
    """Return where decks are stored: the data directory, and the bucket when there is one."""
    from ..store.objects import S3Artifacts
    from ..store.uploads import Uploads

    bucket = S3Artifacts.from_settings(settings) if settings.s3_bucket else None
    return Uploads(settings.uploads_dir, bucket)


def _store_deck(settings: Settings, path: Path) -> Any:
    """Store a deck file as the service stores an upload (and in the bucket, when there is one)."""
    uploads = _uploads(settings)
    try:
        with path.open("rb") as f:
            stored, _ = uploads.save(f.read, path.name, settings.deck_max_bytes)
    except OSError as exc:
        raise Refused(f"cannot read {path}: {exc}") from None
    uploads.publish(stored)
    return stored


def _follow(store: Any, run_id: int, working: Callable[[], bool]) -> Iterator[Any]:
    """Yield a run's events from the store until its final one (or its worker has stopped)."""
    last = 0
    while True:
        events = store.events_after(run_id, last)
        for event in events:
            last = event.id
            yield event
            if event.terminal:
                return
        if not events:
            if not working():
                # One more read: the worker may have written its last events as it stopped.
                for event in store.events_after(run_id, last):
                    yield event
                return
            time.sleep(FOLLOW_INTERVAL)


# --- the command ---------------------------------------------------------------------------------


def make_parser() -> argparse.ArgumentParser:
    """Return the parser of `videoforge generate`, with the outline format in its help."""
    parser = argparse.ArgumentParser(
        prog="videoforge generate",
        description=textwrap.fill(
            "Make a narrated slide video from a topic, an outline or a document, with"
            " a live progress bar, and save the MP4. With --server it asks a running videoforge"
            " service; without, it makes the video in this process on the configured database"
            " and data directory (VIDEOFORGE_DATA_DIR, DATABASE_URL).",
            88,
        ),
        epilog=f"{OUTLINE_HELP}\n\n{EXAMPLES}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "topic", nargs="?", help="what the video is about (alone, it needs a language model)"
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--outline", type=Path, metavar="FILE", help="slides: JSON or Markdown")
    source.add_argument(
        "--document", type=Path, metavar="FILE", help="Markdown or plain text to make slides from"
    )
    source.add_argument(
        "--deck", type=Path, metavar="FILE", help="a PDF or PowerPoint (.pptx) deck to narrate"
    )
    parser.add_argument(
        "--narrations",
        type=Path,
        metavar="FILE",
        help="with --deck: a JSON list of narrations, one per deck slide (null: its notes)",
    )
    parser.add_argument(
        "--skip", metavar="N,N", help="with --deck: deck slide numbers to leave out, e.g. 2,5"
    )
    parser.add_argument(
        "-o", "--output", type=Path, metavar="FILE", help="where to save the MP4 ({id}.mp4)"
    )
    parser.add_argument("--slides", type=int, metavar="N", help="number of slides (1-30)")
    parser.add_argument("--language", help="language of the narration (default: english)")
    parser.add_argument("--tone", choices=TONES, help="tone of the narration (default: formal)")
    parser.add_argument("--voice", help="a voice id from GET /api/voices")
    parser.add_argument(
        "--size",
        choices=[str(size) for size in SUPPORTED_SIZES],
        help="frame size (default: 1920x1080)",
    )
    parser.add_argument(
        "--fps",
        type=int,
        help=f"frames a second: {', '.join(map(str, FRAME_RATES))} (default: {DEFAULT_FPS})",
    )
    parser.add_argument("--theme", choices=THEME_NAMES, help="slide theme (default: the service's)")
    parser.add_argument("--brand-color", metavar="#RRGGBB", help="the brand theme's accent colour")
    parser.add_argument(
        "--logo", metavar="NAME", help="a media library picture for the title slide"
    )
    parser.add_argument(
        "--title-slide",
        action=argparse.BooleanOptionalAction,
        help="open with a title slide (default: the service's)",
    )
    parser.add_argument("--subtitle", help="the title slide's second line")
    parser.add_argument("--closing", choices=CLOSINGS, help="end with a closing slide")
    parser.add_argument(
        "--burn-captions", action="store_true", help="draw the captions into the picture"
    )
    parser.add_argument("--server", metavar="URL", help="a running videoforge service")
    parser.add_argument("--token", help="the service's API token (default: VIDEOFORGE_API_TOKEN)")
    parser.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object (generation_id, status, video, duration, error), no bar",
    )
    parser.add_argument(
        "--pipeline",
        default=DEFAULT_PIPELINE,
        help="in-process only: module:factory building the pipeline (default: the real one)",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="in-process only: show the worker's log"
    )
    return parser


def generate_main(
    argv: Sequence[str] | None = None,
    environ: dict[str, str] | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Run `videoforge generate`; return the exit status (see OUTLINE_HELP)."""
    out = out or sys.stdout
    err = err or sys.stderr
    args = make_parser().parse_args(argv)  # exits 2 on bad arguments
    try:
        settings = Settings.from_env(os.environ if environ is None else environ)
    except ConfigError as exc:
        return _refused(args, Refused(str(exc)), out, err)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        stream=err,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not args.verbose:  # the failure is reported below, with its step and cause
        logging.getLogger("videoforge.worker").setLevel(logging.CRITICAL)
    try:
        body = build_request(args)
        with Display(out, quiet=args.json) as display:
            if args.server:
                try:
                    client = ApiClient(args.server, args.token or settings.api_token)
                except ValueError as exc:
                    raise Refused(str(exc)) from None
                outcome = generate_remote(client, body, args.output, display, args.deck)
            else:
                outcome = generate_in_process(
                    settings,
                    body,
                    args.output,
                    display,
                    pipeline_spec=args.pipeline,
                    deck=args.deck,
                )
    except Refused as exc:
        return _refused(args, exc, out, err)
    except (Unreachable, ApiError, OSError, VideoforgeError) as exc:
        reason = exc.detail if isinstance(exc, VideoforgeError) else str(exc)
        if args.json:
            print(json.dumps({"status": "error", "error": reason}, ensure_ascii=False), file=out)
        print(f"videoforge generate: {reason}", file=err)
        return EXIT_FAILED
    except KeyboardInterrupt:
        if args.server:  # the service goes on; DELETE cancels there
            print("videoforge generate: interrupted; the run goes on at the server", file=err)
        else:
            print("videoforge generate: interrupted", file=err)
        return EXIT_INTERRUPTED
    if args.json:
        print(json.dumps(outcome.as_json(), ensure_ascii=False), file=out)
    if outcome.status == "completed":
        if not args.json:
            length = f" ({outcome.duration:.1f} s)" if outcome.duration is not None else ""
            print(f"✅ {outcome.video}{length}", file=out)
        return EXIT_COMPLETED
    print(f"videoforge generate: {outcome.status}: {outcome.error}", file=err)
    return EXIT_FAILED


def _refused(args: argparse.Namespace, exc: Refused, out: TextIO, err: TextIO) -> int:
    if args.json:
        answer = {"status": "refused", "http_status": exc.status, "error": exc.detail}
        print(json.dumps(answer, ensure_ascii=False), file=out)
    where = f" ({exc.status})" if exc.status else ""
    print(f"videoforge generate: refused{where}: {exc.detail}", file=err)
    return EXIT_REFUSED
