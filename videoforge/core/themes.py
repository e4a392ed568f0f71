"""The slide themes: dark, light, high contrast and a brand's, and the contrast they keep.

A request names a theme (`theme`), or the deployment's default (`VIDEOFORGE_THEME`) applies.
The brand theme is the light one with the brand's accent colour, darkened until it reads as
text, and the brand's logo and name on the title slide. `contrast_ratio` is WCAG 2's.
"""

from __future__ import annotations

import re
from dataclasses import replace

from .types import Theme

RGB = tuple[int, int, int]

AA_TEXT = 4.5  # WCAG AA: the least contrast of normal-size text against its background

THEMES: dict[str, Theme] = {
    "dark": Theme(),
    "light": Theme(
        background=(248, 250, 252),
        accent=(3, 105, 161),
        title=(15, 23, 42),
        text=(30, 41, 59),
        muted=(71, 85, 105),
        name="light",
    ),
    "high-contrast": Theme(
        background=(0, 0, 0),
        accent=(255, 214, 0),
        title=(255, 255, 255),
        text=(255, 255, 255),
        muted=(235, 235, 235),
        name="high-contrast",
    ),
}
THEME_NAMES = (*THEMES, "brand")
DEFAULT_BRAND_COLOUR = (124, 58, 237)

# Burned-in captions: light text on a dark band laid over whatever the frame shows. With the
# band this opaque, the text keeps AA contrast even over a white picture.
CAPTION_TEXT: RGB = (255, 255, 255)
CAPTION_BAND: RGB = (0, 0, 0)
CAPTION_BAND_OPACITY = 0.72

_HEX = re.compile(r"^#?([0-9a-fA-F]{6})$")


def parse_colour(text: str) -> RGB:
    """Return the colour of a "#rrggbb" string; raise ValueError for anything else."""
    match = _HEX.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"a colour is written #rrggbb, e.g. #7c3aed, not {text!r}")
    value = match.group(1)
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def relative_luminance(colour: RGB) -> float:
    """Return WCAG 2's relative luminance of an sRGB colour, from 0 (black) to 1 (white)."""

    def linear(channel: int) -> float:
        c = channel / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(c) for c in colour)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(a: RGB, b: RGB) -> float:
    """Return WCAG 2's contrast ratio of two colours, from 1 to 21."""
    la, lb = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def blend(under: RGB, over: RGB, opacity: float) -> RGB:
    """Return `over` laid on `under` at an opacity from 0 to 1."""
    return tuple(round(u + (o - u) * opacity) for u, o in zip(under, over, strict=True))  # type: ignore[return-value]


def readable(colour: RGB, background: RGB, ratio: float = AA_TEXT) -> RGB:
    """Return colour, darkened or lightened as little as needed to reach ratio on background."""
    if contrast_ratio(colour, background) >= ratio:
        return colour
    target = (0, 0, 0) if relative_luminance(background) > 0.18 else (255, 255, 255)
    for step in range(1, 101):
        moved = blend(colour, target, step / 100)
        if contrast_ratio(moved, background) >= ratio:
            return moved
    return target


def brand_theme(
    accent: RGB = DEFAULT_BRAND_COLOUR, *, logo: str | None = None, name: str = ""
) -> Theme:
    """Return the light theme with a brand's accent (made readable), logo and name."""
    base = THEMES["light"]
    return replace(
        base,
        accent=readable(accent, base.background),
        name="brand",
        logo=logo,
        brand=name,
    )


def theme_for(
    name: str, *, accent: RGB | None = None, logo: str | None = None, brand: str = ""
) -> Theme:
    """Return the theme called name (one of THEME_NAMES); a brand's accent applies to "brand"."""
    if name == "brand":
        return brand_theme(accent or DEFAULT_BRAND_COLOUR, logo=logo, name=brand)
    if name not in THEMES:
        raise ValueError(f"unknown theme {name!r}; one of {', '.join(THEME_NAMES)}")
    return replace(THEMES[name], logo=logo, brand=brand)


def text_pairs(theme: Theme) -> list[tuple[str, RGB, RGB]]:
    """Return every (role, text colour, background colour) pair the slides and animations draw.

    Slides write title, body, numbers and credits on the background; animations write labels
    in the accent or the title colour, some inside boxes tinted 20 % towards the accent.
    """
    boxes = blend(theme.background, theme.accent, 0.2)
    return [
        ("title", theme.title, theme.background),
        ("text", theme.text, theme.background),
        ("muted", theme.muted, theme.background),
        ("accent", theme.accent, theme.background),
        ("label in a box", theme.title, boxes),
        ("caption", CAPTION_TEXT, blend(theme.background, CAPTION_BAND, CAPTION_BAND_OPACITY)),
        (
            "caption on white",
            CAPTION_TEXT,
            blend((255, 255, 255), CAPTION_BAND, CAPTION_BAND_OPACITY),
        ),
    ]
