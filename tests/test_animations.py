"""Tests of slide animations: specs are checked, layouts fit, clips last and end as promised."""

from __future__ import annotations

import math
import wave

import pytest
from PIL import Image, ImageChops, ImageDraw

from videoforge.core.animation_spec import MAX_LABEL, validate_animation
from videoforge.core.errors import InvalidRequest
from videoforge.core.mathexpr import ExpressionError
from videoforge.core.types import DEFAULT_THEME, SUPPORTED_SIZES, Segment, Size, Slide
from videoforge.media import compose, h264, inspection
from videoforge.pipeline.visuals import render_animation
from videoforge.render.animations import (
    FINISH,
    AnimationPlan,
    Element,
    animation_frames,
    plan_animation,
    schedule,
)

SMALL = Size(640, 360)
FULL_HD = Size(1920, 1080)
TOTAL = 7
FPS = 30

SLIDE = Slide(
    3,
    "How the pieces fit together",
    bullets=(
        "Sunlight warms the ocean surface",
        "Water vapour rises, cools and condenses into clouds that drift inland with the wind",
        "Rain falls and rivers carry it back",
    ),
)

SPECS = {
    "bullets": {"type": "bullets"},
    "flow": {"type": "flow", "steps": ["Collect data", "Clean it", "Train a model", "Deploy"]},
    "bar_chart": {
        "type": "bar_chart",
        "labels": ["Mercury", "Venus", "Earth", "Mars"],
        "values": [0.38, 0.91, 1, -0.5],
        "unit": "Surface gravity (Earth = 1)",
    },
    "timeline": {
        "type": "timeline",
        "events": [
            {"label": "Printing press", "when": "1440"},
            {"label": "Telephone", "when": "1876"},
            {"label": "World Wide Web", "when": "1989"},
        ],
    },
    "cycle": {"type": "cycle", "stages": ["Evaporation", "Condensation", "Rain", "Collection"]},
    "function_plot": {
        "type": "function_plot",
        "expression": "sin(x) * x^2",
        "x_min": -10,
        "x_max": 10,
        "label": None,
    },
    "equation": {"type": "equation", "terms": ["E", "=", "m", "c\u00b2"]},
}

LONG = "Supercalifragilisticexpialidocious " * 4
LONG_SPECS = {  # every text at its longest, every list at its longest
    "flow": {"type": "flow", "steps": [(f"{i} " + LONG)[:MAX_LABEL] for i in range(8)]},
    "bar_chart": {
        "type": "bar_chart",
        "labels": [(f"{i} " + LONG)[:MAX_LABEL] for i in range(12)],
        "values": [10**k * (-1) ** k for k in range(12)],
        "unit": LONG[:MAX_LABEL],
    },
    "timeline": {
        "type": "timeline",
        "events": [{"label": LONG[:MAX_LABEL], "when": LONG[:MAX_LABEL]} for _ in range(10)],
    },
    "cycle": {"type": "cycle", "stages": [(f"{i} " + LONG)[:MAX_LABEL] for i in range(8)]},
    "function_plot": {
        "type": "function_plot",
        "expression": "tan(x) + 1/(x-1)",
        "x_min": -1e6,
        "x_max": 1e6,
        "label": LONG[:MAX_LABEL],
    },
    "equation": {"type": "equation", "terms": [LONG[:MAX_LABEL]] * 10},
}

SOLID = {"bar", "step", "stage", "event"}  # filled shapes: most of the box has the colour


def colour_share(
    image: Image.Image, box: tuple[int, int, int, int], colour, tolerance: int
) -> float:
    """Return the fraction of pixels in box within tolerance (on every channel) of colour."""
    region = image.convert("RGB").crop(box)
    difference = ImageChops.difference(region, Image.new("RGB", region.size, tuple(colour)))
    channels = difference.split()
    worst = ImageChops.lighter(ImageChops.lighter(channels[0], channels[1]), channels[2])
    close = worst.point(lambda v: 255 if v <= tolerance else 0).histogram()[255]
    return close / max(1, region.size[0] * region.size[1])


def assert_shown(image: Image.Image, element: Element, tolerance: int) -> None:
    share = colour_share(image, element.box, element.colour, tolerance)
    least = 0.3 if element.kind in SOLID else 0.01
    assert share >= least, f"{element.kind} {element.label!r} at {element.box}: {share:.3f}"


def assert_hidden(image: Image.Image, element: Element, tolerance: int) -> None:
    share = colour_share(image, element.box, element.colour, tolerance)
    assert share < 0.003, f"{element.kind} {element.label!r} at {element.box}: {share:.3f}"


def plan_for(kind: str, size: Size = SMALL, spec: dict | None = None) -> AnimationPlan:
    clean = validate_animation(spec or SPECS[kind], bullets=SLIDE.bullets)
    return plan_animation(clean, SLIDE, size, total=TOTAL)


# --- validating ----------------------------------------------------------------------------------

BAD_SPECS = [
    ("not a dict", 'animation must be an object with a "type"'),
    ({}, "animation.type is missing; use one of bullets, flow, bar_chart"),
    ({"type": "pie"}, "unknown animation type 'pie'; use one of bullets, flow"),
    ({"type": 3}, "animation.type is missing"),
    ({"type": "flow", "steps": ["a", "b"], "colour": "red"}, "unknown field 'colour'"),
    ({"type": "flow", "steps": ["a", "b"], "values": [1]}, "animation.values does not belong"),
    ({"type": "flow"}, "animation.steps must be a list of 2 to 8 strings"),
    ({"type": "flow", "steps": ["only one"]}, "animation.steps has 1 items; use 2 to 8"),
    ({"type": "flow", "steps": ["a"] * 9}, "animation.steps has 9 items; use 2 to 8"),
    ({"type": "flow", "steps": ["a", 2]}, "animation.steps[1] must be a string"),
    ({"type": "flow", "steps": ["a", " \n\t"]}, "animation.steps[1] is empty"),
    ({"type": "flow", "steps": ["a", "b" * 121]}, "animation.steps[1] is 121 characters long"),
    ({"type": "cycle", "stages": ["a", "b"]}, "animation.stages has 2 items; use 3 to 8"),
    ({"type": "equation", "terms": []}, "animation.terms has 0 items; use 1 to 10"),
    ({"type": "bar_chart", "labels": ["a"], "values": ["1"]}, "animation.values must be numbers"),
    ({"type": "bar_chart", "labels": ["a"], "values": [True]}, "animation.values must be numbers"),
    ({"type": "bar_chart", "labels": ["a"], "values": None}, "animation.values must be numbers"),
    ({"type": "bar_chart", "labels": ["a", "b"], "values": [1]}, "animation.values has 1 numbers"),
    ({"type": "bar_chart", "labels": ["a"], "values": [math.nan]}, "values[0] must be a finite"),
    ({"type": "bar_chart", "labels": ["a"], "values": [math.inf]}, "values[0] must be a finite"),
    ({"type": "bar_chart", "labels": ["a"], "values": [10**400]}, "values[0] must be a finite"),
    ({"type": "bar_chart", "labels": ["a", "b"], "values": [0, 0.0]}, "are all zero"),
    ({"type": "bar_chart", "labels": ["a"], "values": [1], "unit": 5}, "animation.unit must be"),
    ({"type": "timeline", "events": "1990"}, "animation.events must be a list"),
    ({"type": "timeline", "events": [{"label": "a", "when": "b"}]}, "events has 1 items"),
    ({"type": "timeline", "events": [{"label": "a", "when": "1"}, "b"]}, "events[1] must be"),
    (
        {"type": "timeline", "events": [{"label": "a", "when": "1"}, {"label": "b"}]},
        "animation.events[1].when must be a string",
    ),
    (
        {"type": "timeline", "events": [{"label": "a", "when": "1", "x": 1}] * 2},
        "animation.events[0] has an unknown field 'x'",
    ),
]
PLOT = {"type": "function_plot", "expression": "x", "x_min": -1, "x_max": 1}
BAD_PLOTS = [
    ({"expression": None}, "animation.expression must be a formula"),
    ({"expression": "sin(x))"}, "animation.expression: unexpected ')' at position 7"),
    ({"expression": "__import__('os')"}, "animation.expression: unexpected character"),
    ({"expression": "x" * 201}, "animation.expression: expression is 201 characters long"),
    ({"x_min": "0"}, "animation.x_min must be a number"),
    ({"x_max": None}, "animation.x_max must be a number"),
    ({"x_min": math.nan}, "animation.x_min must be a number between -1e6 and 1e6"),
    ({"x_max": 2e6}, "animation.x_max must be a number between -1e6 and 1e6"),
    ({"x_min": 1, "x_max": 1}, "animation.x_min (1) must be less than x_max (1)"),
    ({"x_min": 2}, "must be less than x_max"),
    ({"expression": "log(x)", "x_min": -5, "x_max": -1}, "has no value between x_min and x_max"),
    ({"label": ["a"]}, "animation.label must be a string"),
]


@pytest.mark.parametrize(("spec", "message"), BAD_SPECS, ids=lambda v: str(v)[:40])
def test_bad_specs_are_rejected_with_a_clear_message(spec, message):
    with pytest.raises(InvalidRequest) as caught:
        validate_animation(spec)
    assert message in caught.value.detail


@pytest.mark.parametrize(("changes", "message"), BAD_PLOTS, ids=lambda v: str(v)[:40])
def test_bad_function_plots_are_rejected_with_a_clear_message(changes, message):
    with pytest.raises(InvalidRequest) as caught:
        validate_animation({**PLOT, **changes})
    assert message in caught.value.detail


def test_expression_errors_keep_their_position():
    with pytest.raises(ExpressionError) as caught:
        validate_animation({**PLOT, "expression": "2 * (x"})
    assert caught.value.position == 7


def test_a_bullets_animation_needs_a_bullet():
    with pytest.raises(InvalidRequest, match="at least one bullet"):
        validate_animation({"type": "bullets"}, bullets=("", "  "))
    assert validate_animation({"type": "bullets"}, bullets=("One",)) == {"type": "bullets"}


def test_valid_specs_are_normalized():
    strict = {  # strict structured output: every key present, the unused ones null
        "type": " bar_chart ",
        "steps": None,
        "labels": ["  Two\n words ", "Tab\tand\x00nul"],
        "values": [3, 2.5],
        "unit": "   ",
        "events": None,
        "stages": None,
        "expression": None,
        "x_min": None,
        "x_max": None,
        "label": None,
        "terms": None,
    }
    assert validate_animation(strict) == {
        "type": "bar_chart",
        "labels": ["Two words", "Tab and nul"],
        "values": [3.0, 2.5],
    }
    plot = validate_animation({**PLOT, "expression": " sin( x )\n* 2 ", "label": "Waves"})
    assert plot == {
        "type": "function_plot",
        "expression": "sin( x ) * 2",
        "x_min": -1.0,
        "x_max": 1.0,
        "label": "Waves",
    }
    for spec in SPECS.values():
        clean = validate_animation(spec, bullets=SLIDE.bullets)
        assert validate_animation(clean, bullets=SLIDE.bullets) == clean  # idempotent


def test_every_spec_an_outline_accepts_survives_the_model_path():
    from videoforge.providers.llm.answers import parse_deck
    from videoforge.providers.llm.schema import DECK_SCHEMA

    schema = DECK_SCHEMA["properties"]["slides"]["items"]["properties"]["animation"]["anyOf"][0]
    unused = dict.fromkeys(key for key in schema["required"] if key != "type")
    for spec in [*SPECS.values(), *LONG_SPECS.values()]:
        clean = validate_animation(spec, bullets=SLIDE.bullets)
        answer = {  # one slide as strict structured output gives it: every key, unused null
            "title": SLIDE.title,
            "bullets": list(SLIDE.bullets),
            "narration": "Words.",
            "needs_image": False,
            "image_keyword": "",
            "needs_animation": True,
            "animation": {**unused, **spec},
        }
        assert parse_deck({"slides": [answer]}, 1)[0].animation == clean, spec


def test_every_type_of_the_table_has_a_planner_and_no_planner_lacks_a_type():
    from videoforge.core.animation_spec import ANIMATION_TYPES
    from videoforge.render.animations import PLANNERS

    assert list(PLANNERS) == list(ANIMATION_TYPES)


# --- timing --------------------------------------------------------------------------------------


def test_discrete_steps_spread_evenly_and_finish_by_85_percent():
    windows = schedule(4, 20.0, continuous=False)
    times = [start for start, _ in windows]
    assert all(start == end for start, end in windows)
    assert times == sorted(times)
    assert 0 < times[0] <= 0.5
    assert times[-1] <= FINISH * 20.0
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert max(gaps) - min(gaps) < 1e-9


def test_discrete_steps_follow_the_sentence_cues():
    cues = [(0.0, 2.0), (2.1, 5.0), (5.2, 9.0)]
    assert [s for s, _ in schedule(3, 10.0, cues, continuous=False)] == [0.5, 2.1, 5.2]
    # more steps than sentences: steps sharing a sentence spread over it
    assert [s for s, _ in schedule(6, 10.0, cues, continuous=False)] == [
        0.5,
        1.0,
        2.1,
        3.55,
        5.2,
        7.1,
    ]
    # cues past the end are held back to FINISH
    late = schedule(2, 4.0, [(0.0, 1.0), (9.0, 12.0)], continuous=False)
    assert late[-1][0] == pytest.approx(FINISH * 4.0)


def test_continuous_steps_grow_within_a_short_transition():
    windows = schedule(5, 20.0, continuous=True)
    assert windows[0][0] > 0
    assert max(end for _, end in windows) <= windows[0][0] + 1.2 + 1e-9
    assert all(end > start for start, end in windows)
    short = schedule(3, 0.5, continuous=True)
    assert max(end for _, end in short) <= FINISH * 0.5 + 1e-9


# --- plans and frames (no encoding) ---------------------------------------------------------------


@pytest.mark.parametrize("kind", SPECS)
def test_frames_start_bare_end_complete_and_fill_the_duration(kind):
    plan = plan_for(kind)
    frames = [(image.copy(), seconds) for image, seconds in animation_frames(plan, 20.0)]
    assert sum(seconds for _, seconds in frames) == pytest.approx(20.0)
    assert all(seconds > 0 for _, seconds in frames)
    assert len(frames) <= 25  # only the frames where the picture changes
    first, last = frames[0][0], frames[-1][0]
    assert ImageChops.difference(first, plan.base).getbbox() is None
    assert plan.elements
    for element in plan.elements:
        assert_shown(last, element, tolerance=8)
        assert_hidden(first, element, tolerance=8)
    # the last change comes by FINISH of the duration and then holds
    assert frames[-1][1] >= (1 - FINISH) * 20.0 - 1e-6


def test_bullets_animation_ends_on_the_plain_slide(tmp_path):
    from videoforge.render.draw import render_slide

    plan = plan_for("bullets")
    *_, (last, _) = animation_frames(plan, 5.0)
    still = Image.open(render_slide(SLIDE, SMALL, tmp_path / "still.png", total=TOTAL))
    assert ImageChops.difference(last, still.convert("RGB")).getbbox() is None
    assert [e.kind for e in plan.elements] == ["bullet"] * 3


def test_bars_end_at_their_values_and_carry_value_labels():
    plan = plan_for("bar_chart")
    bars = [e for e in plan.elements if e.kind == "bar"]
    heights = [e.box[3] - e.box[1] for e in bars]
    assert heights[0] / heights[2] == pytest.approx(0.38, abs=0.02)
    assert heights[1] / heights[2] == pytest.approx(0.91, abs=0.02)
    assert bars[3].box[1] == bars[2].box[3]  # the negative bar hangs from the zero line
    assert [e.label for e in plan.elements if e.kind == "value"] == [
        "0.38",
        "0.91",
        "1",
        "\u22120.5",
    ]


def test_portrait_flows_run_top_to_bottom_and_landscape_left_to_right():
    for size, axis in ((Size(1080, 1920), 1), (Size(1280, 720), 0)):
        steps = [e.box for e in plan_for("flow", size).elements if e.kind == "step"]
        starts = [box[axis] for box in steps]
        assert starts == sorted(starts) and len(set(starts)) == len(starts)


@pytest.mark.parametrize("size", SUPPORTED_SIZES + (SMALL,), ids=str)
@pytest.mark.parametrize("kind", LONG_SPECS)
def test_longest_specs_stay_inside_the_stage(kind, size):
    plan = plan_for(kind, size, LONG_SPECS[kind])
    left, top, right, bottom = plan.stage
    for element in plan.elements:
        x0, y0, x1, y1 = element.box
        slack = 3 if element.kind == "arrow" else 0  # an arrowhead's antialiasing margin
        assert left - slack <= x0 <= x1 <= right + slack, (element, plan.stage)
        assert top - slack <= y0 <= y1 <= bottom + slack, (element, plan.stage)


def test_function_plot_survives_asymptotes_and_gaps():
    spec = {"type": "function_plot", "expression": "1/x + sqrt(x - 2)", "x_min": -5, "x_max": 5}
    plan = plan_for("function_plot", SMALL, spec)
    curve = [e for e in plan.elements if e.kind == "curve"]
    assert curve and all(e.box[0] >= plan.stage[0] for e in curve)
    *_, (last, _) = animation_frames(plan, 3.0)
    for element in curve:
        assert_shown(last, element, tolerance=8)


# --- encoding -------------------------------------------------------------------------------------


def solid(colour, size=SMALL) -> Image.Image:
    return Image.new("RGB", (size.width, size.height), colour)


def as_mp4(clip, folder):
    """Wrap a raw H.264 clip at FPS into an MP4 that inspection can read."""
    return inspection.wrap_h264(clip, FPS, folder / f"{clip.stem}.mp4")


def changes(sums: list[str]) -> list[int]:
    """Return the frame numbers where the decoded picture changes."""
    return [i for i in range(1, len(sums)) if sums[i] != sums[i - 1]]


@pytest.mark.slow
def test_encode_frames_keeps_the_total_duration_and_the_frame_changes(tmp_path):
    frames = [
        (solid((200, 30, 30)), 0.5),
        (solid((30, 200, 30)), 0.01),
        (solid((30, 30, 200)), 1.2),
    ]
    out = compose.encode_frames(frames, SMALL, tmp_path / "clip.h264")
    video = as_mp4(out, tmp_path)
    info = inspection.probe(video)
    assert info.video.codec == "h264" and info.video.pix_fmt == "yuv420p"
    packets = inspection.packets(video)
    assert len(packets) == round(1.71 * FPS)  # constant frame rate, the duration kept
    assert all(p.duration == pytest.approx(1 / FPS) for p in packets)
    sums = inspection.frame_sums(video)
    assert changes(sums) == [15]  # at 0.5 s; the 10 ms frame falls between two frames: dropped


@pytest.mark.slow
def test_pictures_that_stay_are_encoded_once_and_moving_ones_frame_by_frame(tmp_path):
    steps = [solid((20 * i, 40, 200 - 20 * i)) for i in range(6)]
    frames = [(solid((200, 30, 30)), 1.5)]  # stays: one keyframe, then skip frames
    frames += [(step, 1 / 15) for step in steps]  # a transition: two frames each
    frames += [(solid((30, 200, 30)), 2.5)]  # stays longer than a GOP
    out = compose.encode_frames(frames, SMALL, tmp_path / "clip.h264")
    units = h264.access_units(out.read_bytes())
    assert len(units) == 45 + 12 + 75
    keyframes = [i for i, unit in enumerate(units) if h264.is_keyframe(unit)]
    assert keyframes == [0, 45, 57, 117]  # each picture that stays, the transition, 2 s on
    assert all(len(units[i]) < 100 for i in range(1, 45))  # skip frames: nothing encoded
    assert len({units[57], units[117]}) == 1  # the picture's one encode, copied
    sums = inspection.frame_sums(as_mp4(out, tmp_path))
    assert changes(sums) == [45, 47, 49, 51, 53, 55, 57]


def test_encode_frames_rejects_frames_of_another_size(tmp_path):
    with pytest.raises(ValueError, match="expected 640x360"):
        compose.encode_frames([(solid((0, 0, 0), Size(320, 180)), 1.0)], SMALL, tmp_path / "x.mp4")
    with pytest.raises(ValueError, match="at least one frame"):
        compose.encode_frames([(solid((0, 0, 0)), 0.0)], SMALL, tmp_path / "x.mp4")


# --- rendered clips -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """Render every animation type as a 2.5 s clip at 640x360, with its plan."""
    folder = tmp_path_factory.mktemp("animations")
    clips = {}
    for kind, spec in SPECS.items():
        out = render_animation(spec, SLIDE, SMALL, 2.5, folder / f"{kind}.h264", total=TOTAL)
        clips[kind] = (out, plan_for(kind))
    return folder, clips


@pytest.mark.slow
@pytest.mark.parametrize("kind", SPECS)
def test_clip_lasts_the_duration_and_ends_showing_every_element(rendered, kind):
    folder, clips = rendered
    clip, plan = clips[kind]
    clip = as_mp4(clip, folder)
    info = inspection.probe(clip)
    assert info.video.width == SMALL.width and info.video.height == SMALL.height
    packets = inspection.packets(clip)
    assert len(packets) == 75 and all(p.duration == pytest.approx(1 / FPS) for p in packets)
    assert max(p.pts + p.duration for p in packets) == pytest.approx(2.5, abs=1 / FPS)
    assert info.duration == pytest.approx(2.5, abs=1 / FPS)
    first = Image.open(inspection.extract_frame(clip, 0.0, folder / f"{kind}-first.png")).convert(
        "RGB"
    )
    last = Image.open(inspection.extract_frame(clip, 2.48, folder / f"{kind}-last.png")).convert(
        "RGB"
    )
    difference = ImageChops.difference(first, last).convert("L")
    assert difference.point(lambda v: 255 if v > 40 else 0).getbbox() is not None
    for element in plan.elements:
        assert_shown(last, element, tolerance=40)
        assert_hidden(first, element, tolerance=40)


@pytest.mark.slow
@pytest.mark.parametrize("kind", SPECS)
def test_a_20_second_full_hd_animation_lasts_20_seconds(tmp_path, kind):
    # its render time is measured by bench/bench_animations.py, not asserted here
    out = render_animation(SPECS[kind], SLIDE, FULL_HD, 20.0, tmp_path / "clip.h264", total=TOTAL)
    units = h264.access_units(out.read_bytes())
    assert len(units) == 20 * FPS
    keyframes = [i for i, unit in enumerate(units) if h264.is_keyframe(unit)]
    gaps = [b - a for a, b in zip(keyframes, [*keyframes[1:], 600], strict=True)]
    assert keyframes[0] == 0 and max(gaps) <= 2 * FPS


@pytest.mark.slow
def test_cues_set_when_bullets_appear(tmp_path):
    cues = [(0.0, 1.0), (1.2, 2.0), (2.1, 3.0)]
    out = render_animation(
        {"type": "bullets"}, SLIDE, SMALL, 5.0, tmp_path / "b.h264", total=TOTAL, cues=cues
    )
    shown = [i / FPS for i in changes(inspection.frame_sums(as_mp4(out, tmp_path)))]
    assert len(shown) == 3
    for expected in (0.5, 1.2, 2.1):  # the first bullet after the lead, the rest on their cues
        assert min(abs(t - expected) for t in shown) <= 1 / FPS


@pytest.mark.slow
def test_compose_video_shows_the_clip_and_holds_its_last_frame(tmp_path, rendered):
    _, clips = rendered
    clip, plan = clips["flow"]
    still = tmp_path / "still.png"
    Image.new("RGB", (SMALL.width, SMALL.height), (200, 30, 30)).save(still)
    audio = tmp_path / "speech.wav"
    with wave.open(str(audio), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(48000)
        w.writeframes(b"\x00\x00" * 48000 * 4)
    segments = [
        Segment(1, "still", still, 0.0, 1.0),
        Segment(2, "flow", still, 1.0, 3.0, clip=clip),  # longer than the 2.5 s clip
    ]
    out = compose.compose_video(segments, audio, tmp_path / "video.mp4", size=SMALL)
    frame = Image.open(inspection.extract_frame(out, 3.9, tmp_path / "end.png")).convert("RGB")
    for element in plan.elements:
        assert_shown(frame, element, tolerance=40)
    frame = Image.open(inspection.extract_frame(out, 0.5, tmp_path / "start.png")).convert("RGB")
    assert colour_share(frame, (0, 0, 64, 64), (200, 30, 30), 40) > 0.9


def test_drawing_helpers_do_not_touch_the_base_frame():
    plan = plan_for("cycle")
    before = plan.base.copy()
    list(animation_frames(plan, 2.0))
    assert ImageChops.difference(before, plan.base).getbbox() is None
    ImageDraw.Draw(before)  # the base stays usable for another render
    assert DEFAULT_THEME.background == plan.base.getpixel((1, plan.base.height // 2))
