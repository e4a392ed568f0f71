"""Tests of sentence splitting, cue timing and the WebVTT/SubRip writers."""

from __future__ import annotations

import re

import pytest

from videoforge.core.types import Cue
from videoforge.pipeline.captions import (
    normalize_cues,
    sentence_cues,
    split_sentences,
    srt_text,
    srt_timestamp,
    vtt_text,
    vtt_timestamp,
    write_srt,
    write_vtt,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("One. Two! Three? Four", ["One.", "Two!", "Three?", "Four"]),
        ("Dr. Smith met Mr. Jones. They talked.", ["Dr. Smith met Mr. Jones.", "They talked."]),
        (
            "Use a tool, e.g. Python or i.e. Rust. Done.",
            ["Use a tool, e.g. Python or i.e. Rust.", "Done."],
        ),
        (
            "Growth was 3.5 percent. Costs fell 0.25.",
            ["Growth was 3.5 percent.", "Costs fell 0.25."],
        ),
        ("Wait... What? Really?! Yes.", ["Wait...", "What?", "Really?!", "Yes."]),
        ("It goes on... and on. End.", ["It goes on... and on.", "End."]),
        ("Wait\u2026 Later\u2026 done.", ["Wait\u2026", "Later\u2026 done."]),
        ('"Why?" she asked. He left.', ['"Why?" she asked.', "He left."]),
        ('He said "stop." Then he went.', ['He said "stop."', "Then he went."]),
        ("J. R. R. Tolkien wrote it. Fine.", ["J. R. R. Tolkien wrote it.", "Fine."]),
        (
            "See Fig. 3 for details. The answer is no. Okay.",
            ["See Fig. 3 for details.", "The answer is no.", "Okay."],
        ),
        ("Apples, pears, etc. The rest.", ["Apples, pears, etc.", "The rest."]),
        ("At 5 p.m. sharp. Go.", ["At 5 p.m. sharp.", "Go."]),
        ("A heading\n\nThe body text.", ["A heading", "The body text."]),
        ("  Spread\n over   lines.  ", ["Spread over lines."]),
        ("", []),
        ("   \n ", []),
    ],
)
def test_split_sentences(text, expected):
    assert split_sentences(text) == expected


def test_sentence_cues_split_duration_by_character_count():
    cues = sentence_cues("Short one. This sentence is three times as long.", 8.0, offset=10.0)
    assert [c.text for c in cues] == ["Short one.", "This sentence is three times as long."]
    lengths = [len(c.text) for c in cues]
    assert cues[0].start == 10.0
    assert cues[-1].end == pytest.approx(18.0)
    assert cues[0].end == cues[1].start  # contiguous
    assert (cues[0].end - 10.0) / 8.0 == pytest.approx(lengths[0] / sum(lengths))


def test_sentence_cues_of_empty_text_is_empty():
    assert sentence_cues("  ", 3.0, 1.0) == []


def test_sentence_cues_rejects_negative_duration():
    with pytest.raises(ValueError):
        sentence_cues("Hi.", -1.0, 0.0)


@pytest.mark.parametrize(
    ("seconds", "vtt", "srt"),
    [
        (0, "00:00:00.000", "00:00:00,000"),
        (1.2345, "00:00:01.234", "00:00:01,234"),  # 1234.5 ms rounds to even
        (59.9996, "00:01:00.000", "00:01:00,000"),  # never "00:00:60.000"
        (3723.004, "01:02:03.004", "01:02:03,004"),
        (36000.5, "10:00:00.500", "10:00:00,500"),
    ],
)
def test_timestamp_formats(seconds, vtt, srt):
    assert vtt_timestamp(seconds) == vtt
    assert srt_timestamp(seconds) == srt


def test_vtt_document_format_and_escaping():
    cues = [Cue(0.0, 1.5, "Fish & chips <b>now</b>"), Cue(1.5, 3.25, "a --> b")]
    assert vtt_text(cues) == (
        "WEBVTT\n\n"
        "1\n00:00:00.000 --> 00:00:01.500\nFish &amp; chips &lt;b&gt;now&lt;/b&gt;\n\n"
        "2\n00:00:01.500 --> 00:00:03.250\na --&gt; b\n"
    )


def test_srt_document_format():
    cues = [Cue(0.0, 1.5, "Fish & chips"), Cue(61.5, 63.0, "a --> b")]
    assert srt_text(cues) == (
        "1\n00:00:00,000 --> 00:00:01,500\nFish & chips\n\n"
        "2\n00:01:01,500 --> 00:01:03,000\na -> b\n"
    )


def test_cues_are_ordered_non_overlapping_and_inside_the_video():
    cues = [
        Cue(4.0, 6.0, "third"),
        Cue(-0.5, 2.5, "first"),  # starts before 0
        Cue(2.0, 4.5, "second"),  # overlaps the next one
        Cue(5.5, 9.0, "runs past the end"),
        Cue(9.5, 10.0, "after the end"),
        Cue(1.0, 1.0, "empty span"),
        Cue(3.0, 3.5, "   "),
    ]
    result = normalize_cues(cues, total=8.0)
    assert [c.text for c in result] == ["first", "second", "third", "runs past the end"]
    assert result[0].start == 0.0
    assert result[-1].end == 8.0
    for cue, after in zip(result, result[1:], strict=False):
        assert cue.start < cue.end <= after.start


def test_writers_normalise_and_write_utf8(tmp_path):
    cues = [Cue(2.0, 3.0, "zwei — Straße"), Cue(0.0, 2.5, "eins")]
    vtt = write_vtt(cues, tmp_path / "c.vtt", total=2.8)
    srt = write_srt(cues, tmp_path / "c.srt", total=2.8)
    vtt_body = vtt.read_text(encoding="utf-8")
    srt_body = srt.read_text(encoding="utf-8")
    assert "00:00:00.000 --> 00:00:02.000\neins" in vtt_body
    assert "00:00:02.000 --> 00:00:02.800\nzwei — Straße" in vtt_body
    assert "00:00:02,000 --> 00:00:02,800\nzwei — Straße" in srt_body
    # every timing line is well formed
    assert all(
        re.fullmatch(r"\d\d:\d\d:\d\d\.\d{3} --> \d\d:\d\d:\d\d\.\d{3}", line)
        for line in vtt_body.splitlines()
        if "-->" in line
    )


def test_cues_from_several_slides_make_one_track():
    slide_one = sentence_cues("Hello there. Welcome.", 2.0, offset=0.0)
    slide_two = sentence_cues("Next slide.", 1.5, offset=2.0)
    text = vtt_text(slide_one + slide_two, total=3.5)
    assert text.count("-->") == 3
    assert text.rstrip().endswith("00:00:02.000 --> 00:00:03.500\nNext slide.")


def test_empty_cue_lists_give_valid_documents():
    assert vtt_text([]) == "WEBVTT\n"
    assert srt_text([]) == ""
