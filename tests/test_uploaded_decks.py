"""Narrating a deck people already have: a PDF or a PPTX uploaded through the real server and
worker becomes a narrated video whose frames are the deck's pages, one chapter per slide."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from PIL import Image, ImageChops, ImageStat

from tests import decks
from tests.fake_openai import FakeOpenAI
from tests.helpers import (
    ROOT,
    offline_service,
    read_stream,
    request,
    request_json,
)
from videoforge.core.types import FoundImage, Size, Slide
from videoforge.media import inspection
from videoforge.render.draw import render_slide

pytestmark = [pytest.mark.server, pytest.mark.slow]

SIZE = Size(1280, 720)
DARK = (17, 24, 39)  # the dark theme's background, which letterboxes a page
NARRATIONS = ["Every living thing is made of cells.", None, "Organs are made of tissues."]


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    yield from offline_service(tmp_path_factory.mktemp("decks"))


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("deck-files")
    pptx = decks.make_pptx(folder / "cells.pptx", folder / "blue.png")
    pdf = decks.make_pdf(folder / "biology-basics.pdf")
    return {"folder": folder, "pdf": pdf, "pptx": pptx, "picture": folder / "blue.png"}


def upload(service, deck, **fields):
    """POST a deck as a browser form would; return (status, JSON answer)."""
    text = {k: v if isinstance(v, str) else json.dumps(v) for k, v in fields.items()}
    body, kind = decks.multipart({"size": str(SIZE), **text}, deck)
    status, _, data = request(
        service, "POST", "/api/generate", raw=body, headers={"Content-Type": kind}
    )
    return status, json.loads(data)


def follow(service, posted) -> list[dict]:
    _, _, messages = read_stream(service, posted["progress_url"], timeout=240)
    return [m.data for m in messages if m.data]


def finished(service, deck, **fields) -> dict:
    """Upload a deck, follow its run to the end and fetch what it made."""
    status, posted = upload(service, deck, **fields)
    assert status == 202, posted
    events = follow(service, posted)
    assert events[-2]["status"] == "completed", events[-4:]
    gid = posted["generation_id"]
    _, run = request_json(service, "GET", f"/api/status/{gid}")
    _, script = request_json(service, "GET", f"/api/script/{gid}")
    status, _, data = request(service, "GET", f"/api/generations/{gid}/video")
    assert status == 200
    video = service.data_dir / f"{gid}-{run['run_id']}.mp4"
    video.write_bytes(data)
    return {"gid": gid, "run": run, "script": script, "events": events, "video": video}


def frame_at(video, seconds: float, out) -> Image.Image:
    return Image.open(inspection.extract_frame(video, seconds, out)).convert("RGB")


def middles(script) -> list[float]:
    return [(s["start_time"] + s["end_time"]) / 2 for s in script["slide_scripts"]]


def page_picture(pdf, number: int) -> Image.Image:
    """Render a PDF page fitted into SIZE and letterboxed, independently of the service."""
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(str(pdf))
    page = document[number - 1]
    width, height = page.get_size()
    scale = min(SIZE.width / width, SIZE.height / height)
    picture = page.render(scale=scale, fill_color=(255, 255, 255, 255)).to_pil().convert("RGB")
    document.close()
    canvas = Image.new("RGB", (SIZE.width, SIZE.height), DARK)
    canvas.paste(picture, ((SIZE.width - picture.width) // 2, (SIZE.height - picture.height) // 2))
    return canvas


def difference(a: Image.Image, b: Image.Image) -> float:
    return max(ImageStat.Stat(ImageChops.difference(a, b)).mean)


def test_a_pdf_becomes_a_video_of_its_pages_with_the_requests_narration(service, files, tmp_path):
    made = finished(service, files["pdf"], narrations=NARRATIONS)
    assert made["gid"] == "biology_basics"  # the topic comes from the file's name
    # the narration: the request's, and the page's own text where it gives none
    said = [s["narration_text"] for s in made["script"]["slide_scripts"]]
    assert said == [NARRATIONS[0], "Tissues. Groups of similar cells.", NARRATIONS[2]]
    # one chapter per page, named after its title
    chapters = inspection.probe(made["video"]).chapters
    assert [c.title for c in chapters] == ["Cells", "Tissues", "Organs"]
    # each page was drawn (a generating_slide event each), and is what its slide shows
    pages = [e["message"] for e in made["events"] if e["status"] == "generating_slide"]
    assert pages == [f"📄 Rendered page {n} of the deck as slide {n}/3" for n in (1, 2, 3)]
    for n, at in enumerate(middles(made["script"]), start=1):
        shown = frame_at(made["video"], at, tmp_path / f"{n}.png")
        assert difference(shown, page_picture(files["pdf"], n)) < 3, n
        disc = shown.getpixel((966, 333))  # the centre of the page's disc
        assert all(abs(a - b) < 24 for a, b in zip(disc, decks.PAGES[n - 1][2], strict=True))
    # captions, and the deck's export back out, as for any run
    _, _, vtt = request(service, "GET", f"/api/captions/{made['gid']}.vtt")
    assert NARRATIONS[0] in vtt.decode()
    status, _, exported = request(service, "GET", f"/api/generations/{made['gid']}/deck.pdf")
    assert status == 200 and exported.startswith(b"%PDF")


def test_a_slides_narration_is_edited_and_rerendered_over_the_same_page(service, files, tmp_path):
    made = finished(service, files["pdf"], topic="Edit me", narrations=NARRATIONS)
    gid = made["gid"]
    _, deck = request_json(service, "GET", f"/api/generations/{gid}/deck")
    assert deck["deck"] == {"name": "biology-basics.pdf", "kind": "pdf"}
    assert [s["deck_slide"] for s in deck["slides"]] == [1, 2, 3]
    slides = deck["slides"]
    slides[1]["narration"] = "Tissues are cells that work together."
    del slides[0]  # and the first page is left out
    status, posted = request_json(
        service, "POST", f"/api/generations/{gid}/runs", {"slides": slides}
    )
    assert status == 202, posted
    assert follow(service, posted)[-2]["status"] == "completed"
    _, script = request_json(service, "GET", f"/api/script/{gid}")
    said = [s["narration_text"] for s in script["slide_scripts"]]
    assert said == ["Tissues are cells that work together.", NARRATIONS[2]]
    _, run = request_json(service, "GET", f"/api/status/{gid}")
    assert run["result"]["narrations_synthesized"] == 1  # the unchanged slide's speech reused
    _, _, data = request(service, "GET", f"/api/generations/{gid}/video")
    video = tmp_path / "edited.mp4"
    video.write_bytes(data)
    assert [c.title for c in inspection.probe(video).chapters] == ["Tissues", "Organs"]
    shown = frame_at(video, middles(script)[0], tmp_path / "f.png")
    assert difference(shown, page_picture(files["pdf"], 2)) < 3


@pytest.mark.skipif(
    decks.libreoffice() is None and not os.environ.get("VIDEOFORGE_REQUIRE_LIBREOFFICE"),
    reason="LibreOffice (soffice) is not installed; .ci/run installs it",
)
def test_a_pptx_with_libreoffice_keeps_its_design_speaks_its_notes_and_skips_hidden_slides(
    service, files, tmp_path
):
    made = finished(service, files["pptx"])
    said = [s["narration_text"] for s in made["script"]["slide_scripts"]]
    assert said == [decks.SLIDES[0][2], decks.SLIDES[2][2]]  # the notes; the hidden slide out
    assert "converted with LibreOffice" in " ".join(e["message"] for e in made["events"])
    chapters = inspection.probe(made["video"]).chapters
    assert [c.title for c in chapters] == ["Cells", "Tissues"]
    drawn = decks.libreoffice_pdf(files["pptx"], tmp_path / "lo")
    for n, (page, at) in enumerate(zip((1, 3), middles(made["script"]), strict=True)):
        shown = frame_at(made["video"], at, tmp_path / f"{n}.png")
        assert difference(shown, page_picture(drawn, page)) < 3, page
    # the same deck again: LibreOffice's PDF and the pages come from the cache
    again = finished(service, files["pptx"], topic="Cells again")
    reused = [e["message"] for e in again["events"] if e["status"] == "generating_slide"]
    assert reused == [
        "♻️ Reused page 1 of the deck as slide 1/2",
        "♻️ Reused page 3 of the deck as slide 2/2",
    ]


def test_a_pptx_without_libreoffice_is_drawn_by_our_layouts_and_says_so(
    make_service, files, tmp_path
):
    svc = make_service(VIDEOFORGE_SOFFICE="off")
    svc.start_web()
    svc.start_worker(pipeline=None)
    made = finished(svc, files["pptx"], topic="Drawn deck")
    said = [s["narration_text"] for s in made["script"]["slide_scripts"]]
    assert said == [decks.SLIDES[0][2], decks.SLIDES[2][2]]
    messages = [e["message"] for e in made["events"]]
    assert any("LibreOffice is not installed here: drawing the slides" in m for m in messages)
    assert [c.title for c in inspection.probe(made["video"]).chapters] == ["Cells", "Tissues"]
    first = render_slide(
        Slide(1, "Cells", ("Units of life", "Have a membrane")), SIZE, tmp_path / "1.png", total=2
    )
    last = render_slide(
        Slide(2, "Tissues", ("Groups of cells",)),
        SIZE,
        tmp_path / "2.png",
        total=2,
        image=FoundImage(files["picture"], "deck"),
    )
    for n, (expected, at) in enumerate(zip((first, last), middles(made["script"]), strict=True)):
        shown = frame_at(made["video"], at, tmp_path / f"f{n}.png")
        assert difference(shown, Image.open(expected).convert("RGB")) < 3, n


def test_slides_without_notes_are_narrated_by_the_language_model_from_text_and_pictures(
    make_service, files, tmp_path
):
    bare = decks.make_pptx(tmp_path / "bare.pptx", tmp_path / "p.png", notes=False)
    with FakeOpenAI() as fake:
        fake.script_chat(
            [json.dumps({"narrations": ["Cells build life.", "Tissues group cells."]})]
        )
        svc = make_service(
            VIDEOFORGE_SOFFICE="off", OPENAI_API_KEY=fake.api_key, OPENAI_BASE_URL=fake.url
        )
        svc.start_web()
        svc.start_worker(pipeline=None)
        made = finished(svc, bare, topic="Model narrated", voice="piper:en_US-joe-medium")
        asked = json.dumps(fake.requests_to("chat")[0].messages)
    said = [s["narration_text"] for s in made["script"]["slide_scripts"]]
    assert said == ["Cells build life.", "Tissues group cells."]
    assert "Groups of cells" in asked and "Picture: a blue square" in asked  # what it was told
    assert "Never shown" not in asked  # the hidden slide stays out


HOSTILE = {
    "truncated PDF": ("truncated.pdf", "the PDF cannot be read"),
    "10,000 pages": ("many.pdf", "the deck has 10,000 pages; at most 100"),
    "a page 100,000 px wide": ("wide.pdf", "VIDEOFORGE_DECK_MAX_PIXELS"),
    "zip bomb disguised as PPTX": ("bomb.pptx", "a zip bomb?"),
    "PPTX with macros": ("macros.pptx", "the deck contains macros"),
    "zip that is no presentation": ("photos.pptx", "holds no PowerPoint presentation"),
    "PPTX linking a private address": ("linked.pptx", "links to files or addresses outside"),
    "PPTX linking a local file": ("local.pptx", "links to files or addresses outside"),
    "XML bomb in a PPTX": ("xml.pptx", "bytes of XML (at most 32,000,000)"),
}


def hostile(files, name: str):
    folder = files["folder"]
    made = {
        "truncated.pdf": lambda p: decks.truncated(files["pdf"], p),
        "many.pdf": decks.many_pages,
        "wide.pdf": decks.wide_page,
        "bomb.pptx": lambda p: decks.zip_bomb(files["pptx"], p),
        "macros.pptx": lambda p: decks.with_macros(files["pptx"], p),
        "photos.pptx": lambda p: _plain_zip(p),
        "linked.pptx": lambda p: decks.linked(files["pptx"], p, "http://169.254.169.254/x.png"),
        "local.pptx": lambda p: decks.linked(files["pptx"], p, "file:///etc/hostname"),
        "xml.pptx": lambda p: decks.xml_bomb(files["pptx"], p),
    }
    return made[name](folder / name)


def _plain_zip(path):
    import zipfile

    with zipfile.ZipFile(path, "w") as z:
        z.writestr("holiday.txt", "not a deck")
    return path


@pytest.mark.parametrize("case", list(HOSTILE))
def test_a_hostile_deck_ends_in_an_error_event_naming_the_cause_and_the_worker_lives(
    service, files, case
):
    name, cause = HOSTILE[case]
    status, posted = upload(service, hostile(files, name), topic=f"Hostile {name}")
    assert status == 202, posted
    events = follow(service, posted)
    assert events[-2]["status"] == "error", events[-3:]
    message = events[-2]["message"]
    assert "generating_content failed: the uploaded deck:" in message and cause in message
    assert str(service.data_dir) not in message  # no server path in an error
    worker = service.procs[1]
    assert worker.poll() is None  # the worker is alive and goes on


def test_a_file_that_is_no_deck_whatever_its_name_is_a_415_and_stores_nothing(service, tmp_path):
    fake = tmp_path / "slides.pdf"
    fake.write_bytes(b"GIF89a this is a picture renamed to .pdf" * 10)
    before = sorted((service.data_dir / "uploads").glob("*"))
    status, answer = upload(service, fake, topic="Renamed")
    assert status == 415 and "PDF or a PowerPoint" in answer["detail"]
    assert sorted((service.data_dir / "uploads").glob("*")) == before
    assert request(service, "GET", "/api/status/Renamed")[0] == 404


@pytest.mark.parametrize(
    ("fields", "detail"),
    [
        ({"slides": "[]"}, "not both"),
        ({"narrations": '"one"'}, "'narrations' must be a list"),
        ({"narrations": json.dumps(["x" * 6000])}, "'narrations' entry 1 is 6000 characters"),
        ({"skip": "[0]"}, "'skip' lists the deck's slide numbers"),
        ({"fps": "thirty"}, "must be JSON"),
        ({"colour": "red"}, "unknown field(s): 'colour'"),
    ],
)
def test_bad_fields_of_a_deck_upload_are_a_400_and_queue_nothing(service, files, fields, detail):
    body, kind = decks.multipart({"topic": "Bad fields", **fields}, files["pdf"])
    status, _, data = request(
        service, "POST", "/api/generate", raw=body, headers={"Content-Type": kind}
    )
    assert status == 400 and detail in json.loads(data)["detail"]
    assert request(service, "GET", "/api/status/Bad_fields")[0] == 404


def test_a_form_without_a_deck_is_a_400_and_narrations_in_json_need_one(service):
    body, kind = decks.multipart({"topic": "No deck"}, None)
    status, _, data = request(
        service, "POST", "/api/generate", raw=body, headers={"Content-Type": kind}
    )
    assert status == 400 and "'deck' file" in json.loads(data)["detail"]
    status, answer = request_json(
        service, "POST", "/api/generate", {"topic": "No deck", "narrations": ["Hi."]}
    )
    assert status == 400 and "go with an uploaded deck" in answer["detail"]


def test_a_deck_over_its_size_limit_is_a_413_before_the_body_is_read(make_service, files):
    svc = make_service(VIDEOFORGE_DECK_MAX_MB="1")
    svc.start_web()
    big = files["folder"] / "big.pdf"
    big.write_bytes(files["pdf"].read_bytes() + b"%" * 3_000_000)
    body, kind = decks.multipart({"topic": "Too big"}, big)
    status, _, data = request(
        svc, "POST", "/api/generate", raw=body, headers={"Content-Type": kind}
    )
    assert status == 413 and "VIDEOFORGE_DECK_MAX_MB" in json.loads(data)["detail"]
    # a deck within the limit still goes through, and JSON keeps its own, smaller limit
    status, _ = upload(svc, files["pdf"], topic="Small enough")
    assert status == 202
    status, answer = request_json(svc, "POST", "/api/generate", {"topic": "x" * 2_000_000})
    assert status == 413 and "1048576 bytes" in answer["detail"]
    # the upload's limit is for deck uploads only: a form anywhere else keeps the JSON one
    body, kind = decks.multipart({"topic": "Elsewhere"}, files["pdf"])
    body += b"%" * 2_000_000
    for path in ("/api/generations/Too_big/runs", "/api/generate/x"):
        status, _, data = request(svc, "POST", path, raw=body, headers={"Content-Type": kind})
        assert status == 413 and "1048576 bytes" in json.loads(data)["detail"], path


def test_videoforge_generate_deck_makes_the_video_in_process(files, tmp_path):
    out = tmp_path / "talk.mp4"
    said = tmp_path / "said.json"
    said.write_text(json.dumps(NARRATIONS))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIDEOFORGE_", "OPENAI_"))}
    env.pop("DATABASE_URL", None)
    env["VIDEOFORGE_DATA_DIR"] = str(tmp_path / "data")
    done = subprocess.run(
        [sys.executable, "-m", "videoforge.cli", "generate", "--deck", str(files["pdf"])]
        + ["--narrations", str(said), "--size", str(SIZE), "-o", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "Rendered page 3 of the deck as slide 3/3" in done.stdout
    assert [c.title for c in inspection.probe(out).chapters] == ["Cells", "Tissues", "Organs"]
    shown = frame_at(out, 0.8, tmp_path / "first.png")
    assert difference(shown, page_picture(files["pdf"], 1)) < 3


def test_videoforge_generate_deck_uploads_to_a_server(service, files, tmp_path):
    out = tmp_path / "remote.mp4"
    done = subprocess.run(
        [sys.executable, "-m", "videoforge.cli", "generate", "--deck", str(files["pdf"])]
        + ["--skip", "2", "--server", service.base, "-o", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert [c.title for c in inspection.probe(out).chapters] == ["Cells", "Organs"]
