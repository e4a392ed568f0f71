"""The chat messages that ask the language model for a deck or for narration.

The slide limits come from core.outline (the same as a request's outline) and the animation
guide from the animation-spec table, so what the model is told is what its answer is held to.
"""

from __future__ import annotations

import json

from ...core.animation_spec import animation_guide
from ...core.outline import MAX_BULLET, MAX_BULLETS, MAX_TITLE
from ...core.types import Slide

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

_ANIMATION_GUIDE = animation_guide()


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
