"""Edit and re-render through the real serve.py and worker.py (offline pipeline): deck, new runs, exports."""

from __future__ import annotations

import io
import re

import pytest
from PIL import Image
from pptx import Presentation

from tests.conftest import POSTGRES_URL, _drop_schema, _postgres_schema_url
from tests.helpers import Service, base_env, free_port, read_stream, request, request_json
from videoforge.core.stages import STAGE

pytestmark = [pytest.mark.server, pytest.mark.slow]

TOPIC = "Cell biology"
GID = "Cell_biology"
OUTLINE = [
    {
        "title": "Cells",
        "bullets": ["Units of life"],
        "narration": "Cells are the smallest units of life.",
    },
    {"title": "Division", "bullets": ["Mitosis", "Meiosis"], "narration": "Cells divide."},
    {"title": "Energy", "bullets": ["Mitochondria"], "narration": "Mitochondria make energy."},
]
LONGER = (
    "Cells divide in two ways. Mitosis makes two identical cells, and meiosis makes the"
    " cells that carry half of the genes."
)


def events_of(service: Service, path: str) -> list[dict]:
    _, _, messages = read_stream(service, path, timeout=180)
    return [m.data for m in messages if m.data and not m.data.get("heartbeat")]


def status_of(service: Service) -> dict:
    return request_json(service, "GET", f"/api/status/{GID}")[1]


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def studio(request, tmp_path_factory):
    """A real service with the offline pipeline and one finished 3-slide generation."""
    data = tmp_path_factory.mktemp("rerender")
    port = free_port()
    env = base_env(data, port)
    schema = None
    if request.param == "postgres":
        if not POSTGRES_URL:
            pytest.skip("no PostgreSQL here: VIDEOFORGE_TEST_POSTGRES_URL is not set")
        env["DATABASE_URL"], schema = _postgres_schema_url()
    svc = Service(data, port, env)
    try:
        svc.start_web()
        svc.start_worker(pipeline=None)
        status, body = request_json(
            svc, "POST", "/api/generate", {"topic": TOPIC, "slides": OUTLINE, "size": "1280x720"}
        )
        assert status == 202, body
        events = events_of(svc, body["progress_url"])
        assert events[-2]["status"] == "completed", events[-3:]
        yield svc
    finally:
        svc.stop()
        if schema is not None:
            _drop_schema(schema)


def test_a_finished_generation_gives_its_deck_as_the_outline_it_was_made_from(studio):
    status, deck = request_json(studio, "GET", f"/api/generations/{GID}/deck")
    assert status == 200
    assert (deck["generation_id"], deck["topic"], deck["size"], deck["fps"]) == (
        GID,
        TOPIC,
        "1280x720",
        30,
    )
    assert deck["language"] == "english" and deck["voice"] and deck["tone"] == "formal"
    assert deck["run_id"] == status_of(studio)["run_id"]
    assert [{k: s[k] for k in ("title", "bullets", "narration")} for s in deck["slides"]] == OUTLINE
    assert all(s["image"] is None and s["animation"] is None for s in deck["slides"])


def test_content_and_script_answer_the_references_shapes(studio):
    _, content = request_json(studio, "GET", f"/api/content/{GID}")
    assert content["topic"] == TOPIC and content["total_slides"] == len(content["slides"]) == 3
    _, script = request_json(studio, "GET", f"/api/script/{GID}")
    assert (script["topic"], script["language"]) == (TOPIC, "english")
    assert script["slide_scripts"] == script["scripts"]
    assert [s["narration_text"] for s in script["slide_scripts"]] == [
        s["narration"] for s in OUTLINE
    ]
    assert script["total_duration"] == script["slide_scripts"][-1]["end_time"]


def test_each_slides_still_is_a_png_of_the_videos_size(studio):
    for n in (1, 2, 3):
        status, headers, data = request(studio, "GET", f"/api/generations/{GID}/slides/{n}.png")
        assert status == 200 and headers["content-type"] == "image/png"
        assert Image.open(io.BytesIO(data)).size == (1280, 720)
    for missing in ("4", "0", "01", "x"):
        status, _, _ = request(studio, "GET", f"/api/generations/{GID}/slides/{missing}.png")
        assert status == 404, missing
    assert request(studio, "GET", "/api/generations/Nothing_here/slides/1.png")[0] == 404


def test_the_pptx_has_the_decks_slides_titles_and_narration_as_notes(studio):
    status, headers, data = request(studio, "GET", f"/api/generations/{GID}/deck.pptx")
    assert status == 200
    assert headers["content-type"] == (
        "application/vnd.openxmlformats-officedocument.presentationml.presentation"
    )
    assert f'filename="{GID}.pptx"' in headers["content-disposition"]
    deck = Presentation(io.BytesIO(data))
    assert deck.slide_width / deck.slide_height == pytest.approx(16 / 9, 1e-3)
    assert [s.shapes.title.text for s in deck.slides] == [s["title"] for s in OUTLINE]
    assert [s.notes_slide.notes_text_frame.text for s in deck.slides] == [
        s["narration"] for s in OUTLINE
    ]


def test_the_pdf_has_one_page_per_slide(studio):
    status, headers, data = request(studio, "GET", f"/api/generations/{GID}/deck.pdf")
    assert status == 200 and headers["content-type"] == "application/pdf"
    assert f'filename="{GID}.pdf"' in headers["content-disposition"]
    assert data.startswith(b"%PDF-") and len(re.findall(rb"/Type\s*/Page\b", data)) == 3


def test_a_changed_narration_re_renders_as_a_new_run_of_the_same_id_reusing_the_rest(studio):
    first = status_of(studio)["result"]
    _, deck = request_json(studio, "GET", f"/api/generations/{GID}/deck")
    deck["slides"][1]["narration"] = LONGER
    status, run = request_json(
        studio, "POST", f"/api/generations/{GID}/runs", {"slides": deck["slides"]}
    )
    assert status == 202, run
    assert run["generation_id"] == GID and run["topic"] == TOPIC
    events = events_of(studio, run["progress_url"])
    assert events[-2]["status"] == "completed", events[-3:]
    assert all(STAGE[e["status"]].describes(e["progress"], e["message"]) for e in events)
    audio = [e for e in events if e["status"] == "generating_audio"]
    assert [e["message"] for e in audio] == [
        "♻️ Reused audio for slide 1/3",
        "🎤 Generating audio for slide 2/3...",
        audio[2]["message"],
        "♻️ Reused audio for slide 3/3",
    ]
    assert audio[2]["message"].startswith("✅ Generated audio for slide 2/3")
    # a reused slide's event has the progress its "done" event would have had
    assert [e["progress"] for e in audio] == [35, 35, 41, 47]
    assert [e["progress"] for e in events] == sorted(e["progress"] for e in events)
    # the slides' titles and bullets did not change, so neither did their pictures
    visuals = [e["message"] for e in events if e["status"] == "generating_slide"]
    assert visuals == [f"♻️ Reused text slide {i}/3" for i in (1, 2, 3)]

    second = status_of(studio)
    assert second["run_id"] == run["run_id"] != deck["run_id"]
    assert second["result"]["narrations_synthesized"] == 1
    assert second["result"]["duration"] > first["duration"]  # the longer narration is heard
    _, item = request_json(studio, "GET", f"/api/generations/{GID}")
    assert [r["run_id"] for r in item["history"]] == [run["run_id"], deck["run_id"]]
    assert all(r["status"] == "completed" for r in item["history"])
    _, script = request_json(studio, "GET", f"/api/script/{GID}")
    assert script["slide_scripts"][1]["narration_text"] == LONGER
    _, again = request_json(studio, "GET", f"/api/generations/{GID}/deck")
    assert again["run_id"] == run["run_id"] and again["slides"][1]["narration"] == LONGER


def test_slides_added_deleted_and_reordered_are_a_new_outline_and_a_second_post_waits(studio):
    _, deck = request_json(studio, "GET", f"/api/generations/{GID}/deck")
    first, second, third = deck["slides"]
    added = {"title": "Membranes", "bullets": ["Keep the inside in"], "narration": None}
    slides = [third, added, first]  # "Division" deleted, "Energy" moved first, one added
    status, run = request_json(studio, "POST", f"/api/generations/{GID}/runs", {"slides": slides})
    assert status == 202, run
    status, busy = request_json(studio, "POST", f"/api/generations/{GID}/runs", {"slides": slides})
    assert status == 409 and busy["status"] in ("queued", "running"), busy
    assert busy["title"] == "Conflict" and busy["detail"]
    events = events_of(studio, run["progress_url"])
    assert events[-2]["status"] == "completed", events[-3:]
    # every slide moved, so every picture is drawn anew (the still shows "n/N")
    visuals = [e["message"] for e in events if e["status"] == "generating_slide"]
    assert visuals == [f"🖼️ Created text slide {i}/3" for i in (1, 2, 3)]
    audio = [e["message"] for e in events if e["status"] == "generating_audio"]
    assert (
        audio[0] == "♻️ Reused audio for slide 1/3" and audio[-1] == "♻️ Reused audio for slide 3/3"
    )
    _, now = request_json(studio, "GET", f"/api/generations/{GID}/deck")
    assert [s["title"] for s in now["slides"]] == ["Energy", "Membranes", "Cells"]
    assert now["slides"][1]["narration"]  # written for the slide that had none
    _, headers, data = request(studio, "GET", f"/api/generations/{GID}/deck.pptx")
    titles = [s.shapes.title.text for s in Presentation(io.BytesIO(data)).slides]
    assert titles == ["Energy", "Membranes", "Cells"]
    assert request(studio, "GET", f"/api/generations/{GID}/slides/4.png")[0] == 404


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"slides": [{"title": "A", "bullets": []}], "topic": "Other"}, 400),
        ({"slides": [{"title": "A", "bullets": []}], "fps": 29}, 400),
        ({"tone": "casual"}, 400),
        ({"slides": [{"title": "A", "bullets": []}], "language": "klingon"}, 422),
    ],
)
def test_a_bad_re_render_is_refused_as_post_generate_refuses_it(studio, body, expected):
    status, error = request_json(studio, "POST", f"/api/generations/{GID}/runs", body)
    assert status == expected and error["detail"] and error["title"]


def test_an_unknown_generation_has_no_deck_exports_or_new_runs(studio):
    for path in ("deck", "deck.pptx", "deck.pdf", "slides/1.png"):
        status, error = request_json(studio, "GET", f"/api/generations/Nothing_here/{path}")
        assert status == 404 and error["detail"], path
    status, error = request_json(
        studio, "POST", "/api/generations/Nothing_here/runs", {"slides": OUTLINE}
    )
    assert (status, error["title"]) == (404, "Not Found")
