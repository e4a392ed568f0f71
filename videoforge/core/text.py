"""Plain-text helpers shared by the pipeline and the providers.

Everything here runs in time linear in its input (the web process splits documents of up to
200,000 characters, the worker every narration): no pattern backtracks over the text, and
each character is looked at a bounded number of times (tests/test_text_limits.py).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator

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

# Narration is spoken at about 150 words a minute, six characters a word with its space.
SPOKEN_CHARACTERS_PER_MINUTE = 900

# A run of terminal punctuation, optional closing quotes/brackets, then whitespace. The run
# is matched only from its first character and possessively, so a long run of dots that is
# not followed by whitespace is read once, not once per dot. It is a "mark" (holding "?" or
# "!"), a "stop" (one full stop after no letter, so after no abbreviation or initial), a
# "dot" (one full stop after a letter) or a "run" (an ellipsis). The cases that never end a
# sentence whatever the word before are skipped here already: before a lower-case ASCII
# letter; a run before no capital or digit; a dot after a one-letter word other than "p".
_BOUNDARY = re.compile(
    r"""(?<![.!?\u2026])
    (?: (?P<mark>[.\u2026]*+[!?][.!?\u2026]*+)
      | (?<![^\W\d_]) (?P<stop>\.)(?![.\u2026])
      | (?<![\s"'(\[\u201c\u2018][A-OQ-Za-oq-z]) (?<!^[A-OQ-Za-oq-z]) (?P<dot>\.)(?![.\u2026])
      | (?!\.(?![.\u2026])) (?P<run>[.\u2026]++) )
    ["'\u201d\u2019)\]]*+ (?P<space>\s++)
    (?!["'\u201c\u2018(\[]*+[a-z])
    (?(run)(?!["'\u201c\u2018(\[]*+(?:[\x00-/:-@\[-\x7f\u2026]|\Z)))""",
    re.X,
)
# Opening quotes and brackets: skipped before the word after a boundary, and they end the
# word before one.
_OPENING = "\"'\u201c\u2018(["
_FOLLOWING = re.compile(r"[\"'\u201c\u2018(\[]*+(.?)", re.S)
# The word before a boundary, read backwards (on the reversed paragraph).
_WORD_REVERSED = re.compile(r"[^\s\"'(\[\u201c\u2018]*+")
_INITIALISM = re.compile(r"(?:[a-z]\.)+[a-z]")
_PARAGRAPH = re.compile(r"\n\s*\n")
# Sentence ends of other scripts, and the closing quotes or brackets that belong before the cut.
_SCRIPT_END = re.compile(
    "[\u0964\u0965\u3002\uff01\uff1f\u061f]+[\"'\u201d\u2019)\\]\u300d\u300f\uff09]*"
)


def split_sentences(text: str) -> list[str]:
    """Split narration text into sentences, whitespace collapsed, empty pieces dropped.

    Full stops inside numbers ("3.5") and after common abbreviations ("e.g.", "Dr.") and
    initials do not split; "?" and "!" do; an ellipsis splits only before a capital letter.
    The sentence ends of other scripts always split, with or without a space after them:
    the Devanagari danda ("।", "॥"), the CJK full stop and full-width marks ("。", "！", "？"),
    the Arabic question mark ("؟"). Blank lines always end a sentence.
    """
    return list(iter_sentences(text))


def iter_sentences(text: str) -> Iterator[str]:
    """Yield the sentences of split_sentences(text) one by one, finding each as it is asked for."""
    for paragraph in _PARAGRAPH.split(text):
        for piece in _script_pieces(paragraph):
            start = 0
            for end, resume in _sentence_ends(piece):
                if sentence := " ".join(piece[start:end].split()):
                    yield sentence
                start = resume
            if sentence := " ".join(piece[start:].split()):
                yield sentence


def _script_pieces(paragraph: str) -> Iterator[str]:
    """Cut a paragraph after each sentence end of a non-Latin script (and its closing quotes)."""
    start = 0
    for match in _SCRIPT_END.finditer(paragraph):
        yield paragraph[start : match.end()]
        start = match.end()
    yield paragraph[start:]


def _sentence_ends(text: str) -> Iterator[tuple[int, int]]:
    """Yield (where a sentence ends, where the next one starts) for each sentence boundary."""
    reversed_text = ""
    for match in _BOUNDARY.finditer(text):
        end = match.end()
        following = text[end : end + 1]
        if following in _OPENING:
            following = _FOLLOWING.match(text, end).group(1)
        if following.islower():
            continue  # "why?" she asked / "and so on... and on"
        if match.group("mark") or match.group("stop"):
            yield match.start("space"), end
            continue
        if match.group("run"):  # an ellipsis ends a sentence only before a capital or digit
            if following.isupper() or following.isdigit():
                yield match.start("space"), end
            continue
        if not reversed_text:
            reversed_text = text[::-1]  # the word before the stop is read backwards from it
        word = _WORD_REVERSED.match(reversed_text, len(text) - match.start()).group()
        word = word[::-1].lower()
        if word in NEVER_FINAL:
            continue
        if word in SOMETIMES_FINAL or _INITIALISM.fullmatch(word):  # "etc. The", "U.S.A."
            if following.isupper():
                yield match.start("space"), end
            continue
        if len(word) == 1 and word.isalpha():
            continue  # an initial: "J. R. R. Tolkien"
        yield match.start("space"), end


def split_text(text: str, limit: int) -> list[str]:
    """Cut text into pieces of at most limit characters, between sentences where possible.

    A sentence longer than limit is cut at its last space before the limit, or, in a word
    longer than that, at the limit. The pieces are of similar length (a text of 2.2 limits
    gives three pieces, not two full ones and a scrap); their whitespace is collapsed.
    """
    return [" ".join(group) for group in group_sentences(split_sentences(text), limit)]


def group_sentences(sentences: Iterable[str], limit: int) -> list[list[str]]:
    """Group sentences (from split_sentences) into runs that, joined with spaces, fit in limit.

    A sentence longer than limit becomes several pieces first; see split_text.
    """
    if limit < 1:
        raise ValueError("limit must be at least 1")
    tokens: list[str] = []
    for sentence in sentences:
        start = 0
        while len(sentence) - start > limit:
            cut = sentence.rfind(" ", start, start + limit + 1)
            if cut <= start:
                tokens.append(sentence[start : start + limit])
                start += limit
            else:
                tokens.append(sentence[start:cut])
                start = cut + 1
        tokens.append(sentence[start:])
    if not tokens:
        return []
    total = sum(map(len, tokens)) + len(tokens) - 1
    target = total / max(math.ceil(total / limit), 1)
    groups: list[list[str]] = []
    current: list[str] = []
    length = 0
    for token in tokens:
        grown = length + 1 + len(token) if current else len(token)
        if current and (grown > limit or length >= target):
            groups.append(current)
            current, grown = [], len(token)
        current.append(token)
        length = grown
    groups.append(current)
    return groups


def speaking_time(characters: int) -> str:
    """Say about how long narration of this many characters takes to speak ("about 1 h 5 min")."""
    minutes = round(characters / SPOKEN_CHARACTERS_PER_MINUTE)
    if minutes < 1:
        return "under a minute"
    hours, minutes = divmod(minutes, 60)
    if not hours:
        return f"about {minutes} min"
    return f"about {hours} h {minutes} min" if minutes else f"about {hours} h"
