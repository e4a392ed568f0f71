"""Draw slide layouts with Pillow and write them as PNG files.

`render_slide` lays a slide out (`layout.layout_slide`) and draws exactly that layout;
`animation_canvas` draws an animation slide's still parts and returns the box left for its
frames.
"""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

from PIL import Image, ImageDraw

from ..core.types import DEFAULT_THEME, FoundImage, Size, Slide, Theme
from .icons import draw_icon
from .layout import SlideLayout, layout_animation, layout_slide
from .pictures import paste_picture
from .text import BOLD_FONT, REGULAR_FONT, Box, draw_text, load_font


def draw_layout(layout: SlideLayout) -> Image.Image:
    """Draw a layout: background, shapes, pictures and icons, then the text lines."""
    image = Image.new("RGB", (layout.size.width, layout.size.height), layout.background)
    draw = ImageDraw.Draw(image)
    for shape in layout.shapes:
        x0, y0, x1, y1 = shape.box
        if x1 <= x0 or y1 <= y0:
            continue
        if shape.kind == "dot":
            image.paste(shape.fill, (x0, y0, x1, y1), _dot_mask(x1 - x0, y1 - y0))
        else:
            draw.rectangle((x0, y0, x1 - 1, y1 - 1), fill=shape.fill)
    for picture in layout.images:
        paste_picture(image, picture.path, picture.box)
    for placed in layout.icons:
        draw_icon(image, placed.box, placed.icon, placed.fill)
    for item in layout.items:
        font = load_font(BOLD_FONT if item.bold else REGULAR_FONT, item.font_size)
        draw_text(draw, item.xy, item.text, item.fill, font)
    return image


def render_layout(layout: SlideLayout, out: Path) -> Path:
    """Draw a layout into an RGB PNG at out (written whole, then moved into place)."""
    image = draw_layout(layout)
    # A unique temporary name: readers never see half a PNG, even with two renders racing.
    with tempfile.NamedTemporaryFile(
        dir=out.parent, prefix=f".{out.name}.", suffix=".part", delete=False
    ) as part:
        try:
            image.save(part, format="PNG", compress_level=1)
        except BaseException:
            Path(part.name).unlink(missing_ok=True)
            raise
    Path(part.name).replace(out)
    return out


def render_slide(
    slide: Slide,
    size: Size,
    out: Path,
    *,
    total: int,
    theme: Theme = DEFAULT_THEME,
    image: FoundImage | None = None,
    icon: bool = True,
) -> Path:
    """Render a slide (and its picture or icon) to an RGB PNG of exactly size at out; return out."""
    layout = layout_slide(slide, size, total=total, theme=theme, image=image, icon=icon)
    return render_layout(layout, out)


def animation_canvas(
    slide: Slide, size: Size, *, total: int, theme: Theme = DEFAULT_THEME
) -> tuple[Image.Image, Box]:
    """Draw an animation slide's base frame (a text slide without bullets) and its empty box.

    The box lies inside the safe area, below the title and above the slide number; an
    animation draws its frames there on copies of the returned RGB image.
    """
    layout = layout_animation(slide, size, total=total, theme=theme)
    assert layout.stage is not None  # an animation layout always has its stage
    return draw_layout(layout), layout.stage


@functools.lru_cache(maxsize=64)
def _dot_mask(width: int, height: int) -> Image.Image:
    scale = 4
    big = Image.new("L", (width * scale, height * scale), 0)
    ImageDraw.Draw(big).ellipse((0, 0, width * scale - 1, height * scale - 1), fill=255)
    return big.resize((width, height), Image.Resampling.LANCZOS)
