"""The animation-spec table: which animation types exist, their fields, and how a spec is checked.

A spec is a small JSON object (the language model and outlines write the same format).
Nothing in a spec is ever run: `validate_animation` checks it field by field, and formulas
go through `mathexpr`, which parses them itself and evaluates with floats only.

`ANIMATIONS` is the only place the types, their fields, kinds, counts and optionality are
written. Everything else is made from it: `validate_animation`, the JSON schema the language
model answers in (`animation_schema`), the prompt's guide (`animation_guide`) and the
README's table (`animation_table`).
"""

from __future__ import annotations

import json
import math
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from . import mathexpr
from .errors import InvalidRequest

MAX_LABEL = 120  # characters in one step, label, stage, event or term (as the model is told)
MAX_ABS_X = 1e6
MAX_ABS_VALUE = 1e15
PLOT_SAMPLES = 801  # points of a function plot, the same for checking and for drawing
EVENT_FIELDS = ("label", "when")  # the keys of one timeline event, both labels


# --- the table -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    """One field of an animation spec.

    `kind` says what the value is and how it is checked:
    "strings" a list of labels, "events" a list of {label, when} objects, "numbers" one
    finite number per label of the type's "labels", "text" one label, "formula" a formula
    in x, "number" an end of the x range. `count` is the (least, most) items of a list.
    An optional field may be null or empty and is then left out. `prompt` is how the
    model is told the value when the kind's own words (`_PROMPTS`) do not fit.
    """

    name: str
    kind: str
    count: tuple[int, int] | None = None
    optional: bool = False
    prompt: str | None = None


@dataclass(frozen=True)
class AnimationType:
    """One animation type: its fields, and how the README and the model's prompt describe it.

    `shows` is the README's description (the first counted field's range is added), `guide`
    the prompt's, `example` a valid spec. `check`, when given, checks the fields together
    after the required ones. A type that `needs_bullets` shows the slide's own bullets.
    """

    name: str
    fields: tuple[Field, ...]
    shows: str
    guide: str
    example: dict
    check: Callable[[dict, dict], None] | None = None
    needs_bullets: bool = False

    def field(self, name: str) -> Field:
        """Return the field called name; raise KeyError when the type has none."""
        for field in self.fields:
            if field.name == name:
                return field
        raise KeyError(f"a {self.name} animation has no field {name!r}")


def _check_plot(spec: dict, clean: dict) -> None:
    """Check that a function plot's range is not empty and its formula has a value in it."""
    x_min, x_max = clean["x_min"], clean["x_max"]
    if not x_min < x_max:
        raise InvalidRequest(f"animation.x_min ({x_min:g}) must be less than x_max ({x_max:g})")
    points = mathexpr.sample(mathexpr.parse(spec["expression"]), x_min, x_max, PLOT_SAMPLES)
    if not any(y == y for _, y in points):
        raise InvalidRequest(
            f"animation.expression has no value between x_min and x_max ({x_min:g} to {x_max:g}); "
            "choose a range where it is defined"
        )


ANIMATIONS: tuple[AnimationType, ...] = (
    AnimationType(
        "bullets",
        fields=(),
        shows="the slide's bullets revealed one by one, each when its sentence is spoken",
        guide="the bullets appear one by one.",
        example={"type": "bullets"},
        needs_bullets=True,
    ),
    AnimationType(
        "flow",
        fields=(Field("steps", "strings", count=(2, 8), prompt="short strings"),),
        shows="steps with arrows",
        guide="a process, step after step.",
        example={"type": "flow", "steps": ["Collect", "Clean", "Train"]},
    ),
    AnimationType(
        "bar_chart",
        fields=(
            Field("labels", "strings", count=(1, 12)),
            Field("values", "numbers"),
            Field("unit", "text", optional=True),
        ),
        shows="bars that grow",
        guide="compare quantities; only with real, well-known numbers.",
        example={"type": "bar_chart", "labels": ["A", "B"], "values": [3, 7], "unit": "%"},
    ),
    AnimationType(
        "timeline",
        fields=(Field("events", "events", count=(2, 10)),),
        shows="events along a line",
        guide="history.",
        example={
            "type": "timeline",
            "events": [{"label": "Idea", "when": "1950"}, {"label": "Web", "when": "1989"}],
        },
    ),
    AnimationType(
        "cycle",
        fields=(Field("stages", "strings", count=(3, 8)),),
        shows="stages around a circle",
        guide="a cycle that repeats (seasons, water cycle).",
        example={"type": "cycle", "stages": ["Plan", "Do", "Check", "Act"]},
    ),
    AnimationType(
        "function_plot",
        fields=(
            Field("expression", "formula", prompt='a formula in x such as "sin(x) * x^2"'),
            Field("x_min", "number"),
            Field("x_max", "number"),
            Field("label", "text", optional=True),
        ),
        shows=(
            "a curve drawn left to right; the expression is read by a small safe parser "
            "(numbers, `x`, `pi`, `e`, `+ - * / ^`, and functions such as `sin`, `log`, "
            "`sqrt`; no code)"
        ),
        guide="the graph of a function.",
        example={"type": "function_plot", "expression": "sin(x) * x^2", "x_min": -6, "x_max": 6},
        check=_check_plot,
    ),
    AnimationType(
        "equation",
        fields=(Field("terms", "strings", count=(1, 10)),),
        shows="an equation built up term by term",
        guide="an equation built up term by term.",
        example={"type": "equation", "terms": ["E", "=", "m", "c\u00b2"]},
    ),
)

ANIMATION_TYPES = tuple(animation.name for animation in ANIMATIONS)
_BY_NAME = {animation.name: animation for animation in ANIMATIONS}
_ALL_FIELDS = tuple(dict.fromkeys(f.name for a in ANIMATIONS for f in a.fields))


def animation_type(name: str) -> AnimationType:
    """Return the row of the table for an animation type; raise KeyError for an unknown one."""
    return _BY_NAME[name]


# --- validating ----------------------------------------------------------------------------------


def validate_animation(spec: object, *, bullets: Sequence[str] = ()) -> dict:
    """Check an animation spec and return it normalized; raise InvalidRequest naming the problem.

    Strings are cleaned (control characters and line breaks become spaces, runs of whitespace
    one space) and must then have 1 to MAX_LABEL characters; numbers become floats; optional
    fields that are null or empty are left out; keys of other animation types may be present
    only as null (the shape strict structured output gives). The required fields are checked
    in the table's order, then the type's own check, then the optional fields.
    A "bullets" animation needs at least one of the slide's `bullets`.
    """
    if not isinstance(spec, dict):
        raise InvalidRequest('animation must be an object with a "type"')
    name = spec.get("type")
    choices = ", ".join(ANIMATION_TYPES)
    if not isinstance(name, str) or not name.strip():
        raise InvalidRequest(f"animation.type is missing; use one of {choices}")
    name = name.strip()
    if name not in _BY_NAME:
        raise InvalidRequest(f"unknown animation type {name[:40]!r}; use one of {choices}")
    kind = _BY_NAME[name]
    own = {field.name for field in kind.fields}
    for key, value in spec.items():
        if key == "type" or key in own:
            continue
        if key not in _ALL_FIELDS:
            raise InvalidRequest(f"animation has an unknown field {str(key)[:40]!r}")
        if value is not None:
            raise InvalidRequest(f"animation.{key} does not belong in a {name} animation")
    clean: dict = {"type": name}
    if kind.needs_bullets and not any(_clean_text(str(b)) for b in bullets):
        raise InvalidRequest(f"a {name} animation needs a slide with at least one bullet")
    for field in kind.fields:
        if not field.optional:
            clean[field.name] = _CHECKS[field.kind](spec, field, clean)
    if kind.check is not None:
        kind.check(spec, clean)
    for field in kind.fields:
        if field.optional and not _is_empty(spec.get(field.name)):
            clean[field.name] = _CHECKS[field.kind](spec, field, clean)
    return clean


def _is_empty(value: object) -> bool:
    """Return whether an optional field's value means "not given": null or a blank string."""
    return value is None or (isinstance(value, str) and not _clean_text(value))


def _clean_text(text: str) -> str:
    """Return text on one line: control characters as spaces, whitespace collapsed."""
    chars = []
    for ch in text[: MAX_LABEL * 8]:
        category = unicodedata.category(ch)
        if category == "Cs":  # a lone surrogate cannot be encoded for FreeType
            chars.append("\ufffd")
        elif category in ("Cc", "Zl", "Zp"):
            chars.append(" ")
        else:
            chars.append(ch)
    return " ".join("".join(chars).split())


def _label(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise InvalidRequest(f"{where} must be a string")
    text = _clean_text(value)
    if not text:
        raise InvalidRequest(f"{where} is empty")
    if len(text) > MAX_LABEL:
        raise InvalidRequest(f"{where} is {len(text)} characters long; at most {MAX_LABEL}")
    return text


def _items(spec: dict, field: Field, what: str) -> list:
    """Return the field's list after checking it is one with an allowed number of items."""
    assert field.count is not None
    lo, hi = field.count
    value = spec.get(field.name)
    if not isinstance(value, list):
        raise InvalidRequest(f"animation.{field.name} must be a list of {lo} to {hi} {what}")
    if not lo <= len(value) <= hi:
        raise InvalidRequest(f"animation.{field.name} has {len(value)} items; use {lo} to {hi}")
    return value


def _strings(spec: dict, field: Field, clean: dict) -> list[str]:
    items = _items(spec, field, "strings")
    return [_label(item, f"animation.{field.name}[{i}]") for i, item in enumerate(items)]


def _text(spec: dict, field: Field, clean: dict) -> str:
    return _label(spec.get(field.name), f"animation.{field.name}")


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _numbers(spec: dict, field: Field, clean: dict) -> list[float]:
    value, count = spec.get(field.name), len(clean["labels"])
    if not isinstance(value, list) or not all(_is_number(v) for v in value):
        raise InvalidRequest(f"animation.{field.name} must be numbers")
    if len(value) != count:
        raise InvalidRequest(
            f"animation.{field.name} has {len(value)} numbers but animation.labels has {count} "
            "labels; give one value per label"
        )
    numbers = []
    for i, v in enumerate(value):
        try:
            number = float(v)
        except OverflowError:  # an int too big for a float
            number = math.inf
        if not math.isfinite(number) or abs(number) > MAX_ABS_VALUE:
            raise InvalidRequest(f"animation.{field.name}[{i}] must be a finite number up to 1e15")
        numbers.append(number)
    if not any(numbers):
        raise InvalidRequest(
            f"animation.{field.name} are all zero; a bar chart needs something to show"
        )
    return numbers


def _events(spec: dict, field: Field, clean: dict) -> list[dict]:
    keys = ", ".join(EVENT_FIELDS)
    events = []
    for i, event in enumerate(_items(spec, field, f"{{{keys}}} objects")):
        where = f"animation.{field.name}[{i}]"
        if not isinstance(event, dict):
            names = " and ".join(f'"{key}"' for key in EVENT_FIELDS)
            raise InvalidRequest(f"{where} must be an object with {names}")
        extra = sorted(str(k)[:40] for k in event if k not in EVENT_FIELDS)
        if extra:
            raise InvalidRequest(f"{where} has an unknown field {extra[0]!r}")
        events.append({key: _label(event.get(key), f"{where}.{key}") for key in EVENT_FIELDS})
    return events


def _formula(spec: dict, field: Field, clean: dict) -> str:
    expression = spec.get(field.name)
    if not isinstance(expression, str):
        raise InvalidRequest(f'animation.{field.name} must be a formula in x, such as "sin(x)"')
    try:
        mathexpr.parse(expression)
    except mathexpr.ExpressionError as exc:
        raise mathexpr.ExpressionError(
            f"animation.{field.name}: {exc.message}", exc.position
        ) from None
    return " ".join(expression.split())


def _number(spec: dict, field: Field, clean: dict) -> float:
    value = spec.get(field.name)
    if not _is_number(value):
        raise InvalidRequest(f"animation.{field.name} must be a number")
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not (math.isfinite(number) and abs(number) <= MAX_ABS_X):
        raise InvalidRequest(f"animation.{field.name} must be a number between -1e6 and 1e6")
    return number


_CHECKS: dict[str, Callable[[dict, Field, dict], object]] = {
    "strings": _strings,
    "events": _events,
    "numbers": _numbers,
    "text": _text,
    "formula": _formula,
    "number": _number,
}


# --- what is made from the table -----------------------------------------------------------------

_LISTS = {"strings": "string", "events": "object", "numbers": "number"}  # kind: JSON item type
_PROMPTS = {  # how the model is told a value of each kind (lists: after the count, in [])
    "strings": "strings",
    "events": "of {" + ", ".join(f'"{key}": string' for key in EVENT_FIELDS) + "}",
    "numbers": "one number per label",
    "text": "string",
    "formula": "a formula in x",
    "number": "number",
}
_SCALARS = {"text": "string", "formula": "string", "number": "number"}  # kind: JSON type


def _field_schema(field: Field) -> dict:
    if field.kind not in _LISTS:
        return {"type": [_SCALARS[field.kind], "null"]}
    item: dict = {"type": _LISTS[field.kind]}
    if field.kind == "events":
        item = {
            "type": "object",
            "additionalProperties": False,
            "properties": {key: {"type": "string"} for key in EVENT_FIELDS},
            "required": list(EVENT_FIELDS),
        }
    return {"type": ["array", "null"], "items": item}


def animation_schema() -> dict:
    """Return the JSON schema of one animation for strict structured output.

    Every key of every type is required and nullable (strict mode closes every object); the
    model leaves null what its type does not use.
    """
    properties: dict = {"type": {"type": "string", "enum": list(ANIMATION_TYPES)}}
    for animation in ANIMATIONS:
        for field in animation.fields:
            properties[field.name] = _field_schema(field)
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": properties,
        "required": ["type", *_ALL_FIELDS],
    }


def _field_prompt(field: Field) -> str:
    words = field.prompt or _PROMPTS[field.kind]
    if field.kind in _LISTS:
        counted = f"{field.count[0]} to {field.count[1]} " if field.count else ""
        return f"[{counted}{words}]"
    return f"{words} or null" if field.optional else words


def animation_guide() -> str:
    """Return the part of the deck prompt that tells the model how to write each animation."""
    lines = [
        "Animation specs (choose the one that fits; leave every field another type does not "
        "use null):"
    ]
    for animation in ANIMATIONS:
        parts = [f'"type": "{animation.name}"']
        parts += [f'"{field.name}": {_field_prompt(field)}' for field in animation.fields]
        lines.append(f"- {{{', '.join(parts)}}}: {animation.guide}")
    return "\n".join(lines)


def animation_table() -> str:
    """Return the README's Markdown table of the animation types, one row with an example each."""
    rows = ["| spec | shows |", "| --- | --- |"]
    for animation in ANIMATIONS:
        shows = animation.shows
        counted = [field.count for field in animation.fields if field.count]
        if counted:
            shows += f" ({counted[0][0]}-{counted[0][1]})"
        rows.append(f"| `{json.dumps(animation.example, ensure_ascii=False)}` | {shows} |")
    return "\n".join(rows)
