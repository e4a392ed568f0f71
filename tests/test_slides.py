"""Tests of slide rendering: every line of text fits the safe area, and the PNG is what we laid out."""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

import pytest
from PIL import Image, ImageChops

from videoforge.pipeline.model import DEFAULT_THEME, SUPPORTED_SIZES, Size, Slide
from videoforge.pipeline.slides import (
    ELLIPSIS,
    Box,
    SlideLayout,
    layout_slide,
    render_layout,
    render_slide,
)

WORD = "Pneumonoultramicroscopicsilicovolcanoconiosis"
HUGE_WORD = (WORD * 7)[:300]
THIRTY_WORDS = (
    "Solar panels on public schools cut energy bills, teach students about physics, "
    "and give the neighbourhood a shelter that keeps running when the regional grid "
    "fails during long winter storms"
)
assert len(THIRTY_WORDS.split()) == 30

HOSTILE = {
    "short": Slide(1, "Hello", ("One", "Two")),
    "long_title": Slide(2, "A " + "very " * 40 + "long title", ("A bullet",)),
    "huge_word": Slide(3, HUGE_WORD, (HUGE_WORD, "short")),
    "eight_long_bullets": Slide(4, "Eight long bullets", (THIRTY_WORDS,) * 8),
    "empty_bullets": Slide(5, "Only a title", ()),
    "non_latin": Slide(
        6,
        "Ελληνικά и кириллица",
        ("Γειά σου κόσμε", "Привет, мир", "مرحبا بالعالم", "שלום עולם — mixed עם English"),
    ),
    "emoji": Slide(7, "Emoji 😀🎉", ("👩‍👩‍👧 family", "flags 🇺🇸🇯🇵 and ✅", "👍🏽" * 40)),
    "whitespace_bullets": Slide(8, "Blank bullets", ("   ", "\t\n", "", "the real one")),
    "newlines_tabs": Slide(
        9, "Title\nwith\tbreaks", ("line one\nline two", "tab\tseparated\tcells")
    ),
    "nothing": Slide(10, "", ()),
    "overflowing": Slide(11, "Far too much", (THIRTY_WORDS * 3,) * 20),
    "combining_marks": Slide(12, "Zalgo Z̴̡̛͈a̸l̷g̵o̶", ("e\u0301" * 200,)),
    "control_chars": Slide(13, "Nul\x00 and \ud800 surrogate", ("bell\x07 and\x0bvtab",)),
}
SIZES = {str(size): size for size in SUPPORTED_SIZES}
TOTAL = 12


@functools.cache
def layout_of(name: str, size_name: str) -> SlideLayout:
    return layout_slide(HOSTILE[name], SIZES[size_name], total=TOTAL)


def inside(box: Box, area: Box) -> bool:
    return area[0] <= box[0] <= box[2] <= area[2] and area[1] <= box[1] <= box[3] <= area[3]


def overlap(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def without_text(layout: SlideLayout) -> SlideLayout:
    """Return the layout with only the decorations that belong in the margin (no text, no dots)."""
    shapes = tuple(s for s in layout.shapes if s.kind != "dot")
    return dataclasses.replace(layout, items=(), shapes=shapes)


each_slide = pytest.mark.parametrize("name", list(HOSTILE))
each_size = pytest.mark.parametrize("size_name", list(SIZES))


@each_size
@each_slide
def test_every_line_of_ink_lies_inside_the_safe_area(name: str, size_name: str) -> None:
    layout = layout_of(name, size_name)
    for item in layout.items:
        assert inside(item.bbox, layout.safe_area), (item, layout.safe_area)


@each_size
@each_slide
def test_no_two_lines_overlap_vertically(name: str, size_name: str) -> None:
    items = sorted(layout_of(name, size_name).items, key=lambda item: item.bbox[1])
    for upper, lower in zip(items, items[1:], strict=False):
        assert upper.bbox[3] <= lower.bbox[1], (upper, lower)


@each_size
@each_slide
def test_markers_and_bars_stay_off_the_text(name: str, size_name: str) -> None:
    layout = layout_of(name, size_name)
    for shape in layout.shapes:
        if shape.kind == "dot":
            assert inside(shape.box, layout.safe_area), shape
        for item in layout.items:
            assert not overlap(shape.box, item.bbox), (shape, item)


@each_size
@each_slide
def test_placed_lines_are_single_clean_lines(name: str, size_name: str) -> None:
    for item in layout_of(name, size_name).items:
        assert item.text.strip() == item.text != ""
        assert not any(ch in item.text for ch in "\n\r\t\x00\x07\x0b")


@each_size
@pytest.mark.parametrize(
    "name",
    ["short", "long_title", "huge_word", "eight_long_bullets", "non_latin", "newlines_tabs"],
)
def test_wrapping_keeps_every_character_when_nothing_is_cut(name: str, size_name: str) -> None:
    layout = layout_of(name, size_name)
    slide = HOSTILE[name]
    assert not layout.truncated
    for role, source in (("title", slide.title), ("body", "".join(slide.bullets))):
        shown = "".join(item.text for item in layout.items if item.role == role)
        assert "".join(shown.split()) == "".join(source.split())


@each_size
def test_eight_thirty_word_bullets_fit_without_cutting(size_name: str) -> None:
    layout = layout_of("eight_long_bullets", size_name)
    assert not layout.truncated
    assert sum(shape.kind == "dot" for shape in layout.shapes) == 8


@each_size
def test_overflowing_text_is_cut_with_an_ellipsis(size_name: str) -> None:
    layout = layout_of("overflowing", size_name)
    body = [item for item in layout.items if item.role == "body"]
    assert layout.truncated
    assert body[-1].text.endswith(ELLIPSIS)
    assert len({item.font_size for item in body}) == 1


@each_size
def test_a_crowded_slide_shrinks_its_body_font(size_name: str) -> None:
    def body_size(name: str) -> int:
        return next(i.font_size for i in layout_of(name, size_name).items if i.role == "body")

    assert body_size("short") > body_size("eight_long_bullets")


@each_size
def test_whitespace_only_bullets_get_no_marker(size_name: str) -> None:
    layout = layout_of("whitespace_bullets", size_name)
    assert sum(shape.kind == "dot" for shape in layout.shapes) == 1
    assert [item.text for item in layout.items if item.role == "body"] == ["the real one"]


@each_size
def test_slide_number_sits_in_the_bottom_right_corner(size_name: str) -> None:
    layout = layout_of("short", size_name)
    (number,) = [item for item in layout.items if item.role == "number"]
    assert number.text == f"1 / {TOTAL}"
    assert number.bbox[2] == layout.safe_area[2] and number.bbox[3] == layout.safe_area[3]
    assert number.bbox[0] > (layout.safe_area[0] + layout.safe_area[2]) // 2


@each_size
def test_png_has_exact_size_and_rgb_mode(size_name: str, tmp_path: Path) -> None:
    out = render_slide(HOSTILE["short"], SIZES[size_name], tmp_path / "s.png", total=TOTAL)
    assert out == tmp_path / "s.png"
    with Image.open(out) as image:
        assert (image.format, image.mode) == ("PNG", "RGB")
        assert image.size == (SIZES[size_name].width, SIZES[size_name].height)
    assert list(tmp_path.iterdir()) == [out]  # no temporary file left behind


@pytest.mark.parametrize("name", ["eight_long_bullets", "non_latin", "emoji", "huge_word"])
def test_same_slide_renders_to_identical_bytes(name: str, tmp_path: Path) -> None:
    size = Size(1920, 1080)
    first = render_slide(HOSTILE[name], size, tmp_path / "a.png", total=TOTAL)
    second = render_slide(HOSTILE[name], size, tmp_path / "b.png", total=TOTAL)
    assert first.read_bytes() == second.read_bytes()


def test_render_slide_draws_exactly_its_layout(tmp_path: Path) -> None:
    slide, size = HOSTILE["non_latin"], Size(1280, 720)
    drawn = render_slide(slide, size, tmp_path / "a.png", total=TOTAL)
    laid_out = render_layout(layout_slide(slide, size, total=TOTAL), tmp_path / "b.png")
    assert drawn.read_bytes() == laid_out.read_bytes()


@each_size
@each_slide
def test_text_pixels_stay_in_their_measured_boxes(name: str, size_name: str, tmp_path: Path):
    # Text drawn inside the safe area: outside every measured ink box the render equals a render
    # without text, so the margin keeps only the background and the accent strip.
    layout = layout_of(name, size_name)
    with Image.open(render_layout(layout, tmp_path / "full.png")) as full:
        full.load()
    bare_layout = dataclasses.replace(layout, items=())
    with Image.open(render_layout(bare_layout, tmp_path / "bare.png")) as bare:
        bare.load()
    diff = ImageChops.difference(full, bare)
    if layout.items:
        assert diff.getbbox() is not None  # the text really was drawn
    for item in layout.items:
        diff.paste((0, 0, 0), item.bbox)
    assert diff.getbbox() is None


@each_size
@each_slide
def test_margin_holds_only_background_and_accent(name: str, size_name: str, tmp_path: Path):
    layout = layout_of(name, size_name)
    left, top, right, bottom = layout.safe_area
    width, height = layout.size.width, layout.size.height
    with Image.open(render_layout(layout, tmp_path / "full.png")) as full:
        full.load()
    with Image.open(render_layout(without_text(layout), tmp_path / "bare.png")) as bare:
        bare.load()
    colours = set()
    margins = [(0, 0, width, top), (0, bottom, width, height), (0, 0, left, height)]
    for strip in [*margins, (right, 0, width, height)]:
        assert full.crop(strip).tobytes() == bare.crop(strip).tobytes()
        colours |= {colour for _, colour in full.crop(strip).getcolors(1 << 20)}
    assert colours <= {DEFAULT_THEME.background, DEFAULT_THEME.accent}


def test_title_alone_is_bigger_and_lower_than_with_bullets() -> None:
    size = Size(1920, 1080)
    alone = layout_slide(Slide(1, "Introduction", ()), size, total=3)
    with_bullets = layout_slide(Slide(1, "Introduction", ("a point",)), size, total=3)
    (title_alone,) = [i for i in alone.items if i.role == "title"]
    (title_top,) = [i for i in with_bullets.items if i.role == "title"]
    assert title_alone.font_size > title_top.font_size
    assert title_alone.bbox[1] > size.height // 4  # vertically centred, not at the top


@pytest.mark.parametrize("size", [Size(64, 36), Size(200, 3000), Size(3000, 200)])
def test_odd_sizes_still_keep_text_inside(size: Size, tmp_path: Path) -> None:
    layout = layout_slide(HOSTILE["eight_long_bullets"], size, total=TOTAL)
    for item in layout.items:
        assert inside(item.bbox, layout.safe_area)
    with Image.open(render_layout(layout, tmp_path / "s.png")) as image:
        assert image.size == (size.width, size.height)


def test_non_positive_size_is_refused() -> None:
    with pytest.raises(ValueError, match="positive"):
        layout_slide(HOSTILE["short"], Size(0, 1080), total=1)
