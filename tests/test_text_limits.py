"""Text handling is linear in its input, and narration stays within its limits.

Hostile shapes of a mebibyte each parse within a generous time bound (the real times are far
lower: see BOUND); the linear scanners give what the regular expressions they replace gave
(the reference versions below); long sections are spread over slides; the per-slide and
per-video narration limits are refused with their settings named.
"""

from __future__ import annotations

import random
import re
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from videoforge.cli import capabilities_for
from videoforge.core.errors import InvalidRequest, StageError, Unprocessable
from videoforge.core.outline import (
    MAX_NARRATION,
    MAX_TITLE,
    _atx_heading,
    narrate,
    parse_document,
    parse_outline,
    strip_inline_markdown,
)
from videoforge.core.request import Capabilities, GenerationRequest, parse_generation_request
from videoforge.core.settings import Settings
from videoforge.core.text import (
    NEVER_FINAL,
    SOMETIMES_FINAL,
    speaking_time,
    split_sentences,
    split_text,
)
from videoforge.core.types import Slide, Usage
from videoforge.pipeline.deck import write_scripts
from videoforge.worker.loop import error_message

MIB = 1 << 20
# Far above the real times (0.01 to 0.8 s for a mebibyte, by shape, on a busy 2-core machine),
# so a slow machine cannot fail it, and far below what the quadratic code took (minutes).
BOUND = 5.0


def repeat(unit: str, size: int = MIB) -> str:
    return (unit * (size // len(unit) + 1))[:size]


# name -> a document of about `size` characters of that shape
HOSTILE_SHAPES = {
    "abbreviation-like stops": lambda n: repeat("Ab. ", n),
    "initials": lambda n: repeat("J. ", n),
    "never-final abbreviations": lambda n: repeat("e.g. ", n),
    "dots without space": lambda n: repeat(".", n - 1) + "x",
    "dots then space": lambda n: repeat(".", n - 2) + " A",
    "question marks": lambda n: repeat("?! ", n),
    "ellipses": lambda n: repeat("\u2026 ", n),
    "dotted word": lambda n: repeat("a.", n - 2) + " B",
    "opening quotes after stops": lambda n: repeat('. "(', n),
    "closing quotes after stops": lambda n: repeat('.")', n),
    "strong": lambda n: repeat("**a ", n),
    "strong underscores": lambda n: repeat("__a ", n),
    "strong of both kinds": lambda n: repeat("**a __b ", n),
    "strong pairs": lambda n: repeat("**a** ", n),
    "stars": lambda n: repeat("*a ", n),
    "only stars": lambda n: repeat("*", n),
    "underscores": lambda n: repeat("_a ", n),
    "snake case": lambda n: repeat("a_", n),
    "strike": lambda n: repeat("~~a ", n),
    "code spans": lambda n: repeat("`a ", n),
    "double backticks": lambda n: repeat("``a `", n),
    "only backticks": lambda n: repeat("`", n),
    "shrinking backtick runs": lambda n: "x".join("`" * k for k in range(1400, 0, -1))[:n],
    "growing backtick runs": lambda n: "x".join("`" * k for k in range(1, 1400))[:n],
    "links without end": lambda n: repeat("[a](", n),
    "images without end": lambda n: repeat("![a](", n),
    "reference links without end": lambda n: repeat("[a][", n),
    "open brackets": lambda n: repeat("[", n),
    "nested brackets": lambda n: repeat("[", n // 2) + repeat("]", n // 2),
    "close brackets": lambda n: repeat("](", n),
    "tags without end": lambda n: repeat("<a ", n),
    "comments without end": lambda n: repeat("<!--", n),
    "autolinks without end": lambda n: repeat("<http:a", n),
    "escapes": lambda n: repeat("\\*", n),
    "NUL and digits": lambda n: repeat("\x001\x00", n),
    "heading with trailing spaces": lambda n: "# x" + " " * (n - 3),
    "heading with closing hashes": lambda n: "# x" + repeat(" #", n - 5) + " x",
    "seven hashes": lambda n: repeat("####### a\n", n),
    "headings": lambda n: repeat("# a\n", n),
    "setext underlines": lambda n: repeat("a\n=\n", n),
    "thematic breaks": lambda n: repeat("- ", n - 1) + "x",
    "list items": lambda n: repeat("- a\n", n),
    "list items with marks": lambda n: repeat("- *a\n", n),
    "numbered items": lambda n: repeat("1. ", n),
    "quotes": lambda n: repeat("> ", n),
    "tables": lambda n: repeat("|a", n),
    "fences": lambda n: repeat("```\n", n),
    "tabs": lambda n: repeat("\t", n - 1) + "x",
    "short lines": lambda n: repeat("a\n", n),
    "blank lines": lambda n: repeat("\n", n - 1) + "x",
    "carriage returns": lambda n: repeat("a\r", n),
    "paragraphs": lambda n: repeat("A b.\n\n", n),
    "one long word": lambda n: repeat("x", n),
    "one long sentence": lambda n: repeat("word ", n),
    "sentences": lambda n: repeat("Words go here. ", n),
}


@pytest.mark.slow  # CPU only, but seconds in all
@pytest.mark.parametrize("shape", sorted(HOSTILE_SHAPES))
def test_a_mebibyte_document_of_any_shape_parses_within_the_bound(shape):
    text = HOSTILE_SHAPES[shape](MIB)
    started = time.perf_counter()
    try:
        slides = parse_document(text)
    except InvalidRequest:  # a shape with nothing to narrate
        slides = []
    elapsed = time.perf_counter() - started
    assert elapsed < BOUND, f"{shape}: {elapsed:.2f} s"
    assert len(slides) <= 30
    assert all(len(s.narration) <= MAX_NARRATION for s in slides)


@pytest.mark.slow  # CPU only, but seconds in all
@pytest.mark.parametrize("shape", sorted(HOSTILE_SHAPES))
def test_a_mebibyte_of_any_shape_is_split_into_sentences_within_the_bound(shape):
    text = HOSTILE_SHAPES[shape](MIB)
    started = time.perf_counter()
    split_sentences(text)
    strip_inline_markdown(text)
    elapsed = time.perf_counter() - started
    assert elapsed < BOUND, f"{shape}: {elapsed:.2f} s"


MARKDOWN_ALPHABET = "`*_~[]()!<>\\ -#=|+>a.A:/h\n\t1"
TOKENS = "**,__,*,_,~~,`,``,[,](,![,<a,<!--,-->,>,\\,# ,\n,\n\n,- ,1. ,    ,a,A. ,e.g. ,...,<http:"
TOKENS = [*TOKENS.split(","), " "]


@pytest.mark.slow  # CPU only, but seconds in all
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    unit=st.lists(st.sampled_from(TOKENS), min_size=1, max_size=8).map("".join),
    size=st.integers(50_000, 200_000),
)
def test_any_repeated_markdown_pattern_parses_within_the_bound(unit, size):
    text = repeat(unit, size)
    started = time.perf_counter()
    try:
        parse_document(text)
    except InvalidRequest:
        pass
    assert time.perf_counter() - started < BOUND


@pytest.mark.slow  # CPU only, but seconds in all
@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
@given(seed=st.integers(0, 2**32), size=st.integers(50_000, 200_000))
def test_random_markdown_characters_parse_within_the_bound(seed, size):
    text = "".join(random.Random(seed).choices(MARKDOWN_ALPHABET, k=size))
    started = time.perf_counter()
    try:
        parse_document(text)
    except InvalidRequest:
        pass
    assert time.perf_counter() - started < BOUND


# --- the scanners mean what the regular expressions they replace meant -------------------------
# The reference versions: the previous code, quadratic on hostile input, fine on short text.

_REF_CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.S)
_REF_IMAGE = re.compile(r"!\[[^\]]*\](?:\([^)]*\)|\[[^\]]*\])?")
_REF_LINK = re.compile(r"\[([^\]]*)\](?:\([^)]*\)|\[[^\]]*\])")
_REF_AUTOLINK = re.compile(r"<((?:https?|mailto):[^>\s]+)>")
_REF_HTML_TAG = re.compile(r"</?[A-Za-z][^>]*>|<!--.*?-->", re.S)
_REF_STRONG = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1", re.S)
_REF_EMPHASIS_STAR = re.compile(r"\*(?=\S)(.+?)(?<=\S)\*", re.S)
_REF_EMPHASIS_UNDERSCORE = re.compile(r"(?<!\w)_(?=\S)(.+?)(?<=\S)_(?!\w)", re.S)
_REF_STRIKE = re.compile(r"~~(?=\S)(.+?)(?<=\S)~~", re.S)
_REF_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|>~<])")
_REF_PLACEHOLDER = re.compile(r"\x00(\d+)\x00")
_REF_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")


def reference_strip(text: str) -> str:
    spans: list[str] = []

    def keep(literal: str) -> str:
        spans.append(literal)
        return f"\x00{len(spans) - 1}\x00"

    text = _REF_CODE_SPAN.sub(lambda m: keep(m.group(2).strip()), text)
    text = _REF_ESCAPE.sub(lambda m: keep(m.group(1)), text)
    text = _REF_IMAGE.sub("", text)
    text = _REF_LINK.sub(r"\1", text)
    text = _REF_AUTOLINK.sub(r"\1", text)
    text = _REF_HTML_TAG.sub("", text)
    for pattern in (_REF_STRONG, _REF_STRIKE):
        text = pattern.sub(lambda m: m.group(m.lastindex or 0), text)
    text = _REF_EMPHASIS_STAR.sub(r"\1", text)
    text = _REF_EMPHASIS_UNDERSCORE.sub(r"\1", text)
    return _REF_PLACEHOLDER.sub(lambda m: spans[int(m.group(1))], text)


_REF_BOUNDARY = re.compile(r"([.!?\u2026]+)([\"'\u201d\u2019)\]]*)(\s+)")
# One deliberate difference: the previous code ended this with "$", which also matches before
# a final newline, so in "A\n. 1" the word before the stop was "A" (an initial, no split);
# now it is the empty word, as in "A . 1".
_REF_WORD_BEFORE = re.compile(r"([^\s\"'(\[\u201c\u2018]*)\Z")


def reference_sentences(text: str) -> list[str]:
    def boundary(paragraph: str, match: re.Match[str]) -> bool:
        punct = match.group(1)
        following = paragraph[match.end() :].lstrip("\"'\u201c\u2018([")[:1]
        if following and following.islower():
            return False
        if "?" in punct or "!" in punct:
            return True
        if punct != ".":
            return bool(following) and (following.isupper() or following.isdigit())
        word = _REF_WORD_BEFORE.search(paragraph[: match.start()]).group(1).lower()
        if word in NEVER_FINAL:
            return False
        if word in SOMETIMES_FINAL:
            return bool(following) and following.isupper()
        if len(word) == 1 and word.isalpha():
            return False
        if re.fullmatch(r"(?:[a-z]\.)+[a-z]", word):
            return bool(following) and following.isupper()
        return True

    sentences = []
    for paragraph in re.split(r"\n\s*\n", text):
        start = 0
        for match in _REF_BOUNDARY.finditer(paragraph):
            if boundary(paragraph, match):
                sentences.append(paragraph[start : match.end(2)])
                start = match.end()
        sentences.append(paragraph[start:])
    return [s for s in (" ".join(piece.split()) for piece in sentences) if s]


INLINE_ALPHABET = "`*_~[]()!<>\\ -#a.A:/h\n\tx=|+1"
WORDS = 'Dr.|e.g.|U.S.A.|p.m.|etc.|J.|3.5|Fig.|x|Hello.|...|?|!|\u2026|"|(|[|the|The|Ok?!|"Why?"'
WORDS = [*WORDS.split("|"), "a.b.c.", "\n\n", "p.", "P.", "\u00b2.", "\u24b6", "\u00e9", "\t"]


@settings(max_examples=3000, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.text(alphabet=INLINE_ALPHABET, max_size=40))
def test_inline_markdown_scanner_gives_what_the_regular_expressions_gave(text):
    assert strip_inline_markdown(text) == reference_strip(text)


@settings(max_examples=1500, deadline=None)
@given(
    st.text(
        alphabet="aA. !?\u2026\"')]([\u201c\u2018\u201d\u2019\n b\u00e91pPJ\u00b2\u24b6,:",
        max_size=40,
    )
    | st.lists(st.sampled_from(WORDS), max_size=15).map(" ".join)
)
def test_sentence_splitting_gives_what_the_lookback_version_gave(text):
    assert split_sentences(text) == reference_sentences(text)


@settings(max_examples=1000, deadline=None)
@given(st.text(alphabet=" \t#xa", max_size=20))
def test_atx_heading_reader_gives_what_the_regular_expression_gave(line):
    match = _REF_ATX.match(line)
    assert _atx_heading(line) == ((len(match.group(1)), match.group(2) or "") if match else None)


def test_a_stop_after_a_line_break_follows_the_empty_word_as_after_a_space():
    assert split_sentences("A\n. 1") == split_sentences("A . 1") == ["A .", "1"]


def test_nul_characters_cannot_reach_the_placeholders():
    # they mark kept code spans inside strip_inline_markdown; a forged one raised IndexError
    assert strip_inline_markdown("a \x005\x00 b `c` \x00" + "9" * 5000 + "\x00") == "a 5 b c " + (
        "9" * 5000
    )
    (slide,) = parse_document("# T\n\nText \x007\x00 here.")
    assert slide.narration == "Text 7 here."


# --- narration per slide ------------------------------------------------------------------------


def sentences_of(count: int, words: int = 9) -> str:
    return " ".join(f"Sentence {i} has " + "some " * (words - 4) + "words." for i in range(count))


def test_a_long_section_is_spread_over_numbered_slides_within_the_slide_limit():
    body = sentences_of(250)  # about 12,700 characters
    whole = parse_document(f"# Tides\n\n{body}", max_slide_narration=20_000)[0].narration
    slides = parse_document(f"# Tides\n\n{body}\n\n## Next\n\nThe end.")
    assert [s.title for s in slides] == ["Tides (1/3)", "Tides (2/3)", "Tides (3/3)", "Next"]
    parts = [s.narration for s in slides[:3]]
    assert all(len(p) <= MAX_NARRATION for p in parts)
    assert " ".join(parts) == whole  # split between sentences, nothing lost or added
    assert max(map(len, parts)) - min(map(len, parts)) < 500  # of similar length
    assert slides[1].bullets[0].startswith("Sentence ")  # each part has its own key sentences
    assert [s.slide_number for s in slides] == [1, 2, 3, 4]


def test_a_long_list_is_spread_over_slides_that_show_their_own_items():
    items = "\n".join(f"- item {i} " + "word " * 40 for i in range(40))
    slides = parse_document(f"## Steps\n\n{items}", max_slide_narration=2000)
    assert len(slides) > 1
    assert all(len(s.narration) <= 2000 for s in slides)
    shown = [b.split()[1] for s in slides for b in s.bullets]
    assert shown[:3] == ["0", "1", "2"]
    assert slides[1].bullets[0].startswith(f"item {len(slides[0].bullets)}")
    assert slides[-1].title == f"Steps ({len(slides)}/{len(slides)})"


@pytest.mark.parametrize(
    "body",
    [
        "word " * 3000,  # one sentence: cut between words
        "x" * 12_000,  # one word: cut anywhere
        "\u00df" * 3000 + ".",  # lower-case letters that grow when capitalised
    ],
)
def test_a_sentence_or_word_longer_than_the_limit_is_cut_within_it(body):
    for doc in (f"# Long\n\n{body}", body):
        slides = parse_document(doc, max_slide_narration=1000)
        assert len(slides) >= 3
        assert all(0 < len(s.narration) <= 1000 for s in slides)


def test_a_part_title_stays_within_the_title_limit():
    heading = "H" * 250
    slides = parse_document(f"# {heading}\n\n{sentences_of(200)}")
    assert all(len(s.title) <= MAX_TITLE for s in slides)
    assert re.fullmatch(r"H{190,} \(1/2\)", slides[0].title)


def test_a_195000_character_paragraph_becomes_thirty_slides_within_the_limit():
    slides = parse_document("# Essay\n\n" + sentences_of(3800))
    assert len(slides) == 30
    assert all(len(s.narration) <= MAX_NARRATION for s in slides)


def test_a_preamble_joins_the_h1_right_below_it_even_when_that_section_is_empty():
    # found by comparing with the previous parser on random documents
    (slide,) = parse_document("Opening words.\n\n# Title\n")
    assert (slide.title, slide.narration) == ("Title", "Opening words.")


def test_a_section_within_the_limit_is_one_slide_as_before():
    slides = parse_document(f"# Short\n\n{sentences_of(90)}")  # about 4,600 characters
    assert [s.title for s in slides] == ["Short"]


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    parts=st.lists(
        st.sampled_from(["# H\n\n", "- ", "\n", "\n\n", "Word. ", "word ", "x" * 150, "1. "]),
        max_size=60,
    ),
    limit=st.integers(100, 600),
)
def test_no_document_slide_passes_the_slide_limit(parts, limit):
    try:
        slides = parse_document("".join(parts), max_slide_narration=limit)
    except InvalidRequest:
        return
    assert all(len(s.narration) <= limit for s in slides)
    assert all(len(s.title) <= MAX_TITLE for s in slides)


def test_split_text_cuts_between_sentences_into_pieces_of_similar_length():
    text = sentences_of(30)
    pieces = split_text(text, 600)
    assert " ".join(pieces) == text
    assert all(len(p) <= 600 for p in pieces)
    assert all(p.endswith("words.") for p in pieces)
    assert max(map(len, pieces)) - min(map(len, pieces)) < 100
    assert split_text("", 10) == [] and split_text("  ", 10) == []


def test_outline_narration_over_the_slide_limit_is_refused_naming_the_slide_and_setting():
    slides = [{"title": "a", "bullets": []}, {"title": "b", "bullets": [], "narration": "x" * 301}]
    with pytest.raises(InvalidRequest) as error:
        parse_outline(slides, max_slide_narration=300)
    assert "slides[1].narration is 301 characters" in error.value.detail
    assert "VIDEOFORGE_MAX_SLIDE_NARRATION" in error.value.detail
    assert parse_outline(slides, max_slide_narration=301)[1].narration == "x" * 301


def test_the_slide_limit_has_one_default_the_settings_table():
    defaults = Settings.from_env({})
    assert MAX_NARRATION == defaults.max_slide_narration
    assert Capabilities().max_slide_narration == defaults.max_slide_narration
    assert Capabilities().max_narration == defaults.max_narration


def test_capabilities_carry_the_configured_limits(tmp_path):
    configured = Settings.from_env(
        {
            "VIDEOFORGE_DATA_DIR": str(tmp_path),
            "VIDEOFORGE_MAX_SLIDE_NARRATION": "300",
            "VIDEOFORGE_MAX_NARRATION": "2000",
        }
    )
    capabilities = capabilities_for(configured)
    assert (capabilities.max_slide_narration, capabilities.max_narration) == (300, 2000)


# --- narration per video ------------------------------------------------------------------------


def test_speaking_time_reads_like_a_duration():
    assert speaking_time(54_000) == "about 1 h"
    assert speaking_time(150_000) == "about 2 h 47 min"
    assert speaking_time(4_500) == "about 5 min"
    assert speaking_time(100) == "under a minute"


def post(body: dict, **limits: int):
    return parse_generation_request(body, Capabilities(**limits))


def test_an_outline_over_the_video_limit_is_unprocessable_and_says_how_long_it_would_speak():
    slides = [{"title": f"t{i}", "bullets": [], "narration": "n" * 400} for i in range(3)]
    assert len(post({"slides": slides}, max_narration=1200).slides) == 3  # exactly the limit
    with pytest.raises(Unprocessable) as error:
        post({"slides": slides}, max_narration=1199)
    detail = error.value.detail
    assert "VIDEOFORGE_MAX_NARRATION" in detail
    assert "1,200 characters, about 1 min of speech" in detail
    assert Unprocessable.status.startswith("422")


def test_an_outline_without_narration_counts_the_words_that_would_be_spoken():
    slides = [{"title": "Title", "bullets": ["b" * 450, "c" * 450]} for _ in range(2)]
    spoken = 2 * len(narrate("Title", ["b" * 450, "c" * 450]))
    post({"slides": slides}, max_narration=spoken)
    with pytest.raises(Unprocessable, match="VIDEOFORGE_MAX_NARRATION"):
        post({"slides": slides}, max_narration=spoken - 1)


def test_a_document_over_the_video_limit_is_unprocessable():
    doc = "# Essay\n\n" + sentences_of(3800)  # 195,000 characters
    with pytest.raises(Unprocessable) as error:
        post({"source_text": doc})
    # what the voice reads counts: the sentences' numbers in words make it 3 h 53 min
    assert "about 3 h 53 min" in error.value.detail
    assert "VIDEOFORGE_MAX_NARRATION" in error.value.detail


def test_a_document_section_is_split_by_the_configured_slide_limit():
    request = post({"source_text": "# Tides\n\n" + sentences_of(20)}, max_slide_narration=400)
    assert len(request.slides) > 2
    assert all(len(s.narration) <= 400 for s in request.slides)
    assert request.topic.startswith("Tides (1/")


class LongWinded:
    """A language model double that writes a long narration for every slide."""

    def write_narration(self, slides, **_kwargs):
        return [Slide(s.slide_number, s.title, s.bullets, "x" * 1200) for s in slides]


def test_a_model_deck_over_the_video_limit_ends_in_an_error_naming_the_step_and_limit():
    request = GenerationRequest(topic="Tides")
    slides = [Slide(i, f"Slide {i}", ("b",)) for i in range(1, 6)]  # 5 x 1,200 characters
    assert len(write_scripts(slides, request, LongWinded(), Usage(), max_narration=6000)) == 5
    with pytest.raises(StageError) as error:
        write_scripts(slides, request, LongWinded(), Usage(), max_narration=5999)
    assert error.value.stage == "generating_scripts"
    message = error_message("generating_scripts", error.value)
    assert message.startswith("❌ Error: generating_scripts failed: the narration is 6,000")
    assert "VIDEOFORGE_MAX_NARRATION" in message


def test_a_deck_within_the_video_limit_is_returned_as_written():
    slides = [Slide(1, "One", ("b",), "Said.")]
    assert write_scripts(slides, GenerationRequest(topic="x"), None, Usage(), max_narration=5) == (
        slides
    )
