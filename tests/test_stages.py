"""The stage table is the contract's status list, and the README's milestone table is made from it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.doubles import STEPS
from tests.test_server import CONTRACT_ORDER as CONTRACT
from videoforge.core.stages import STAGE, STAGES, event, milestone_table
from videoforge.store.runs import CANCELLED_MESSAGE, COMPLETED_MESSAGE
from videoforge.web.stream import CONNECTED, DONE, TIMED_OUT, WAITING
from videoforge.worker.loop import error_message

README = Path(__file__).resolve().parent.parent / "README.md"


def test_the_table_holds_exactly_the_contracts_statuses_in_its_order():
    assert [stage.status for stage in STAGES] == CONTRACT


def test_the_readme_milestone_table_is_the_generated_one():
    assert milestone_table() in README.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("status", "low", "high"),
    # The contract's milestones: 0 started, 10 content, 20 scripts, 30-49 audio,
    # 50-80 visuals, 85-95 composition, 100 complete.
    [
        ("started", 0, 0),
        ("generating_content", 10, 10),
        ("generating_scripts", 20, 20),
        ("generating_audio", 30, 47),
        ("combining_audio", 48, 49),
        ("generating_media", 50, 50),
        ("generating_animation", 50, 80),
        ("fetching_image", 50, 80),
        ("generating_slide", 50, 80),
        ("composing_video", 85, 95),
        ("completed", 100, 100),
    ],
)
def test_progress_ranges_follow_the_contracts_milestones(status, low, high):
    assert (STAGE[status].low, STAGE[status].high) == (low, high)


def test_per_item_progress_spreads_over_the_range_and_never_goes_back():
    audio = [event("generating_audio", "slide", i, 5, slide=i + 1, slides=5)[1] for i in range(6)]
    assert audio[0] == 30 and audio[-1] == 47 and audio == sorted(audio)
    assert event("generating_slide", "done", 3, 3, slide=3, slides=3)[1] == 80
    assert event("composing_video", "captions", 1, 1)[1] == 95


def test_messages_are_filled_from_the_templates():
    status, progress, message = event(
        "generating_audio", "done", 1, 5, slide=1, slides=5, seconds=12.34
    )
    assert (status, progress, message) == (
        "generating_audio",
        33,
        "✅ Generated audio for slide 1/5 (12.3s)",
    )
    assert STAGE["started"].message("resume", attempt=2) == "🔁 Resuming generation (attempt 2)..."
    with pytest.raises(KeyError):
        STAGE["generating_audio"].message("slide", slide=1)  # a field is missing


def test_describes_matches_what_a_template_can_say_and_nothing_else():
    audio = STAGE["generating_audio"]
    assert audio.describes(33, "✅ Generated audio for slide 1/5 (12.3s)")
    assert not audio.describes(33, "Generated audio for slide 1/5")  # not the template
    assert not audio.describes(50, "✅ Generated audio for slide 1/5 (12.3s)")  # out of range


def test_the_stream_worker_and_store_word_their_events_from_the_table():
    assert STAGE["connected"].describes(0, CONNECTED)
    assert STAGE["waiting"].describes(0, WAITING)
    assert STAGE["done"].describes(100, DONE) and STAGE["done"].describes(100, TIMED_OUT)
    assert STAGE["error"].describes(0, CANCELLED_MESSAGE)
    assert STAGE["completed"].describes(100, COMPLETED_MESSAGE)
    worded = error_message("generating_audio", ValueError("no voice"))
    assert worded == "❌ Error: generating_audio failed: ValueError: no voice"
    assert STAGE["error"].describes(0, worded)


def test_the_test_double_walks_the_table_in_order():
    assert [status for status, _, _ in STEPS] == sorted(
        (status for status, _, _ in STEPS), key=CONTRACT.index
    )
    assert all(STAGE[status].describes(progress, message) for status, progress, message in STEPS)
    progress = [p for _, p, _ in STEPS]
    assert progress == sorted(progress)
