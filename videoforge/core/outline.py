"""Turn a client's outline or document into slides, without a language model."""

from __future__ import annotations

import logging
import math
import re
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import lru_cache

from .animation_spec import MAX_LABEL, animation_type, validate_animation
from .errors import InvalidRequest
from .settings import Settings
from .spoken import spoken_form
from .text import group_sentences, iter_sentences, speaking_time, split_sentences
from .types import Slide

logger = logging.getLogger(__name__)

# The slide limits, the same for a request's outline and for a language model's deck.
MAX_SLIDES = 30
MAX_TITLE = 200  # characters of a title
MAX_IMAGE = MAX_TITLE  # characters of an image search phrase
MAX_BULLETS = 12
MAX_BULLET = 500  # characters of one bullet
# Characters of a slide's narration: the default of VIDEOFORGE_MAX_SLIDE_NARRATION, which
# decides for requests (a language model's answers are held to this default).
MAX_NARRATION: int = Settings.max_slide_narration
SLIDE_NARRATION_SETTING: str = (
    Settings.__dataclass_fields__["max_slide_narration"].metadata["setting"].env
)
NARRATION_SETTING: str = Settings.__dataclass_fields__["max_narration"].metadata["setting"].env
_SLIDE_KEYS = frozenset({"title", "bullets", "narration", "image", "animation", "pronunciations"})
MAX_PRONUNCIATIONS = 50  # entries of a slide's pronunciations map
MAX_WRITTEN = 100  # characters of a word or phrase the map says how to speak
MAX_SPOKEN = 200  # characters of how to speak it

# Words a shortened bullet or title should not end on.
_DANGLING = frozenset(
    "a an and as at but by for from in into is of on or so than that the their this to "
    "was were which while with".split()
)
_LEADING_MARKER = re.compile(r"^\s*(?:[-*+\u2022\u2013\u2014]|\d+[.)])\s+")

# --- Markdown syntax ---------------------------------------------------------------------------
# Every pattern below is matched at the start of one line, or searched for only where it can
# start, and none backtracks over the text: a document of any shape is read in linear time.
_ATX_OPEN = re.compile(r" {0,3}(#{1,6})(?![^ \t])")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_BREAK = re.compile(r"^ {0,3}(?:(?:-[ \t]*){3,}|(?:\*[ \t]*){3,}|(?:_[ \t]*){3,})$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_ITEM = re.compile(r"^(\s*)(?:[-*+]|\d{1,9}[.)])(?:[ \t]+(.*))?$")
_TASK = re.compile(r"^\[[ xX]\]\s+")
_QUOTE = re.compile(r" {0,3}>[ \t]?")
_LINK_DEFINITION = re.compile(r"^ {0,3}\[[^\]]+\]:\s*\S")
_TABLE_ROW = re.compile(r"^\s*\|")
# The first characters (after indentation) of a line that any of the patterns above can match.
_MARKERS = frozenset("#=-*_+`~[|>0123456789")
_ITEM_MARKERS = frozenset("-*+>0123456789")  # ">": the quoted line may be an item

# Inline syntax. Each construct is one left-to-right pass over the text with the meaning of
# the regular expression in its comment (the result is the same); the closing mark is looked
# up with _Next, so an opening mark that is never closed costs no scan to the end of the text.
_BACKTICKS = re.compile(r"`+")  # code span: (`+)(.+?)\1
_SINGLE_CODE_SPAN = re.compile(r"`(.+?)`", re.S)  # the same where no two backticks touch
_IMAGE_OPEN = re.compile(r"!\[")  # image: !\[[^\]]*\](?:\([^)]*\)|\[[^\]]*\])?
_LINK_OPEN = re.compile(r"\[")  # link: \[([^\]]*)\](?:\([^)]*\)|\[[^\]]*\])
_CLOSE_BRACKET = re.compile(r"\]")
_CLOSE_PAREN = re.compile(r"\)")
_AUTOLINK_OPEN = re.compile(r"<(?:https?|mailto):")  # autolink: <((?:https?|mailto):[^>\s]+)>
_AUTOLINK_END = re.compile(r"[>\s]")
_HTML_OPEN = {  # HTML: </?[A-Za-z][^>]*>|<!--.*?-->, by which kinds may still occur
    (True, True): re.compile(r"</?[A-Za-z]|<!--"),
    (True, False): re.compile(r"</?[A-Za-z]"),
    (False, True): re.compile(r"<!--"),
}
_TAG_END = re.compile(r">")
_COMMENT_END = re.compile(r"-->")
# Emphasis and strike: {mark: (where it may open, where it may close)}; a span is
# mark(?=\S)(.+?)(?<=\S)mark, and the marks of one table are read in the same pass. Read
# backwards, each closing condition is its opening one.
_STRONG = {"**": (r"\*\*(?=\S)", r"(?<=\S)\*\*"), "__": (r"__(?=\S)", r"(?<=\S)__")}
_STRIKE = {"~~": (r"~~(?=\S)", r"(?<=\S)~~")}
_EMPHASIS_STAR = {"*": (r"\*(?=\S)", r"(?<=\S)\*")}
_EMPHASIS_UNDERSCORE = {"_": (r"(?<!\w)_(?=\S)", r"(?<=\S)_(?!\w)")}
# Backslash escapes: \\([\\`*_{}\[\]()#+\-.!|>~<]), read from the left. Replacing the escaped
# backslashes first pairs the backslashes as that does; each other escape is then replaced alone.
_ESCAPES = ("\\", *"`*_{}[]()#+-.!|>~<")
_PLACEHOLDER = re.compile(r"\x00(\d+)\x00")
_Block = tuple[str, str]  # ("p" | "li", text)

# Characters that a narration may gain from _sentence(): a capital that is longer than its
# small letter ("\ufb03" -> "FFI") and a final full stop.
_SENTENCE_GROWTH = 3

# Plain text is grouped into slides of about this many words.
_MIN_WORDS = 60
_MAX_WORDS = 120
_BULLET_WORDS = 12
_TITLE_WORDS = 8
_DERIVED_BULLETS = 5


# --- outlines ----------------------------------------------------------------------------------


def parse_outline(slides: object, *, max_slide_narration: int = MAX_NARRATION) -> list[Slide]:
    """Validate a request's "slides" field and return the slides it describes.

    Each slide is {"title": str, "bullets": [str, ...], "narration"?: str, "image"?: str,
    "animation"?: object}: 1 to MAX_SLIDES slides, a title of 1 to MAX_TITLE characters after
    trimming, up to MAX_BULLETS non-empty bullets of up to MAX_BULLET characters, narration up
    to max_slide_narration characters, an image phrase up to MAX_IMAGE characters.
    Optional fields may be null. A slide without narration keeps it empty: the scripts stage
    has a language model write it, or speaks the title and bullets (narrate()). Raises
    InvalidRequest naming the path of the first problem found.
    """
    if not isinstance(slides, list):
        raise InvalidRequest("slides must be a list of slide objects")
    if not 1 <= len(slides) <= MAX_SLIDES:
        raise InvalidRequest(
            f"slides must hold 1 to {MAX_SLIDES} slides, not {len(slides)}; "
            "split a longer talk into several videos"
        )
    return [
        _parse_slide(item, f"slides[{i}]", i + 1, max_slide_narration)
        for i, item in enumerate(slides)
    ]


def _parse_slide(item: object, where: str, number: int, max_narration: int) -> Slide:
    if not isinstance(item, dict):
        raise InvalidRequest(f"{where} must be an object with a title and bullets")
    unknown = sorted(str(key) for key in item if key not in _SLIDE_KEYS)
    if unknown:
        raise InvalidRequest(
            f"{where} has unknown key {unknown[0]!r}; allowed keys are "
            + ", ".join(sorted(_SLIDE_KEYS))
        )

    if "title" not in item:
        raise InvalidRequest(f"{where}.title is required")
    title = checked_text(item["title"], f"{where}.title", MAX_TITLE)

    if "bullets" not in item:
        raise InvalidRequest(f"{where}.bullets is required (use [] for a slide without bullets)")
    bullets = item["bullets"]
    if not isinstance(bullets, list):
        raise InvalidRequest(f"{where}.bullets must be a list of strings")
    if len(bullets) > MAX_BULLETS:
        raise InvalidRequest(
            f"{where}.bullets has {len(bullets)} bullets; at most {MAX_BULLETS} fit on a slide"
        )
    bullets = tuple(
        checked_text(bullet, f"{where}.bullets[{j}]", MAX_BULLET)
        for j, bullet in enumerate(bullets)
    )

    narration = item.get("narration")
    if narration is not None:
        if not isinstance(narration, str):
            raise InvalidRequest(f"{where}.narration must be a string")
        narration = checked_narration(narration, where, max_narration)
    narration = narration or ""  # empty: the scripts stage writes it (model or narrate())

    image = item.get("image")
    if image is not None:
        image = checked_text(image, f"{where}.image", MAX_IMAGE)

    animation = item.get("animation")
    if animation is not None:
        try:
            animation = validate_animation(animation, bullets=bullets)
        except InvalidRequest as exc:
            detail = exc.detail
            prefix = f"{where}." if detail.startswith("animation") else f"{where}.animation: "
            raise InvalidRequest(prefix + detail) from None
        if image is not None:
            raise InvalidRequest(f"{where} asks for both an image and an animation; choose one")

    return Slide(
        slide_number=number,
        title=title,
        bullets=bullets,
        narration=narration,
        image=image,
        animation=animation,
        pronunciations=_pronunciations(item.get("pronunciations"), where),
    )


def _pronunciations(value: object, where: str) -> dict[str, str] | None:
    """Check a slide's map of written words to how the voice should say them."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidRequest(
            f'{where}.pronunciations must be an object such as {{"Nguyen": "win"}}'
        )
    if len(value) > MAX_PRONUNCIATIONS:
        raise InvalidRequest(f"{where}.pronunciations has more than {MAX_PRONUNCIATIONS} entries")
    checked = {}
    for written, spoken in value.items():
        written = checked_text(written, f"{where}.pronunciations key", MAX_WRITTEN)
        checked[written] = checked_text(spoken, f"{where}.pronunciations[{written!r}]", MAX_SPOKEN)
    return checked or None


def checked_narration(narration: str, where: str, limit: int) -> str:
    """Return a slide's narration trimmed, or raise InvalidRequest when it passes limit."""
    narration = narration.strip()
    if len(narration) > limit:
        raise InvalidRequest(
            f"{where}.narration is {len(narration)} characters; at most {limit} are allowed on"
            f" one slide ({SLIDE_NARRATION_SETTING}): spread it over more slides"
        )
    return narration


def checked_text(value: object, where: str, limit: int) -> str:
    """Return value trimmed, or raise InvalidRequest unless it is a string of 1..limit chars."""
    if not isinstance(value, str):
        raise InvalidRequest(f"{where} must be a string")
    value = value.strip()
    if not value:
        raise InvalidRequest(f"{where} must not be empty")
    if len(value) > limit:
        raise InvalidRequest(
            f"{where} is {len(value)} characters; at most {limit} are allowed after trimming"
        )
    return value


def narrate(title: str, bullets: Sequence[str]) -> str:
    """Return a spoken narration made from a slide's title and bullets.

    "Why tests" and ["fast feedback", "safer changes:"] give
    "Why tests. Fast feedback. Safer changes." Markdown marks are removed and each part is
    made into a sentence (capitalized, ending in ".", "!" or "?").
    """
    parts = [_sentence(strip_inline_markdown(part)) for part in (title, *bullets)]
    return " ".join(part for part in parts if part)


def spoken_text(slide: Slide) -> str:
    """Return what is spoken over a slide: its narration, or else its title and bullets."""
    return slide.narration.strip() or narrate(slide.title, slide.bullets)


def narration_over_limit(
    slides: Sequence[Slide], limit: int, language: str = "english"
) -> str | None:
    """Say how the slides' narration passes a video's limit of characters, or None if it fits.

    What counts is what the voice reads: the spoken form (numbers in words, the slides'
    pronunciations), when it is longer than the text as written.
    """
    total = sum(
        len(spoken_form(spoken_text(slide), language, slide.pronunciations)) for slide in slides
    )
    if total <= limit:
        return None
    return (
        f"the narration is {total:,} characters, {speaking_time(total)} of speech; a video may"
        f" have at most {limit:,} ({speaking_time(limit)}, {NARRATION_SETTING})"
    )


def _sentence(text: str) -> str:
    """Return text as one spoken sentence: no list marker, capitalized, with an end mark."""
    text = " ".join(_LEADING_MARKER.sub("", text).split())
    text = text.rstrip(" ,;:\u2013\u2014-")
    if not text:
        return ""
    if text[0].islower():
        text = text[0].upper() + text[1:]
    if text[-1] not in ".!?\u2026\"'\u201d\u2019)":
        text += "."
    return text


# --- documents ---------------------------------------------------------------------------------


def parse_document(
    text: str, *, max_slides: int = MAX_SLIDES, max_slide_narration: int = MAX_NARRATION
) -> list[Slide]:
    """Turn a Markdown or plain-text document into slides.

    Markdown: each #, ## or ### heading (or setext heading) starts a slide titled by it; its
    paragraphs and list items, in order, are the narration (a section with only a list is
    narrated as its title and items, like an outline slide); its list items are the bullets
    (at most 12), or, for a section without a list, the first sentence of each paragraph
    (then further sentences if that gives fewer than 3), cut to about 12 words, at most 5.
    Deeper headings become sentences of their section. Inline Markdown (emphasis, code,
    links, images, HTML) is removed; fenced code blocks and tables are skipped, since they
    cannot be narrated. Text before the first heading becomes an intro slide titled by the
    document's first H1 (or its first sentence if there is none). Sections with no text
    are dropped.

    Plain text (no headings): paragraphs are grouped into slides of about 60 to 120 words
    (longer paragraphs are split between sentences), each titled by its first sentence cut
    to about 8 words.

    A slide's narration is at most max_slide_narration characters: a longer section is
    spread over several slides, split between its paragraphs and items and, inside a longer
    one, between sentences (then words). The parts of a titled section are titled
    "Title (1/3)", "Title (2/3)", ...; each part narrates only its own text and shows its own
    items, or key sentences. At most max_slides slides are returned: the ones past it are
    dropped (and logged), so the video covers the start of the document. Raises
    InvalidRequest when nothing remains. Takes time linear in the length of the text.
    """
    heads, lines = _sections(text)
    reading = _Reading(max_slide_narration)
    if len(heads) > 1:  # a heading
        built = _markdown_slides(heads, lines, reading)
    else:
        built = _plain_slides(_each_block(lines), reading)
    slides = [
        Slide(slide_number=i + 1, title=title, bullets=bullets, narration=narration)
        for i, (title, bullets, narration) in enumerate(_first(built, max_slides + 1))
    ]
    if not slides:
        raise InvalidRequest("the document has no text to make slides from")
    if len(slides) > max_slides:
        logger.warning("the document gives more than %d slides; keeping the first", max_slides)
        slides = slides[:max_slides]
    return slides


def _first(items: Iterator[_Built], count: int) -> Iterator[_Built]:
    """Yield at most count items, building no more of them than that."""
    for index, item in enumerate(items):
        if index >= count:
            return
        yield item


def derive_topic(slides: Sequence[Slide]) -> str:
    """Return a topic for a request that sent none: the first slide's title."""
    if not slides:
        raise InvalidRequest("there are no slides to take a topic from")
    return slides[0].title


# A section's heading (None before the first one), its level and where its lines start. The
# sections are kept as plain tuples, and their lines read (inline syntax removed) only when
# asked for: the sections past the last slide of a long document cost no more than reading.
_Head = tuple[str | None, int, int]
_Line = tuple[str, str]  # ("p" | "li" | "h" (a heading below ###), Markdown)


def _block(kind: str, markdown: str) -> _Block | None:
    """Return a line's block, its text without inline syntax (None when nothing is left)."""
    if kind == "h":
        sentence = _sentence(strip_inline_markdown(markdown))
        return ("p", sentence) if sentence else None
    text = " ".join(strip_inline_markdown(markdown).split())
    return (kind, text) if text else None


def _each_block(lines: Iterable[_Line]) -> Iterator[_Block]:
    return (block for kind, text in lines if (block := _block(kind, text)))


def _sections(text: str) -> tuple[list[_Head], list[_Line]]:
    """Split Markdown into sections (their heads) of paragraph and list-item lines."""
    heads: list[_Head] = [(None, 0, 0)]
    lines: list[_Line] = []
    paragraph: list[str] = []
    item: list[str] | None = None  # the lines of the list item being read
    fence: str | None = None

    def flush() -> None:
        nonlocal item
        if paragraph:
            lines.append(("p", " ".join(paragraph)))
            paragraph.clear()
        if item is not None:
            lines.append(("li", " ".join(item)))
            item = None

    def start_section(heading: str, level: int) -> None:
        flush()
        if level <= 3:
            heads.append((heading, level, len(lines)))
        else:
            lines.append(("h", heading))

    for line in text.replace("\r\n", "\n").replace("\r", "\n").expandtabs(4).split("\n"):
        if fence is not None:
            if line.strip().startswith(fence):
                fence = None
            continue
        first = line.lstrip()[:1]
        if not first:
            flush()
            continue
        if first in _MARKERS:  # the line may be Markdown syntax; other lines are only text
            # Each pattern is tried, in this order, on the lines whose first character it
            # can match.
            if first in "`~" and (match := _FENCE.match(line)):
                flush()
                fence = match.group(1)
                continue
            if paragraph and first in "=-" and (match := _SETEXT.match(line)):
                heading = " ".join(paragraph)
                paragraph.clear()
                start_section(heading, 1 if match.group(1)[0] == "=" else 2)
                continue
            if first == "#" and (heading_match := _atx_heading(line)):
                start_section(heading_match[1], heading_match[0])
                continue
            if (
                (first in "-*_" and _BREAK.match(line))
                or (first == "[" and _LINK_DEFINITION.match(line))
                or (first == "|" and _TABLE_ROW.match(line))
            ):
                flush()
                continue
            if first == ">" and (match := _QUOTE.match(line)):
                line = line[match.end() :]
            if first in _ITEM_MARKERS and (match := _ITEM.match(line)):
                flush()
                item = [_TASK.sub("", match.group(2) or "")]
                continue
        if item is not None:
            item.append(line.strip())  # a continuation line of the item (indented or lazy)
            continue
        paragraph.append(line.strip())
    flush()
    return heads, lines


def _atx_heading(line: str) -> tuple[int, str] | None:
    """Return (level, text) of an ATX heading line ("## Title ##"), or None for other lines.

    The same as matching ^ {0,3}(#{1,6})(?:[ \\t]+(.*?))?(?:[ \\t]+#+)?[ \\t]*$, without its
    backtracking over long runs of spaces.
    """
    match = _ATX_OPEN.match(line)
    if match is None:
        return None
    rest = line[match.end() :].strip(" \t")
    closing = len(rest) - len(rest.rstrip("#"))
    if closing and closing < len(rest) and rest[-closing - 1] in " \t":
        rest = rest[:-closing].rstrip(" \t")  # the optional closing sequence " ##"
    return len(match.group(1)), rest


def strip_inline_markdown(text: str) -> str:
    """Return text without inline Markdown: emphasis, code marks, links, images and HTML.

    Links keep their text, images are removed, code spans and backslash-escaped
    characters are kept verbatim. NUL characters are dropped. Takes linear time.
    """
    if not _may_hold_markdown(text):
        return text
    text = text.replace("\x00", "")  # it marks the kept spans below
    spans: list[str] = []

    def keep(literal: str) -> str:
        spans.append(literal)
        return f"\x00{len(spans) - 1}\x00"

    if "`" in text:
        text = _code_spans(text, keep)
    if "\\" in text:
        for escaped in _ESCAPES:
            if "\\" + escaped in text:
                text = text.replace("\\" + escaped, keep(escaped))
    if "![" in text:
        text = _drop_images(text)
    if "[" in text:
        text = _unwrap_links(text)
    if "<" in text:
        text = _drop_html(_unwrap_autolinks(text))
    for table in (_STRONG, _STRIKE, _EMPHASIS_STAR, _EMPHASIS_UNDERSCORE):
        if any(mark in text for mark in table):
            text = _unwrap_spans(text, table)
    if len(spans) > len(_ESCAPES):
        text = _PLACEHOLDER.sub(lambda m: spans[int(m.group(1))], text)
    else:  # no NUL is left but the placeholders' own: each can be replaced alone
        for number, literal in enumerate(spans):
            text = text.replace(f"\x00{number}\x00", literal)
    return text


_INLINE_MARKS = re.compile(r"[`\\\[<*_~\x00]")


def _may_hold_markdown(text: str) -> bool:
    return _INLINE_MARKS.search(text) is not None


class _Next:
    """Find where a pattern next occurs at or after a position (-1: nowhere).

    Asked at rising positions, it reads the text once in all: an answer is reused until the
    position passes it, and a "nowhere" holds for every later position.
    """

    def __init__(self, text: str, pattern: re.Pattern[str]):
        self.text = text
        self.pattern = pattern
        self.asked = -1
        self.found = -1

    def __call__(self, position: int) -> int:
        if 0 <= self.asked <= position and (self.found < 0 or position <= self.found):
            return self.found
        match = self.pattern.search(self.text, position)
        self.asked, self.found = position, match.start() if match else -1
        return self.found


def _code_spans(text: str, keep: Callable[[str], str]) -> str:
    """Replace each code span with keep(its content, trimmed), as re.sub((`+)(.+?)\\1) does.

    An opening run of k backticks closes at the first later run of at least k of them; when
    there is none, the regular expression would try shorter openings, so the opening is the
    longest that some later run (or the rest of its own run) can close.
    """
    if "``" not in text:  # single backticks: each but perhaps the last opens a span
        cut = text.rfind("`") + 1
        spans = _SINGLE_CODE_SPAN.sub(lambda m: keep(m.group(1).strip()), text[:cut])
        return spans + text[cut:]
    starts, ends = array("q"), array("q")
    for match in _BACKTICKS.finditer(text):
        starts.append(match.start())
        ends.append(match.end())
    count = len(starts)
    longest_after = array("q", bytes(8 * (count + 1)))  # the longest run after run i
    for i in range(count - 1, 0, -1):
        longest_after[i - 1] = max(longest_after[i], ends[i] - starts[i])
    out: list[str] = []
    pos = i = 0
    while i < count:
        opening = max(starts[i], pos)  # a match may have ended inside run i
        run = ends[i] - opening
        outside = min(run, longest_after[i])  # closable by a later run
        inside = (run - 1) // 2  # closable by the rest of this run, with content between
        if not (outside or inside):
            break  # the last run, too short to close itself: no span here or after
        if inside >= outside:
            size, close, j = inside, opening + inside + 1, i
        else:
            size, j = outside, i + 1
            while ends[j] - starts[j] < size:
                j += 1
            close = starts[j]
        out.append(text[pos:opening])
        out.append(keep(text[opening + size : close].strip()))
        pos = close + size
        i = j if pos < ends[j] else j + 1
    out.append(text[pos:])
    return "".join(out)


def _drop_images(text: str) -> str:
    """Remove images, as re.sub(r"!\\[[^\\]]*\\](?:\\([^)]*\\)|\\[[^\\]]*\\])?", "") does."""
    alt_end, ref_end, target_end = (
        _Next(text, _CLOSE_BRACKET),
        _Next(text, _CLOSE_BRACKET),
        _Next(text, _CLOSE_PAREN),
    )
    out: list[str] = []
    pos = 0
    for match in _IMAGE_OPEN.finditer(text):
        start = match.start()
        if start < pos:
            continue
        close = alt_end(start + 2)
        if close < 0:
            break  # no "]" after this one: no image here or later
        end = close + 1
        after = text[end : end + 1]
        if after == "(" and (found := target_end(end + 1)) >= 0:
            end = found + 1
        elif after == "[" and (found := ref_end(end + 1)) >= 0:
            end = found + 1
        out.append(text[pos:start])
        pos = end
    out.append(text[pos:])
    return "".join(out)


def _unwrap_links(text: str) -> str:
    """Keep links' text, as re.sub(r"\\[([^\\]]*)\\](?:\\([^)]*\\)|\\[[^\\]]*\\])", r"\\1") does."""
    text_end, ref_end, target_end = (
        _Next(text, _CLOSE_BRACKET),
        _Next(text, _CLOSE_BRACKET),
        _Next(text, _CLOSE_PAREN),
    )
    out: list[str] = []
    pos = at = 0
    while (match := _LINK_OPEN.search(text, at)) is not None:
        start = match.start()
        close = text_end(start + 1)
        if close < 0:
            break  # no "]" after this "[": no link here or later
        after = text[close + 1 : close + 2]
        found = -1
        if after == "(":
            found = target_end(close + 2)
        elif after == "[":
            found = ref_end(close + 2)
        if found < 0:
            at = close + 1  # every "[" before this "]" ends its text here too, and fails alike
            continue
        out.append(text[pos:start])
        out.append(text[start + 1 : close])
        pos = at = found + 1
    out.append(text[pos:])
    return "".join(out)


def _unwrap_autolinks(text: str) -> str:
    """Keep autolinks' address, as re.sub(r"<((?:https?|mailto):[^>\\s]+)>", r"\\1") does."""
    stop = _Next(text, _AUTOLINK_END)
    out: list[str] = []
    pos = 0
    for match in _AUTOLINK_OPEN.finditer(text):
        start = match.start()
        if start < pos:
            continue
        end = stop(match.end())
        if end < 0:
            break
        if end > match.end() and text[end] == ">":
            out.append(text[pos:start])
            out.append(text[start + 1 : end])
            pos = end + 1
    out.append(text[pos:])
    return "".join(out)


def _drop_html(text: str) -> str:
    """Remove HTML tags and comments, as re.sub(r"</?[A-Za-z][^>]*>|<!--.*?-->", "", re.S)."""
    tag_end, comment_end = _Next(text, _TAG_END), _Next(text, _COMMENT_END)
    live = (True, True)  # (a tag may still close, a comment may still close)
    out: list[str] = []
    pos = at = 0
    while live in _HTML_OPEN and (match := _HTML_OPEN[live].search(text, at)) is not None:
        start = match.start()
        if match.group() == "<!--":
            end = comment_end(start + 4)
            if end < 0:
                live, at = (live[0], False), start + 1
                continue
            end += 3
        else:
            end = tag_end(match.end())
            if end < 0:
                live, at = (False, live[1]), start + 1
                continue
            end += 1
        out.append(text[pos:start])
        pos = at = end
    out.append(text[pos:])
    return "".join(out)


@lru_cache(maxsize=16)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.S)


@lru_cache(maxsize=16)
def _openings(table: tuple[tuple[str, str], ...]) -> re.Pattern[str]:
    return re.compile("|".join(opening for _mark, opening in table))


def _unwrap_spans(text: str, table: dict[str, tuple[str, str]]) -> str:
    """Replace each span of the table's marks by its content, in one pass from the left.

    The same as re.sub(r"(m1|m2)(?=\\S)(.+?)(?<=\\S)\\1", r"\\2") with the table's own
    conditions on where a mark opens and closes: each opening mark closes at its next
    closing mark; a mark that no closing mark follows is dropped from the search.
    """
    marks = [mark for mark in table if mark in text]
    if len(marks) == 1:
        # One mark: the regular expression itself is linear on the text up to the last
        # closing mark (found as the first opening one of the reversed text), since every
        # opening mark before it closes at the next closing mark.
        opening, closing = table[marks[0]]
        last = _compiled(opening).search(text[::-1])
        if last is None:
            return text
        cut = len(text) - last.start()
        return _compiled(f"{opening}(.+?){closing}").sub(r"\1", text[:cut]) + text[cut:]
    closings = {mark: _Next(text, _compiled(table[mark][1])) for mark in marks}
    live = tuple((mark, table[mark][0]) for mark in marks)
    out: list[str] = []
    pos = at = 0
    while live and (match := _openings(live).search(text, at)) is not None:
        start, mark = match.start(), match.group()
        close = closings[mark](start + len(mark) + 1)
        if close < 0:
            live = tuple(entry for entry in live if entry[0] != mark)
            at = start + 1
            continue
        out.append(text[pos:start])
        out.append(text[start + len(mark) : close])
        pos = at = close + len(mark)
    out.append(text[pos:])
    return "".join(out)


_Built = tuple[str, tuple[str, ...], str]


class _Reading:
    """One document's slide limit, and its texts' sentences, each text split only once."""

    def __init__(self, limit: int):
        self.limit = limit
        self._split: dict[int, tuple[str, list[str]]] = {}

    def sentences(self, text: str) -> list[str]:
        """Return split_sentences(text), split once per text (long ones are asked for again)."""
        if len(text) < 1000:
            return split_sentences(text)
        known = self._split.get(id(text))
        if known is None or known[0] is not text:  # the entry holds text, so its id is unique
            known = self._split[id(text)] = (text, split_sentences(text))
        return known[1]

    def remember(self, text: str, sentences: list[str]) -> None:
        """Record that text, made by joining sentences with spaces, splits into them."""
        if len(text) >= 1000:
            self._split[id(text)] = (text, sentences)


def _markdown_slides(heads: list[_Head], lines: list[_Line], reading: _Reading) -> Iterator[_Built]:
    ends = [start for _heading, _level, start in heads[1:]] + [len(lines)]

    def blocks(index: int) -> list[_Block]:
        return list(_each_block(lines[heads[index][2] : ends[index]]))

    def heading(index: int) -> str:
        return strip_inline_markdown(heads[index][0] or "")

    first_h1 = next(
        (heading(i) for i, (_, level, _) in enumerate(heads) if level == 1 and heading(i)), None
    )
    intro, first = blocks(0), blocks(1)
    if intro and heads[1][1] == 1 and heading(1) == first_h1:
        # The preamble sits right above the H1 that would title it: one slide, not two.
        first[:0] = intro
        intro = []
    if intro:
        yield from _fitted(first_h1, intro, reading)
    for index in range(1, len(heads)):
        if section := first if index == 1 else blocks(index):
            yield from _fitted(heading(index), section, reading)


def _plain_slides(blocks: Iterable[_Block], reading: _Reading) -> Iterator[_Built]:
    for group in _group_by_words(blocks, reading):
        yield from _fitted(None, group, reading)


def _fitted(heading: str | None, blocks: list[_Block], reading: _Reading) -> list[_Built]:
    """Return a section's slide, or its parts when its narration is longer than the limit."""
    built = _build(heading, blocks, reading)
    if len(built[2]) <= reading.limit:
        return [built]
    parts = [_build(heading, group, reading, own_words=True) for group in _fit(blocks, reading)]
    title = " ".join((heading or "").split()).rstrip(" :")
    if not title or len(parts) == 1:
        return parts  # each part is titled by its heading or by its own first sentence
    numbered = []
    for number, (_title, bullets, narration) in enumerate(parts, start=1):
        suffix = f" ({number}/{len(parts)})"
        numbered.append((_clip(title, MAX_TITLE - len(suffix)) + suffix, bullets, narration))
    return numbered


def _fit(blocks: list[_Block], reading: _Reading) -> list[list[_Block]]:
    """Group blocks so that each group, narrated block by block, is within the slide limit.

    A block that alone is longer is cut between sentences (then words) first. The groups are
    of similar length.
    """
    limit = reading.limit
    pieces: list[_Block] = []
    for kind, text in blocks:
        if len(_sentence(text)) <= limit:
            pieces.append((kind, text))
        else:
            cut = max(limit - _SENTENCE_GROWTH, 1)
            groups = group_sentences(reading.sentences(text), cut)
            pieces.extend((kind, _joined(group, reading)) for group in groups)
    sizes = [len(_sentence(text)) for _kind, text in pieces]
    total = sum(sizes) + len(sizes) - 1
    target = total / max(math.ceil(total / limit), 1)
    groups: list[list[_Block]] = []
    current: list[_Block] = []
    length = 0
    for piece, size in zip(pieces, sizes, strict=True):
        grown = length + 1 + size if current else size
        if current and (grown > limit or length >= target):
            groups.append(current)
            current, grown = [], size
        current.append(piece)
        length = grown
    groups.append(current)
    return groups


def _group_by_words(blocks: Iterable[_Block], reading: _Reading) -> Iterator[list[_Block]]:
    """Group blocks into runs of about 60 to 120 words, splitting long paragraphs."""
    current: list[_Block] = []
    count = 0
    held: list[_Block] | None = None  # the last full group, kept back for a short tail
    for kind, text in _pieces(blocks, reading):
        words = _words(text)
        if current and count + words > _MAX_WORDS:
            if held is not None:
                yield held
            held, current, count = current, [], 0
        current.append((kind, text))
        count += words
        if count >= _MIN_WORDS:
            if held is not None:
                yield held
            held, current, count = current, [], 0
    if current:
        if held is not None and count < _MIN_WORDS // 2:
            held.extend(current)  # a short tail joins the slide before it
        else:
            if held is not None:
                yield held
            held = current
    if held is not None:
        yield held


def _pieces(blocks: Iterable[_Block], reading: _Reading) -> Iterator[_Block]:
    for kind, text in blocks:
        if kind == "p" and len(text.split(None, _MAX_WORDS)) > _MAX_WORDS:  # > 120 words
            yield from (("p", chunk) for chunk in _split_paragraph(text, reading))
        else:
            yield kind, text


def _split_paragraph(text: str, reading: _Reading) -> Iterator[str]:
    """Split a long paragraph between sentences into chunks of about 90 words."""
    target = (_MIN_WORDS + _MAX_WORDS) // 2
    current: list[str] = []
    count = 0
    for sentence in iter_sentences(text):  # as far as the slides that are kept need
        words = _words(sentence)
        if current and count + words > target:
            yield _joined(current, reading)
            current, count = [], 0
        current.append(sentence)
        count += words
    if current:
        yield _joined(current, reading)


def _joined(sentences: list[str], reading: _Reading) -> str:
    # Whole sentences rejoined with spaces split as they did in their paragraph (the same
    # punctuation, word before and character after decide each boundary), so they are not
    # split again; the pieces of a sentence cut for length count as its sentences.
    text = " ".join(sentences)
    reading.remember(text, sentences)
    return text


def _build(
    heading: str | None, blocks: list[_Block], reading: _Reading, *, own_words: bool = False
) -> _Built:
    """Return (title, bullets, narration) for a section's blocks.

    Without a heading the title is the first sentence, cut short, and that sentence is not
    repeated as a bullet. A list-only section is narrated as its title and items, unless
    own_words (a part of a longer section): then only its blocks are narrated.
    """
    items = [text for kind, text in blocks if kind == "li"]
    paragraphs = [text for kind, text in blocks if kind == "p"]

    title = " ".join((heading or "").split()).rstrip(" :")
    title_sentence = None
    if not title:
        title_sentence = (reading.sentences(blocks[0][1]) or [blocks[0][1]])[0]
        title = _shorten(title_sentence, _TITLE_WORDS)
    title = _clip(title, MAX_TITLE)

    if items:
        bullets = [_clip(item, MAX_BULLET) for item in items[:MAX_BULLETS]]
    else:
        bullets = _key_sentences(paragraphs, reading, skip=title_sentence)

    if paragraphs or own_words:
        narration = " ".join(_sentence(text) for _, text in blocks)
    else:
        narration = " ".join(_sentence(text) for text in (title, *items))
    return title, tuple(bullets), narration


def _key_sentences(paragraphs: list[str], reading: _Reading, *, skip: str | None) -> list[str]:
    """Return up to 5 short bullets in document order.

    The first sentence of each paragraph (except skip, already the title), then, while there
    are fewer than 3, the paragraphs' further sentences.
    """
    positions = [
        (i, j, s) for i, p in enumerate(paragraphs) for j, s in enumerate(reading.sentences(p))
    ]
    chosen = [(i, j, s) for i, j, s in positions if j == 0 and s != skip]
    for position in positions:
        if len(chosen) >= 3:
            break
        if position[1] > 0:
            chosen.append(position)
    bullets: list[str] = []
    for _, _, sentence in sorted(chosen):
        bullet = _shorten(sentence, _BULLET_WORDS)
        if bullet and bullet not in bullets:
            bullets.append(bullet)
            if len(bullets) == _DERIVED_BULLETS:
                break
    return bullets


def _shorten(sentence: str, max_words: int) -> str:
    """Cut a sentence to at most max_words words at a clean place, without an ellipsis.

    A clause boundary (",", ";", ":", a dash) after a third of the words is preferred;
    trailing punctuation and dangling little words ("and", "the") are removed. A final "."
    is dropped; "?" and "!" are kept.
    """
    words = sentence.split(None, max_words)  # more than max_words items: the rest is cut
    if len(words) > max_words:
        words = words[:max_words]
        for end in range(len(words) - 1, max(max_words // 3, 1) - 1, -1):
            if words[end].endswith((",", ";", ":")) or words[end] in ("-", "\u2013", "\u2014"):
                words = words[: end + 1]
                break
        while len(words) > 1 and words[-1].strip(",;:").lower() in _DANGLING:
            words.pop()
    text = " ".join(words).rstrip(" ,;:-\u2013\u2014")
    if text.endswith(".") and not text.endswith(".."):
        text = text[:-1]
    return text


def _clip(text: str, limit: int) -> str:
    """Cut text to at most limit characters at a word boundary."""
    if len(text) <= limit:
        return text
    cut = text[:limit]
    if text[limit] != " " and " " in cut:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:-")


def _words(text: str) -> int:
    return len(text.split())


_STEP_TITLE = re.compile(
    r"\b(steps?|process|how to|workflow|procedure|stages|pipeline|recipe)\b", re.IGNORECASE
)
_STEP_MARKER = re.compile(
    r"^\s*(?:step\s*\d+\s*[:.)-]?|\d+\s*[.)]|first(?:ly)?,?|second(?:ly)?,?|then,?|next,?|"
    r"finally,?|after that,?)\s*",
    re.IGNORECASE,
)


_FLOW_STEPS = animation_type("flow").field("steps").count
assert _FLOW_STEPS is not None  # a flow's steps are a counted list


def suggest_animation(slide: Slide) -> dict | None:
    """Return a flow animation for a slide whose bullets are steps, else None.

    Bullets are steps when there are as many as a flow has steps (the animation-spec table
    says how many) and either the title speaks of steps (a process, a workflow, "how to") or
    most bullets start with a step marker ("1.", "Step 2:", "First", "Then", "Finally"). The
    markers are left out of the flow's boxes, and each step is cut to a label's length.
    """
    lo, hi = _FLOW_STEPS
    if slide.animation or slide.image or not lo <= len(slide.bullets) <= hi:
        return None
    marked = sum(1 for b in slide.bullets if _STEP_MARKER.match(b) and _STEP_MARKER.sub("", b))
    if not (_STEP_TITLE.search(slide.title) or marked * 2 > len(slide.bullets)):
        return None
    steps = [(_STEP_MARKER.sub("", b, count=1) or b).strip()[:MAX_LABEL] for b in slide.bullets]
    return {"type": "flow", "steps": [s[0].upper() + s[1:] if s else s for s in steps]}
