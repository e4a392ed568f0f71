"""Uploaded decks, fast: their kind told from their bytes, the request's deck fields, and what the
worker reads from a PDF or a PPTX (pages, titles, notes, hidden slides, refusals)."""

from __future__ import annotations

import pytest

from tests import decks
from videoforge.core.decks import DeckFile, clean_name, sniff_deck
from videoforge.core.errors import InvalidRequest, StageError, Unprocessable
from videoforge.core.request import (
    Capabilities,
    GenerationRequest,
    parse_generation_request,
    parse_rerender_request,
)
from videoforge.pipeline.uploaded import DeckLimits, check_pptx, pdf_pages, pptx_pages, read_deck

DECK = DeckFile("a" * 64 + ".pdf", "pdf", "Intro_to-cells.v2.pdf", 1234)
LIMITS = DeckLimits(max_pages=100, max_pixels=25_000_000)


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (b"%PDF-1.7\n", "pdf"),
        (b"\xef\xbb\xbf junk first %PDF-1.4", "pdf"),  # a header after junk, within 1,024 bytes
        (b"PK\x03\x04\x14\x00", "pptx"),
        (b"GIF89a", None),
        (b"", None),
        (b"x" * 1024 + b"%PDF-1.4", None),
    ],
)
def test_a_decks_kind_comes_from_its_bytes_not_its_name(head, kind):
    assert sniff_deck(head) == kind


def test_a_stored_deck_names_only_a_hash_and_gives_a_topic_from_its_name():
    assert DeckFile.from_json(DECK.to_json()) == DECK
    assert DECK.topic == "Intro to cells v2"
    assert DeckFile(DECK.file, "pdf", "???.pdf", 1).topic == "Deck"  # an id needs a letter
    for bad in ("../../etc/passwd", "a" * 64 + ".exe", "A" * 64 + ".pdf"):
        with pytest.raises(ValueError):
            DeckFile.from_json(DECK.to_json() | {"file": bad})
    assert clean_name("C:\\Users\\ann\\talk.pdf") == "talk.pdf"
    assert clean_name("../x/\x00evil\n.pdf") == "evil.pdf"


def test_a_deck_request_keeps_its_narrations_and_skips_and_round_trips():
    request = parse_generation_request(
        {"narrations": ["One.", None, "  Three  "], "skip": [3, 2, 3]}, Capabilities(), DECK
    )
    assert request.topic == "Intro to cells v2" and request.deck == DECK.to_json()
    assert request.narrations == ("One.", "", "Three") and request.skip == (2, 3)
    assert GenerationRequest.from_json(request.to_json()) == request


@pytest.mark.parametrize(
    ("body", "error", "detail"),
    [
        ({"slides": [{"title": "x"}]}, InvalidRequest, "not both"),
        ({"source_text": "# A"}, InvalidRequest, "not both"),
        ({"narrations": "One."}, InvalidRequest, "must be a list"),
        ({"narrations": [1]}, InvalidRequest, "entry 1 must be a string or null"),
        ({"skip": [True]}, InvalidRequest, "slide numbers"),
        ({"skip": list(range(1, 1002))}, InvalidRequest, "at most 1000"),
        ({"narrations": ["word " * 1000] * 60}, Unprocessable, "a video may have at most"),
    ],
)
def test_bad_deck_fields_are_refused(body, error, detail):
    with pytest.raises(error, match=detail):
        parse_generation_request(body, Capabilities(), DECK)


def test_narrations_without_a_deck_are_refused_and_a_deck_needs_no_language_model():
    with pytest.raises(InvalidRequest, match="go with an uploaded deck"):
        parse_generation_request({"topic": "T", "skip": [1]}, Capabilities())
    assert parse_generation_request({}, Capabilities(text_model=False), DECK).deck


def test_an_edited_deck_outline_becomes_narrations_and_skips_over_the_same_deck():
    first = parse_generation_request({"topic": "Cells"}, Capabilities(), DECK).to_json()
    edited = [
        {"title": "A", "narration": "Page two, new words.", "deck_slide": 2},
        {"title": "B", "narration": "", "deck_slide": 4},
    ]
    again = parse_rerender_request({"slides": edited}, first, Capabilities())
    assert again.topic == "Cells" and again.deck == DECK.to_json()
    assert again.narrations == ("", "Page two, new words.", "", "")
    assert 1 in again.skip and 3 in again.skip and 5 in again.skip
    assert 2 not in again.skip and 4 not in again.skip
    with pytest.raises(InvalidRequest, match="deck_slide"):
        parse_rerender_request({"slides": [{"narration": "x"}]}, first, Capabilities())


def test_a_pdfs_pages_give_titles_and_lines(tmp_path):
    pages = pdf_pages(decks.make_pdf(tmp_path / "d.pdf"), LIMITS)
    assert [(p.number, p.title, p.lines) for p in pages] == [
        (1, "Cells", ("The units of life",)),
        (2, "Tissues", ("Groups of similar cells",)),
        (3, "Organs", ("Tissues working together",)),
    ]


def test_a_pptx_gives_titles_bullets_notes_hidden_slides_and_its_picture(tmp_path):
    pptx = decks.make_pptx(tmp_path / "d.pptx", tmp_path / "p.png")
    check_pptx(pptx)
    pages = pptx_pages(pptx, tmp_path, LIMITS)
    assert [(p.title, p.lines, p.notes, p.hidden) for p in pages] == [
        (title, tuple(bullets), notes, hidden) for title, bullets, notes, hidden in decks.SLIDES
    ]
    assert pages[2].picture and pages[2].descriptions == ("a blue square",)
    assert (tmp_path / pages[2].picture).is_file() and not pages[0].picture


def test_the_narration_comes_from_the_request_then_the_notes_and_hidden_or_skipped_stay_out(
    tmp_path,
):
    pptx = decks.make_pptx(tmp_path / "d.pptx", tmp_path / "p.png")
    request = parse_generation_request(
        {"narrations": [None, "Hidden anyway.", "Said by the request."]}, Capabilities(), DECK
    )
    read = read_deck(pptx, "pptx", request, tmp_path, LIMITS)
    assert read.pdf is None and "LibreOffice is not installed" in read.note
    assert [(s.slide_number, s.deck_slide, s.narration) for s in read.slides] == [
        (1, 1, decks.SLIDES[0][2]),
        (2, 3, "Said by the request."),
    ]
    skipped = parse_generation_request({"skip": [1]}, Capabilities(), DECK)
    assert [s.deck_slide for s in read_deck(pptx, "pptx", skipped, tmp_path, LIMITS).slides] == [3]
    everything = parse_generation_request({"skip": [1, 3]}, Capabilities(), DECK)
    with pytest.raises(StageError, match="every slide of the deck is hidden or skipped"):
        read_deck(pptx, "pptx", everything, tmp_path, LIMITS)
    too_many = parse_generation_request({"narrations": ["a", "b", "c", "d"]}, Capabilities(), DECK)
    with pytest.raises(StageError, match="gives 4 narrations; the deck has 3 slides"):
        read_deck(pptx, "pptx", too_many, tmp_path, LIMITS)


def test_a_pptx_is_refused_before_python_pptx_loads_it(tmp_path):
    pptx = decks.make_pptx(tmp_path / "d.pptx", tmp_path / "p.png")
    with pytest.raises(ValueError, match="the deck has 3 slides; at most 2"):
        check_pptx(pptx, max_pages=2)  # counted in ppt/presentation.xml alone
    for made, words in (
        (decks.linked(pptx, tmp_path / "l.pptx", "http://10.0.0.1/x.png"), "links to files"),
        (decks.xml_bomb(pptx, tmp_path / "x.pptx"), "bytes of XML"),
        (decks.with_macros(pptx, tmp_path / "m.pptx"), "contains macros"),
    ):
        with pytest.raises(ValueError, match=words):
            check_pptx(made)


def test_a_hyperlink_to_a_website_is_no_reason_to_refuse_a_deck(tmp_path):
    from pptx import Presentation

    pptx = decks.make_pptx(tmp_path / "d.pptx", tmp_path / "p.png")
    deck = Presentation(str(pptx))
    run = deck.slides[0].placeholders[1].text_frame.paragraphs[0].runs[0]
    run.hyperlink.address = "https://example.org/cells"
    deck.save(str(tmp_path / "h.pptx"))
    check_pptx(tmp_path / "h.pptx")


def test_a_picture_past_the_pixel_cap_is_passed_over_before_it_is_decoded(tmp_path):
    pptx = decks.make_pptx(tmp_path / "d.pptx", tmp_path / "p.png")  # its picture: 400 x 300
    small = DeckLimits(max_pages=9, max_pixels=100_000)
    assert pptx_pages(pptx, tmp_path, small)[2].picture == ""
    assert pptx_pages(pptx, tmp_path, LIMITS)[2].picture


def test_speaker_notes_longer_than_a_slides_narration_may_be_are_refused(tmp_path):
    pptx = decks.make_pptx(tmp_path / "d.pptx", tmp_path / "p.png")
    short = DeckLimits(max_pages=9, max_pixels=10**7, max_slide_narration=20)
    request = parse_generation_request({}, Capabilities(), DECK)
    with pytest.raises(StageError, match="slide 1's speaker notes are 37 characters"):
        read_deck(pptx, "pptx", request, tmp_path, short)
    given = parse_generation_request(
        {"narrations": ["Short.", None, "Also short."]}, Capabilities(), DECK
    )
    assert len(read_deck(pptx, "pptx", given, tmp_path, short).slides) == 2


def test_limits_on_pages_are_the_deployments(tmp_path):
    pdf = decks.make_pdf(tmp_path / "d.pdf")
    request = parse_generation_request({}, Capabilities(), DECK)
    with pytest.raises(StageError, match="the deck has 3 pages; at most 2"):
        read_deck(pdf, "pdf", request, tmp_path, DeckLimits(max_pages=2, max_pixels=10**7))
    with pytest.raises(StageError, match="page 1 is 960 x 540 px at 72 dpi; pages up to 500,000"):
        read_deck(pdf, "pdf", request, tmp_path, DeckLimits(max_pages=9, max_pixels=500_000))
    tall = decks.wide_page(tmp_path / "tall.pdf", width=100, height=5000)
    with pytest.raises(StageError, match="too long and thin"):
        read_deck(tall, "pdf", request, tmp_path, LIMITS)
