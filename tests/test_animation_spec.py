"""The animation-spec table is the one source: validator, schema, prompt and README agree with it."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from videoforge.core.animation_spec import (
    ANIMATION_TYPES,
    ANIMATIONS,
    EVENT_FIELDS,
    MAX_LABEL,
    animation_guide,
    animation_schema,
    animation_table,
    validate_animation,
)
from videoforge.core.errors import InvalidRequest
from videoforge.core.outline import MAX_BULLET, MAX_BULLETS, MAX_TITLE, parse_outline
from videoforge.providers.llm.answers import InvalidAnswer, normalize_animation, parse_deck
from videoforge.providers.llm.prompts import deck_messages
from videoforge.providers.llm.schema import DECK_SCHEMA

README = Path(__file__).resolve().parent.parent / "README.md"
BULLETS = ("A bullet",)
FIELDS = {field.name: field for animation in ANIMATIONS for field in animation.fields}


def strict(spec: dict) -> dict:
    """Return spec as strict structured output gives it: every key, the unused ones null."""
    return {**dict.fromkeys(animation_schema()["required"]), **spec}


def readme_table() -> str:
    """Return the Markdown table that follows "**Animations** are declarative" in the README."""
    lines = README.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("**Animations** are"))
    first = next(i for i in range(start, len(lines)) if lines[i].startswith("|"))
    end = next(i for i in range(first, len(lines)) if not lines[i].startswith("|"))
    return "\n".join(lines[first:end])


def test_the_readme_table_is_the_generated_one():
    assert readme_table() == animation_table()


def test_the_table_names_each_type_and_field_once():
    assert len(set(ANIMATION_TYPES)) == len(ANIMATIONS)
    for animation in ANIMATIONS:
        names = [field.name for field in animation.fields]
        assert len(set(names)) == len(names), animation.name
    # a field shared by two types must mean the same thing in both
    for animation in ANIMATIONS:
        for field in animation.fields:
            assert FIELDS[field.name] == field


@pytest.mark.parametrize("animation", ANIMATIONS, ids=ANIMATION_TYPES)
def test_every_example_is_valid_also_as_strict_output(animation):
    clean = validate_animation(animation.example, bullets=BULLETS)
    assert clean["type"] == animation.name
    assert validate_animation(strict(animation.example), bullets=BULLETS) == clean
    assert normalize_animation(strict(animation.example), bullets=BULLETS) == clean


def test_the_schema_names_exactly_the_tables_fields():
    schema = animation_schema()
    assert schema["properties"]["type"]["enum"] == list(ANIMATION_TYPES)
    assert list(schema["properties"]) == ["type", *FIELDS]
    assert schema["required"] == list(schema["properties"])
    assert schema["additionalProperties"] is False
    for name, field in FIELDS.items():
        assert "null" in schema["properties"][name]["type"], name  # unused keys are null
        is_list = "array" in schema["properties"][name]["type"]
        assert is_list == (field.kind in ("strings", "events", "numbers")), name
    event = schema["properties"]["events"]["items"]
    assert event["required"] == list(EVENT_FIELDS) == list(event["properties"])


def test_the_deck_schema_embeds_the_animation_schema():
    slide = DECK_SCHEMA["properties"]["slides"]["items"]["properties"]
    assert slide["animation"]["anyOf"] == [animation_schema(), {"type": "null"}]


def test_the_guide_has_a_line_per_type_with_its_fields_and_counts():
    lines = animation_guide().splitlines()[1:]
    assert len(lines) == len(ANIMATIONS)
    for line, animation in zip(lines, ANIMATIONS, strict=True):
        assert line.startswith(f'- {{"type": "{animation.name}"'), line
        event = "{" + ", ".join(f'"{key}": string' for key in EVENT_FIELDS) + "}"
        named = re.findall(r'"(\w+)": ', line.replace(event, "").partition("}: ")[0])
        assert named == ["type", *(f.name for f in animation.fields)], line
        counts = {
            name: (int(lo), int(hi))
            for name, lo, hi in re.findall(r'"(\w+)": \[(\d+) to (\d+)', line)
        }
        assert counts == {f.name: f.count for f in animation.fields if f.count}, line
        for field in animation.fields:
            said_optional = f'"{field.name}": string or null' in line
            assert said_optional == field.optional, (line, field)


COUNTED = [(a, f) for a in ANIMATIONS for f in a.fields if f.count and f.kind == "strings"]


@pytest.mark.parametrize(("animation", "field"), COUNTED, ids=lambda v: getattr(v, "name", ""))
def test_the_validator_holds_the_tables_counts(animation, field):
    lo, hi = field.count
    base = dict(animation.example)
    for n in (lo, hi):
        spec = {**base, field.name: [f"item {i}" for i in range(n)]}
        if field.name == "labels":
            spec["values"] = [1] * n
        assert len(validate_animation(spec)[field.name]) == n
    for n in (lo - 1, hi + 1):
        spec = {**base, field.name: ["item"] * n}
        with pytest.raises(InvalidRequest, match=f"has {n} items; use {lo} to {hi}"):
            validate_animation(spec)


def test_events_count_as_the_table_says():
    lo, hi = FIELDS["events"].count
    event = dict.fromkeys(EVENT_FIELDS, "x")
    assert len(validate_animation({"type": "timeline", "events": [event] * hi})["events"]) == hi
    with pytest.raises(InvalidRequest, match=f"use {lo} to {hi}"):
        validate_animation({"type": "timeline", "events": [event] * (lo - 1)})


# --- the model's animations go through the same validator --------------------------------------

TEXTS = st.one_of(
    st.sampled_from(["Step", "  two\nwords ", "", " ", "x" * MAX_LABEL, "y" * (MAX_LABEL + 1)]),
    st.text(max_size=8),
    st.integers(),
    st.none(),
)
NUMBERS = st.one_of(
    st.sampled_from([0, 0.0, 1, -2.5, 1e6, 2e6, 1e15, 2e15, 10**400, math.nan, math.inf]),
    st.integers(-5, 5),
    st.booleans(),
    st.text(max_size=3),
    st.none(),
)
VALUES = {
    "strings": st.one_of(st.lists(TEXTS, max_size=13), TEXTS),
    "numbers": st.one_of(st.lists(NUMBERS, max_size=6), NUMBERS),
    "text": TEXTS,
    "formula": st.one_of(
        st.sampled_from(["sin(x)", "x^2", "log(x)", "1/0", "2 * (x", "__import__('os')", "π x²"]),
        TEXTS,
    ),
    "number": NUMBERS,
    "events": st.one_of(
        st.lists(
            st.one_of(
                st.fixed_dictionaries({key: TEXTS for key in EVENT_FIELDS}),
                st.dictionaries(st.sampled_from([*EVENT_FIELDS, "x"]), TEXTS, max_size=3),
                TEXTS,
            ),
            max_size=11,
        ),
        TEXTS,
    ),
}


@st.composite
def specs(draw):
    """Draw a spec near the valid ones: a known type, its own fields sometimes wrong or missing."""
    animation = draw(st.sampled_from(ANIMATIONS))
    spec: dict = {"type": draw(st.sampled_from([animation.name, f" {animation.name} ", "pie"]))}
    for field in animation.fields:
        if draw(st.integers(0, 9)):
            spec[field.name] = draw(
                st.one_of(st.just(animation.example.get(field.name)), VALUES[field.kind])
            )
    if draw(st.booleans()):
        spec = strict(spec)
    if draw(st.integers(0, 19)) == 0:
        spec[draw(st.sampled_from(["colour", *FIELDS]))] = "red"
    return spec


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=specs(), bullets=st.sampled_from([(), BULLETS, ("", " ")]))
def test_normalize_is_the_validator_without_the_error(spec, bullets):
    try:
        clean = validate_animation(spec, bullets=bullets)
    except InvalidRequest:
        assert normalize_animation(spec, bullets=bullets) is None
    else:
        assert normalize_animation(spec, bullets=bullets) == clean


def slide_answer(**changes) -> dict:
    slide = {
        "title": "Tides",
        "bullets": ["The moon pulls"],
        "narration": "Words.",
        "needs_image": False,
        "image_keyword": "",
        "needs_animation": True,
        "animation": None,
    }
    return {**slide, **changes}


@pytest.mark.parametrize(
    "animation",
    [
        strict({"type": "bar_chart", "labels": ["a", "b"], "values": [0, 0]}),
        strict({"type": "function_plot", "expression": "sin(x))", "x_min": 0, "x_max": 1}),
        strict({"type": "function_plot", "expression": "log(x)", "x_min": -2, "x_max": -1}),
        {"type": "flow", "steps": ["a", "b"], "colour": "red"},
        {"type": "flow", "steps": ["a", "b"], "labels": []},
    ],
)
def test_a_model_animation_the_outline_would_refuse_is_dropped(animation):
    with pytest.raises(InvalidRequest):
        parse_outline([{"title": "T", "bullets": ["b"], "animation": animation}])
    slide = parse_deck([slide_answer(animation=animation)], 1)[0]
    assert slide.animation is None


def test_a_model_animation_is_cleaned_like_an_outlines():
    animation = strict({"type": "function_plot", "expression": "π x²", "x_min": -1, "x_max": 2})
    slide = parse_deck([slide_answer(animation=animation)], 1)[0]
    assert slide.animation == {
        "type": "function_plot",
        "expression": "π x²",
        "x_min": -1.0,
        "x_max": 2.0,
    }
    assert isinstance(slide.animation["x_min"], float)
    outline = parse_outline([{"title": "T", "bullets": ["b"], "animation": animation}])[0]
    assert outline.animation == slide.animation


# --- one set of slide limits --------------------------------------------------------------------


def test_the_deck_prompt_states_the_outline_limits():
    system = deck_messages(topic="T", num_slides=3, language="English", tone="formal")[0]["content"]
    assert f"at most {MAX_TITLE} characters" in system
    assert f"1 to {MAX_BULLETS} short bullet points (at most {MAX_BULLET} characters" in system
    assert animation_guide() in system


def test_a_model_deck_is_held_to_the_outline_limits():
    most = [f"{i} " + "b" * (MAX_BULLET - 3) for i in range(MAX_BULLETS)]
    assert parse_deck([slide_answer(bullets=most, needs_animation=False)], 1)[0].bullets == tuple(
        most
    )
    assert parse_outline([{"title": "T", "bullets": most}])[0].bullets == tuple(most)
    with pytest.raises(InvalidAnswer, match=f"1 to {MAX_BULLETS} bullets"):
        parse_deck([slide_answer(bullets=[*most, "one more"])], 1)
    with pytest.raises(InvalidAnswer, match=f"at most {MAX_BULLET} are allowed"):
        parse_deck([slide_answer(bullets=["b" * (MAX_BULLET + 1)])], 1)
    with pytest.raises(InvalidAnswer, match=f"at most {MAX_TITLE} are allowed"):
        parse_deck([slide_answer(title="t" * (MAX_TITLE + 1))], 1)
