"""Uploaded decks: a PDF's pages or a PowerPoint's slides become the video's slides.

`read_deck` is the `generating_content` stage of a deck run. A PDF is checked and its text
read (`render.pages`); its pages are drawn later, one `generating_slide` event each. A PPTX
is checked as a zip first (a bomb, macros, no presentation inside), then read with
python-pptx (titles, text, pictures, speaker notes, hidden slides); with LibreOffice it is
converted to PDF, so its own design is what the video shows, otherwise its slides are drawn
by our layouts from their text and first picture. Nothing in a deck is ever run: macros
are refused, LibreOffice runs headless with a private profile, in a scratch folder, with a
timeout.

Each slide's narration comes from, in order: the request's `narrations`; the speaker
notes; the language model (in the scripts stage, from the slide's text and picture
descriptions); the slide's own text.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import re
import shutil
import signal
import subprocess
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from ..core.errors import StageError, Stopped
from ..core.outline import MAX_BULLET, MAX_BULLETS, MAX_TITLE
from ..core.request import GenerationRequest
from ..core.types import PagesFile, Slide
from ..render.pages import read_pdf
from .cache import Cache

log = logging.getLogger(__name__)

STEP = "generating_content"
MAX_MEMBERS = 10_000  # files inside a PPTX
MAX_UNPACKED = 300_000_000  # bytes a PPTX may unpack to (python-pptx holds every part in memory)
MAX_XML = 32_000_000  # bytes of XML in all (parsed, it takes ~20 times that in memory)
MAX_RATIO = 200  # how much one member may have been compressed, past 1 MB unpacked
MAX_PRESENTATION_XML = 5_000_000  # ppt/presentation.xml, read to count the slides first
PICTURES = "deck-pictures"
PAGES_PDF = ".pages.pdf"  # LibreOffice's PDF of an uploaded PPTX, when there is no cache
CONVERSION_VERSION = "soffice-pdf-1"
_HIDDEN_EXPORT = '{"ExportHiddenSlides":{"type":"boolean","value":"true"}}'


@dataclass(frozen=True)
class DeckPage:
    """One slide or page of an uploaded deck, as read."""

    number: int  # in the deck, from 1
    title: str
    lines: tuple[str, ...] = ()  # its other text
    notes: str = ""
    hidden: bool = False
    picture: str = ""  # its first picture, a file under the run folder (PPTX drawn by us)
    descriptions: tuple[str, ...] = ()  # its pictures' alternative texts


@dataclass(frozen=True)
class ReadDeck:
    """What the content stage read: the slides to narrate and where their pages are drawn from."""

    slides: list[Slide]
    pages: int  # in the deck, hidden and skipped ones included
    pdf: PagesFile | None  # the pages to show; None: draw the slides with our layouts
    descriptions: dict[int, tuple[str, ...]]  # deck slide number -> its pictures' alt texts
    note: str = ""  # said in the progress (how the deck was read)


@dataclass(frozen=True)
class DeckLimits:
    max_pages: int
    max_pixels: int
    soffice: str = ""  # the LibreOffice to convert a PPTX with; "" none
    timeout: float = 120.0
    max_slide_narration: int = 5000  # characters of one slide's narration (its notes too)


def read_deck(
    path: Path,
    kind: str,
    request: GenerationRequest,
    workdir: Path,
    limits: DeckLimits,
    should_stop: Callable[[], bool] = lambda: False,
    cache: Cache | None = None,
    digest: str = "",
) -> ReadDeck:
    """Read an uploaded deck into slides; StageError (generating_content) naming the cause.

    LibreOffice's PDF of a PPTX is kept in the cache (when one is given) under the deck's
    digest, so a re-render neither converts again nor draws its pages again. `digest` is
    the deck's SHA-256 when it is known (a stored deck is named by it); else it is read.
    """
    digest = digest or file_digest(path)
    try:
        if kind == "pdf":
            shown = PagesFile(path, digest)
            pages = pdf_pages(path, limits)
            return _deck(pages, request, shown, "its pages shown as they are", limits)
        check_pptx(path, limits.max_pages)
        pages = pptx_pages(path, workdir, limits)
        if not limits.soffice:
            note = (
                "LibreOffice is not installed here: drawing the slides from their text and pictures"
            )
            return _deck(pages, request, None, note, limits)
        key = Cache.key(CONVERSION_VERSION, digest, limits.soffice)
        if cache is not None:
            converted, _ = cache.get_or_create(
                key, ".pdf", lambda out: convert_to_pdf(path, out, workdir, limits, should_stop)
            )
        else:
            converted = convert_to_pdf(path, workdir / PAGES_PDF, workdir, limits, should_stop)
        drawn = pdf_pages(converted, limits)
        if len(drawn) != len(pages):
            raise ValueError(
                f"LibreOffice made {len(drawn)} pages of a deck of {len(pages)} slides"
            )
        how = "converted with LibreOffice, its design kept"
        return _deck(pages, request, PagesFile(converted, key), how, limits)
    except (Stopped, StageError):
        raise
    except ValueError as exc:
        raise StageError(STEP, f"the uploaded deck: {exc}") from None


def pdf_pages(path: Path, limits: DeckLimits) -> list[DeckPage]:
    """Read a PDF's pages: their first line of text is the title, the rest their lines."""
    read = []
    for page in read_pdf(path, max_pages=limits.max_pages, max_pixels=limits.max_pixels):
        lines = [" ".join(line.split()) for line in page.text.splitlines()]
        lines = [line for line in lines if line]
        title = lines[0][:MAX_TITLE] if lines else ""
        read.append(DeckPage(page.number, title, tuple(_bullets(lines[1:]))))
    return read


def _bullets(lines: list[str]) -> list[str]:
    return [line[:MAX_BULLET] for line in lines[:MAX_BULLETS]]


def check_pptx(path: Path, max_pages: int = 1000) -> None:
    """Refuse a zip that is no presentation, a bomb, macro-enabled, or linked to files outside it.

    Only the zip's directory and three kinds of small members are read here: the content
    types, `ppt/presentation.xml` (to count the slides before python-pptx loads them all)
    and the relationships.
    """
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ValueError(f"it is not a readable PowerPoint (.pptx) file ({exc})") from None
    with archive:
        members = archive.infolist()
        if len(members) > MAX_MEMBERS:
            raise ValueError(
                f"the PPTX holds {len(members):,} files (at most {MAX_MEMBERS:,}); a zip bomb?"
            )
        unpacked = sum(m.file_size for m in members)
        if unpacked > MAX_UNPACKED:
            raise ValueError(
                f"the PPTX would unpack to {unpacked:,} bytes (at most {MAX_UNPACKED:,});"
                " a zip bomb?"
            )
        for m in members:
            if m.file_size > 1_000_000 and m.file_size > MAX_RATIO * max(m.compress_size, 1):
                raise ValueError(
                    f"{m.filename[:100]!r} in the PPTX unpacks {m.file_size // max(m.compress_size, 1):,}"
                    " times its packed size; a zip bomb?"
                )
        xml = sum(m.file_size for m in members if m.filename.lower().endswith((".xml", ".rels")))
        if xml > MAX_XML:
            raise ValueError(
                f"the PPTX holds {xml:,} bytes of XML (at most {MAX_XML:,}); a zip bomb?"
            )
        by_name = {m.filename.lower(): m for m in members}
        main = by_name.get("ppt/presentation.xml")
        if main is None:
            raise ValueError(
                "the zip file holds no PowerPoint presentation (ppt/presentation.xml);"
                " send a PDF or a .pptx"
            )
        types = by_name.get("[content_types].xml")
        macros = [n for n in by_name if n.endswith("vbaproject.bin")]
        if macros or (types is not None and b"macroEnabled" in archive.read(types)):
            raise ValueError(
                "the deck contains macros (a macro-enabled presentation); macros are never"
                " opened here: save it as a PowerPoint Presentation (.pptx) without them"
            )
        if main.file_size > MAX_PRESENTATION_XML:
            raise ValueError("its ppt/presentation.xml is too large to be a presentation's")
        slides = len(re.findall(rb"<(?:\w+:)?sldId\b", archive.read(main)))
        if slides > max_pages:
            raise ValueError(
                f"the deck has {slides:,} slides; at most {max_pages} are narrated"
                " (VIDEOFORGE_DECK_MAX_PAGES)"
            )
        for m in members:
            if m.filename.lower().endswith(".rels") and _links_outside(archive.read(m)):
                raise ValueError(
                    f"it links to files or addresses outside it ({m.filename[:80]}); only what"
                    " is inside the deck is read: embed its pictures and media, and upload it"
                    " again"
                )


_EXTERNAL = re.compile(rb"<(?:\w+:)?Relationship\b[^>]*>", re.S)


def _links_outside(rels: bytes) -> bool:
    """Say whether relationships point outside the file (a linked picture, video, object).

    Hyperlinks are allowed: nothing follows them while a deck is read or converted.
    """
    for tag in _EXTERNAL.findall(rels):
        if re.search(rb'TargetMode\s*=\s*["\']External["\']', tag) and not re.search(
            rb'Type\s*=\s*["\'][^"\']*/hyperlink["\']', tag
        ):
            return True
    return False


def pptx_pages(path: Path, workdir: Path, limits: DeckLimits) -> list[DeckPage]:
    """Read a PPTX's slides: title, text, first picture (as a PNG in the run folder), notes."""
    from pptx import Presentation
    from pptx.exc import PackageNotFoundError

    try:
        deck = Presentation(str(path))
    except (PackageNotFoundError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise ValueError(f"python-pptx cannot read it ({exc})") from None
    except Exception as exc:  # lxml's XMLSyntaxError and the like: a damaged file
        raise ValueError(f"it is damaged ({type(exc).__name__}: {str(exc)[:200]})") from None
    slides = list(deck.slides)
    if not slides:
        raise ValueError("the presentation has no slides")
    if len(slides) > limits.max_pages:
        raise ValueError(
            f"the deck has {len(slides):,} slides; at most {limits.max_pages} are narrated"
            " (VIDEOFORGE_DECK_MAX_PAGES)"
        )
    try:
        return [
            _read_slide(slide, number, workdir, limits) for number, slide in enumerate(slides, 1)
        ]
    except ValueError:
        raise
    except Exception as exc:  # python-pptx meeting what it does not know: a damaged deck
        raise ValueError(f"it is damaged ({type(exc).__name__}: {str(exc)[:200]})") from None


def _read_slide(slide, number: int, workdir: Path, limits: DeckLimits) -> DeckPage:
    """Read one slide: its title, other text, pictures (and their descriptions), notes."""
    from pptx.shapes.group import GroupShape
    from pptx.shapes.picture import Picture

    title_shape = slide.shapes.title
    title = _one_line(title_shape.text_frame.text) if title_shape is not None else ""
    lines: list[str] = []
    pictures: list[tuple[bytes, str]] = []
    for shape in _shapes(slide.shapes, GroupShape):
        if title_shape is not None and shape.shape_id == title_shape.shape_id:
            continue
        if getattr(shape, "has_text_frame", False) and shape.has_text_frame:
            for paragraph in shape.text_frame.paragraphs:
                if text := _one_line(paragraph.text):
                    lines.append(text)
        if isinstance(shape, Picture):
            description = shape._element.nvPicPr.cNvPr.get("descr") or ""
            try:
                pictures.append((shape.image.blob, _one_line(description)))
            except (AttributeError, KeyError, ValueError):
                continue  # a linked picture, not in the file
    notes = ""
    if slide.has_notes_slide and slide.notes_slide.notes_text_frame is not None:
        notes = " ".join(slide.notes_slide.notes_text_frame.text.split())
    hidden = slide._element.get("show") in ("0", "false")
    picture = _keep_picture(pictures, workdir, number, limits.max_pixels)
    return DeckPage(
        number,
        title[:MAX_TITLE],
        tuple(_bullets(lines)),
        notes,
        hidden,
        picture,
        tuple(d for _, d in pictures if d),
    )


def _shapes(shapes, group: type):
    """Yield shapes, those inside groups too, in the slide's order."""
    for shape in shapes:
        if isinstance(shape, group):
            yield from _shapes(shape.shapes, group)
        else:
            yield shape


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _keep_picture(
    pictures: list[tuple[bytes, str]], workdir: Path, number: int, max_pixels: int
) -> str:
    """Save the slide's first picture Pillow can read as a PNG; return its run-folder name.

    A picture of more than max_pixels is passed over before it is decoded.
    """
    folder = workdir / PICTURES
    for blob, _ in pictures:
        try:
            with Image.open(io.BytesIO(blob)) as picture:
                if picture.width * picture.height > max_pixels:
                    log.info("slide %d: a picture of %dx%d px passed over", number, *picture.size)
                    continue
                picture.load()
                folder.mkdir(exist_ok=True)
                name = f"{PICTURES}/{number}.png"
                picture.convert("RGB").save(workdir / name, "PNG")
                return name
        except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
            continue  # EMF/WMF, damaged or too large: the slide goes without it
    return ""


_NO_MACROS = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Common/Security/Scripting"><prop oor:name="MacroSecurityLevel" oor:op="fuse"><value>3</value></prop></item>
<item oor:path="/org.openoffice.Office.Common/Security/Scripting"><prop oor:name="DisableMacrosExecution" oor:op="fuse"><value>true</value></prop></item>
<item oor:path="/org.openoffice.Office.Common/Security/Scripting"><prop oor:name="BlockUntrustedRefererLinks" oor:op="fuse"><value>true</value></prop></item>
</oor:items>
"""


def convert_to_pdf(
    pptx: Path, out: Path, workdir: Path, limits: DeckLimits, should_stop: Callable[[], bool]
) -> Path:
    """Convert a PPTX to the PDF `out` with LibreOffice (headless, hidden slides kept).

    It runs in a scratch folder of the run's, removed afterwards, with a private profile
    that disables macros; it is killed (its whole process group) past the timeout or when
    the run stops.
    """
    scratch = (workdir / ".soffice").resolve()  # soffice runs in it: paths must be absolute
    shutil.rmtree(scratch, ignore_errors=True)
    try:
        return _convert(pptx, out, scratch, limits, should_stop)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _convert(
    pptx: Path, out: Path, scratch: Path, limits: DeckLimits, should_stop: Callable[[], bool]
) -> Path:
    (scratch / "profile" / "user").mkdir(parents=True)
    (scratch / "profile" / "user" / "registrymodifications.xcu").write_text(_NO_MACROS)
    source = scratch / "deck.pptx"
    shutil.copyfile(pptx, source)
    argv = [
        limits.soffice,
        f"-env:UserInstallation={(scratch / 'profile').as_uri()}",
        "--headless",
        "--invisible",
        "--norestore",
        "--nolockcheck",
        "--nodefault",
        "--convert-to",
        f"pdf:impress_pdf_Export:{_HIDDEN_EXPORT}",
        "--outdir",
        str(scratch),
        str(source),
    ]
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(scratch), "LANG": "C.UTF-8"}
    started = time.monotonic()
    with (scratch / "soffice.log").open("wb") as said_to:
        process = subprocess.Popen(
            argv,
            cwd=scratch,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=said_to,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        while process.poll() is None:
            if should_stop():
                raise Stopped("the run stopped while LibreOffice converted the deck")
            if time.monotonic() - started > limits.timeout:
                raise ValueError(
                    f"LibreOffice took longer than {limits.timeout:.0f} s to convert it"
                    " (VIDEOFORGE_SOFFICE_TIMEOUT)"
                )
            time.sleep(0.1)
    finally:
        if process.poll() is None:
            _kill(process)
    said = (scratch / "soffice.log").read_bytes()[-4000:].decode("utf-8", "replace")
    made = scratch / "deck.pdf"
    if process.returncode != 0 or not made.is_file():
        tail = re.sub(r"\s+", " ", said)[-300:]
        raise ValueError(
            f"LibreOffice could not convert it (exit status {process.returncode}): {tail}"
        )
    shutil.move(made, out)
    log.info("converted a deck with LibreOffice in %.1f s", time.monotonic() - started)
    return out


def _kill(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


def file_digest(path: Path) -> str:
    """Return the SHA-256 of a file, read a megabyte at a time."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _deck(
    pages: list[DeckPage],
    request: GenerationRequest,
    pdf: PagesFile | None,
    note: str,
    limits: DeckLimits,
) -> ReadDeck:
    """Choose the slides to narrate and give each the narration the request or notes say."""
    if len(request.narrations) > len(pages):
        raise ValueError(
            f"the request gives {len(request.narrations)} narrations; the deck has"
            f" {len(pages)} slides (one entry per slide, hidden and skipped ones included)"
        )
    kept = [p for p in pages if not p.hidden and p.number not in request.skip]
    if not kept:
        raise ValueError("every slide of the deck is hidden or skipped")
    slides = []
    for page in kept:
        given = (
            request.narrations[page.number - 1] if page.number <= len(request.narrations) else ""
        )
        if not given and len(page.notes) > limits.max_slide_narration:
            raise ValueError(
                f"slide {page.number}'s speaker notes are {len(page.notes):,} characters; a"
                f" slide's narration may have {limits.max_slide_narration:,}"
                " (VIDEOFORGE_MAX_SLIDE_NARRATION): shorten them, or send that slide's"
                " narration in 'narrations'"
            )
        slides.append(
            Slide(
                len(slides) + 1,
                page.title or f"Slide {page.number}",
                page.lines,
                given or page.notes,
                deck_slide=page.number,
                picture="" if pdf is not None else page.picture,
            )
        )
    descriptions = {p.number: p.descriptions for p in kept if p.descriptions}
    return ReadDeck(slides, len(pages), pdf, descriptions, note)


def with_descriptions(slides: list[Slide], descriptions: dict[int, tuple[str, ...]]) -> list[Slide]:
    """Return the slides as the language model sees them: their pictures' descriptions as lines."""
    return [
        replace(s, bullets=s.bullets + tuple(f"Picture: {d}" for d in descriptions[s.deck_slide]))
        if s.deck_slide in descriptions
        else s
        for s in slides
    ]
