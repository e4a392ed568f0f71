"""Plain-text helpers shared by the pipeline and the providers."""

from __future__ import annotations

import re

# Abbreviations after which a full stop never ends a sentence ("Dr. Smith", "e.g. Python").
NEVER_FINAL = frozenset(
    "mr mrs ms dr prof sr jr st mt rev gen col capt lt sgt hon fr e.g i.e cf vs viz approx ca".split()
)
# Abbreviations that end a sentence only when a capitalised word follows ("... etc. The"),
# not before a number or a lower-case word ("Fig. 3", "5 p.m. sharp").
SOMETIMES_FINAL = frozenset(
    """etc al inc ltd co corp jan feb mar apr jun jul aug sep sept oct nov dec a.m p.m u.s u.k
    fig figs eq eqs no nos vol vols pp p ch sec art ed eds""".split()
)

# A run of terminal punctuation, optional closing quotes/brackets, then whitespace.
_BOUNDARY = re.compile(r"([.!?\u2026]+)([\"'\u201d\u2019)\]]*)(\s+)")
_WORD_BEFORE = re.compile(r"([^\s\"'(\[\u201c\u2018]*)$")
_PARAGRAPH = re.compile(r"\n\s*\n")


def _is_boundary(text: str, match: re.Match[str]) -> bool:
    """Decide whether the punctuation in `match` ends a sentence."""
    punct = match.group(1)
    rest = text[match.end() :]
    following = rest.lstrip("\"'\u201c\u2018([")[:1]
    if following and following.islower():
        return False  # "why?" she asked / "and so on... and on"
    if "?" in punct or "!" in punct:
        return True
    if punct not in (".",):  # an ellipsis ends a sentence only before a capital or digit
        return bool(following) and (following.isupper() or following.isdigit())
    word = _WORD_BEFORE.search(text[: match.start()]).group(1).lower()
    if word in NEVER_FINAL:
        return False
    if word in SOMETIMES_FINAL:
        return bool(following) and following.isupper()
    if len(word) == 1 and word.isalpha():
        return False  # an initial: "J. R. R. Tolkien"
    if re.fullmatch(r"(?:[a-z]\.)+[a-z]", word):
        return bool(following) and following.isupper()  # "U.S.A." style
    return True


def split_sentences(text: str) -> list[str]:
    """Split narration text into sentences, whitespace collapsed, empty pieces dropped.

    Full stops inside numbers ("3.5") and after common abbreviations ("e.g.", "Dr.") and
    initials do not split; "?" and "!" do; an ellipsis splits only before a capital letter.
    Blank lines always end a sentence.
    """
    sentences: list[str] = []
    for paragraph in _PARAGRAPH.split(text):
        start = 0
        for match in _BOUNDARY.finditer(paragraph):
            if _is_boundary(paragraph, match):
                sentences.append(paragraph[start : match.end(2)])
                start = match.end()
        sentences.append(paragraph[start:])
    return [s for s in (" ".join(piece.split()) for piece in sentences) if s]
