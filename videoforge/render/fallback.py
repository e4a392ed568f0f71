"""Fonts for every script the slides claim: a fallback chain after the bundled DejaVu.

DejaVu Sans draws Latin, Greek, Cyrillic, Arabic and Hebrew. A character it lacks is drawn
with the first font of `FALLBACKS` whose character map has it: Noto Sans for Devanagari,
Tamil, Telugu, Thai and Arabic (packages `fontpkg-noto-sans-*`, variable fonts set to the
weight of the text) and Noto Sans CJK for Chinese, Japanese and Korean (`noto-cjk-sans-otc`,
one 19 MB collection, opened only when a CJK character is drawn). All come from installed
packages; nothing is downloaded. Character maps are read with fontTools, once per font.

`font_runs` cuts a text into runs of one font each; a combining mark, a joiner or a space
stays with the run before it, so shaping (raqm) sees whole clusters.
"""

from __future__ import annotations

import functools
import importlib
import logging
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from PIL import ImageFont

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Face:
    """One font file (a face of a collection), at a weight when it is a variable font."""

    path: str
    index: int = 0
    weight: str = ""  # a named instance of a variable font: "Regular" or "Bold"


# The fallbacks, in order: (what it draws, package, file inside it, face index in a collection).
FALLBACKS: tuple[tuple[str, str, str, int], ...] = (
    (
        "Devanagari (Hindi, Marathi, Nepali)",
        "fontpkg_noto_sans_devanagari",
        "files/NotoSansDevanagari[wdth,wght].ttf",
        0,
    ),
    ("Tamil", "fontpkg_noto_sans_tamil", "files/NotoSansTamil[wdth,wght].ttf", 0),
    ("Telugu", "fontpkg_noto_sans_telugu", "files/NotoSansTelugu[wdth,wght].ttf", 0),
    ("Thai", "fontpkg_noto_sans_thai", "files/NotoSansThai[wdth,wght].ttf", 0),
    (
        "Arabic (Urdu, Persian letters DejaVu lacks)",
        "fontpkg_noto_sans_arabic",
        "files/NotoSansArabic[wdth,wght].ttf",
        0,
    ),
    ("Chinese (simplified), Japanese, Korean", "noto_cjk_sans_otc", "NotoSansCJK-Regular.ttc", 2),
)
_NO_BREAK = "\u200c\u200d"  # joiners: a run never ends just before or after one
_opened: set[str] = set()  # the font files this process has read


@functools.cache
def fallback_faces(bold: bool) -> tuple[Face, ...]:
    """Return the installed fallback faces, in order (a missing package is skipped, logged)."""
    faces = []
    for what, package, name, index in FALLBACKS:
        try:
            folder = Path(importlib.import_module(package).__file__ or "").parent
        except ImportError:
            log.warning("no font for %s: the package %s is not installed", what, package)
            continue
        path = folder / name
        if path.is_file():
            faces.append(Face(str(path), index, "Bold" if bold else "Regular"))
    return tuple(faces)


@functools.cache
def charset(path: str, index: int = 0) -> frozenset[int]:
    """Return the code points a font (a face of a collection) has glyphs for."""
    from fontTools.ttLib import TTFont

    _opened.add(path)
    with TTFont(path, fontNumber=index, lazy=True) as font:
        return frozenset(font.getBestCmap() or {})


def opened_fonts() -> frozenset[str]:
    """Return the paths of the font files this process has read so far (they load lazily)."""
    return frozenset(_opened)


def covers(face: Face, ch: str) -> bool:
    """Tell whether a face has a glyph for ch."""
    return ord(ch) in charset(face.path, face.index)


@functools.lru_cache(maxsize=512)
def face_font(face: Face, size: int) -> ImageFont.FreeTypeFont:
    """Return a face at a size (its variable weight set), loaded once per process."""
    font = ImageFont.truetype(face.path, size, index=face.index)
    if face.weight:
        try:
            font.set_variation_by_name(face.weight)
        except (OSError, ValueError):
            pass  # not a variable font: its one weight stands
    return font


def _is_mark(ch: str) -> bool:
    return unicodedata.category(ch)[0] == "M" or ch in _NO_BREAK or ch in "\ufe0e\ufe0f"


def font_runs(primary: str, text: str, *, bold: bool = False) -> list[tuple[Face, str]]:
    """Cut text into runs each drawn with one face: the primary font wherever it has the glyph.

    Spaces, marks and joiners stay with the run before them; a character no font has stays
    with the primary font (it draws its box, as before).
    """
    main = Face(primary)
    have = charset(primary)
    if all(ord(ch) in have for ch in text):
        return [(main, text)] if text else []
    runs: list[tuple[Face, list[str]]] = []
    for ch in text:
        if runs and (_is_mark(ch) or ch.isspace() or runs[-1][1][-1] in _NO_BREAK):
            runs[-1][1].append(ch)
            continue
        face = main
        if ord(ch) not in have:
            face = next((f for f in fallback_faces(bold) if covers(f, ch)), main)
        if runs and runs[-1][0] == face:
            runs[-1][1].append(ch)
        else:
            runs.append((face, [ch]))
    return [(face, "".join(chars)) for face, chars in runs]
