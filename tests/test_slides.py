"""Tests of slide rendering: every line of text fits the safe area, and the PNG is what we laid out."""

from __future__ import annotations

import dataclasses
import functools
import itertools
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageCms, ImageDraw

from videoforge.core.types import DEFAULT_THEME, SUPPORTED_SIZES, FoundImage, Size, Slide
from videoforge.render.draw import animation_canvas, render_layout, render_slide
from videoforge.render.layout import SlideLayout, layout_animation, layout_slide
from videoforge.render.text import ELLIPSIS, Box, PlacedText

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
def test_no_two_lines_overlap(name: str, size_name: str) -> None:
    # Lines side by side (two columns) may share rows, never ink.
    items = layout_of(name, size_name).items
    for i, a in enumerate(items):
        for b in items[i + 1 :]:
            apart = a.bbox[3] <= b.bbox[1] or b.bbox[3] <= a.bbox[1]
            assert apart or a.bbox[2] <= b.bbox[0] or b.bbox[2] <= a.bbox[0], (a, b)


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
    alone = layout_slide(Slide(1, "Introduction", ()), size, total=3, icon=False)
    with_bullets = layout_slide(Slide(1, "Introduction", ("a point",)), size, total=3, icon=False)
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


# --- slides with a picture -----------------------------------------------------------------------

PICTURE_COLOUR = (255, 0, 170)  # no theme colour, nor any blend of them, comes near it
PICTURES = {"wide": (1200, 300), "tall": (300, 1200), "square": (500, 500)}
CREDITS = {
    "credited": {"title": "Harbour at dusk", "author": "Ann Example", "license": "CC BY-SA 4.0"},
    "license_only": {"license": "CC0 1.0"},
    "uncredited": {"title": "Harbour at dusk"},
    "hostile": {
        "title": THIRTY_WORDS * 3,
        "author": "Ann\nExample\x00\t" + HUGE_WORD,
        "license": "CC BY-SA 4.0",
    },
}
PICTURE_SLIDES = [
    "short",
    "long_title",
    "huge_word",
    "eight_long_bullets",
    "empty_bullets",
    "non_latin",
    "emoji",
    "whitespace_bullets",
    "nothing",
    "overflowing",
]
ImageLayout = Callable[..., SlideLayout]

each_picture = pytest.mark.parametrize("picture", list(PICTURES))
each_picture_slide = pytest.mark.parametrize("name", PICTURE_SLIDES)


@pytest.fixture(scope="module")
def picture_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Solid pictures of each shape, in a colour nothing else on a slide has."""
    folder = tmp_path_factory.mktemp("pictures")
    files = {}
    for name, (width, height) in PICTURES.items():
        files[name] = folder / f"{name}.png"
        Image.new("RGB", (width, height), PICTURE_COLOUR).save(files[name])
    return files


@pytest.fixture(scope="module")
def image_layout(picture_files: dict[str, Path]) -> ImageLayout:
    """Lay out a hostile slide at a size with a picture and credit, each combination once."""

    @functools.cache
    def layout(name: str, size_name: str, picture: str, credit: str = "credited") -> SlideLayout:
        image = found(picture_files[picture], credit)
        return layout_slide(HOSTILE[name], SIZES[size_name], total=TOTAL, image=image)

    return layout


def found(path: Path, credit: str = "credited") -> FoundImage:
    return FoundImage(path, "openverse", **CREDITS[credit])


def by_role(layout: SlideLayout, role: str) -> list[PlacedText]:
    return [item for item in layout.items if item.role == role]


@each_size
@each_picture
@each_picture_slide
def test_picture_and_every_line_lie_inside_the_safe_area(
    image_layout: ImageLayout, name: str, size_name: str, picture: str
) -> None:
    layout = image_layout(name, size_name, picture)
    (placed,) = layout.images
    assert inside(placed.box, layout.safe_area), (placed, layout.safe_area)
    for item in layout.items:
        assert inside(item.bbox, layout.safe_area), (item, layout.safe_area)
    for shape in layout.shapes:
        if shape.kind == "dot":
            assert inside(shape.box, layout.safe_area), shape


@each_size
@each_picture
@each_picture_slide
def test_nothing_overlaps_the_picture_or_other_text(
    image_layout: ImageLayout, name: str, size_name: str, picture: str
) -> None:
    layout = image_layout(name, size_name, picture)
    (placed,) = layout.images
    for item in layout.items:
        assert not overlap(item.bbox, placed.box), (item, placed)
    for shape in layout.shapes:
        assert not overlap(shape.box, placed.box), (shape, placed)
        for item in layout.items:
            assert not overlap(shape.box, item.bbox), (shape, item)
    for a, b in itertools.combinations(layout.items, 2):  # the credit shares the number's row
        assert not overlap(a.bbox, b.bbox), (a, b)


@each_size
@each_picture
@each_picture_slide
def test_picture_keeps_its_aspect_ratio_and_gets_real_room(
    image_layout: ImageLayout, name: str, size_name: str, picture: str
) -> None:
    layout = image_layout(name, size_name, picture)
    (placed,) = layout.images
    x0, y0, x1, y1 = placed.box
    width, height = x1 - x0, y1 - y0
    source_w, source_h = PICTURES[picture]
    # The scaled side follows the fitted one to within a pixel: never stretched, never cropped.
    assert (
        min(abs(width - height * source_w / source_h), abs(height - width * source_h / source_w))
        <= 1
    )
    left, top, right, bottom = layout.safe_area
    assert max(width, height) >= 0.3 * min(right - left, bottom - top)


@each_size
@each_picture_slide
def test_picture_slide_text_fits_as_on_a_text_slide(
    image_layout: ImageLayout, name: str, size_name: str
) -> None:
    # Same cleaning and cutting rules: single clean lines; cut text ends with an ellipsis.
    layout = image_layout(name, size_name, "square")
    for item in layout.items:
        assert item.text.strip() == item.text != ""
        assert not any(ch in item.text for ch in "\n\r\t\x00\x07\x0b")
    body = by_role(layout, "body")
    if name == "overflowing":
        assert layout.truncated and body[-1].text.endswith(ELLIPSIS)
    if name in ("short", "non_latin", "emoji"):
        assert not layout.truncated
        shown = "".join(item.text for item in body)
        assert "".join(shown.split()) == "".join("".join(HOSTILE[name].bullets).split())


@pytest.mark.parametrize("size_name", ["1920x1080", "1280x720", "1080x1080"])
def test_landscape_and_square_slides_put_the_picture_beside_the_bullets(
    image_layout: ImageLayout, size_name: str
) -> None:
    layout = image_layout("short", size_name, "square")
    (placed,) = layout.images
    body = by_role(layout, "body")
    assert body and all(item.bbox[2] <= placed.box[0] for item in body)
    left, _, right, _ = layout.safe_area
    assert placed.box[2] == right
    assert 0.4 * (right - left) <= placed.box[2] - placed.box[0] <= 0.5 * (right - left)


def test_portrait_slides_put_the_picture_above_the_bullets(image_layout: ImageLayout) -> None:
    layout = image_layout("short", "1080x1920", "square")
    (placed,) = layout.images
    body = by_role(layout, "body")
    title = by_role(layout, "title")
    assert body and all(placed.box[3] <= item.bbox[1] for item in body)
    assert all(item.bbox[3] <= placed.box[1] for item in title)


@each_size
def test_a_very_wide_picture_goes_above_the_bullets(
    image_layout: ImageLayout, size_name: str
) -> None:
    # Beside the bullets a 4:1 picture would be a thin strip; above them it is far larger.
    layout = image_layout("short", size_name, "wide")
    (placed,) = layout.images
    body = by_role(layout, "body")
    assert body and all(placed.box[3] <= item.bbox[1] for item in body)


def test_a_very_tall_picture_goes_beside_the_bullets_even_on_portrait(
    image_layout: ImageLayout,
) -> None:
    layout = image_layout("short", "1080x1920", "tall")
    (placed,) = layout.images
    assert all(item.bbox[2] <= placed.box[0] for item in by_role(layout, "body"))


@each_size
@each_picture
def test_without_bullets_the_picture_fills_the_room_under_its_title(
    image_layout: ImageLayout, size_name: str, picture: str
) -> None:
    layout = image_layout("empty_bullets", size_name, picture)
    (placed,) = layout.images
    (title,) = by_role(layout, "title")
    footer_top = min(item.bbox[1] for item in layout.items if item.role in ("number", "credit"))
    left, top, right, bottom = layout.safe_area
    unit = min(layout.size.width, layout.size.height)
    # The title stays just above the picture as its caption (the two centred together); the
    # picture touches two opposite sides of the room under it: the safe area's sides, or
    # just under the title and just above the footer.
    assert title.bbox[3] <= placed.box[1] <= title.bbox[3] + 0.08 * unit
    spans_width = placed.box[0] == left and placed.box[2] == right
    gap_above, gap_below = placed.box[1] - title.bbox[3], footer_top - placed.box[3]
    spans_height = gap_above <= 0.08 * unit and gap_below <= 0.04 * unit
    assert spans_width or spans_height, (placed, title, footer_top)


@each_size
@pytest.mark.parametrize("name", ["short", "empty_bullets"])
def test_credit_line_shows_the_attribution_bottom_left(
    image_layout: ImageLayout, name: str, size_name: str, picture_files: dict[str, Path]
) -> None:
    layout = image_layout(name, size_name, "square", "credited")
    (credit,) = by_role(layout, "credit")
    (number,) = by_role(layout, "number")
    assert credit.text == found(picture_files["square"]).attribution
    assert credit.bbox[0] == layout.safe_area[0]
    assert credit.bbox[2] <= number.bbox[0]  # left of the number, on its row
    assert credit.bbox[3] <= layout.safe_area[3] and credit.bbox[3] > number.bbox[1]
    assert credit.font_size <= number.font_size
    assert credit.fill == DEFAULT_THEME.muted


@each_size
def test_credit_line_needs_an_author_or_a_license(
    image_layout: ImageLayout, size_name: str
) -> None:
    assert not by_role(image_layout("short", size_name, "square", "uncredited"), "credit")
    (credit,) = by_role(image_layout("short", size_name, "square", "license_only"), "credit")
    assert "CC0 1.0" in credit.text


@each_size
@pytest.mark.parametrize("name", ["short", "empty_bullets", "overflowing"])
def test_a_hostile_credit_is_shortened_to_one_line_that_fits(
    image_layout: ImageLayout, name: str, size_name: str
) -> None:
    layout = image_layout(name, size_name, "tall", "hostile")
    (credit,) = by_role(layout, "credit")
    (number,) = by_role(layout, "number")
    assert layout.truncated
    assert inside(credit.bbox, layout.safe_area) and not overlap(credit.bbox, number.bbox)
    assert credit.text.endswith(ELLIPSIS)
    assert credit.text.startswith("by Ann Example")  # the long title went first
    assert not any(ch in credit.text for ch in "\n\t\x00")


def test_no_picture_means_the_text_slide_layout(image_layout: ImageLayout) -> None:
    for size in SIZES.values():
        layout = layout_slide(HOSTILE["short"], size, total=TOTAL, image=None)
        assert layout == layout_slide(HOSTILE["short"], size, total=TOTAL)
        assert layout.images == () and layout.stage is None


def rendered(layout: SlideLayout, out: Path) -> Image.Image:
    with Image.open(render_layout(layout, out)) as image:
        image.load()
    return image


@each_size
@each_picture
@pytest.mark.parametrize("name", ["short", "empty_bullets"])
def test_picture_pixels_appear_where_the_layout_says(
    image_layout: ImageLayout, name: str, size_name: str, picture: str, tmp_path: Path
) -> None:
    layout = image_layout(name, size_name, picture)
    (placed,) = layout.images
    image = rendered(layout, tmp_path / "s.png")
    x0, y0, x1, y1 = placed.box
    assert image.getpixel(((x0 + x1) // 2, (y0 + y1) // 2)) == PICTURE_COLOUR
    for x, y in itertools.product((x0, x1 - 1), (y0, y1 - 1)):  # the picture's corners ...
        assert image.getpixel((x, y)) == PICTURE_COLOUR
    for x, y in (((x0 + x1) // 2, y0 - 1), ((x0 + x1) // 2, y1), (x0 - 1, y0), (x1, y0)):
        assert image.getpixel((x, y)) != PICTURE_COLOUR  # ... and nothing of it outside them
    colours = image.getcolors(1 << 24)
    assert dict((c, n) for n, c in colours)[PICTURE_COLOUR] == (x1 - x0) * (y1 - y0)


@each_size
@pytest.mark.parametrize("name", ["non_latin", "eight_long_bullets", "emoji", "huge_word"])
def test_picture_slide_text_stays_in_its_boxes_and_the_margin_stays_bare(
    image_layout: ImageLayout, name: str, size_name: str, tmp_path: Path
) -> None:
    layout = image_layout(name, size_name, "square")
    full = rendered(layout, tmp_path / "full.png")
    bare = rendered(dataclasses.replace(layout, items=()), tmp_path / "bare.png")
    diff = ImageChops.difference(full, bare)
    for item in layout.items:
        diff.paste((0, 0, 0), item.bbox)
    assert diff.getbbox() is None
    left, top, right, bottom = layout.safe_area
    width, height = layout.size.width, layout.size.height
    colours = set()
    for strip in [(0, 0, width, top), (0, bottom, width, height), (0, 0, left, height)]:
        colours |= {colour for _, colour in full.crop(strip).getcolors(1 << 20)}
    colours |= {colour for _, colour in full.crop((right, 0, width, height)).getcolors(1 << 20)}
    assert colours <= {DEFAULT_THEME.background, DEFAULT_THEME.accent}


@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_same_picture_slide_renders_to_identical_bytes(suffix: str, tmp_path: Path) -> None:
    picture = tmp_path / f"p{suffix}"
    Image.radial_gradient("L").resize((900, 500)).convert("RGB").save(picture)
    slide, size, image = HOSTILE["non_latin"], Size(1920, 1080), found(picture)
    first = render_slide(slide, size, tmp_path / "a.png", total=TOTAL, image=image)
    second = render_slide(slide, size, tmp_path / "b.png", total=TOTAL, image=image)
    assert first.read_bytes() == second.read_bytes()
    laid_out = layout_slide(slide, size, total=TOTAL, image=image)
    assert render_layout(laid_out, tmp_path / "c.png").read_bytes() == first.read_bytes()


def test_an_exif_rotated_photo_is_laid_out_and_drawn_upright(tmp_path: Path) -> None:
    # Stored 400x200 with its left half red; orientation 6 shows it 200x400, red on top.
    stored = Image.new("RGB", (400, 200), (0, 0, 255))
    ImageDraw.Draw(stored).rectangle((0, 0, 199, 199), fill=(255, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6
    photo = tmp_path / "photo.jpg"
    stored.save(photo, exif=exif, quality=95)
    layout = layout_slide(
        HOSTILE["empty_bullets"], Size(1920, 1080), total=TOTAL, image=found(photo)
    )
    ((x0, y0, x1, y1),) = [placed.box for placed in layout.images]
    assert abs((y1 - y0) - 2 * (x1 - x0)) <= 1
    image = rendered(layout, tmp_path / "s.png")
    top = image.getpixel(((x0 + x1) // 2, y0 + (y1 - y0) // 4))
    low = image.getpixel(((x0 + x1) // 2, y0 + 3 * (y1 - y0) // 4))
    assert top[0] > 200 > top[2] and low[2] > 200 > low[0]


@pytest.mark.parametrize(
    ("mode", "value", "suffix", "expected"),
    [
        ("CMYK", (0, 255, 85, 0), ".jpg", PICTURE_COLOUR),
        ("P", None, ".png", PICTURE_COLOUR),
        ("L", 128, ".png", (128, 128, 128)),
        ("I;16", 128 * 256, ".png", (128, 128, 128)),
        ("1", 1, ".png", (255, 255, 255)),
    ],
)
def test_pictures_in_other_modes_keep_their_colours(
    mode: str, value: object, suffix: str, expected: tuple[int, int, int], tmp_path: Path
) -> None:
    if mode == "P":
        picture = Image.new("RGB", (300, 200), PICTURE_COLOUR).convert("P")
    else:
        picture = Image.new(mode, (300, 200), value)
    path = tmp_path / f"p{suffix}"
    picture.save(path)
    layout = layout_slide(HOSTILE["short"], Size(1280, 720), total=TOTAL, image=found(path))
    ((x0, y0, x1, y1),) = [placed.box for placed in layout.images]
    centre = rendered(layout, tmp_path / "s.png").getpixel(((x0 + x1) // 2, (y0 + y1) // 2))
    assert all(abs(a - b) <= 12 for a, b in zip(centre, expected, strict=True)), centre


def test_an_srgb_tagged_photo_keeps_its_colours(tmp_path: Path) -> None:
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    Image.new("RGB", (300, 200), PICTURE_COLOUR).save(tmp_path / "p.jpg", icc_profile=srgb)
    image = found(tmp_path / "p.jpg")
    layout = layout_slide(HOSTILE["short"], Size(1280, 720), total=TOTAL, image=image)
    ((x0, y0, x1, y1),) = [placed.box for placed in layout.images]
    centre = rendered(layout, tmp_path / "s.png").getpixel(((x0 + x1) // 2, (y0 + y1) // 2))
    assert all(abs(a - b) <= 12 for a, b in zip(centre, PICTURE_COLOUR, strict=True)), centre


@pytest.mark.parametrize("size", [Size(64, 36), Size(200, 3000), Size(3000, 200)])
@each_picture
def test_odd_sizes_with_a_picture_still_keep_everything_inside(
    size: Size, picture: str, picture_files: dict[str, Path], tmp_path: Path
) -> None:
    image = found(picture_files[picture], "hostile")
    layout = layout_slide(HOSTILE["eight_long_bullets"], size, total=TOTAL, image=image)
    for box in [item.bbox for item in layout.items] + [p.box for p in layout.images]:
        assert inside(box, layout.safe_area)
    for placed in layout.images:
        assert not any(overlap(item.bbox, placed.box) for item in layout.items)
    with Image.open(render_layout(layout, tmp_path / "s.png")) as drawn:
        assert drawn.size == (size.width, size.height)


def test_transparent_parts_of_a_picture_show_the_slide(tmp_path: Path) -> None:
    picture = Image.new("RGBA", (400, 400), (0, 0, 0, 0))
    ImageDraw.Draw(picture).rectangle((200, 0, 399, 399), fill=(*PICTURE_COLOUR, 255))
    picture.save(tmp_path / "p.png")
    layout = layout_slide(
        HOSTILE["short"], Size(1920, 1080), total=TOTAL, image=found(tmp_path / "p.png")
    )
    ((x0, y0, x1, y1),) = [placed.box for placed in layout.images]
    image = rendered(layout, tmp_path / "s.png")
    middle = (y0 + y1) // 2
    assert image.getpixel((x0 + (x1 - x0) // 4, middle)) == DEFAULT_THEME.background
    assert image.getpixel((x0 + 3 * (x1 - x0) // 4, middle)) == PICTURE_COLOUR


# --- animation slides ----------------------------------------------------------------------------

ANIMATION_SLIDES = ["short", "long_title", "huge_word", "emoji", "nothing", "eight_long_bullets"]


@each_size
@pytest.mark.parametrize("name", ANIMATION_SLIDES)
def test_animation_box_lies_in_the_safe_area_below_the_title(name: str, size_name: str) -> None:
    layout = layout_animation(HOSTILE[name], SIZES[size_name], total=TOTAL)
    stage = layout.stage
    assert stage is not None and inside(stage, layout.safe_area)
    assert not by_role(layout, "body")  # an animation slide shows no bullets
    for item in layout.items:
        if item.role == "title":
            assert item.bbox[3] <= stage[1]
        assert not overlap(item.bbox, stage), (item, stage)
    for shape in layout.shapes:
        assert not overlap(shape.box, stage), (shape, stage)
    left, top, right, bottom = layout.safe_area
    assert stage[0] == left and stage[2] == right
    assert stage[3] - stage[1] >= 0.4 * (bottom - top)


@each_size
@pytest.mark.parametrize("name", ["short", "eight_long_bullets", "nothing"])
def test_animation_canvas_is_the_slide_look_with_an_empty_box(
    name: str, size_name: str, tmp_path: Path
) -> None:
    slide, size = HOSTILE[name], SIZES[size_name]
    canvas, box = animation_canvas(slide, size, total=TOTAL)
    again, same_box = animation_canvas(slide, size, total=TOTAL)
    assert (canvas.mode, canvas.size) == ("RGB", (size.width, size.height))
    assert canvas.tobytes() == again.tobytes() and box == same_box  # deterministic
    layout = layout_animation(slide, size, total=TOTAL)
    assert box == layout.stage
    assert canvas.tobytes() == rendered(layout, tmp_path / "s.png").tobytes()
    assert canvas.crop(box).getcolors() == [(_area(box), DEFAULT_THEME.background)]
    (number,) = by_role(layout, "number")
    assert number.text == f"{slide.slide_number} / {TOTAL}"


def _area(box: Box) -> int:
    return (box[2] - box[0]) * (box[3] - box[1])
