"""Time rendering a 20 s full-HD clip of each animation type (run by hand).

    .venv/bin/python bench/bench_animations.py

The baseline in the same run is encoding the same number of seconds of one still frame with
the same encoder (compose.encode_frames with one frame), so the ratio shows what drawing and
encoding the animation's changes cost on top of the fixed encoder cost.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from videoforge.core.types import Size, Slide  # noqa: E402
from videoforge.media import compose  # noqa: E402
from videoforge.pipeline.visuals import render_animation  # noqa: E402
from videoforge.render.draw import animation_canvas  # noqa: E402

SIZE = Size(1920, 1080)
SLIDE = Slide(2, "How it works", ("Collect", "Clean", "Train", "Check"))
SPECS = {
    "bullets": {"type": "bullets"},
    "flow": {"type": "flow", "steps": ["Collect", "Clean", "Train", "Check", "Ship"]},
    "bar_chart": {
        "type": "bar_chart",
        "labels": ["A", "B", "C", "D"],
        "values": [3, 7, 2, 5],
        "unit": "%",
    },
    "timeline": {
        "type": "timeline",
        "events": [
            {"label": "Idea", "when": "1950"},
            {"label": "Boom", "when": "2012"},
            {"label": "Now", "when": "2025"},
        ],
    },
    "cycle": {"type": "cycle", "stages": ["Plan", "Do", "Check", "Act"]},
    "function_plot": {
        "type": "function_plot",
        "expression": "sin(x) * x^2",
        "x_min": -6,
        "x_max": 6,
        "label": None,
    },
    "equation": {"type": "equation", "terms": ["E", "=", "m", "c²"]},
}


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        base, _ = animation_canvas(SLIDE, SIZE, total=5)
        started = time.perf_counter()
        compose.encode_frames([(base, 20.0)], SIZE, Path(tmp) / "still.mp4")
        still = time.perf_counter() - started
        print(f"{'baseline: 20 s of one still':<32} {still:6.2f} s")
        for kind, spec in SPECS.items():
            started = time.perf_counter()
            render_animation(spec, SLIDE, SIZE, 20.0, Path(tmp) / f"{kind}.mp4", total=5)
            took = time.perf_counter() - started
            print(
                f"{kind:<32} {took:6.2f} s  ({took / still:4.1f}x the still; {20 / took:5.0f}x realtime)"
            )


if __name__ == "__main__":
    main()
