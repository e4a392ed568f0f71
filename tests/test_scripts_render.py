"""Every script the slides claim is drawn with real glyphs, shaped, in its direction and
broken into lines the way it is written."""

from __future__ import annotations

import subprocess
import sys
import unicodedata

import numpy as np
import pytest
from PIL import Image, ImageDraw

from videoforge.core.types import Size, Slide
from videoforge.render.draw import draw_layout
from videoforge.render.fallback import charset, font_runs
from videoforge.render.layout import layout_slide
from videoforge.render.text import (
    BOLD_FONT,
    NO_LINE_START,
    REGULAR_FONT,
    draw_text,
    ellipsize,
    load_font,
    text_length,
)

SIZE = Size(1280, 720)
# For each claimed script: two titles that differ only in which of its characters they use,
# and a bullet mixing it with Latin words.
SCRIPTS = {
    "devanagari": ("प्रकाश संश्लेषण", "जल चक्र का सार", "पौधे sunlight से भोजन बनाते हैं"),
    "tamil": ("ஒளிச்சேர்க்கை", "நீர் சுழற்சி", "தாவரங்கள் sunlight உணவு"),
    "telugu": ("కిరణజన్య సంయోగక్రియ", "నీటి చక్రం", "మొక్కలు sunlight ఆహారం"),
    "thai": ("การสังเคราะห์ด้วยแสง", "วัฏจักรของน้ำ", "พืชสร้าง food จากแสงแดด"),
    "chinese": ("光合作用的原理", "水循环的过程", "植物利用 sunlight 制造葡萄糖"),
    "japanese": ("ひかりごうせい", "みずのじゅんかん", "植物は sunlight で糖を作る"),
    "korean": ("광합성의 원리", "물의 순환 과정", "식물은 sunlight 로 양분을 만든다"),
    "arabic": ("التمثيل الضوئي", "دورة الماء", "تصنع النباتات غذاءها من sunlight"),
    "hebrew": ("פוטוסינתזה", "מחזור המים", "צמחים מייצרים מזון מ sunlight"),
    "greek": ("Φωτοσύνθεση", "Κύκλος του νερού", "Τα φυτά use sunlight"),
    "cyrillic": ("Фотосинтез", "Круговорот воды", "Растения use sunlight"),
}


def _render(slide: Slide) -> np.ndarray:
    return np.asarray(draw_layout(layout_slide(slide, SIZE, total=2, icon=False)), dtype=np.int16)


@pytest.mark.parametrize("script", SCRIPTS)
def test_two_texts_of_a_script_render_differently(script):
    # With every character drawn as the same .notdef box, both would come out alike.
    first, second, _ = SCRIPTS[script]
    a, b = _render(Slide(1, first)), _render(Slide(1, second))
    assert np.abs(a - b).sum(axis=2).astype(bool).mean() > 0.002


@pytest.mark.parametrize("script", SCRIPTS)
@pytest.mark.parametrize("font", [REGULAR_FONT, BOLD_FONT], ids=["regular", "bold"])
def test_every_character_of_a_mixed_line_has_a_real_glyph(script, font):
    _, _, mixed = SCRIPTS[script]
    runs = font_runs(str(font), mixed, bold=font == BOLD_FONT)
    assert "".join(text for _, text in runs) == mixed
    for face, text in runs:
        have = charset(face.path, face.index)
        missing = [ch for ch in text if not ch.isspace() and ord(ch) not in have]
        # a combining mark may ride on its base's font only when that font has it too
        assert not missing, (script, face.path, missing)
    image = Image.new("RGB", (1600, 200), (0, 0, 0))
    draw_text(ImageDraw.Draw(image), (10, 40), mixed, (255, 255, 255), load_font(font, 60))
    assert image.getbbox() is not None


def test_an_arabic_slide_is_laid_out_from_the_right():
    slide = Slide(1, "التمثيل الضوئي", ("تصنع النباتات غذاءها", "كلمة English في الجملة"))
    layout = layout_slide(slide, SIZE, total=2, icon=False)
    right = layout.safe_area[2]
    for item in layout.items:
        if item.role in ("title", "body"):
            assert right - item.bbox[2] <= right * 0.06, item  # against the right edge
    markers = [s.box for s in layout.shapes if s.kind == "dot"]
    body = [i for i in layout.items if i.role == "body"]
    assert markers and all(m[0] > b.bbox[2] for m, b in zip(markers, body, strict=True))


def test_an_arabic_lines_first_word_is_at_the_right():
    font = load_font(REGULAR_FONT, 64)
    line = "كلمة English في الجملة"
    first = line.split(" ")[0]
    width = round(text_length(font, line)) + 40

    def drawn(text: str) -> np.ndarray:
        image = Image.new("L", (width, 120), 0)
        right_edge = width - 20
        draw_text(
            ImageDraw.Draw(image), (right_edge - text_length(font, text), 20), text, 255, font
        )
        return np.asarray(image) > 128

    whole, alone = drawn(line), drawn(first)
    cols = np.where(alone.any(axis=0))[0]
    assert cols.min() > width / 2  # the first word alone, right-aligned, sits on the right
    region = slice(cols.min(), cols.max() + 1)
    overlap = (whole[:, region] & alone[:, region]).sum() / alone[:, region].sum()
    assert overlap > 0.9  # and the whole line shows the same word there


def test_a_chinese_paragraph_of_300_characters_fits_broken_between_characters():
    text = ("植物利用阳光、水和二氧化碳制造葡萄糖，并释放出氧气。" * 12)[:300]
    assert len(text) == 300
    layout = layout_slide(Slide(1, "光合作用", (text,)), SIZE, total=2, icon=False)
    assert not layout.truncated
    lines = [item.text for item in layout.items if item.role == "body"]
    assert len(lines) > 3 and "".join(lines) == text
    for line in lines[1:]:
        assert line[0] not in NO_LINE_START and line[0] not in "。，", line


@pytest.mark.parametrize(
    "text", ["क्षत्रिय क्षत्रिय क्षत्रिय क्षत्रिय", "ஸ்ரீ க்ஷேத்திரம் ஸ்ரீ க்ஷேத்திரம்", "👩‍👩‍👧‍👦👩‍👩‍👧‍👦👩‍👩‍👧‍👦"]
)
def test_an_ellipsis_never_cuts_a_grapheme_or_conjunct(text):
    font = load_font(REGULAR_FONT, 40)
    for width in range(20, round(text_length(font, text)), 7):
        cut = ellipsize(font, text, width)[:-1]
        if not cut:
            continue
        rest = text[len(cut.rstrip()) :] if text.startswith(cut.rstrip()) else ""
        if rest and not rest[0].isspace():
            assert not unicodedata.category(rest[0]).startswith("M"), (cut, rest)
            assert "VIRAMA" not in unicodedata.name(cut.rstrip()[-1], ""), cut
            assert cut.rstrip()[-1] != "\u200d"


def test_the_cjk_collection_is_opened_only_for_cjk_text():
    # A fresh process: Latin, Hindi and Arabic slides never read the 19 MB collection.
    script = (
        "from videoforge.core.types import Size, Slide\n"
        "from videoforge.render.draw import draw_layout\n"
        "from videoforge.render.layout import layout_slide\n"
        "from videoforge.render.fallback import opened_fonts\n"
        "def show(title):\n"
        "    draw_layout(layout_slide(Slide(1, title, ('a', 'b')), Size(1280, 720), total=1))\n"
        "for title in ('Photosynthesis', 'प्रकाश संश्लेषण', 'التمثيل الضوئي'):\n"
        "    show(title)\n"
        "print('before', sum('CJK' in p for p in opened_fonts()))\n"
        "show('光合作用')\n"
        "print('after', sum('CJK' in p for p in opened_fonts()))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    ).stdout
    assert "before 0" in out and "after 1" in out, out
