"""The generation request: its fields, their rules, and the generation id derived from the topic."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import asdict, dataclass, field
from typing import Any

from .decks import MAX_LISTED, DeckFile, parse_narrations, parse_skip
from .errors import InvalidRequest, Unprocessable
from .files import library_picture
from .languages import normalize_language
from .outline import derive_topic, narration_over_limit, parse_document, parse_outline
from .settings import Settings
from .themes import THEME_NAMES, parse_colour
from .types import SUPPORTED_SIZES, Size, Slide

ID_LENGTH = 29
# The fields that choose how a video looks, not what it says (a re-render may change them).
LOOK_FIELDS = (
    "theme",
    "brand_color",
    "logo",
    "title_slide",
    "subtitle",
    "closing",
    "burn_captions",
)
TONES = ("formal", "casual", "storytelling")
FIELDS = (
    "topic",
    "num_slides",
    "language",
    "tone",
    "slides",
    "source_text",
    "size",
    "voice",
    "fps",
    *LOOK_FIELDS,
    "narrations",
    "skip",
)
DECK_ONLY = ("narrations", "skip")  # fields that go with an uploaded deck
CLOSINGS = ("summary", "credits")  # what a closing slide shows
MAX_SUBTITLE = 200
_LOGO_NAME = re.compile(r"^[\w][\w .-]{0,199}$")
LOGO_TYPES = (".png", ".jpg", ".jpeg", ".webp")
FRAME_RATES = (24, 25, 30, 50, 60)  # frames a second a video may have; 30 by default
DEFAULT_FPS = 30
MAX_TOPIC = 1000
MAX_SOURCE_TEXT = 200_000
_ID_PATTERN = re.compile(r"^[\w-]{1,64}$")


def generation_id_for(topic: str) -> str:
    """Derive the id the contract describes: whitespace runs to ``_``, keep letters, digits, ``_`` and ``-``, cut to 29."""
    joined = re.sub(r"\s+", "_", topic.strip())
    kept = "".join(ch for ch in joined if ch in "_-" or _letter_or_digit(ch))
    return kept[:ID_LENGTH]


def _letter_or_digit(ch: str) -> bool:
    category = unicodedata.category(ch)
    return category.startswith("L") or category == "Nd"


def check_generation_id(value: str) -> str:
    """Return a generation id taken from a URL, or raise InvalidRequest if it cannot be one."""
    if not _ID_PATTERN.fullmatch(value) or any(
        not (ch in "_-" or _letter_or_digit(ch)) for ch in value
    ):
        raise InvalidRequest(
            "a generation id contains only letters, digits, '_' and '-' (at most 64 characters)"
        )
    return value


@dataclass(frozen=True)
class VoiceInfo:
    id: str
    languages: tuple[str, ...] | None = ("english",)  # None: any language

    def speaks(self, language: str) -> bool:
        return self.languages is None or language in self.languages


@dataclass(frozen=True)
class Capabilities:
    """What this deployment can do, so requests are refused at POST time rather than failing later."""

    text_model: bool = False
    voices: tuple[VoiceInfo, ...] = (VoiceInfo("piper:en_US-joe-medium"),)
    default_voice: str = "piper:en_US-joe-medium"
    # Characters of narration on one slide, and in one video (the settings' defaults).
    max_slide_narration: int = Settings.max_slide_narration
    max_narration: int = Settings.max_narration
    # The look of a request that does not choose (the settings' defaults), and where logos live.
    theme: str = Settings.theme
    title_slide: bool = Settings.title_slide
    media_library: str = ""

    def voice(self, voice_id: str) -> VoiceInfo | None:
        for voice in self.voices:
            if voice.id == voice_id or voice.id.partition(":")[2] == voice_id:
                return voice
        return None


@dataclass(frozen=True)
class GenerationRequest:
    topic: str
    num_slides: int = 5
    language: str = "english"
    tone: str = "formal"
    size: str = "1920x1080"
    voice: str = ""
    slides: tuple[Slide, ...] = field(default_factory=tuple)
    source_text: str | None = None
    fps: int = DEFAULT_FPS
    theme: str = "dark"
    brand_color: str = ""  # the brand theme's accent; empty: the deployment's
    logo: str = ""  # the brand theme's logo, a media library file; empty: the deployment's
    title_slide: bool = False
    subtitle: str = ""
    closing: str = ""  # "", "summary" or "credits"
    burn_captions: bool = False
    deck: dict[str, Any] | None = None  # an uploaded deck (DeckFile.to_json())
    narrations: tuple[str, ...] = ()  # the deck's narration, one per deck slide ("": its own)
    skip: tuple[int, ...] = ()  # the deck's slide numbers left out

    @property
    def generation_id(self) -> str:
        return generation_id_for(self.topic)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["slides"] = [asdict(s) | {"bullets": list(s.bullets)} for s in self.slides]
        data["narrations"] = list(self.narrations)
        data["skip"] = list(self.skip)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> GenerationRequest:
        slides = tuple(
            Slide(**(s | {"bullets": tuple(s.get("bullets", ()))})) for s in data.get("slides", ())
        )
        listed = {k: tuple(data.get(k) or ()) for k in DECK_ONLY}
        return cls(**(data | {"slides": slides} | listed))


def parse_generation_request(
    body: Any, capabilities: Capabilities, deck: DeckFile | None = None
) -> GenerationRequest:
    """Validate a POST /api/generate body; 400 for malformed fields, 422 for what we cannot do.

    `deck` is an uploaded deck the web process has stored (a multipart request's file).
    """
    if not isinstance(body, dict):
        raise InvalidRequest("the request body must be a JSON object")
    unknown = sorted(set(body) - set(FIELDS))
    if unknown:
        raise InvalidRequest(
            f"unknown field(s): {', '.join(map(repr, unknown))}; allowed: {', '.join(FIELDS)}"
        )
    narrations: tuple[str, ...] = ()
    skip: tuple[int, ...] = ()
    if deck is None:
        if given := [name for name in DECK_ONLY if body.get(name) is not None]:
            raise InvalidRequest(
                f"{', '.join(map(repr, given))} go with an uploaded deck: send the deck as the"
                " 'deck' file of a multipart/form-data request"
            )
    else:
        if body.get("slides") is not None or body.get("source_text") is not None:
            raise InvalidRequest(
                "send either a deck (the 'deck' file) or an outline or document, not both"
            )
        if body.get("narrations") is not None:
            narrations = parse_narrations(body["narrations"], capabilities.max_slide_narration)
        if body.get("skip") is not None:
            skip = parse_skip(body["skip"])

    slides: list[Slide] = []
    if body.get("slides") is not None and body.get("source_text") is not None:
        raise InvalidRequest(
            "send either 'slides' (an outline) or 'source_text' (a document), not both"
        )
    if body.get("slides") is not None:
        slides = parse_outline(body["slides"], max_slide_narration=capabilities.max_slide_narration)
    source_text = body.get("source_text")
    if source_text is not None:
        if not isinstance(source_text, str):
            raise InvalidRequest("'source_text' must be a string")
        if len(source_text) > MAX_SOURCE_TEXT:
            raise InvalidRequest(f"'source_text' is longer than {MAX_SOURCE_TEXT} characters")
        slides = parse_document(source_text, max_slide_narration=capabilities.max_slide_narration)

    topic = body.get("topic")
    if topic is None and slides:
        topic = derive_topic(slides)
    if topic is None and deck is not None:
        topic = deck.topic
    if not isinstance(topic, str):
        raise InvalidRequest("'topic' is required and must be a string")
    topic = topic.strip()
    if not topic:
        raise InvalidRequest("'topic' must not be empty")
    if len(topic) > MAX_TOPIC:
        raise InvalidRequest(f"'topic' must be at most {MAX_TOPIC} characters (got {len(topic)})")
    if not generation_id_for(topic):
        raise InvalidRequest(
            "'topic' must contain at least one letter or digit (the generation id is made from it)"
        )

    num_slides = body.get("num_slides", len(slides) or 5)
    if isinstance(num_slides, bool) or not isinstance(num_slides, int):
        raise InvalidRequest("'num_slides' must be a whole number from 1 to 30")
    if not 1 <= num_slides <= 30:
        raise InvalidRequest(f"'num_slides' must be from 1 to 30 (got {num_slides})")

    tone = body.get("tone", "formal")
    if not isinstance(tone, str) or tone not in TONES:
        raise InvalidRequest(f"'tone' must be one of {', '.join(TONES)}")

    language = body.get("language", "english")
    if not isinstance(language, str) or not language.strip() or len(language) > 40:
        raise InvalidRequest("'language' must be a language name such as 'english'")
    language = normalize_language(language)
    voice_id = body.get("voice") or capabilities.default_voice
    if not isinstance(voice_id, str):
        raise InvalidRequest("'voice' must be a voice id from GET /api/voices")
    voice = capabilities.voice(voice_id)
    if voice is None:
        raise InvalidRequest(
            f"unknown voice {voice_id!r}; GET /api/voices lists the available ones"
        )
    if not voice.speaks(language):
        speakers = [v.id for v in capabilities.voices if v.speaks(language)]
        raise Unprocessable(
            f"voice {voice.id!r} does not speak {language!r}"
            + (
                f"; voices that do: {', '.join(speakers)}"
                if speakers
                else "; no voice here does. Set VIDEOFORGE_PIPER_VOICE to a Piper voice file for that"
                " language, or configure a speech service (OPENAI_API_KEY)"
            )
        )

    size = body.get("size", "1920x1080")
    allowed_sizes = [str(s) for s in SUPPORTED_SIZES]
    if not isinstance(size, str) or size.lower() not in allowed_sizes:
        raise InvalidRequest(f"'size' must be one of {', '.join(allowed_sizes)}")
    size = str(Size.parse(size))

    fps = body.get("fps", DEFAULT_FPS)
    if isinstance(fps, bool) or not isinstance(fps, int) or fps not in FRAME_RATES:
        raise InvalidRequest(f"'fps' must be one of {', '.join(map(str, FRAME_RATES))}")

    look = _parse_look(body, capabilities)

    said = slides or [Slide(i, "", narration=text) for i, text in enumerate(narrations, 1)]
    if problem := narration_over_limit(said, capabilities.max_narration, language):
        raise Unprocessable(
            f"{problem}. Send a shorter outline or document, or split it into several videos"
        )

    if not slides and deck is None and not capabilities.text_model:
        raise Unprocessable(
            "a topic alone needs a language model, and none is configured. Either set"
            " OPENAI_API_KEY (and OPENAI_BASE_URL for a local server such as Ollama), or send"
            ' the content yourself: an outline as \'slides\': [{"title": ..., "bullets": [...]}]'
            " or a document as 'source_text'"
        )

    return GenerationRequest(
        topic=topic,
        num_slides=num_slides,
        language=language,
        tone=tone,
        size=size,
        voice=voice.id,
        slides=tuple(slides),
        source_text=source_text,
        fps=fps,
        **look,
        deck=deck.to_json() if deck is not None else None,
        narrations=narrations,
        skip=skip,
    )


def _parse_look(body: dict[str, Any], capabilities: Capabilities) -> dict[str, Any]:
    """Validate the fields that change how the video looks, not what it says."""
    theme = body.get("theme") or capabilities.theme
    if not isinstance(theme, str) or theme not in THEME_NAMES:
        raise InvalidRequest(f"'theme' must be one of {', '.join(THEME_NAMES)}")
    brand_color = body.get("brand_color") or ""
    if brand_color:
        try:
            parse_colour(brand_color)
        except ValueError as exc:
            raise InvalidRequest(f"'brand_color': {exc}") from None
    logo = body.get("logo") or ""
    if logo:
        if not isinstance(logo, str) or not _LOGO_NAME.fullmatch(logo) or ".." in logo:
            raise InvalidRequest("'logo' must be the file name of a picture in the media library")
        if not logo.lower().endswith(LOGO_TYPES):
            raise InvalidRequest(f"'logo' must be a {', '.join(LOGO_TYPES)} file")
        try:
            library_picture(capabilities.media_library, logo)
        except ValueError as exc:
            raise Unprocessable(f"'logo': {exc} (VIDEOFORGE_MEDIA_LIBRARY)") from None
    flags = {}
    for name, default in (("title_slide", capabilities.title_slide), ("burn_captions", False)):
        value = body.get(name, default)
        if not isinstance(value, bool):
            raise InvalidRequest(f"'{name}' must be true or false")
        flags[name] = value
    subtitle = body.get("subtitle") or ""
    if not isinstance(subtitle, str) or len(subtitle) > MAX_SUBTITLE:
        raise InvalidRequest(f"'subtitle' must be a string of at most {MAX_SUBTITLE} characters")
    closing = body.get("closing") or ""
    if closing not in ("", *CLOSINGS):
        raise InvalidRequest(f"'closing' must be one of {', '.join(CLOSINGS)}, or null")
    return {
        "theme": theme,
        "brand_color": brand_color,
        "logo": logo,
        "subtitle": " ".join(subtitle.split()),
        "closing": closing,
        **flags,
    }


RERENDER_FIELDS = (
    "slides",
    "language",
    "tone",
    "size",
    "fps",
    "voice",
    *LOOK_FIELDS,
)


def parse_rerender_request(
    body: Any, generation: dict[str, Any], capabilities: Capabilities
) -> GenerationRequest:
    """Validate a POST /api/generations/{id}/runs body: a changed outline for an existing generation.

    `generation` is the stored request of the generation's newest run: its topic is kept (so
    the id stays), and so are its language, tone, size, fps and voice unless the body sends
    them. Then the rules of POST /api/generate apply: 400 for malformed fields, 422 for what
    cannot be done here.
    """
    if not isinstance(body, dict):
        raise InvalidRequest("the request body must be a JSON object")
    unknown = sorted(set(body) - set(RERENDER_FIELDS))
    if unknown:
        raise InvalidRequest(
            f"unknown field(s): {', '.join(map(repr, unknown))}; allowed: "
            f"{', '.join(RERENDER_FIELDS)} (the topic, and so the id, stay the generation's)"
        )
    if body.get("slides") is None:
        raise InvalidRequest(
            "'slides' is required: the changed deck as an outline"
            " (GET /api/generations/{id}/deck gives the current one)"
        )
    merged: dict[str, Any] = {"topic": generation.get("topic"), "slides": body["slides"]}
    deck = None
    if generation.get("deck"):
        deck = DeckFile.from_json(generation["deck"])
        merged = {"topic": generation.get("topic")} | _deck_narrations(body["slides"])
    for name in RERENDER_FIELDS[1:]:
        if name in body:
            merged[name] = body[name]
        elif generation.get(name) is not None:
            merged[name] = generation[name]
    if "voice" not in body and capabilities.voice(str(merged.get("voice", ""))) is None:
        merged.pop("voice", None)  # the earlier voice is gone from this deployment: the default
    return parse_generation_request(merged, capabilities, deck)


def _deck_narrations(slides: Any) -> dict[str, Any]:
    """Turn an uploaded deck's edited outline into `narrations` and `skip`.

    Each slide of GET /api/generations/{id}/deck names its `deck_slide`; its narration is
    spoken over that page, and a deck slide the outline no longer lists is left out.
    """
    if not isinstance(slides, list) or not slides:
        raise InvalidRequest("'slides' must be a non-empty list (the deck's slides, edited)")
    said: dict[int, str] = {}
    for i, slide in enumerate(slides, start=1):
        number = slide.get("deck_slide") if isinstance(slide, dict) else None
        if isinstance(number, bool) or not isinstance(number, int) or number < 1:
            raise InvalidRequest(
                f"slide {i}: 'deck_slide' must be the slide's number in the uploaded deck"
                " (as GET /api/generations/{id}/deck gives it)"
            )
        narration = slide.get("narration") or ""
        if not isinstance(narration, str):
            raise InvalidRequest(f"slide {i}: 'narration' must be a string")
        said[number] = narration
    last = max(said)
    if last > MAX_LISTED:
        raise InvalidRequest(f"'deck_slide' numbers go up to {MAX_LISTED}")
    return {
        "narrations": [said.get(n, "") for n in range(1, last + 1)],
        "skip": [n for n in range(1, MAX_LISTED + 1) if n not in said],
    }
