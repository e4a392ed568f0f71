"""Turn a client's outline or document into slides, without a language model."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

from .animation_spec import MAX_LABEL, animation_type, validate_animation
from .errors import InvalidRequest
from .text import split_sentences
from .types import Slide

logger = logging.getLogger(__name__)

# The slide limits, the same for a request's outline and for a language model's deck.
MAX_SLIDES = 30
MAX_TITLE = 200  # characters of a title
MAX_IMAGE = MAX_TITLE  # characters of an image search phrase
MAX_BULLETS = 12
MAX_BULLET = 500  # characters of one bullet
MAX_NARRATION = 5000  # characters of a slide's narration
_SLIDE_KEYS = frozenset({"title", "bullets", "narration", "image", "animation"})

# Words a shortened bullet or title should not end on.
_DANGLING = frozenset(
    "a an and as at but by for from in into is of on or so than that the their this to "
    "was were which while with".split()
)
_LEADING_MARKER = re.compile(r"^\s*(?:[-*+\u2022\u2013\u2014]|\d+[.)])\s+")

# --- Markdown syntax ---------------------------------------------------------------------------
_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_BREAK = re.compile(r"^ {0,3}(?:(?:-[ \t]*){3,}|(?:\*[ \t]*){3,}|(?:_[ \t]*){3,})$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_ITEM = re.compile(r"^(\s*)(?:[-*+]|\d{1,9}[.)])(?:[ \t]+(.*))?$")
_TASK = re.compile(r"^\[[ xX]\]\s+")
_QUOTE = re.compile(r"^ {0,3}>[ \t]?")
_LINK_DEFINITION = re.compile(r"^ {0,3}\[[^\]]+\]:\s*\S")
_TABLE_ROW = re.compile(r"^\s*\|")

_CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.S)
_IMAGE = re.compile(r"!\[[^\]]*\](?:\([^)]*\)|\[[^\]]*\])?")
_LINK = re.compile(r"\[([^\]]*)\](?:\([^)]*\)|\[[^\]]*\])")
_AUTOLINK = re.compile(r"<((?:https?|mailto):[^>\s]+)>")
_HTML_TAG = re.compile(r"</?[A-Za-z][^>]*>|<!--.*?-->", re.S)
_STRONG = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1", re.S)
_EMPHASIS_STAR = re.compile(r"\*(?=\S)(.+?)(?<=\S)\*", re.S)
_EMPHASIS_UNDERSCORE = re.compile(r"(?<!\w)_(?=\S)(.+?)(?<=\S)_(?!\w)", re.S)
_STRIKE = re.compile(r"~~(?=\S)(.+?)(?<=\S)~~", re.S)
_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|>~<])")
_PLACEHOLDER = re.compile(r"\x00(\d+)\x00")

# Plain text is grouped into slides of about this many words.
_MIN_WORDS = 60
_MAX_WORDS = 120
_BULLET_WORDS = 12
_TITLE_WORDS = 8
_DERIVED_BULLETS = 5


# --- outlines ----------------------------------------------------------------------------------


def parse_outline(slides: object) -> list[Slide]:
    """Validate a request's "slides" field and return the slides it describes.

    Each slide is {"title": str, "bullets": [str, ...], "narration"?: str, "image"?: str,
    "animation"?: object}: 1 to MAX_SLIDES slides, a title of 1 to MAX_TITLE characters after
    trimming, up to MAX_BULLETS non-empty bullets of up to MAX_BULLET characters, narration up
    to MAX_NARRATION characters, an image phrase up to MAX_IMAGE characters.
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
    return [_parse_slide(item, f"slides[{i}]", i + 1) for i, item in enumerate(slides)]


def _parse_slide(item: object, where: str, number: int) -> Slide:
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
        narration = narration.strip()
        if len(narration) > MAX_NARRATION:
            raise InvalidRequest(
                f"{where}.narration is {len(narration)} characters; at most {MAX_NARRATION} "
                "are allowed"
            )
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
    )


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


def parse_document(text: str, *, max_slides: int = MAX_SLIDES) -> list[Slide]:
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

    At most max_slides slides are returned: the ones past it are dropped (and logged), so
    the video covers the start of the document. Raises InvalidRequest when nothing remains.
    """
    sections = _sections(text)
    if any(section.heading is not None for section in sections):
        slides = _markdown_slides(sections)
    else:
        blocks = [block for section in sections for block in section.blocks]
        slides = _plain_slides(blocks)
    if not slides:
        raise InvalidRequest("the document has no text to make slides from")
    if len(slides) > max_slides:
        logger.warning("document gave %d slides; keeping the first %d", len(slides), max_slides)
        slides = slides[:max_slides]
    return [
        Slide(slide_number=i + 1, title=title, bullets=bullets, narration=narration)
        for i, (title, bullets, narration) in enumerate(slides)
    ]


def derive_topic(slides: Sequence[Slide]) -> str:
    """Return a topic for a request that sent none: the first slide's title."""
    if not slides:
        raise InvalidRequest("there are no slides to take a topic from")
    return slides[0].title


class _Section:
    """A heading (None before the first one) and its blocks: ("p" | "li", text)."""

    def __init__(self, heading: str | None, level: int):
        self.heading = heading
        self.level = level
        self.blocks: list[tuple[str, str]] = []


def _sections(text: str) -> list[_Section]:
    """Split Markdown into sections of paragraph and list-item blocks, inline syntax removed."""
    sections = [_Section(None, 0)]
    paragraph: list[str] = []
    item: list[str] | None = None  # the lines of the list item being read
    fence: str | None = None

    def flush() -> None:
        nonlocal item
        if paragraph:
            _add_block(sections[-1], "p", " ".join(paragraph))
            paragraph.clear()
        if item is not None:
            _add_block(sections[-1], "li", " ".join(item))
            item = None

    def start_section(heading: str, level: int) -> None:
        flush()
        if level <= 3:
            sections.append(_Section(strip_inline_markdown(heading), level))
        elif sentence := _sentence(strip_inline_markdown(heading)):
            sections[-1].blocks.append(("p", sentence))

    for line in text.replace("\r\n", "\n").replace("\r", "\n").expandtabs(4).split("\n"):
        if fence is not None:
            if line.strip().startswith(fence):
                fence = None
            continue
        if match := _FENCE.match(line):
            flush()
            fence = match.group(1)
            continue
        if not line.strip():
            flush()
            continue
        if paragraph and (match := _SETEXT.match(line)):
            heading = " ".join(paragraph)
            paragraph.clear()
            start_section(heading, 1 if match.group(1)[0] == "=" else 2)
            continue
        if match := _ATX.match(line):
            start_section(match.group(2) or "", len(match.group(1)))
            continue
        if _BREAK.match(line) or _LINK_DEFINITION.match(line) or _TABLE_ROW.match(line):
            flush()
            continue
        line = _QUOTE.sub("", line)
        if match := _ITEM.match(line):
            flush()
            item = [_TASK.sub("", match.group(2) or "")]
            continue
        if item is not None:
            item.append(line.strip())  # a continuation line of the item (indented or lazy)
            continue
        paragraph.append(line.strip())
    flush()
    return sections


def _add_block(section: _Section, kind: str, text: str) -> None:
    text = " ".join(strip_inline_markdown(text).split())
    if text:
        section.blocks.append((kind, text))


def strip_inline_markdown(text: str) -> str:
    """Return text without inline Markdown: emphasis, code marks, links, images and HTML.

    Links keep their text, images are removed, code spans and backslash-escaped
    characters are kept verbatim.
    """
    spans: list[str] = []

    def keep(literal: str) -> str:
        spans.append(literal)
        return f"\x00{len(spans) - 1}\x00"

    text = _CODE_SPAN.sub(lambda m: keep(m.group(2).strip()), text)
    text = _ESCAPE.sub(lambda m: keep(m.group(1)), text)
    text = _IMAGE.sub("", text)
    text = _LINK.sub(r"\1", text)
    text = _AUTOLINK.sub(r"\1", text)
    text = _HTML_TAG.sub("", text)
    for pattern in (_STRONG, _STRIKE):
        text = pattern.sub(lambda m: m.group(m.lastindex or 0), text)
    text = _EMPHASIS_STAR.sub(r"\1", text)
    text = _EMPHASIS_UNDERSCORE.sub(r"\1", text)
    return _PLACEHOLDER.sub(lambda m: spans[int(m.group(1))], text)


_Built = tuple[str, tuple[str, ...], str]


def _markdown_slides(sections: list[_Section]) -> list[_Built]:
    first_h1 = next((s.heading for s in sections if s.level == 1 and s.heading), None)
    intro, rest = sections[0], sections[1:]
    if intro.blocks and rest and rest[0].level == 1 and rest[0].heading == first_h1:
        # The preamble sits right above the H1 that would title it: one slide, not two.
        rest[0].blocks[:0] = intro.blocks
        intro.blocks = []
    slides: list[_Built] = []
    if intro.blocks:
        slides.append(_build(first_h1, intro.blocks))
    for section in rest:
        if section.blocks:
            slides.append(_build(section.heading, section.blocks))
    return slides


def _plain_slides(blocks: list[tuple[str, str]]) -> list[_Built]:
    return [_build(None, group) for group in _group_by_words(blocks)]


def _group_by_words(blocks: list[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    """Group blocks into runs of about 60 to 120 words, splitting long paragraphs."""
    pieces: list[tuple[str, str]] = []
    for kind, text in blocks:
        if kind == "p" and _words(text) > _MAX_WORDS:
            pieces.extend(("p", chunk) for chunk in _split_paragraph(text))
        else:
            pieces.append((kind, text))

    groups: list[list[tuple[str, str]]] = []
    current: list[tuple[str, str]] = []
    count = 0
    for kind, text in pieces:
        words = _words(text)
        if current and count + words > _MAX_WORDS:
            groups.append(current)
            current, count = [], 0
        current.append((kind, text))
        count += words
        if count >= _MIN_WORDS:
            groups.append(current)
            current, count = [], 0
    if current:
        if groups and count < _MIN_WORDS // 2:
            groups[-1].extend(current)  # a short tail joins the slide before it
        else:
            groups.append(current)
    return groups


def _split_paragraph(text: str) -> list[str]:
    """Split a long paragraph between sentences into chunks of about 90 words."""
    target = (_MIN_WORDS + _MAX_WORDS) // 2
    chunks: list[str] = []
    current: list[str] = []
    count = 0
    for sentence in split_sentences(text):
        words = _words(sentence)
        if current and count + words > target:
            chunks.append(" ".join(current))
            current, count = [], 0
        current.append(sentence)
        count += words
    if current:
        chunks.append(" ".join(current))
    return chunks


def _build(heading: str | None, blocks: list[tuple[str, str]]) -> _Built:
    """Return (title, bullets, narration) for a section's blocks.

    Without a heading the title is the first sentence, cut short, and that sentence is not
    repeated as a bullet.
    """
    items = [text for kind, text in blocks if kind == "li"]
    paragraphs = [text for kind, text in blocks if kind == "p"]

    title = " ".join((heading or "").split()).rstrip(" :")
    title_sentence = None
    if not title:
        title_sentence = (split_sentences(blocks[0][1]) or [blocks[0][1]])[0]
        title = _shorten(title_sentence, _TITLE_WORDS)
    title = _clip(title, MAX_TITLE)

    if items:
        bullets = [_clip(item, MAX_BULLET) for item in items[:MAX_BULLETS]]
    else:
        bullets = _key_sentences(paragraphs, skip=title_sentence)

    if paragraphs:
        narration = " ".join(_sentence(text) for _, text in blocks)
    else:
        narration = " ".join(_sentence(text) for text in (title, *items))
    return title, tuple(bullets), narration


def _key_sentences(paragraphs: list[str], *, skip: str | None) -> list[str]:
    """Return up to 5 short bullets in document order.

    The first sentence of each paragraph (except skip, already the title), then, while there
    are fewer than 3, the paragraphs' further sentences.
    """
    positions = [
        (i, j, s) for i, p in enumerate(paragraphs) for j, s in enumerate(split_sentences(p))
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
    return bullets[:_DERIVED_BULLETS]


def _shorten(sentence: str, max_words: int) -> str:
    """Cut a sentence to at most max_words words at a clean place, without an ellipsis.

    A clause boundary (",", ";", ":", a dash) after a third of the words is preferred;
    trailing punctuation and dangling little words ("and", "the") are removed. A final "."
    is dropped; "?" and "!" are kept.
    """
    words = sentence.split()
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
