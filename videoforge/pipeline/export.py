"""The deck's exports, written into the run's folder: each slide's still, a PPTX and a PDF.

`keep_stills` copies the stills out of the cache (so retention may prune the cache without
touching a kept run, and the run's folder holds all its files); `write_pptx` and `write_pdf`
build the downloads from them when the video is done, before the run is recorded completed.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Sequence
from pathlib import Path

from PIL import Image
from pptx import Presentation
from pptx.util import Emu

from ..core.types import STILLS_FOLDER, Size, Slide, still_name

_LONG_SIDE = Emu(12_192_000)  # 13.333 in: PowerPoint's own 16:9 width
_PDF_DPI = 144  # a 1920-pixel slide is a 13.333 in page, as in the PPTX
_PDF_QUALITY = 90


def keep_still(still: Path, number: int, workdir: Path) -> Path:
    """Copy a slide's still (from the cache) into the run folder, atomically; return the copy."""
    folder = workdir / STILLS_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    return _atomic(folder / still_name(number), lambda tmp: shutil.copyfile(still, tmp))


def write_pptx(slides: Sequence[Slide], stills: Sequence[Path], size: Size, out: Path) -> Path:
    """Write a PowerPoint deck: per slide its still over the whole slide, its title, its narration as notes.

    The slide is the video's aspect ratio. The still already shows the title, so the title
    placeholder is set (outline view, screen readers, PowerPoint's accessibility check and
    python-pptx read it) but placed just above the slide, where it is not drawn twice.
    """
    deck = Presentation()
    if size.width >= size.height:
        width, height = _LONG_SIDE, Emu(round(_LONG_SIDE * size.height / size.width))
    else:
        width, height = Emu(round(_LONG_SIDE * size.width / size.height)), _LONG_SIDE
    deck.slide_width, deck.slide_height = width, height
    layout = deck.slide_layouts[5]  # "Title Only"
    title_height = Emu(height // 6)
    for slide, still in zip(slides, stills, strict=True):
        page = deck.slides.add_slide(layout)
        title = page.shapes.title
        title.text = slide.title
        title.left, title.top, title.width, title.height = (
            Emu(0),
            Emu(-title_height),
            width,
            title_height,
        )
        picture = page.shapes.add_picture(str(still), 0, 0, width, height)
        picture._element.nvPicPr.cNvPr.set("descr", slide.title)  # the picture's alt text
        page.notes_slide.notes_text_frame.text = slide.narration
    return _atomic(out, lambda tmp: deck.save(str(tmp)))


def write_pdf(stills: Sequence[Path], out: Path) -> Path:
    """Write a PDF of the stills, one page per slide."""
    pages = []
    for still in stills:
        with Image.open(still) as image:
            pages.append(image.convert("RGB"))

    def save(tmp: Path) -> None:
        pages[0].save(
            tmp,
            "PDF",
            save_all=True,
            append_images=pages[1:],
            resolution=_PDF_DPI,
            quality=_PDF_QUALITY,
        )

    return _atomic(out, save)


def _atomic(path: Path, write) -> Path:
    """Write path through a temporary name beside it, so readers see the whole file or none."""
    tmp = path.with_name(f".tmp-{uuid.uuid4().hex}-{path.name}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
