"""One slide of each layout in each theme: the golden images' set and the README's contact sheet.

`python -m tests.slide_gallery` redraws the golden images (tests/golden/) and the contact
sheet (docs/slide-designs.png) after a deliberate design change; tests/test_design.py
compares fresh renders with the golden images.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from PIL import Image, ImageDraw

from videoforge.core.themes import THEME_NAMES, theme_for
from videoforge.core.types import FoundImage, Size, Slide, Theme
from videoforge.render.animations import animation_frames, plan_animation
from videoforge.render.captions import draw_caption
from videoforge.render.draw import draw_layout
from videoforge.render.layout import layout_slide

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden"
SHEET = ROOT / "docs" / "slide-designs.png"
SIZE = Size(1280, 720)
LAYOUTS = ("title", "bullets", "columns", "picture", "animation", "closing", "captioned")
BRAND = "#e11d48"


def theme_named(name: str, logo: Path | None = None) -> Theme:
    """Return a gallery theme: the brand one with a rose accent and a drawn logo."""
    if name == "brand":
        return theme_for(
            "brand", accent=(225, 29, 72), logo=str(logo) if logo else None, brand="Example School"
        )
    return theme_for(name)


def draw_picture(path: Path) -> Path:
    """Draw a landscape test picture (sky, sun, hills) deterministically."""
    image = Image.new("RGB", (800, 533), (135, 190, 235))
    draw = ImageDraw.Draw(image)
    draw.ellipse((560, 60, 700, 200), fill=(253, 224, 71))
    draw.polygon(
        [(0, 533), (0, 330), (260, 220), (520, 360), (800, 260), (800, 533)], fill=(34, 139, 84)
    )
    draw.rectangle((0, 470, 800, 533), fill=(22, 101, 52))
    image.save(path)
    return path


def draw_logo(path: Path) -> Path:
    """Draw a small square logo deterministically."""
    image = Image.new("RGB", (240, 240), (225, 29, 72))
    draw = ImageDraw.Draw(image)
    draw.ellipse((40, 40, 200, 200), fill=(255, 255, 255))
    draw.rectangle((100, 70, 140, 170), fill=(225, 29, 72))
    image.save(path)
    return path


def render(layout: str, theme_name: str, folder: Path) -> Image.Image:
    """Render one gallery slide."""
    logo = draw_logo(folder / "logo.png") if theme_name == "brand" else None
    theme = theme_named(theme_name, logo)
    if layout == "title":
        slide = Slide(
            1, "How Plants Make Food", kind="title", subtitle="Photosynthesis in five minutes"
        )
        return draw_layout(layout_slide(slide, SIZE, total=6, theme=theme))
    if layout == "bullets":
        slide = Slide(
            2,
            "Photosynthesis",
            (
                "Light is captured by chlorophyll",
                "Water and carbon dioxide go in",
                "Sugar and oxygen come out",
            ),
        )
        return draw_layout(layout_slide(slide, SIZE, total=6, theme=theme))
    if layout == "columns":
        bullets = tuple(
            f"Step {i}: {w}"
            for i, w in enumerate(
                (
                    "light arrives",
                    "electrons move",
                    "water splits",
                    "oxygen leaves",
                    "ATP forms",
                    "NADPH forms",
                    "carbon is fixed",
                    "sugar is built",
                    "starch is stored",
                    "the cycle repeats",
                ),
                1,
            )
        )
        slide = Slide(3, "The ten steps of the light and dark reactions", bullets)
        return draw_layout(layout_slide(slide, SIZE, total=6, theme=theme))
    if layout == "picture":
        picture = draw_picture(folder / "hills.png")
        found = FoundImage(picture, "library", "Green hills", "A. Painter", "CC BY 4.0")
        slide = Slide(4, "Where plants grow", ("Sunny hillsides", "Wet valleys"), image="hills")
        return draw_layout(layout_slide(slide, SIZE, total=6, theme=theme, image=found))
    if layout in ("animation", "captioned"):
        spec = {
            "type": "flow",
            "steps": ["Sunlight reaches the leaf", "Chlorophyll absorbs it", "Sugar is made"],
        }
        slide = Slide(5, "From light to sugar", animation=spec)
        plan = plan_animation(spec, slide, SIZE, total=6, theme=theme)
        *_, (last, _) = animation_frames(plan, 3.0)
        if layout == "captioned":
            return draw_caption(
                last, "The leaf turns sunlight into sugar, and gives off the oxygen we breathe."
            )
        return last
    if layout == "closing":
        slide = Slide(
            6,
            "Summary",
            ("Photosynthesis", "Where plants grow", "From light to sugar"),
            kind="closing",
        )
        return draw_layout(layout_slide(slide, SIZE, total=6, theme=theme))
    raise ValueError(layout)


def gallery() -> dict[tuple[str, str], Image.Image]:
    """Render every layout in every theme."""
    with tempfile.TemporaryDirectory() as tmp:
        return {(name, t): render(name, t, Path(tmp)) for t in THEME_NAMES for name in LAYOUTS}


def contact_sheet(images: dict[tuple[str, str], Image.Image], width: int = 320) -> Image.Image:
    """Lay the slides out as a grid: a row per theme, a column per layout."""
    height = round(width * SIZE.height / SIZE.width)
    gap = 8
    sheet = Image.new(
        "RGB",
        (len(LAYOUTS) * (width + gap) + gap, len(THEME_NAMES) * (height + gap) + gap),
        (255, 255, 255),
    )
    for row, theme in enumerate(THEME_NAMES):
        for col, layout in enumerate(LAYOUTS):
            thumb = images[layout, theme].resize((width, height), Image.Resampling.LANCZOS)
            sheet.paste(thumb, (gap + col * (width + gap), gap + row * (height + gap)))
    return sheet


def main() -> int:
    images = gallery()
    GOLDEN.mkdir(parents=True, exist_ok=True)
    for (layout, theme), image in images.items():
        image.save(GOLDEN / f"{layout}-{theme}.png", optimize=True)
    SHEET.parent.mkdir(parents=True, exist_ok=True)
    contact_sheet(images).save(SHEET, optimize=True)
    print(f"wrote {len(images)} golden images to {GOLDEN} and {SHEET}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
