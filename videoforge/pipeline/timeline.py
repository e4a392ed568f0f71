"""The timeline: where each slide and each spoken sentence sits in the video.

The narration track starts with LEAD_IN of silence, leaves PAUSE between slides and TAIL at
the end (CREDITS_TAIL when picture credits are shown over the closing silence);
`audio.NarrationTrack` (and `audio.combine_audio`) lay the speech out by the same numbers.
A slide's pictures cover the frames nearest to its span (`media.h264.VideoFormat`).
"""

from __future__ import annotations

from ..core.types import Cue, Narration, Segment, Slide
from .visuals import Visual

PAUSE, LEAD_IN, TAIL = 0.6, 0.3, 0.5
CREDITS_TAIL = 3.0  # seconds of closing silence that carry the picture credits


def sentence_times(index: int, narration: Narration) -> tuple[tuple[float, float], ...]:
    """Return the (start, end) of each spoken sentence, in seconds from the slide's start."""
    lead = LEAD_IN if index == 0 else 0.0
    return tuple((lead + c.start, lead + c.end) for c in narration.cues)


def timeline(
    slides: list[Slide],
    narrations: list[Narration],
    spans: list[tuple[float, float]],
    visuals: list[Visual],
) -> tuple[list[Segment], list[Cue]]:
    """Place each slide on the audio's timeline and its sentences as caption cues."""
    segments, cues = [], []
    for i, (slide, narration, (start, duration), visual) in enumerate(
        zip(slides, narrations, spans, visuals, strict=True)
    ):
        segments.append(
            Segment(slide.slide_number, slide.title, visual.still, start, duration, visual.clip)
        )
        speech_start = start + (LEAD_IN if i == 0 else 0.0)
        cues += [Cue(speech_start + c.start, speech_start + c.end, c.text) for c in narration.cues]
    return segments, cues


def credits_cue(visuals: list[Visual], spans: list[tuple[float, float]]) -> Cue | None:
    """Return a caption cue naming the pictures' authors and licences, over the closing silence."""
    credits = [v.credit["attribution"] for v in visuals if v.credit]
    if not credits:
        return None
    start, duration = spans[-1]
    end = start + duration
    return Cue(end - CREDITS_TAIL + 0.2, end, "Images: " + "; ".join(credits))
