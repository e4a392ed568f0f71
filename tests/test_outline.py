"""Outlines and documents become slides without a language model."""

from __future__ import annotations

import re

import pytest

from videoforge.core.errors import InvalidRequest, Unprocessable
from videoforge.core.outline import (
    derive_topic,
    narrate,
    parse_document,
    parse_outline,
    strip_inline_markdown,
    suggest_animation,
)
from videoforge.core.text import split_sentences

# --- parse_outline -----------------------------------------------------------------------------


def test_outline_slides_are_numbered_trimmed_and_keep_their_fields():
    slides = parse_outline(
        [
            {"title": "  Intro ", "bullets": [" one ", "two"], "narration": " Hello. "},
            {"title": "Next", "bullets": [], "narration": "Said.", "image": "rocket"},
            {"title": "Then", "bullets": [], "animation": {"type": "flow", "steps": [" a ", "b"]}},
        ]
    )
    assert [s.slide_number for s in slides] == [1, 2, 3]
    assert slides[0].title == "Intro"
    assert slides[0].bullets == ("one", "two")
    assert slides[0].narration == "Hello."
    assert slides[1].image == "rocket"
    assert slides[2].animation == {"type": "flow", "steps": ["a", "b"]}


@pytest.mark.parametrize(
    ("animation", "message"),
    [
        ({"type": "zoom"}, "slides[0].animation: unknown animation type 'zoom'"),
        ({"type": "flow", "steps": ["only one"]}, "slides[0].animation"),
        (
            {"type": "function_plot", "expression": "__import__('os')", "x_min": 0, "x_max": 1},
            "slides[0]",
        ),
    ],
)
def test_outline_animations_are_validated_at_post_time(animation, message):
    with pytest.raises(InvalidRequest, match=re.escape(message)):
        parse_outline([{"title": "T", "bullets": ["b"], "animation": animation}])


def test_an_outline_slide_cannot_ask_for_both_an_image_and_an_animation():
    with pytest.raises(InvalidRequest, match="both an image and an animation"):
        parse_outline(
            [{"title": "T", "bullets": ["b"], "image": "x", "animation": {"type": "bullets"}}]
        )


def test_narrate_speaks_title_and_bullets_as_sentences():
    bullets = ["fast feedback", "- safer changes:", "**bold** move"]
    assert narrate("Why tests", bullets) == "Why tests. Fast feedback. Safer changes. Bold move."


def test_outline_blank_or_null_narration_is_left_for_the_scripts_stage():
    slides = parse_outline(
        [
            {"title": "A", "bullets": ["b"], "narration": "   "},
            {"title": "C", "bullets": [], "narration": None},
        ]
    )
    assert [s.narration for s in slides] == ["", ""]


def test_narrate_keeps_existing_end_marks():
    assert narrate("Ready?", ["Go!", "done."]) == "Ready? Go! Done."


@pytest.mark.parametrize(
    ("slides", "message"),
    [
        ("nope", "slides must be a list"),
        ([], "1 to 30 slides"),
        ([{"title": "t", "bullets": []}] * 31, "1 to 30 slides, not 31"),
        (["x"], "slides[0] must be an object"),
        ([{"bullets": []}], "slides[0].title is required"),
        ([{"title": 5, "bullets": []}], "slides[0].title must be a string"),
        ([{"title": "   ", "bullets": []}], "slides[0].title must not be empty"),
        ([{"title": "x" * 201, "bullets": []}], "slides[0].title is 201 characters"),
        ([{"title": "t"}], "slides[0].bullets is required"),
        ([{"title": "t", "bullets": "a"}], "slides[0].bullets must be a list"),
        ([{"title": "t", "bullets": ["b"] * 13}], "slides[0].bullets has 13 bullets"),
        ([{"title": "t", "bullets": ["x" * 501]}], "slides[0].bullets[0] is 501 characters"),
        ([{"title": "t", "bullets": [""]}], "slides[0].bullets[0] must not be empty"),
        ([{"title": "t", "bullets": ["n", {}]}], "slides[0].bullets[1] must be a string"),
        ([{"title": "t", "bullets": [], "narration": 3}], "slides[0].narration must be a string"),
        (
            [{"title": "t", "bullets": [], "narration": "x" * 5001}],
            "slides[0].narration is 5001 characters",
        ),
        ([{"title": "t", "bullets": [], "image": 1}], "slides[0].image must be a string"),
        ([{"title": "t", "bullets": [], "animation": []}], "slides[0].animation must be an object"),
        ([{"title": "t", "bullets": [], "colour": "red"}], "slides[0] has unknown key 'colour'"),
    ],
)
def test_outline_errors_name_the_exact_path(slides, message):
    with pytest.raises(InvalidRequest) as error:
        parse_outline(slides)
    assert message in error.value.detail


def test_outline_error_path_points_at_the_third_slide():
    good = {"title": "ok", "bullets": []}
    with pytest.raises(InvalidRequest, match=r"slides\[2\]\.bullets\[0\] must be a string"):
        parse_outline([good, good, {"title": "bad", "bullets": [7]}])


def test_outline_accepts_the_limits_exactly():
    slide = {"title": "x" * 200, "bullets": ["y" * 500] * 12, "narration": "z" * 5000}
    assert len(parse_outline([slide] * 30)) == 30


# --- parse_document: Markdown ------------------------------------------------------------------

GUIDE = """\
Welcome to the guide.

# Shipping Software

Shipping is a habit. Teams that ship often learn faster.

## Install

Run the installer first.

- Download **the** package
- Run `setup.py` from
  the unpacked folder
- [ ] Check the [logs](https://example.com/logs)

Checklist
---------

Tests catch mistakes early. They also document behaviour.

Reviews spread knowledge.

```python
print("not narrated")
```

### Empty section

## Wrap up
![diagram](d.png)
> Ship small, ship often.

#### A detail
More detail here.

| a | b |
|---|---|
| 1 | 2 |
"""


def test_markdown_headings_start_slides_and_empty_sections_are_dropped():
    slides = parse_document(GUIDE)
    assert [s.title for s in slides] == ["Shipping Software", "Install", "Checklist", "Wrap up"]
    assert [s.slide_number for s in slides] == [1, 2, 3, 4]


def test_markdown_preamble_joins_the_h1_slide_it_sits_above():
    first = parse_document(GUIDE)[0]
    assert first.narration == (
        "Welcome to the guide. Shipping is a habit. Teams that ship often learn faster."
    )


def test_markdown_list_items_become_bullets_without_inline_syntax():
    install = parse_document(GUIDE)[1]
    assert install.bullets == (
        "Download the package",
        "Run setup.py from the unpacked folder",
        "Check the logs",
    )
    # narration follows the section in order: its paragraph, then the items as sentences
    assert install.narration == (
        "Run the installer first. Download the package. Run setup.py from the unpacked folder. "
        "Check the logs."
    )


def test_markdown_section_without_list_gets_key_sentences_in_document_order():
    checklist = parse_document(GUIDE)[2]
    assert checklist.bullets == (
        "Tests catch mistakes early",
        "They also document behaviour",
        "Reviews spread knowledge",
    )


def test_markdown_code_tables_and_images_are_not_narrated():
    text = " ".join(s.narration for s in parse_document(GUIDE))
    assert "not narrated" not in text
    assert "diagram" not in text and "|" not in text
    wrap = parse_document(GUIDE)[3]
    assert wrap.narration == "Ship small, ship often. A detail. More detail here."


def test_markdown_preamble_without_h1_above_it_is_titled_by_the_first_h1():
    slides = parse_document("Opening words here.\n\n## Part one\n\nBody.\n\n# The Title\n\nMore.")
    assert [s.title for s in slides] == ["The Title", "Part one", "The Title"]
    assert slides[0].narration == "Opening words here."


def test_markdown_preamble_without_any_h1_is_titled_by_its_first_sentence():
    slides = parse_document("Opening words here. And more.\n\n## Part\n\nBody.")
    assert slides[0].title == "Opening words here"
    assert slides[0].bullets == ("And more",)  # the title sentence is not repeated


def test_setext_h1_and_closing_hashes_are_headings():
    slides = parse_document("Big Title\n=========\n\nText.\n\n## Second ##\n\nMore text.")
    assert [s.title for s in slides] == ["Big Title", "Second"]


def test_list_only_section_is_narrated_from_title_and_items():
    (slide,) = parse_document("## Steps\n\n1. mix\n2) bake\n* serve")
    assert slide.bullets == ("mix", "bake", "serve")
    assert slide.narration == "Steps. Mix. Bake. Serve."


def test_derived_bullets_are_cut_at_a_clean_word_boundary():
    long = "One two three four five six seven eight nine ten of the rest goes on. Next."
    (slide,) = parse_document(f"## Count\n\n{long}")
    # 12 words would end on "of the": dangling little words are dropped, no ellipsis added
    assert slide.bullets[0] == "One two three four five six seven eight nine ten"


def test_derived_bullets_prefer_a_clause_boundary():
    sentence = "When the build is green, we deploy to staging and then to production by lunch."
    (slide,) = parse_document(f"## Deploy\n\n{sentence}")
    assert slide.bullets[0] == "When the build is green"


def test_derived_bullets_are_at_most_five():
    paragraphs = "\n\n".join(f"Point number {i} matters. Detail {i}." for i in range(8))
    (slide,) = parse_document(f"## Many\n\n{paragraphs}")
    assert slide.bullets == tuple(f"Point number {i} matters" for i in range(5))


def test_list_bullets_are_capped_at_twelve():
    items = "\n".join(f"- item {i}" for i in range(15))
    (slide,) = parse_document(f"## List\n\n{items}")
    assert len(slide.bullets) == 12


def test_inline_markdown_is_stripped():
    text = "**Bold** *em* _under_ snake_case `a*b*c` ~~old~~ [link](u) ![img](p) <b>x</b> \\*lit\\*"
    assert strip_inline_markdown(text) == "Bold em under snake_case a*b*c old link  x *lit*"


# --- parse_document: plain text ----------------------------------------------------------------


def _paragraph(n_words: int, word: str) -> str:
    words = [word] * n_words
    return " ".join(words[:n_words]) + "."


def test_plain_text_paragraphs_are_grouped_into_60_to_120_word_slides():
    paragraphs = [_paragraph(40, f"w{i}") for i in range(6)]  # 240 words
    slides = parse_document("\n\n".join(paragraphs))
    counts = [len(s.narration.split()) for s in slides]
    assert sum(counts) == 240
    assert all(60 <= c <= 120 for c in counts), counts


def test_plain_text_long_paragraph_is_split_between_sentences():
    sentences = [f"Sentence {i} has exactly six words." for i in range(50)]  # 300 words
    slides = parse_document(" ".join(sentences))
    assert len(slides) >= 3
    assert all(len(s.narration.split()) <= 120 for s in slides)
    assert all(s.narration.endswith("words.") for s in slides)


def test_plain_text_title_is_the_first_sentence_shortened():
    text = "Rivers shape the land over many thousands of years of slow work. They carve valleys."
    (slide,) = parse_document(text)
    assert slide.title == "Rivers shape the land over many thousands"
    assert slide.bullets == ("They carve valleys",)
    assert slide.narration == text


def test_plain_text_short_tail_joins_the_previous_slide():
    slides = parse_document(_paragraph(70, "a") + "\n\n" + _paragraph(10, "b"))
    assert len(slides) == 1


# --- limits and topic --------------------------------------------------------------------------


def test_document_is_capped_at_max_slides_by_dropping_the_tail():
    doc = "\n\n".join(f"## Part {i}\n\nText {i}." for i in range(40))
    slides = parse_document(doc, max_slides=30)
    assert len(slides) == 30
    assert slides[-1].title == "Part 29"


@pytest.mark.parametrize(
    "text", ["", "   \n\n  ", "# Only a heading\n\n## Another", "```\ncode\n```"]
)
def test_document_without_text_is_rejected(text):
    with pytest.raises(InvalidRequest):
        parse_document(text)


def test_document_slides_respect_the_outline_limits():
    doc = "# " + "word " * 100 + "\n\n" + "- " + "x" * 900 + "\n"
    (slide,) = parse_document(doc)
    assert 1 <= len(slide.title) <= 200
    assert all(len(b) <= 500 for b in slide.bullets)


def test_derive_topic_is_the_first_slide_title():
    slides = parse_outline([{"title": "First", "bullets": []}, {"title": "Second", "bullets": []}])
    assert derive_topic(slides) == "First"
    with pytest.raises(InvalidRequest):
        derive_topic([])


# --- sentences ---------------------------------------------------------------------------------


def test_split_sentences_respects_abbreviations_initials_and_decimals():
    text = 'Dr. Smith met J. Doe at 3.5 km, e.g. by the lake. "Really?" she asked!\n\nNew part'
    assert split_sentences(text) == [
        "Dr. Smith met J. Doe at 3.5 km, e.g. by the lake.",
        '"Really?" she asked!',
        "New part",
    ]


@pytest.mark.parametrize(
    ("title", "bullets", "steps"),
    [
        (
            "How to brew tea",
            ["boil water", "steep leaves", "pour"],
            ["Boil water", "Steep leaves", "Pour"],
        ),
        ("Making bread", ["1. Mix", "2. Knead", "3) Bake"], ["Mix", "Knead", "Bake"]),
        ("Release", ["Step 1: tag", "Step 2: build", "Step 3: ship"], ["Tag", "Build", "Ship"]),
        ("Launch", ["First, plan", "Then build", "Finally ship"], ["Plan", "Build", "Ship"]),
    ],
)
def test_bullets_that_are_steps_become_a_flow(title, bullets, steps):
    slide = parse_outline([{"title": title, "bullets": bullets}])[0]
    assert suggest_animation(slide) == {"type": "flow", "steps": steps}


def test_ordinary_bullets_or_slides_with_a_picture_get_no_flow():
    plain, pictured = parse_outline(
        [
            {"title": "Why tests", "bullets": ["fast", "safe"]},
            {"title": "How to test", "bullets": ["a", "b"], "image": "lab"},
        ]
    )
    assert suggest_animation(plain) is None and suggest_animation(pictured) is None


def test_the_narration_limit_counts_what_the_voice_reads():
    # A pronunciations map cannot stretch a short narration past the video's limit.
    from videoforge.core.request import Capabilities, parse_generation_request

    slide = {
        "title": "A",
        "bullets": [],
        "narration": " ".join(["a"] * 300),
        "pronunciations": {"a": "x" * 50},
    }
    caps = Capabilities(max_narration=5000)
    with pytest.raises(Unprocessable, match="narration is"):
        parse_generation_request({"slides": [slide]}, caps)
    slide.pop("pronunciations")
    assert parse_generation_request({"slides": [slide]}, caps).slides


def test_title_and_closing_slides_do_not_count_against_the_requests_limit():
    from videoforge.core.request import Capabilities, parse_generation_request
    from videoforge.core.types import Usage
    from videoforge.pipeline.deck import add_title_and_closing, write_scripts

    narration = ("Tides rise and fall every day. " * 32).strip()
    slide = {"title": "Tides", "bullets": ["Twice a day"], "narration": narration}
    body = {"slides": [slide], "title_slide": True, "closing": "summary"}
    request = parse_generation_request(body, Capabilities(max_narration=len(narration) + 5))
    slides = add_title_and_closing(list(request.slides), request)
    written = write_scripts(slides, request, None, Usage(), max_narration=len(narration) + 5)
    assert [s.kind for s in written] == ["title", "content", "closing"]
