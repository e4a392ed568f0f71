"""The deck's exports, the re-render request and the paths that take ?token=, without a server."""

from __future__ import annotations

import re

import pytest
from PIL import Image, ImageDraw
from pptx import Presentation

from videoforge.core.errors import InvalidRequest, Unprocessable
from videoforge.core.request import Capabilities, parse_generation_request, parse_rerender_request
from videoforge.core.types import Size, Slide
from videoforge.pipeline.deck import deck_json
from videoforge.pipeline.export import keep_still, write_pdf, write_pptx
from videoforge.web.auth import takes_query_token

SLIDES = [
    Slide(1, "Cells", ("Units of life",), "Cells are the units of life."),
    Slide(2, "Division", ("Mitosis", "Meiosis"), "Cells divide in two ways."),
    Slide(3, "Energy", (), "Mitochondria make energy."),
]


def stills(tmp_path, size: Size) -> list:
    paths = []
    for i, slide in enumerate(SLIDES, start=1):
        image = Image.new("RGB", (size.width, size.height), (20 * i, 40, 90))
        ImageDraw.Draw(image).text((40, 40), slide.title, fill="white")
        paths.append(tmp_path / f"s{i}.png")
        image.save(paths[-1])
    return paths


def pdf_pages(data: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page\b", data))


@pytest.mark.parametrize("size", [Size(1920, 1080), Size(1080, 1920), Size(1080, 1080)])
def test_the_pptx_has_one_slide_per_slide_with_its_title_still_and_notes_at_the_videos_shape(
    tmp_path, size
):
    out = write_pptx(SLIDES, stills(tmp_path, size), size, tmp_path / "deck.pptx")
    deck = Presentation(str(out))
    assert deck.slide_width / deck.slide_height == pytest.approx(size.width / size.height, 1e-3)
    assert len(deck.slides) == len(SLIDES)
    for page, slide in zip(deck.slides, SLIDES, strict=True):
        assert page.shapes.title.text == slide.title
        assert page.notes_slide.notes_text_frame.text == slide.narration
        pictures = [s for s in page.shapes if s.shape_type == 13]  # MSO_SHAPE_TYPE.PICTURE
        assert len(pictures) == 1
        picture = pictures[0]
        assert (picture.left, picture.top) == (0, 0)
        assert (picture.width, picture.height) == (deck.slide_width, deck.slide_height)
        # the title is kept off the visible slide: the still already shows it
        assert page.shapes.title.top + page.shapes.title.height <= 0


def test_the_pdf_has_one_page_per_still(tmp_path):
    out = write_pdf(stills(tmp_path, Size(1280, 720)), tmp_path / "deck.pdf")
    data = out.read_bytes()
    assert data.startswith(b"%PDF-") and pdf_pages(data) == len(SLIDES)


def test_a_kept_still_is_a_copy_in_the_run_folders_slides(tmp_path):
    (source,) = stills(tmp_path, Size(1280, 720))[:1]
    kept = keep_still(source, 7, tmp_path / "run")
    assert kept == tmp_path / "run" / "slides" / "07.png"
    assert kept.read_bytes() == source.read_bytes() and not kept.samefile(source)


def test_the_deck_is_the_outline_a_new_request_accepts_with_its_narration_as_spoken():
    capabilities = Capabilities()
    flow = {"type": "flow", "steps": ["Ask", "Try", "Learn"]}
    asked = parse_generation_request(
        {
            "topic": "Cells",
            "size": "1280x720",
            "slides": [
                {"title": "Cells", "bullets": ["Units of life"]},
                {"title": "Steps", "bullets": ["Ask", "Try", "Learn"], "animation": flow},
            ],
        },
        capabilities,
    )
    spoken = [
        Slide(1, "Cells", ("Units of life",), "Cells. Units of life."),
        Slide(2, "Steps", ("Ask", "Try", "Learn"), "Ask, try, learn.", animation=flow),
    ]
    deck = deck_json("Cells", 4, asked, spoken)
    assert deck["run_id"] == 4 and deck["size"] == "1280x720" and deck["fps"] == 30
    assert [s["narration"] for s in deck["slides"]] == ["Cells. Units of life.", "Ask, try, learn."]
    assert deck["slides"][1]["animation"] == flow
    again = parse_rerender_request({"slides": deck["slides"]}, asked.to_json(), capabilities)
    assert again.generation_id == "Cells" and again.size == "1280x720"
    assert [s.narration for s in again.slides] == [s.narration for s in spoken]


def test_a_suggested_animation_is_left_out_of_the_deck_so_it_follows_edited_bullets():
    asked = parse_generation_request(
        {"topic": "How to bake", "slides": [{"title": "How to bake", "bullets": ["Mix", "Bake"]}]},
        Capabilities(),
    )
    suggested = [Slide(1, "How to bake", ("Mix", "Bake"), "Mix, then bake.", animation={"x": 1})]
    assert deck_json("How_to_bake", 1, asked, suggested)["slides"][0]["animation"] is None


def test_a_re_render_keeps_the_generations_topic_and_settings_unless_sent():
    generation = parse_generation_request(
        {
            "topic": "Cells and life",
            "tone": "casual",
            "fps": 25,
            "slides": [{"title": "A", "bullets": []}],
        },
        Capabilities(),
    ).to_json()
    slides = [{"title": "B", "bullets": ["b"]}]
    kept = parse_rerender_request({"slides": slides}, generation, Capabilities())
    assert (kept.topic, kept.tone, kept.fps, kept.generation_id) == (
        "Cells and life",
        "casual",
        25,
        "Cells_and_life",
    )
    changed = parse_rerender_request({"slides": slides, "fps": 60}, generation, Capabilities())
    assert changed.fps == 60 and changed.tone == "casual"


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ([], InvalidRequest),
        ({}, InvalidRequest),  # the slides are required
        ({"slides": [{"title": "A", "bullets": []}], "topic": "Other"}, InvalidRequest),
        ({"slides": [{"title": "A", "bullets": []}], "source_text": "# A"}, InvalidRequest),
        ({"slides": [{"title": "A"}]}, InvalidRequest),
        ({"slides": [{"title": "A", "bullets": []}], "fps": 29}, InvalidRequest),
        ({"slides": [{"title": "A", "bullets": []}], "language": "klingon"}, Unprocessable),
    ],
)
def test_a_re_render_body_is_refused_as_post_generate_would(body, error):
    generation = {"topic": "Cells", "language": "english", "voice": "piper:en_US-joe-medium"}
    with pytest.raises(error):
        parse_rerender_request(body, generation, Capabilities())


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/api/progress/Cells", True),
        ("/api/video/Cells-1-a1.mp4", True),
        ("/api/captions/Cells.vtt", True),
        ("/api/generations/Cells/video", True),
        ("/api/generations/Cells/poster.jpg", True),
        ("/api/generations/Cells/slides/2.png", True),
        ("/api/generations/Cells", False),
        ("/api/generations/Cells/deck", False),
        ("/api/generations/Cells/deck.pptx", False),
        ("/api/generations/Cells/runs", False),
        ("/api/generations/Cells/slides/2.png/x", False),
        ("/api/status/Cells", False),
        ("/health", False),
    ],
)
def test_only_what_a_browser_loads_without_headers_takes_the_token_in_the_url(path, allowed):
    assert takes_query_token(path) is allowed
