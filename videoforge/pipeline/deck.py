"""The deck: its slides (from the request or the language model), their narration, their JSON.

`write_slides` and `write_scripts` are the first two stages; `content_json` and `script_json`
describe the deck in the reference's shapes for GET /api/content and GET /api/script.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..core.errors import StageError
from ..core.outline import MAX_BULLETS, narration_over_limit, suggest_animation
from ..core.outline import narrate as narrate_outline
from ..core.request import GenerationRequest
from ..core.types import Slide, Usage

if TYPE_CHECKING:
    from ..providers.base import TextModel
    from .visuals import Visual


def write_slides(
    request: GenerationRequest, text_model: TextModel | None, usage: Usage
) -> list[Slide]:
    """Return the deck: the request's outline or document, or one the language model writes."""
    if request.slides:
        # Offline decks: a slide whose bullets are steps is shown as a flow.
        slides = [replace(s, animation=s.animation or suggest_animation(s)) for s in request.slides]
    elif text_model is not None:
        slides = text_model.write_deck(
            topic=request.topic,
            num_slides=request.num_slides,
            language=request.language,
            tone=request.tone,
            usage=usage,
        )
    else:
        raise StageError(
            "generating_content",
            "the request has no outline or document, and no language model is configured",
        )
    return [replace(s, slide_number=i) for i, s in enumerate(slides, start=1)]


def add_title_and_closing(slides: list[Slide], request: GenerationRequest) -> list[Slide]:
    """Open the deck with its title slide and end it with its closing slide, as the request asks.

    Both come with their narration (the title slide speaks the topic and subtitle; a summary
    lists the slides' titles), so the scripts stage leaves them alone; slides are renumbered.
    """
    content = [s for s in slides if s.kind == "content"]
    deck = []
    if request.title_slide:
        said = [_sentence(request.topic)] + (
            [_sentence(request.subtitle)] if request.subtitle else []
        )
        deck.append(
            Slide(0, request.topic, (), " ".join(said), kind="title", subtitle=request.subtitle)
        )
    deck.extend(content)
    if request.closing:
        deck.append(_closing_slide(content, request))
    return [replace(s, slide_number=i) for i, s in enumerate(deck, start=1)]


def _closing_slide(content: list[Slide], request: GenerationRequest) -> Slide:
    english = request.language == "english"
    if request.closing == "summary":
        titles = [s.title for s in content][:MAX_BULLETS]
        listed = "; ".join(titles)
        narration = f"To sum up: {listed}." if english else _sentence(listed)
        return Slide(
            0, "Summary" if english else request.topic, tuple(titles), narration, kind="closing"
        )
    credits = [f"Narration: {request.voice}", "Slides and video: videoforge"]
    narration = "Thank you for watching." if english else _sentence(request.topic)
    return Slide(0, "Credits", tuple(credits), narration, kind="closing")


def _sentence(text: str) -> str:
    """Return text ending like a sentence (a full stop added unless it ends in punctuation)."""
    text = " ".join(text.split())
    return text if not text or unicodedata.category(text[-1]).startswith("P") else text + "."


def write_scripts(
    slides: list[Slide],
    request: GenerationRequest,
    text_model: TextModel | None,
    usage: Usage,
    *,
    max_narration: int,
) -> list[Slide]:
    """Give every slide its narration: the model writes what is missing, or the slide's own words are spoken.

    Raises StageError when the deck's narration is longer than max_narration characters in
    all (a language model's deck can be; a request's outline or document was checked at POST).
    """
    content = [s for s in slides if s.kind == "content"]
    if all(s.narration.strip() for s in slides):
        written = slides
    elif text_model is not None and len(content) < len(slides):
        # The title and closing slides say what they say: the model writes the others'.
        done = iter(write_scripts(content, request, text_model, usage, max_narration=max_narration))
        written = [next(done) if s.kind == "content" else s for s in slides]
    elif text_model is not None:
        written = text_model.write_narration(
            slides, topic=request.topic, language=request.language, tone=request.tone, usage=usage
        )
    else:
        written = [
            s if s.narration.strip() else replace(s, narration=narrate_outline(s.title, s.bullets))
            for s in slides
        ]
    # The title and closing slides the service adds do not count against the request's limit.
    content_written = [s for s in written if s.kind == "content"]
    if problem := narration_over_limit(content_written, max_narration, request.language):
        raise StageError(
            "generating_scripts", f"{problem}; ask for fewer slides, or raise the limit"
        )
    return written


def content_json(
    gid: str,
    request: GenerationRequest,
    slides: list[Slide],
    spans: list[tuple[float, float]] | None = None,
    visuals: list[Visual] | None = None,
) -> dict[str, Any]:
    """Describe the deck in the reference's content shape (plus bullets, visual and credit)."""
    items = []
    for i, s in enumerate(slides):
        visual = visuals[i] if visuals else None
        items.append(
            {
                "slide_number": s.slide_number,
                "title": s.title,
                "content_text": s.content_text,
                "bullets": list(s.bullets),
                "needs_image": bool(s.image),
                "image_keyword": s.image or "",
                "needs_animation": bool(s.animation),
                "animation_description": json.dumps(s.animation) if s.animation else "",
                "duration": round(spans[i][1], 3) if spans else None,
                "visual": visual.kind if visual else None,
                "image_credit": visual.credit if visual else None,
                "kind": s.kind,
                "subtitle": s.subtitle,
                "deck_slide": s.deck_slide or None,  # its number in an uploaded deck
            }
        )
    return {
        "generation_id": gid,
        "topic": request.topic,
        "language": request.language,
        "tone": request.tone,
        "size": request.size,
        "theme": request.theme,
        "total_slides": len(items),
        "slides": items,
        "credits": [v.credit for v in visuals or () if v.credit],
    }


def script_json(
    gid: str,
    request: GenerationRequest,
    slides: list[Slide],
    spans: list[tuple[float, float]] | None,
) -> dict[str, Any]:
    """Describe the narration in the reference's script shape (`scripts` is an older alias)."""
    items = []
    for i, s in enumerate(slides):
        start, duration = spans[i] if spans else (None, None)
        items.append(
            {
                "slide_number": s.slide_number,
                "start_time": round(start, 3) if spans else None,
                "end_time": round(start + duration, 3) if spans else None,
                "narration_text": s.narration,
                "kind": s.kind,
            }
        )
    total = round(spans[-1][0] + spans[-1][1], 3) if spans else None
    return {
        "generation_id": gid,
        "topic": request.topic,
        "language": request.language,
        "total_duration": total,
        "slide_scripts": items,
        "scripts": items,
    }


def deck_json(gid: str, run_id: int, request: GenerationRequest, slides: list[Slide]) -> dict:
    """Describe a finished deck as POST /api/generate's outline, its narration as spoken.

    GET /api/generations/{id}/deck serves it; sent back (changed) to
    POST /api/generations/{id}/runs it makes the next run of the same generation. An
    animation the pipeline suggested from a slide's bullets is left out (null), so that it
    follows the bullets when they are edited.
    """
    slides = [s for s in slides if s.kind == "content"]  # the request asks for the others
    asked = [s.animation for s in request.slides] or [s.animation for s in slides]
    return {
        "generation_id": gid,
        "run_id": run_id,
        "topic": request.topic,
        "language": request.language,
        "tone": request.tone,
        "size": request.size,
        "fps": request.fps,
        "voice": request.voice,
        "theme": request.theme,
        "brand_color": request.brand_color or None,
        "logo": request.logo or None,
        "title_slide": request.title_slide,
        "subtitle": request.subtitle or None,
        "closing": request.closing or None,
        "burn_captions": request.burn_captions,
        "slides": [
            {
                "title": s.title,
                "bullets": list(s.bullets),
                "narration": s.narration,
                "image": s.image,
                "animation": animation,
                "pronunciations": s.pronunciations,
            }
            | ({"deck_slide": s.deck_slide} if s.deck_slide else {})
            for s, animation in zip(slides, asked, strict=True)
        ],
    } | _uploaded(request)


def _uploaded(request: GenerationRequest) -> dict[str, Any]:
    """Name a run's uploaded deck: its edited outline makes the next run over the same pages."""
    if not request.deck:
        return {}
    return {"deck": {"name": request.deck["name"], "kind": request.deck["kind"]}}
