"""The animation-spec table: which animation types exist, their fields, and how a spec is checked.

A spec is a small JSON object (the language model and outlines write the same format).
Nothing in a spec is ever run: `validate_animation` checks it field by field, and formulas
go through `mathexpr`, which parses them itself and evaluates with floats only.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Sequence

from . import mathexpr
from .errors import InvalidRequest

ANIMATION_FIELDS: dict[str, tuple[str, ...]] = {
    "bullets": (),
    "flow": ("steps",),
    "bar_chart": ("labels", "values", "unit"),
    "timeline": ("events",),
    "cycle": ("stages",),
    "function_plot": ("expression", "x_min", "x_max", "label"),
    "equation": ("terms",),
}
ANIMATION_TYPES = tuple(ANIMATION_FIELDS)
_ALL_FIELDS = {name for fields in ANIMATION_FIELDS.values() for name in fields}
MAX_LABEL = 120  # characters in one step, label, stage, event or term (as the model is told)
MAX_ABS_X = 1e6
MAX_ABS_VALUE = 1e15
PLOT_SAMPLES = 801  # points of a function plot, the same for checking and for drawing


# --- validating ----------------------------------------------------------------------------------


def validate_animation(spec: object, *, bullets: Sequence[str] = ()) -> dict:
    """Check an animation spec and return it normalized; raise InvalidRequest naming the problem.

    Strings are cleaned (control characters and line breaks become spaces, runs of whitespace
    one space) and must then have 1 to MAX_LABEL characters; optional fields that are null or
    empty are left out; keys of other animation types may be present only as null (the shape
    strict structured output gives).
    A "bullets" animation needs at least one of the slide's `bullets`.
    """
    if not isinstance(spec, dict):
        raise InvalidRequest('animation must be an object with a "type"')
    kind = spec.get("type")
    choices = ", ".join(ANIMATION_TYPES)
    if not isinstance(kind, str) or not kind.strip():
        raise InvalidRequest(f"animation.type is missing; use one of {choices}")
    kind = kind.strip()
    if kind not in ANIMATION_FIELDS:
        raise InvalidRequest(f"unknown animation type {kind[:40]!r}; use one of {choices}")
    fields = ANIMATION_FIELDS[kind]
    for key, value in spec.items():
        if key == "type" or key in fields:
            continue
        if key not in _ALL_FIELDS:
            raise InvalidRequest(f"animation has an unknown field {str(key)[:40]!r}")
        if value is not None:
            raise InvalidRequest(f"animation.{key} does not belong in a {kind} animation")
    clean: dict = {"type": kind}
    if kind == "bullets":
        if not any(_clean_text(str(b)) for b in bullets):
            raise InvalidRequest("a bullets animation needs a slide with at least one bullet")
    elif kind == "flow":
        clean["steps"] = _labels(spec, "steps", 2, 8)
    elif kind == "cycle":
        clean["stages"] = _labels(spec, "stages", 3, 8)
    elif kind == "equation":
        clean["terms"] = _labels(spec, "terms", 1, 10)
    elif kind == "timeline":
        clean["events"] = _events(spec.get("events"))
    elif kind == "bar_chart":
        clean["labels"] = _labels(spec, "labels", 1, 12)
        clean["values"] = _values(spec.get("values"), len(clean["labels"]))
        if (unit := _optional_label(spec, "unit")) is not None:
            clean["unit"] = unit
    elif kind == "function_plot":
        clean.update(_plot_fields(spec))
        if (label := _optional_label(spec, "label")) is not None:
            clean["label"] = label
    return clean


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


def _labels(spec: dict, name: str, lo: int, hi: int) -> list[str]:
    value = spec.get(name)
    if not isinstance(value, list):
        raise InvalidRequest(f"animation.{name} must be a list of {lo} to {hi} strings")
    if not lo <= len(value) <= hi:
        raise InvalidRequest(f"animation.{name} has {len(value)} items; use {lo} to {hi}")
    return [_label(item, f"animation.{name}[{i}]") for i, item in enumerate(value)]


def _optional_label(spec: dict, name: str) -> str | None:
    value = spec.get(name)
    if value is None or (isinstance(value, str) and not _clean_text(value)):
        return None
    return _label(value, f"animation.{name}")


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _values(value: object, count: int) -> list[float]:
    if not isinstance(value, list) or not all(_is_number(v) for v in value):
        raise InvalidRequest("animation.values must be numbers")
    if len(value) != count:
        raise InvalidRequest(
            f"animation.values has {len(value)} numbers but animation.labels has {count} "
            "labels; give one value per label"
        )
    numbers = []
    for i, v in enumerate(value):
        try:
            number = float(v)
        except OverflowError:  # an int too big for a float
            number = math.inf
        if not math.isfinite(number) or abs(number) > MAX_ABS_VALUE:
            raise InvalidRequest(f"animation.values[{i}] must be a finite number up to 1e15")
        numbers.append(number)
    if not any(numbers):
        raise InvalidRequest("animation.values are all zero; a bar chart needs something to show")
    return numbers


def _events(value: object) -> list[dict]:
    if not isinstance(value, list):
        raise InvalidRequest("animation.events must be a list of 2 to 10 {label, when} objects")
    if not 2 <= len(value) <= 10:
        raise InvalidRequest(f"animation.events has {len(value)} items; use 2 to 10")
    events = []
    for i, event in enumerate(value):
        where = f"animation.events[{i}]"
        if not isinstance(event, dict):
            raise InvalidRequest(f'{where} must be an object with "label" and "when"')
        extra = sorted(str(k)[:40] for k in event if k not in ("label", "when"))
        if extra:
            raise InvalidRequest(f"{where} has an unknown field {extra[0]!r}")
        events.append(
            {
                "label": _label(event.get("label"), f"{where}.label"),
                "when": _label(event.get("when"), f"{where}.when"),
            }
        )
    return events


def _plot_fields(spec: dict) -> dict:
    expression = spec.get("expression")
    if not isinstance(expression, str):
        raise InvalidRequest('animation.expression must be a formula in x, such as "sin(x)"')
    try:
        tree = mathexpr.parse(expression)
    except mathexpr.ExpressionError as exc:
        raise mathexpr.ExpressionError(
            f"animation.expression: {exc.message}", exc.position
        ) from None
    bounds = []
    for name in ("x_min", "x_max"):
        value = spec.get(name)
        if not _is_number(value):
            raise InvalidRequest(f"animation.{name} must be a number")
        try:
            number = float(value)
        except OverflowError:
            number = math.inf
        if not (math.isfinite(number) and abs(number) <= MAX_ABS_X):
            raise InvalidRequest(f"animation.{name} must be a number between -1e6 and 1e6")
        bounds.append(number)
    x_min, x_max = bounds
    if not x_min < x_max:
        raise InvalidRequest(f"animation.x_min ({x_min:g}) must be less than x_max ({x_max:g})")
    points = mathexpr.sample(tree, x_min, x_max, PLOT_SAMPLES)
    if not any(y == y for _, y in points):
        raise InvalidRequest(
            f"animation.expression has no value between x_min and x_max ({x_min:g} to {x_max:g}); "
            "choose a range where it is defined"
        )
    return {"expression": " ".join(expression.split()), "x_min": x_min, "x_max": x_max}
