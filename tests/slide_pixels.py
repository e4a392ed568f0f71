"""Measure a rendered slide by its pixels: where the content is and how much room it leaves.

The layout tests judge the picture a viewer sees, not the layout's own numbers: a pixel is
content when it differs from the slide's background colour.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

SAFE_MARGIN = (
    0.05  # the safe area's margin: of the width left and right, of the height above and below
)
_TOLERANCE = 24  # summed channel difference below which a pixel still counts as background


def content_mask(image: Image.Image, background: tuple[int, int, int]) -> np.ndarray:
    """Return a boolean array, True where a pixel differs from the background."""
    pixels = np.asarray(image.convert("RGB"), dtype=np.int16)
    return np.abs(pixels - np.array(background, dtype=np.int16)).sum(axis=2) > _TOLERANCE


def safe_box(image: Image.Image) -> tuple[int, int, int, int]:
    width, height = image.size
    mx, my = round(width * SAFE_MARGIN), round(height * SAFE_MARGIN)
    return mx, my, width - mx, height - my


def largest_empty_band(image: Image.Image, background: tuple[int, int, int]) -> float:
    """Return the tallest run of content-free rows inside the safe area, as a share of the height."""
    left, top, right, bottom = safe_box(image)
    rows = content_mask(image, background)[top:bottom, left:right].any(axis=1)
    longest = run = 0
    for filled in rows:
        run = 0 if filled else run + 1
        longest = max(longest, run)
    return longest / image.size[1]


def content_centre(image: Image.Image, background: tuple[int, int, int]) -> float:
    """Return the content's centre of mass (by pixel count) inside the safe area, as a share of the height."""
    left, top, right, bottom = safe_box(image)
    mask = content_mask(image, background)[top:bottom, left:right]
    counts = mask.sum(axis=1).astype(float)
    if counts.sum() == 0:
        return 0.0
    return (top + float((np.arange(len(counts)) * counts).sum() / counts.sum())) / image.size[1]


def content_outside_safe_area(
    image: Image.Image, background: tuple[int, int, int], *, allow_top_strip: int = 0
) -> int:
    """Return how many content pixels lie outside the safe area (below a top strip of allow_top_strip rows)."""
    left, top, right, bottom = safe_box(image)
    mask = content_mask(image, background).copy()
    mask[:allow_top_strip, :] = False
    mask[top:bottom, left:right] = False
    return int(mask.sum())
