"""Language models that write slide decks and narration: the interface and the OpenAI backend.

The model answers with JSON that we parse tolerantly (code fences, prose around the object,
a bare list) and then validate here in Python; an invalid answer is asked again with the
problem named. Animations are declarative specs checked by normalize_animation(); nothing
the model writes is ever executed.
"""

from __future__ import annotations

import json
import logging
import math
import re
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from ..core.animation_spec import ANIMATION_FIELDS, ANIMATION_TYPES
from ..core.errors import ProviderError
from ..core.outline import MAX_NARRATION, MAX_TITLE, narrate
from ..core.types import Slide, Usage
from .openai_client import OpenAIConfig, make_client, translate_error

if TYPE_CHECKING:
    import openai

logger = logging.getLogger(__name__)

T = TypeVar("T")

MAX_BULLETS = 8
MAX_BULLET = 300
MAX_KEYWORD = 200
MAX_LABEL = 120  # one step, label or term of an animation
MAX_EXPRESSION = 200
_MAX_ECHO = 20000  # how much of an invalid answer is sent back with the correction

TONES = {
    "formal": (
        "formal: precise, neutral and professional, like a good university lecture; "
        "complete sentences, no slang, no jokes"
    ),
    "casual": (
        "casual: friendly and conversational, like explaining to a curious friend; short "
        "sentences, speaking to the viewer as 'you', light humour welcome"
    ),
    "storytelling": (
        "storytelling: the deck tells a story with a thread from slide to slide (a question, "
        "people or history, tension and its resolution) while still teaching the facts"
    ),
}

# --- animation specs ---------------------------------------------------------------------------

_EXPRESSION_CHARS = re.compile(r"^[0-9A-Za-z_\s.,+\-*/^()]+$")
_MAX_ABS_X = 1e6


def _nullable(kind: str) -> dict:
    return {"type": [kind, "null"]}


def _nullable_list(item: dict) -> dict:
    return {"type": ["array", "null"], "items": item}


_ANIMATION_SCHEMA: dict = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "type": {"type": "string", "enum": list(ANIMATION_TYPES)},
        "steps": _nullable_list({"type": "string"}),
        "labels": _nullable_list({"type": "string"}),
        "values": _nullable_list({"type": "number"}),
        "unit": _nullable("string"),
        "events": _nullable_list(
            {
                "type": "object",
                "additionalProperties": False,
                "properties": {"label": {"type": "string"}, "when": {"type": "string"}},
                "required": ["label", "when"],
            }
        ),
        "stages": _nullable_list({"type": "string"}),
        "expression": _nullable("string"),
        "x_min": _nullable("number"),
        "x_max": _nullable("number"),
        "label": _nullable("string"),
        "terms": _nullable_list({"type": "string"}),
    },
    "required": ["type", *(f for fields in ANIMATION_FIELDS.values() for f in fields)],
}

# Strict structured output: every object closed, every key required, optional ones nullable.
DECK_SCHEMA: dict = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "slides": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "title": {"type": "string"},
                    "bullets": {"type": "array", "items": {"type": "string"}},
                    "narration": {"type": "string"},
                    "needs_image": {"type": "boolean"},
                    "image_keyword": {"type": "string"},
                    "needs_animation": {"type": "boolean"},
                    "animation": {"anyOf": [_ANIMATION_SCHEMA, {"type": "null"}]},
                },
                "required": [
                    "title",
                    "bullets",
                    "narration",
                    "needs_image",
                    "image_keyword",
                    "needs_animation",
                    "animation",
                ],
            },
        }
    },
    "required": ["slides"],
}

NARRATION_SCHEMA: dict = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"narrations": {"type": "array", "items": {"type": "string"}}},
    "required": ["narrations"],
}


def normalize_animation(obj: object) -> dict | None:
    """Return a clean animation spec, or None when obj is not a usable one.

    Null fields are dropped and only the fields of the spec's type are kept; strings are
    trimmed. Unusable means an unknown type, a missing field or one of the wrong shape
    (e.g. a bar chart whose labels and values differ in length, or a plot whose x range is
    empty). The visuals module validates again before rendering.
    """
    if not isinstance(obj, dict):
        return None
    kind = obj.get("type")
    if not isinstance(kind, str) or kind.strip() not in ANIMATION_FIELDS:
        return None
    kind = kind.strip()
    spec: dict[str, Any] = {"type": kind}
    if kind == "flow":
        if (steps := _labels(obj.get("steps"), 2, 8)) is None:
            return None
        spec["steps"] = steps
    elif kind == "cycle":
        if (stages := _labels(obj.get("stages"), 3, 8)) is None:
            return None
        spec["stages"] = stages
    elif kind == "equation":
        if (terms := _labels(obj.get("terms"), 1, 10)) is None:
            return None
        spec["terms"] = terms
    elif kind == "bar_chart":
        labels = _labels(obj.get("labels"), 1, 12)
        values = obj.get("values")
        if labels is None or not isinstance(values, list) or len(values) != len(labels):
            return None
        if not all(_is_number(v) for v in values):
            return None
        spec["labels"] = labels
        spec["values"] = values
        ok, unit = _optional_label(obj.get("unit"))
        if not ok:
            return None
        if unit:
            spec["unit"] = unit
    elif kind == "timeline":
        events = obj.get("events")
        if not isinstance(events, list) or not 2 <= len(events) <= 10:
            return None
        clean = []
        for event in events:
            if not isinstance(event, dict):
                return None
            label, when = _label(event.get("label")), _label(event.get("when"))
            if label is None or when is None:
                return None
            clean.append({"label": label, "when": when})
        spec["events"] = clean
    elif kind == "function_plot":
        expression = obj.get("expression")
        if not isinstance(expression, str):
            return None
        expression = " ".join(expression.split())
        if not expression or len(expression) > MAX_EXPRESSION:
            return None
        if not _EXPRESSION_CHARS.match(expression):
            return None
        x_min, x_max = obj.get("x_min"), obj.get("x_max")
        if not (_is_number(x_min) and _is_number(x_max)):
            return None
        if not -_MAX_ABS_X <= x_min < x_max <= _MAX_ABS_X:
            return None
        spec.update(expression=expression, x_min=x_min, x_max=x_max)
        ok, label = _optional_label(obj.get("label"))
        if not ok:
            return None
        if label:
            spec["label"] = label
    return spec


def _label(value: object) -> str | None:
    """Return value trimmed when it is a string of 1..MAX_LABEL characters, else None."""
    if not isinstance(value, str):
        return None
    value = " ".join(value.split())
    return value if 0 < len(value) <= MAX_LABEL else None


def _optional_label(value: object) -> tuple[bool, str | None]:
    """Return (usable, label) for an optional label: null and "" are usable and give None."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return True, None
    label = _label(value)
    return label is not None, label


def _labels(value: object, lo: int, hi: int) -> list[str] | None:
    if not isinstance(value, list) or not lo <= len(value) <= hi:
        return None
    labels = [_label(item) for item in value]
    return None if any(label is None for label in labels) else labels  # type: ignore[return-value]


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


# --- parsing and validating answers ------------------------------------------------------------


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
    keyword = " ".join((keyword or "").split())[:MAX_KEYWORD] or title

    animation = normalize_animation(item.get("animation")) if needs_animation else None
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
    if not isinstance(value, str):
        raise InvalidAnswer(f"{path} must be a string")
    value = value.strip()
    if not value:
        raise InvalidAnswer(f"{path} must not be empty")
    if len(value) > limit:
        raise InvalidAnswer(f"{path} has {len(value)} characters; at most {limit} are allowed")
    return value


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


# --- prompts -----------------------------------------------------------------------------------

_ANIMATION_GUIDE = """\
Animation specs (choose the one that fits; leave every field another type does not use null):
- {"type": "bullets"}: the bullets appear one by one.
- {"type": "flow", "steps": [2 to 8 short strings]}: a process, step after step.
- {"type": "bar_chart", "labels": [1 to 12 strings], "values": [one number per label], \
"unit": string or null}: compare quantities; only with real, well-known numbers.
- {"type": "timeline", "events": [2 to 10 of {"label": string, "when": string}]}: history.
- {"type": "cycle", "stages": [3 to 8 strings]}: a cycle that repeats (seasons, water cycle).
- {"type": "function_plot", "expression": a formula in x such as "sin(x) * x^2", "x_min": \
number, "x_max": number, "label": string or null}: the graph of a function.
- {"type": "equation", "terms": [1 to 10 strings]}: an equation built up term by term."""


def _tone(tone: str) -> str:
    return TONES.get(tone.strip().lower(), tone.strip() or TONES["formal"])


def deck_messages(*, topic: str, num_slides: int, language: str, tone: str) -> list[dict]:
    """Return the chat messages that ask for a deck of num_slides slides about topic."""
    system = f"""\
You write educational slide decks that are narrated aloud as a video.
Write everything in {language}. Tone: {_tone(tone)}.
Answer with one JSON object and nothing else: {{"slides": [...]}} with exactly {num_slides} \
slides that build on each other, from an introduction to a summary. Each slide has:
- "title": a short heading (at most {MAX_TITLE} characters).
- "bullets": 1 to {MAX_BULLETS} short bullet points (at most {MAX_BULLET} characters, \
ideally under 12 words each).
- "narration": what the narrator says while the slide is shown, 60 to 110 words (people \
speak about 150 words a minute). Full spoken sentences that explain the bullets rather than \
read them out; no Markdown, no stage directions, no "on this slide".
- "needs_image": true when a picture would help the viewer, else false.
- "image_keyword": a short image-search phrase of 2 to 5 words in English (e.g. "plant \
cell microscope"), or "" when needs_image is false.
- "needs_animation": true when a simple animated diagram explains the idea better than a \
picture, else false.
- "animation": the animation spec when needs_animation is true, else null.
Give a slide at most one of an image and an animation. When a slide has one, its narration \
refers to it ("as the chart shows", "in this picture").
{_ANIMATION_GUIDE}"""
    user = f"Topic: {topic}\nWrite exactly {num_slides} slides."
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def narration_messages(
    slides: list[Slide], todo: list[int], *, topic: str, language: str, tone: str
) -> list[dict]:
    """Return the chat messages that ask for the narration of the slides at indexes todo."""
    count = len(todo)
    system = f"""\
You write the narration of an educational slide video: what a narrator says while each \
slide is shown. Write in {language}. Tone: {_tone(tone)}.
Each narration is 60 to 110 words (people speak about 150 words a minute), in full spoken \
sentences that explain the slide's bullets rather than read them out, and flows on from the \
slide before. No Markdown, no stage directions. When a slide has an image or an animation, \
the narration refers to it.
Answer with one JSON object and nothing else: {{"narrations": [...]}} with exactly {count} \
strings, one for each slide marked NARRATE, in order."""
    lines = [f"Topic: {topic}", "", "The deck:"]
    marked = set(todo)
    for index, slide in enumerate(slides):
        mark = " [NARRATE]" if index in marked else ""
        lines.append(f"Slide {slide.slide_number}: {slide.title}{mark}")
        lines.extend(f"- {bullet}" for bullet in slide.bullets)
        if slide.animation:
            lines.append(f"(animation: {json.dumps(slide.animation, ensure_ascii=False)})")
        elif slide.image:
            lines.append(f"(image: {slide.image})")
    numbers = ", ".join(str(slides[i].slide_number) for i in todo)
    lines += ["", f"Write exactly {count} narrations, for slides {numbers} in that order."]
    return [{"role": "system", "content": system}, {"role": "user", "content": "\n".join(lines)}]


def needs_narration(slide: Slide) -> bool:
    """Return whether a slide has no narration or only the one made from its title and bullets."""
    text = slide.narration.strip()
    return not text or text == narrate(slide.title, slide.bullets)


# --- the interface and the OpenAI backend ------------------------------------------------------


class TextModel(Protocol):
    """A language model that writes slide decks and their narration."""

    name: str

    def write_deck(
        self, *, topic: str, num_slides: int, language: str, tone: str, usage: Usage
    ) -> list[Slide]:
        """Return num_slides slides about topic, numbered from 1, each with narration."""
        ...

    def write_narration(
        self, slides: list[Slide], *, topic: str, language: str, tone: str, usage: Usage
    ) -> list[Slide]:
        """Return the slides with narration written for those without their own.

        Slides with no narration, or only the one made from their title and bullets, get a
        written one; titles, bullets, images and animations are kept.
        """
        ...


# (endpoint, model) pairs whose server answered 400 to a json_schema response_format.
_SCHEMA_REJECTED: set[tuple[str, str]] = set()
_SCHEMA_REJECTED_LOCK = threading.Lock()


class OpenAIText(TextModel):
    """A chat model behind any OpenAI-compatible endpoint (OpenAI, Ollama, vLLM, ...)."""

    name = "openai"

    def __init__(
        self, config: OpenAIConfig, *, client: openai.OpenAI | None = None, attempts: int = 3
    ):
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        self.config = config
        self.client = client if client is not None else make_client(config)
        self.attempts = attempts

    def write_deck(
        self, *, topic: str, num_slides: int, language: str, tone: str, usage: Usage
    ) -> list[Slide]:
        """Return num_slides slides about topic, numbered from 1, each with narration.

        Raises ProviderError when the model gives no valid deck in `attempts` answers, and
        RetryableProviderError when the service stays unavailable.
        """
        if num_slides < 1:
            raise ValueError("num_slides must be at least 1")
        messages = deck_messages(topic=topic, num_slides=num_slides, language=language, tone=tone)
        return self._ask(
            messages,
            schema_name="slide_deck",
            schema=DECK_SCHEMA,
            parse=lambda data: parse_deck(data, num_slides),
            what="slide deck",
            step="generating_content",
            usage=usage,
        )

    def write_narration(
        self, slides: list[Slide], *, topic: str, language: str, tone: str, usage: Usage
    ) -> list[Slide]:
        """Return the slides with narration written for those without their own (one call)."""
        todo = [i for i, slide in enumerate(slides) if needs_narration(slide)]
        if not todo:
            return list(slides)
        messages = narration_messages(slides, todo, topic=topic, language=language, tone=tone)
        texts = self._ask(
            messages,
            schema_name="narrations",
            schema=NARRATION_SCHEMA,
            parse=lambda data: parse_narrations(data, len(todo)),
            what="narration",
            step="generating_scripts",
            usage=usage,
        )
        written = dict(zip(todo, texts, strict=True))
        return [
            replace(slide, narration=written[i]) if i in written else slide
            for i, slide in enumerate(slides)
        ]

    def _ask(
        self,
        messages: list[dict],
        *,
        schema_name: str,
        schema: dict,
        parse: Callable[[Any], T],
        what: str,
        step: str,
        usage: Usage,
    ) -> T:
        """Ask until parse() accepts an answer, telling the model what was wrong each time."""
        messages = list(messages)
        problem = ""
        for attempt in range(1, self.attempts + 1):
            content = self._complete(messages, schema_name, schema, step, usage)
            try:
                return parse(extract_json(content))
            except InvalidAnswer as exc:
                problem = str(exc)
            logger.warning(
                "the text model's %s was invalid (attempt %d of %d): %s",
                what,
                attempt,
                self.attempts,
                problem,
            )
            messages += [
                {"role": "assistant", "content": (content or "")[:_MAX_ECHO]},
                {
                    "role": "user",
                    "content": f"Your previous answer was invalid: {problem}. "
                    "Answer again with only the JSON object.",
                },
            ]
        raise ProviderError(
            self.name,
            f"the text model gave no valid {what} after {self.attempts} attempts: {problem}",
        )

    def _complete(
        self, messages: list[dict], schema_name: str, schema: dict, step: str, usage: Usage
    ) -> str | None:
        """Return the content of one chat completion, falling back from json_schema on 400."""
        import openai

        key = (self.config.endpoint, self.config.text_model)
        mode = self.config.structured_output
        with _SCHEMA_REJECTED_LOCK:
            if mode == "auto" and key in _SCHEMA_REJECTED:
                mode = "off"
        try:
            try:
                response = self._create(messages, _response_format(mode, schema_name, schema))
            except openai.BadRequestError as exc:
                if mode != "auto":
                    raise
                logger.warning(
                    "%s rejected json_schema output for %s (%s); asking for plain JSON from now on",
                    self.config.endpoint,
                    self.config.text_model,
                    exc.code or exc.status_code,
                )
                response = self._create(messages, None)
                with _SCHEMA_REJECTED_LOCK:
                    _SCHEMA_REJECTED.add(key)
        except openai.OpenAIError as exc:
            raise translate_error(
                exc,
                provider=self.name,
                step=step,
                setting_hint="VIDEOFORGE_TEXT_MODEL",
                secrets=[self.config.api_key],
            ) from None
        _count(response, usage)
        if not response.choices:
            return None
        message = response.choices[0].message
        if not message.content and getattr(message, "refusal", None):
            logger.warning("the text model refused: %s", message.refusal)
        return message.content

    def _create(self, messages: list[dict], response_format: dict | None) -> Any:
        extra: dict[str, Any] = {}
        if response_format is not None:
            extra["response_format"] = response_format
        return self.client.chat.completions.create(
            model=self.config.text_model, messages=messages, **extra
        )


def _response_format(mode: str, name: str, schema: dict) -> dict | None:
    if mode in ("auto", "json_schema"):
        return {
            "type": "json_schema",
            "json_schema": {"name": name, "strict": True, "schema": schema},
        }
    if mode == "json_object":
        return {"type": "json_object"}
    return None


def _count(response: Any, usage: Usage) -> None:
    """Add a chat response's token counts (absent on some local servers) and one request."""
    counts = getattr(response, "usage", None)
    usage.add(
        prompt_tokens=getattr(counts, "prompt_tokens", None) or 0,
        completion_tokens=getattr(counts, "completion_tokens", None) or 0,
        requests=1,
    )


def forget_schema_rejections() -> None:
    """Forget which servers rejected json_schema output (for tests)."""
    with _SCHEMA_REJECTED_LOCK:
        _SCHEMA_REJECTED.clear()
