"""Read and check the language model's answers: decks, narrations and their animations.

The model answers with JSON that we parse tolerantly (code fences, prose around the object,
a bare list) and then validate here in Python against the same slide limits and animation
rules as a request's outline. An invalid answer raises InvalidAnswer, whose message is sent
back to the model; an unusable animation is dropped from its slide.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from typing import Any

from ...core.animation_spec import validate_animation
from ...core.errors import InvalidRequest
from ...core.outline import (
    MAX_BULLET,
    MAX_BULLETS,
    MAX_IMAGE,
    MAX_NARRATION,
    MAX_TITLE,
    checked_text,
    narrate,
)
from ...core.types import Slide

logger = logging.getLogger(__name__)


class InvalidAnswer(ValueError):
    """The model's answer is not the JSON we asked for; the message says what is wrong."""


_FENCE = re.compile(r"```[^\n`]*\n?(.*?)```", re.S)
_DECODER = json.JSONDecoder()


def extract_json(text: str | None) -> Any:
    """Return the JSON object or list inside a model's answer.

    Code fences are tried first, then the whole text, then the longest object or list
    found anywhere in it (so prose before and after is ignored). Raises InvalidAnswer.
    """
    if text is None or not text.strip():
        raise InvalidAnswer("the answer was empty")
    candidates = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    for candidate in candidates:
        candidate = candidate.strip()
        try:
            value = json.loads(candidate)
        except ValueError:
            value = _longest_json(candidate)
        if isinstance(value, dict | list):
            return value
    raise InvalidAnswer("the answer holds no JSON object")


def _longest_json(text: str) -> Any:
    """Return the longest JSON object or list embedded in text, or None."""
    best, best_span = None, 0
    position = 0
    while True:
        starts = [i for i in (text.find("{", position), text.find("[", position)) if i >= 0]
        if not starts:
            return best
        start = min(starts)
        try:
            value, end = _DECODER.raw_decode(text, start)
        except ValueError:
            position = start + 1
            continue
        if end - start > best_span:
            best, best_span = value, end - start
        position = end


def normalize_animation(obj: object, *, bullets: Sequence[str]) -> dict | None:
    """Return the animation spec checked and cleaned, or None when it is not a usable one.

    The lenient twin of validate_animation, with the same rules as an outline's animation
    (bullets are the slide's, for a "bullets" animation): where the outline gets a 400, a
    model's answer just loses its animation.
    """
    try:
        return validate_animation(obj, bullets=bullets)
    except InvalidRequest:  # mathexpr.ExpressionError included
        return None


def parse_deck(data: Any, num_slides: int) -> list[Slide]:
    """Validate a decoded deck answer and return its slides, numbered from 1.

    Accepts {"slides": [...]} or a bare list of slides. Raises InvalidAnswer naming the
    first problem. A slide asking for both an image and an animation keeps the animation
    when its spec is usable, else the image; an unusable animation is dropped.
    """
    if isinstance(data, dict):
        if "slides" not in data:
            raise InvalidAnswer('the answer must be an object {"slides": [...]}')
        data = data["slides"]
    if not isinstance(data, list):
        raise InvalidAnswer('"slides" must be a list of slide objects')
    if len(data) != num_slides:
        raise InvalidAnswer(f"it has {len(data)} slides; exactly {num_slides} are needed")
    return [_parse_slide(item, i + 1) for i, item in enumerate(data)]


def _parse_slide(item: Any, number: int) -> Slide:
    where = f"slides[{number - 1}]"
    if not isinstance(item, dict):
        raise InvalidAnswer(f"{where} must be an object")
    title = _field(item, "title", where, MAX_TITLE)
    bullets = item.get("bullets")
    if not isinstance(bullets, list):
        raise InvalidAnswer(f"{where}.bullets is required: a list of 1 to {MAX_BULLETS} strings")
    if not 1 <= len(bullets) <= MAX_BULLETS:
        raise InvalidAnswer(
            f"{where}.bullets must hold 1 to {MAX_BULLETS} bullets, not {len(bullets)}"
        )
    bullets = tuple(_string(b, f"{where}.bullets[{j}]", MAX_BULLET) for j, b in enumerate(bullets))
    narration = _field(item, "narration", where, MAX_NARRATION)

    needs_image = _flag(item, "needs_image", where)
    needs_animation = _flag(item, "needs_animation", where)
    keyword = item.get("image_keyword")
    if keyword is not None and not isinstance(keyword, str):
        raise InvalidAnswer(f"{where}.image_keyword must be a string")
    keyword = " ".join((keyword or "").split())[:MAX_IMAGE] or title

    animation = (
        normalize_animation(item.get("animation"), bullets=bullets) if needs_animation else None
    )
    if needs_animation and animation is None:
        logger.info("slide %d: dropped an unusable animation spec", number)
        needs_animation = False
    if needs_image and needs_animation:
        logger.info("slide %d: asked for an image and an animation; keeping the animation", number)
        needs_image = False
    return Slide(
        slide_number=number,
        title=title,
        bullets=bullets,
        narration=narration,
        image=keyword if needs_image else None,
        animation=animation if needs_animation else None,
    )


def _field(item: dict, key: str, where: str, limit: int) -> str:
    """Return item[key] as a trimmed string of 1..limit characters, or raise InvalidAnswer."""
    if item.get(key) is None:
        raise InvalidAnswer(f"{where}.{key} is missing")
    return _string(item[key], f"{where}.{key}", limit)


def _string(value: object, path: str, limit: int) -> str:
    """Return value trimmed by the outline's rule for text fields, or raise InvalidAnswer."""
    try:
        return checked_text(value, path, limit)
    except InvalidRequest as exc:
        raise InvalidAnswer(exc.detail) from None


def _flag(item: dict, key: str, where: str) -> bool:
    value = item.get(key)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise InvalidAnswer(f"{where}.{key} must be true or false")
    return value


def parse_narrations(data: Any, count: int) -> list[str]:
    """Validate a decoded narration answer and return its count narrations, trimmed."""
    if isinstance(data, dict):
        if "narrations" not in data:
            raise InvalidAnswer('the answer must be an object {"narrations": [...]}')
        data = data["narrations"]
    if not isinstance(data, list):
        raise InvalidAnswer('"narrations" must be a list of strings')
    if len(data) != count:
        raise InvalidAnswer(f"it has {len(data)} narrations; exactly {count} are needed")
    return [_string(text, f"narrations[{i}]", MAX_NARRATION) for i, text in enumerate(data)]


def needs_narration(slide: Slide) -> bool:
    """Return whether a slide has no narration or only the one made from its title and bullets."""
    text = slide.narration.strip()
    return not text or text == narrate(slide.title, slide.bullets)
