"""Picture files on a slide: their upright size, and drawing them scaled, upright and in sRGB.

A picture may carry an EXIF orientation (a phone's photo taken sideways) and an ICC colour
profile; both are honoured. Only the header is read to learn a picture's size.
"""

from __future__ import annotations

import functools
import io
import logging
from pathlib import Path

from PIL import ExifTags, Image, ImageCms

from .text import Box

log = logging.getLogger(__name__)

_REDUCING_GAP = 3.0  # downscale by whole factors first, until within this factor of the size

# EXIF orientation -> the transpose that shows the picture upright (as ImageOps.exif_transpose).
_UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def picture_size(path: Path) -> tuple[int, int]:
    """Return a picture file's width and height as shown upright (reading only its header)."""
    with Image.open(path) as picture:
        width, height = picture.size
        if _orientation(picture) in (5, 6, 7, 8):  # a quarter turn
            return height, width
    return width, height


def _orientation(picture: Image.Image) -> int:
    """Return the EXIF orientation of an opened picture (1, upright, when it has none)."""
    if picture.format == "PNG" and "exif" not in picture.info:
        return 1  # an eXIf chunk after the pixels would need them all decoded; it is rare
    value = picture.getexif().get(ExifTags.Base.Orientation, 1)
    return value if value in _UPRIGHT else 1


def paste_picture(canvas: Image.Image, path: Path, box: Box) -> None:
    """Scale the picture at path to box with Lanczos resampling and paste it upright, in sRGB.

    Transparent parts show the canvas beneath.
    """
    x0, y0, x1, y1 = box
    if x1 <= x0 or y1 <= y0:
        return
    with Image.open(path) as source:
        orientation = _orientation(source)
        size = (y1 - y0, x1 - x0) if orientation in (5, 6, 7, 8) else (x1 - x0, y1 - y0)
        source.draft(None, size)  # a JPEG decodes at the smallest 1/2^n scale not below size
        profile = source.info.get("icc_profile")
        picture = _plain_mode(source)
        picture = picture.resize(size, Image.Resampling.LANCZOS, reducing_gap=_REDUCING_GAP)
    picture = _as_srgb(picture, profile)
    if orientation in _UPRIGHT:
        picture = picture.transpose(_UPRIGHT[orientation])
    canvas.paste(picture, (x0, y0), picture if picture.mode == "RGBA" else None)


def _plain_mode(picture: Image.Image) -> Image.Image:
    """Return the picture in a mode Lanczos can scale: RGBA if transparent, else RGB, L or CMYK."""
    if picture.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in picture.info:
        return picture.convert("RGBA")
    if picture.mode in ("RGB", "L", "CMYK"):
        return picture
    if picture.mode == "I" or picture.mode.startswith("I;16"):  # 16-bit grey: keep the top byte
        return picture.convert("I").point(lambda value: value * (1 / 256)).convert("L")
    return picture.convert("RGB")


def _as_srgb(picture: Image.Image, profile: bytes | None) -> Image.Image:
    """Return the picture as RGB (or RGBA), converted to sRGB by its ICC profile if it has one."""
    if picture.mode == "RGBA":
        return picture
    if profile:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
            return ImageCms.profileToProfile(picture, source, _srgb(), outputMode="RGB")
        except (ImageCms.PyCMSError, OSError, ValueError) as exc:
            log.debug("ignoring a picture's unusable colour profile: %s", exc)
    return picture.convert("RGB")


@functools.cache
def _srgb() -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
