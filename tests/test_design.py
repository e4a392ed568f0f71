"""Slides that look designed: measured on the rendered pixels, for every size and theme.

Layouts fill the safe area and balance their content; every text colour of every theme keeps
WCAG AA contrast; one slide per layout and theme matches its golden image (tests/golden/,
redrawn by `python -m tests.slide_gallery` after a deliberate design change).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.slide_gallery import GOLDEN, LAYOUTS, ROOT, SHEET, render
from tests.slide_pixels import (
    content_centre,
    content_mask,
    content_outside_safe_area,
    largest_empty_band,
)
from videoforge.core.themes import (
    AA_TEXT,
    THEME_NAMES,
    contrast_ratio,
    parse_colour,
    text_pairs,
    theme_for,
)
from videoforge.core.types import SUPPORTED_SIZES, Size, Slide
from videoforge.render.draw import draw_layout
from videoforge.render.layout import layout_slide

SHORT = (
    "Light",
    "Water in",
    "Sugar out",
    "Oxygen",
    "Roots",
    "Leaves",
    "Stems",
    "Seeds",
    "Soil",
    "Rain",
    "Sun",
    "Air",
)
LONG = tuple(
    f"Point {i}: chlorophyll in the leaf captures the energy of sunlight and turns water and carbon dioxide into sugar"
    for i in range(1, 13)
)
STRIP = 0.05  # the accent strip lies in the top margin: allowed outside the safe area
ARTIFACTS = ROOT / "test-artifacts" / "golden-diff"


def _render(slide: Slide, size: Size, theme_name: str) -> tuple[Image.Image, tuple[int, int, int]]:
    theme = theme_for(theme_name)
    return draw_layout(layout_slide(slide, size, total=12, theme=theme)), theme.background


def _check_fills(image: Image.Image, background: tuple[int, int, int], what: str) -> None:
    strip_rows = round(image.size[1] * STRIP)
    assert content_outside_safe_area(image, background, allow_top_strip=strip_rows) == 0, what
    band = largest_empty_band(image, background)
    centre = content_centre(image, background)
    assert band <= 0.35, f"{what}: an empty band of {band:.0%} of the height"
    assert 0.35 <= centre <= 0.65, f"{what}: content centred at {centre:.0%} of the height"


@pytest.mark.parametrize("size", SUPPORTED_SIZES, ids=str)
@pytest.mark.parametrize("theme_name", THEME_NAMES)
@pytest.mark.parametrize("length", ["short", "long"])
def test_text_slides_fill_and_balance_the_safe_area(size: Size, theme_name: str, length: str):
    # Measured on the pixels: no text outside the safe area, no empty band over 35 % of the
    # height, the content's centre between 35 % and 65 %, for 1 to 12 bullets.
    bullets = SHORT if length == "short" else LONG
    title = "Photosynthesis" if length == "short" else "How green plants turn sunlight into food"
    for count in range(1, 13):
        image, background = _render(Slide(2, title, bullets[:count]), size, theme_name)
        _check_fills(image, background, f"{count} {length} bullets at {size} in {theme_name}")


@pytest.mark.parametrize("size", SUPPORTED_SIZES, ids=str)
@pytest.mark.parametrize("theme_name", THEME_NAMES)
def test_title_and_closing_slides_fill_and_balance_the_safe_area(size: Size, theme_name: str):
    for slide in (
        Slide(1, "Photosynthesis", kind="title"),
        Slide(1, "How plants make their food", kind="title", subtitle="A five minute tour"),
        Slide(9, "Summary", ("Light", "Water", "Sugar"), kind="closing"),
        Slide(3, "Only a title"),
    ):
        image, background = _render(slide, size, theme_name)
        _check_fills(image, background, f"{slide.kind} {slide.title!r} at {size} in {theme_name}")


def test_many_bullets_on_a_wide_slide_go_in_two_columns():
    layout = layout_slide(Slide(2, "Twelve", SHORT), Size(1920, 1080), total=3)
    lefts = {item.bbox[0] for item in layout.items if item.role == "body"}
    assert max(lefts) - min(lefts) > 1920 * 0.3  # a second column starts right of the middle
    few = layout_slide(Slide(2, "Two", SHORT[:2]), Size(1920, 1080), total=3)
    (big,) = {item.font_size for item in few.items if item.role == "body"}
    assert big >= 0.055 * 1080  # two short bullets get large type


def test_a_slide_without_picture_shows_an_icon_in_the_theme_accent():
    theme = theme_for("light")
    layout = layout_slide(
        Slide(2, "Photosynthesis", ("Leaves",)), Size(1280, 720), total=3, theme=theme
    )
    (icon,) = layout.icons
    assert icon.icon.name in ("leaf", "seedling") and icon.fill == theme.accent
    image = np.asarray(draw_layout(layout))
    x0, y0, x1, y1 = icon.box
    assert (image[y0:y1, x0:x1] == theme.accent).all(axis=2).mean() > 0.2


@pytest.mark.parametrize("theme_name", THEME_NAMES)
def test_every_text_colour_keeps_aa_contrast(theme_name: str):
    for role, fg, bg in text_pairs(theme_for(theme_name)):
        assert contrast_ratio(fg, bg) >= AA_TEXT, (theme_name, role, fg, bg)


@pytest.mark.parametrize(
    "accent", ["#ffffff", "#fde047", "#22c55e", "#000000", "#e11d48", "#7dd3fc"]
)
def test_any_brand_colour_is_made_readable(accent: str):
    theme = theme_for("brand", accent=parse_colour(accent))
    for role, fg, bg in text_pairs(theme):
        assert contrast_ratio(fg, bg) >= AA_TEXT, (accent, role, fg, bg)


def test_contrast_ratio_is_wcag():
    assert round(contrast_ratio((0, 0, 0), (255, 255, 255)), 1) == 21.0
    assert round(contrast_ratio((118, 118, 118), (255, 255, 255)), 2) == 4.54


def test_captions_on_a_white_picture_keep_aa_contrast():
    # Text on pictures: the caption's band darkens even a white frame enough.
    from videoforge.render.captions import draw_caption, layout_caption

    white = Image.new("RGB", (1280, 720), (255, 255, 255))
    framed = np.asarray(draw_caption(white, "The leaf turns light into sugar."))
    layout = layout_caption(1280, 720, "The leaf turns light into sugar.")
    x0, y0, x1, y1 = layout.band
    band = framed[y0:y1, x0:x1].reshape(-1, 3)
    darkest_fill = tuple(int(c) for c in band.max(axis=0))  # the band's own colour, not the text
    assert (
        contrast_ratio((255, 255, 255), tuple(int(v) for v in np.median(band, axis=0))) >= AA_TEXT
    )
    assert darkest_fill == (255, 255, 255)  # the text is drawn in white
    assert y1 <= 720 * 0.95 and x0 >= 1280 * 0.05 and x1 <= 1280 * 0.95  # in the safe area


@pytest.mark.parametrize("theme_name", THEME_NAMES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_each_layout_matches_its_golden_image(layout: str, theme_name: str, tmp_path: Path):
    # Design changes are deliberate: redraw the goldens with `python -m tests.slide_gallery`.
    fresh = render(layout, theme_name, tmp_path).convert("RGB")
    golden_path = GOLDEN / f"{layout}-{theme_name}.png"
    with Image.open(golden_path) as golden:
        expected = np.asarray(golden.convert("RGB"), dtype=np.int16)
    actual = np.asarray(fresh, dtype=np.int16)
    assert actual.shape == expected.shape
    diff = np.abs(actual - expected).max(axis=2)
    changed = float((diff > 64).mean())
    if changed > 0.005 or diff.mean() > 2.0:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        fresh.save(ARTIFACTS / golden_path.name)
        pytest.fail(f"{golden_path.name}: {changed:.2%} of pixels changed (mean {diff.mean():.2f})")


def test_the_contact_sheet_is_committed_and_shown_in_the_readme():
    with Image.open(SHEET) as sheet:
        assert sheet.width > sheet.height
    assert "docs/slide-designs.png" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_content_mask_sees_text_and_not_background():
    image = Image.new("RGB", (100, 100), (10, 20, 30))
    image.putpixel((50, 50), (200, 200, 200))
    mask = content_mask(image, (10, 20, 30))
    assert mask.sum() == 1 and mask[50, 50]
