"""A PDF's pages as slides: their sizes and text read, each drawn by PDFium at the video's size.

PDFium is not thread-safe, so every call into it in a process takes one lock. A page is
rendered at the scale that fits it in the frame (aspect kept) and letterboxed on the
theme's background, so its pixels never exceed the video's.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from ..core.types import Size

_PDFIUM = threading.Lock()
MAX_ASPECT = 20.0  # a page longer than 20 times its width (or wider) cannot be shown legibly


@dataclass(frozen=True)
class PdfPage:
    """One page: its number (from 1), its size in points (1/72 inch) and its text."""

    number: int
    width: float
    height: float
    text: str


def read_pdf(path: Path, *, max_pages: int, max_pixels: int) -> list[PdfPage]:
    """Return the PDF's pages; ValueError naming the cause for a file that cannot be a deck.

    Refused: a file PDFium cannot open (not a PDF, truncated, encrypted), no pages, more
    than max_pages, a page larger than max_pixels at 72 dpi or longer than 20:1.
    """
    import pypdfium2 as pdfium

    with _PDFIUM:
        try:
            pdf = pdfium.PdfDocument(str(path))
        except pdfium.PdfiumError as exc:
            raise ValueError(f"the PDF cannot be read ({_reason(exc)})") from None
        try:
            count = len(pdf)
            if count == 0:
                raise ValueError("the PDF has no pages")
            if count > max_pages:
                raise ValueError(
                    f"the deck has {count:,} pages; at most {max_pages} are narrated"
                    " (VIDEOFORGE_DECK_MAX_PAGES)"
                )
            pages = []
            for i in range(count):
                page = pdf[i]
                try:
                    width, height = page.get_size()
                    _check_size(i + 1, width, height, max_pixels)
                    textpage = page.get_textpage()
                    try:
                        text = textpage.get_text_bounded()
                    finally:
                        textpage.close()
                finally:
                    page.close()
                pages.append(PdfPage(i + 1, width, height, text))
            return pages
        finally:
            pdf.close()


def _check_size(number: int, width: float, height: float, max_pixels: int) -> None:
    shown = f"{width:,.0f} x {height:,.0f} px at 72 dpi"
    if width < 1 or height < 1:
        raise ValueError(f"page {number} has no size ({shown})")
    if width * height > max_pixels:
        raise ValueError(
            f"page {number} is {shown}; pages up to {max_pixels:,} pixels are read"
            " (VIDEOFORGE_DECK_MAX_PIXELS)"
        )
    if max(width / height, height / width) > MAX_ASPECT:
        raise ValueError(f"page {number} ({shown}) is too long and thin to show on a slide")


def render_page(
    path: Path, number: int, size: Size, background: tuple[int, int, int], out: Path
) -> Path:
    """Draw page `number` (from 1) fitted into size, letterboxed on background; write an RGB PNG.

    The page itself is white paper, as every PDF viewer shows it.
    """
    import pypdfium2 as pdfium

    with _PDFIUM:
        pdf = pdfium.PdfDocument(str(path))
        try:
            page = pdf[number - 1]
            try:
                width, height = page.get_size()
                scale = min(size.width / width, size.height / height)
                bitmap = page.render(
                    scale=scale, fill_color=(255, 255, 255, 255), may_draw_forms=True
                )
                picture = bitmap.to_pil().convert("RGB")
                bitmap.close()
            finally:
                page.close()
        finally:
            pdf.close()
    if picture.width > size.width or picture.height > size.height:  # rounding up by a pixel
        picture = picture.crop(
            (0, 0, min(picture.width, size.width), min(picture.height, size.height))
        )
    canvas = Image.new("RGB", (size.width, size.height), background)
    canvas.paste(picture, ((size.width - picture.width) // 2, (size.height - picture.height) // 2))
    part = out.with_name(f".{out.name}.part")
    canvas.save(part, "PNG", compress_level=1)
    part.replace(out)
    return out


def _reason(exc: Exception) -> str:
    text = str(exc)
    if "Incorrect password" in text or "password" in text.lower():
        return "it is protected by a password"
    if "Data format error" in text or "format" in text.lower():
        return "it is not a PDF, or it is damaged or cut short"
    return text[:200] or type(exc).__name__
