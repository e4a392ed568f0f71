"""Tests of slide icons: the choice from a slide's words, the curated table, and the drawing."""

from __future__ import annotations

import importlib.resources
import struct
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageFont

from videoforge.render import icons
from videoforge.render.icons import (
    CURATED_ICONS,
    FALLBACK_ICON,
    GENERIC_ICONS,
    Icon,
    IconsUnavailable,
    choose_icon,
    draw_icon,
    icon_font_path,
    icon_named,
    indexed_icon_count,
)

# Slide -> the icons that would be a sensible picture for it.
SLIDES = [
    (
        "Photosynthesis",
        ["Plants turn sunlight into sugar", "Chlorophyll absorbs light"],
        {"leaf", "seedling"},
    ),
    (
        "The French Revolution",
        ["Causes of the revolt of 1789", "The storming of the Bastille"],
        {"landmark", "building-columns", "flag"},
    ),
    (
        "Compound interest",
        ["Interest earned on interest", "Start saving early"],
        {"coins", "piggy-bank"},
    ),
    (
        "The Water Cycle",
        ["Evaporation", "Condensation", "Precipitation"],
        {"droplet", "water", "cloud-rain"},
    ),
    (
        "Introduction to Python programming",
        ["Variables", "Loops and functions"],
        {"laptop-code", "code"},
    ),
    (
        "Volcanoes",
        ["Magma rises through the crust", "Eruptions can be explosive"],
        {"volcano", "mountain", "fire"},
    ),
    (
        "The Solar System",
        ["Eight planets orbit the Sun"],
        {"sun", "earth-americas", "rocket", "star"},
    ),
    (
        "World War II",
        ["Allied and Axis powers", "Major battles in Europe"],
        {"shield-halved", "person-military-rifle"},
    ),
    ("Cell structure", ["Nucleus", "Mitochondria", "Cell membrane"], {"microscope", "dna"}),
    ("Supply and demand", ["Prices rise when supply falls"], {"chart-line", "coins"}),
    (
        "Newton's laws of motion",
        ["Inertia", "Force equals mass times acceleration"],
        {"apple-whole", "atom", "gauge-high"},
    ),
    (
        "Healthy eating",
        ["A balanced diet", "Fruit and vegetables every day"],
        {"utensils", "apple-whole", "carrot", "heart-pulse"},
    ),
    ("The Roman Empire", ["Augustus", "Roads and aqueducts"], {"landmark", "building-columns"}),
    (
        "Climate change",
        ["Greenhouse gases", "Rising temperatures"],
        {"earth-americas", "temperature-high", "cloud"},
    ),
    (
        "How vaccines work",
        ["The immune system remembers", "Antibodies"],
        {"syringe", "virus", "shield-virus"},
    ),
    (
        "Machine learning basics",
        ["Training data", "Models make predictions"],
        {"brain", "robot", "database"},
    ),
    ("The Industrial Revolution", ["Steam engines", "Factories and cities"], {"industry", "gears"}),
    ("Fractions", ["Numerator and denominator"], {"calculator", "square-root-variable", "divide"}),
    ("Ancient Egypt", ["Pyramids", "Pharaohs and the Nile"], {"landmark"}),
    (
        "Plate tectonics",
        ["Earthquakes", "Continental drift"],
        {"mountain", "house-crack", "earth-americas"},
    ),
    ("Electric circuits", ["Current", "Resistance"], {"bolt", "microchip"}),
    (
        "Shakespeare's plays",
        ["Tragedies and comedies", "Hamlet"],
        {"masks-theater", "book-open", "feather"},
    ),
    ("Summary", ["Plants need light", "Water matters"], {"list-check"}),
    ("Any questions?", [], {"circle-question"}),
    ("Introduction", ["What we will cover today"], {"lightbulb"}),
    ("Dinosaurs", ["Extinction", "Fossils"], {"bone", "dragon", "skull"}),
    ("Recycling at home", ["Sort paper, glass and plastic"], {"recycle"}),
]


@pytest.mark.parametrize(("title", "bullets", "good"), SLIDES, ids=[s[0] for s in SLIDES])
def test_choose_icon_picks_a_sensible_icon(title: str, bullets: list[str], good: set[str]) -> None:
    icon = choose_icon(title, bullets)
    assert icon.name in good
    assert choose_icon(title, bullets) == icon
    assert choose_icon(title, tuple(bullets)) == icon


def test_title_words_outweigh_bullet_words() -> None:
    assert choose_icon("Photosynthesis", ["money"]).name == "leaf"
    assert choose_icon("Money", ["photosynthesis"]).name == "coins"


def test_a_topic_word_outweighs_a_generic_one() -> None:
    assert choose_icon("Introduction to chemistry").name == "flask"
    assert choose_icon("Summary").name == "list-check"


def test_whole_names_and_search_terms_match_without_the_curated_table() -> None:
    assert "volcano" not in {w for words in CURATED_ICONS.values() for w in words}
    assert choose_icon("Volcano").name == "volcano"
    assert choose_icon("Hippos").name == "hippo"  # plural stripped
    # "potion" is only one of the flask's (and flask-vial's) search terms.
    assert choose_icon("The potion").name == "flask"


def test_plural_endings_are_stripped() -> None:
    assert choose_icon("Cities").name == choose_icon("City").name == "city"
    assert choose_icon("Batteries").name == choose_icon("Battery").name == "battery-full"
    assert choose_icon("Experiments").name == "flask"


def test_accents_and_case_do_not_matter() -> None:
    assert choose_icon("HISTOIRE: la Révolution").name == "landmark"
    assert choose_icon("pHoToSyNtHeSiS").name == "leaf"


@pytest.mark.parametrize(
    ("title", "bullets"),
    [
        ("Zxqv blorft", ["wibble flarn", "quux"]),
        ("What is it and how?", ["It is, or it was.", "Why not?"]),  # stop words only
        ("An ox", ["is", "up"]),  # words under 3 letters only
        ("1789 - 1799", ["42 %", "3.14"]),
    ],
)
def test_no_matching_word_gives_the_fallback(title: str, bullets: list[str]) -> None:
    assert choose_icon(title, bullets).name == FALLBACK_ICON


@pytest.mark.parametrize(
    ("title", "bullets"),
    [("", ()), ("", []), ("", [""]), ("   ", ["\n", "\t"]), ("Science", ())],
)
def test_empty_inputs_do_not_raise(title: str, bullets: list[str]) -> None:
    assert isinstance(choose_icon(title, bullets), Icon)
    assert isinstance(choose_icon(title), Icon)


@pytest.mark.parametrize(
    ("title", "bullets"),
    [
        ("science " * 1250, ["history " * 1250]),
        ("x" * 10_000, ["y" * 10_000] * 20),
        ("Emoji 😀🎉🇺🇸 science", ["👩‍👩‍👧 family", "👍🏽" * 2_000]),
        ("Nul\x00 and \ud800 surrogate", ["bell\x07 and\x0bvtab", "\x1b[31mred\x1b[0m"]),
        ("Zalgo Z̴̡̛͈a̸l̷g̵o̶", ["e\u0301" * 5_000, "\u202eright to left\u202c"]),
        ("Ελληνικά и кириллица", ["مرحبا بالعالم", "שלום עולם", "中文 日本語"]),
        ("Bullets", ["bullet"] * 10_000),
    ],
    ids=["repeated", "long", "emoji", "control", "combining", "non_latin", "many_bullets"],
)
def test_hostile_input_does_not_raise(title: str, bullets: list[str]) -> None:
    icon = choose_icon(title, bullets)
    assert icon.name in icons._index().icons
    assert choose_icon(title, bullets) == icon


def test_the_index_is_built_once() -> None:
    choose_icon("Science")
    before = icons._index.cache_info()
    choose_icon("History", ["one", "two"])
    icon_named("flask")
    after = icons._index.cache_info()
    assert after.misses == before.misses
    assert before.currsize == 1


def test_the_index_holds_free_solid_icons_only() -> None:
    index = icons._index()
    assert indexed_icon_count() == len(index.icons) > 1_000
    for skipped in ("0", "9", "a", "z", "percent", "hashtag", "font-awesome", "github"):
        assert skipped not in index.icons
    with pytest.raises(KeyError):
        icon_named("github")
    assert icon_named("flask") == Icon("flask", "\uf0c3")


# --- the curated table ------------------------------------------------------------------------


def _cmap_codepoints(path: Path) -> set[int]:
    """Return the code points the font maps to glyphs (fontTools if installed, else its cmap)."""
    try:
        from fontTools.ttLib import TTFont
    except ImportError:
        return _format12_codepoints(path.read_bytes())
    with TTFont(path) as font:
        return set(font.getBestCmap())


def _format12_codepoints(data: bytes) -> set[int]:
    """Read the code points of a TrueType font's Unicode full-repertoire (format 12) cmap."""
    (num_tables,) = struct.unpack_from(">H", data, 4)
    records = {
        data[12 + 16 * i : 16 + 16 * i]: struct.unpack_from(">I", data, 20 + 16 * i)[0]
        for i in range(num_tables)
    }
    cmap = records[b"cmap"]
    (num_subtables,) = struct.unpack_from(">H", data, cmap + 2)
    for i in range(num_subtables):
        platform, encoding, offset = struct.unpack_from(">HHI", data, cmap + 4 + 8 * i)
        table = cmap + offset
        if (platform, encoding) == (3, 10) and struct.unpack_from(">H", data, table)[0] == 12:
            (num_groups,) = struct.unpack_from(">I", data, table + 12)
            points: set[int] = set()
            for g in range(num_groups):
                start, end, glyph = struct.unpack_from(">III", data, table + 16 + 12 * g)
                points.update(range(start if glyph else start + 1, end + 1))
            return points
    raise AssertionError("the font has no format 12 Unicode cmap")


def _curated_names() -> list[str]:
    return sorted({*CURATED_ICONS, *GENERIC_ICONS, FALLBACK_ICON})


def test_every_curated_icon_is_indexed_and_in_the_font() -> None:
    index = icons._index()
    in_font = _cmap_codepoints(icon_font_path())
    for name in _curated_names():
        assert name in index.icons, name
        assert ord(index.icons[name].char) in in_font, name
    # Every indexed icon can be drawn, not only the curated ones.
    assert all(ord(icon.char) in in_font for icon in index.icons.values())


def test_every_curated_icon_draws_its_own_glyph() -> None:
    # A character the font lacks draws the .notdef box, so "has ink" alone would prove nothing.
    font = ImageFont.truetype(str(icon_font_path()), 48)
    notdef = font.getmask(chr(0x10FFFD))
    assert ord(chr(0x10FFFD)) not in _cmap_codepoints(icon_font_path())
    for name in _curated_names():
        mask = font.getmask(icon_named(name).char)
        assert mask.getbbox() is not None, name
        assert (mask.size, bytes(mask)) != (notdef.size, bytes(notdef)), name


def test_curated_words_are_usable_and_unambiguous() -> None:
    owner: dict[str, str] = {}
    for table in (CURATED_ICONS, GENERIC_ICONS):
        for name, words in table.items():
            for word in words:
                assert icons._words(word) == {icons._normalise(word)}, word  # not a stop word
                key = icons._normalise(word)
                assert owner.setdefault(key, name) == name, (word, owner[key], name)
                assert choose_icon(word).name == name, word


def test_the_requested_topics_map_to_their_icons() -> None:
    expected = {
        "science": "flask",
        "history": "landmark",
        "algebra": "square-root-variable",
        "calculate": "calculator",
        "tree": "tree",
        "electricity": "bolt",
        "economy": "coins",
        "programming": "laptop-code",
        "database": "database",
        "network": "network-wired",
        "brain": "brain",
        "health": "heart-pulse",
        "doctor": "stethoscope",
        "geography": "earth-americas",
        "sun": "sun",
        "moon": "moon",
        "rocket": "rocket",
        "star": "star",
        "literature": "book-open",
        "music": "music",
        "painting": "palette",
        "clock": "clock",
        "calendar": "calendar",
        "city": "city",
        "community": "people-group",
        "language": "language",
        "question": "circle-question",
        "conclusion": "list-check",
        "idea": "lightbulb",
        "weather": "cloud",
        "fire": "fire",
        "physics": "atom",
        "biology": "dna",
        "cell": "microscope",
        "transport": "car",
        "train": "train",
        "ship": "ship",
        "flight": "plane",
        "food": "utensils",
        "agriculture": "wheat-awn",
        "factory": "industry",
        "justice": "scale-balanced",
        "government": "building-columns",
        "battle": "shield-halved",
        "travel": "map",
        "statistics": "chart-line",
        "education": "graduation-cap",
        "security": "lock",
        "tool": "screwdriver-wrench",
        "environment": "recycle",
        "animal": "paw",
    }
    for word, name in expected.items():
        assert choose_icon(word.title()).name == name, word
    assert choose_icon("Water").name in {"droplet", "water"}
    assert choose_icon("Plants").name in {"leaf", "seedling"}


# --- the font file --------------------------------------------------------------------------


def test_the_font_comes_from_the_installed_package() -> None:
    path = icon_font_path()
    assert path.name == "fa-solid-900.ttf" and path.is_file()
    package = Path(str(importlib.resources.files("fontawesomefree")))
    assert path.is_relative_to(package)


def test_a_missing_package_raises_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(name: str) -> None:
        raise ModuleNotFoundError(f"No module named {name!r}")

    monkeypatch.setattr(icons.importlib.resources, "files", missing)
    icon_font_path.cache_clear()
    try:
        with pytest.raises(IconsUnavailable, match="fontawesomefree"):
            icon_font_path()
    finally:
        monkeypatch.undo()
        icon_font_path.cache_clear()
    assert icon_font_path().is_file()


def test_the_license_is_bundled() -> None:
    ours = Path(icons.__file__).parent / "fonts" / "LICENSE-FontAwesome-Free.txt"
    theirs = (
        Path(str(importlib.resources.files("fontawesomefree")))
        / "static/fontawesomefree/LICENSE.txt"
    )
    first, rest = ours.read_text().split("\n", 1)
    assert "Font Awesome Free" in first and "fontawesomefree" in first
    assert theirs.read_text() in rest
    assert "CC BY 4.0" in rest and "SIL OFL 1.1" in rest


# --- drawing --------------------------------------------------------------------------------

BACKGROUND = (250, 245, 235)
FILL = (20, 60, 160)
BOXES = [(30, 40, 94, 104), (10, 10, 310, 130), (200, 20, 240, 220)]  # square, wide, tall


def _ink_bbox(image: Image.Image) -> tuple[int, int, int, int] | None:
    background = Image.new("RGB", image.size, BACKGROUND)
    return (
        ImageChops.difference(image, background)
        .convert("L")
        .point(lambda v: 255 if v > 0 else 0)
        .getbbox()
    )


@pytest.mark.parametrize("box", BOXES, ids=["square", "wide", "tall"])
@pytest.mark.parametrize("name", ["flask", "landmark", "people-group", "lightbulb", "ruler", "dna"])
def test_draw_icon_fills_the_box_centred(box: tuple[int, int, int, int], name: str) -> None:
    image = Image.new("RGB", (360, 240), BACKGROUND)
    drawn = draw_icon(image, box, icon_named(name), FILL)
    ink = _ink_bbox(image)
    assert ink is not None
    left, top, right, bottom = box
    assert left <= ink[0] < ink[2] <= right and top <= ink[1] < ink[3] <= bottom
    assert drawn == ink  # the returned box is the ink drawn, to the pixel
    width, height = right - left, bottom - top
    ink_width, ink_height = ink[2] - ink[0], ink[3] - ink[1]
    assert max(ink_width / width, ink_height / height) >= 0.8
    assert min(width, height) * 0.8 <= max(ink_width, ink_height)
    assert abs((ink[0] + ink[2]) - (left + right)) / 2 <= 1
    assert abs((ink[1] + ink[3]) - (top + bottom)) / 2 <= 1
    assert FILL in {color for _, color in image.crop(ink).getcolors(1 << 16)}


def test_draw_icon_draws_every_curated_icon_inside_its_box() -> None:
    box = (12, 8, 112, 88)
    for name in _curated_names():
        image = Image.new("RGB", (130, 100), BACKGROUND)
        draw_icon(image, box, icon_named(name), FILL)
        ink = _ink_bbox(image)
        assert ink is not None, name
        assert box[0] <= ink[0] and box[1] <= ink[1] and ink[2] <= box[2] and ink[3] <= box[3], name
        assert max((ink[2] - ink[0]) / 100, (ink[3] - ink[1]) / 80) >= 0.8, name


def test_draw_icon_with_an_empty_box_draws_nothing() -> None:
    image = Image.new("RGB", (50, 50), BACKGROUND)
    assert draw_icon(image, (10, 10, 10, 40), icon_named("flask"), FILL) == (10, 10, 10, 10)
    assert draw_icon(image, (30, 30, 20, 20), icon_named("flask"), FILL) == (30, 30, 30, 30)
    assert _ink_bbox(image) is None


def test_draw_icon_in_a_box_larger_than_the_image_stays_centred() -> None:
    image = Image.new("RGB", (100, 80), BACKGROUND)
    drawn = draw_icon(image, (-5000, -5000, 5100, 5080), icon_named("flask"), FILL)
    assert drawn[2] - drawn[0] <= 10_100 and drawn[3] - drawn[1] <= 10_080
    assert abs((drawn[0] + drawn[2]) - 100) / 2 <= 1 and abs((drawn[1] + drawn[3]) - 80) / 2 <= 1


def test_draw_icon_is_deterministic() -> None:
    first = Image.new("RGB", (200, 200), BACKGROUND)
    second = Image.new("RGB", (200, 200), BACKGROUND)
    icon = choose_icon("Photosynthesis")
    assert draw_icon(first, (20, 20, 180, 180), icon, FILL) == draw_icon(
        second, (20, 20, 180, 180), icon, FILL
    )
    assert first.tobytes() == second.tobytes()
