"""Build the providers a deployment's settings ask for: the text model, voices, image sources."""

from __future__ import annotations

import logging
import threading
from dataclasses import replace
from pathlib import Path

from ..core.request import VoiceInfo
from ..core.settings import Settings
from .base import SpeechProvider
from .openai_client import OpenAIConfig
from .piper import PiperSpeech

log = logging.getLogger(__name__)

# The voices of OpenAI's audio/speech endpoint; compatible servers accept the same names.
OPENAI_VOICES = (
    "alloy",
    "ash",
    "ballad",
    "coral",
    "echo",
    "fable",
    "nova",
    "onyx",
    "sage",
    "shimmer",
    "verse",
)


def openai_config(settings: Settings) -> OpenAIConfig | None:
    """Return how to reach the OpenAI-compatible service, or None when none is configured."""
    if not settings.text_model_configured and not settings.cloud_speech:
        return None
    return OpenAIConfig(
        # Local servers (Ollama, llama.cpp) ignore the key, but the client needs one.
        api_key=settings.openai_api_key or "videoforge-no-key",
        base_url=settings.openai_base_url or None,
        text_model=settings.text_model,
        speech_model=settings.speech_model,
        speech_voice=settings.speech_voice,
        image_model=settings.image_model,
        timeout=settings.openai_timeout,
        max_retries=settings.openai_retries,
    )


def piper_voice(settings: Settings) -> PiperSpeech:
    return PiperSpeech(Path(settings.piper_voice_path) if settings.piper_voice_path else None)


def voices(settings: Settings) -> tuple[list[VoiceInfo], str]:
    """List the voices this deployment offers and the default one (nothing is loaded)."""
    piper = piper_voice(settings)
    offline = VoiceInfo(f"piper:{piper.model_path.stem}", tuple(sorted(piper.languages)))
    if not settings.cloud_speech:
        return [offline], offline.id
    names = list(OPENAI_VOICES)
    if settings.speech_voice not in names:
        names.insert(0, settings.speech_voice)
    cloud = [VoiceInfo(f"openai:{name}", None) for name in names]
    return [*cloud, offline], f"openai:{settings.speech_voice}"


class SpeechProviders:
    """Hand out one speech provider per voice id, created on first use and kept (thread-safe)."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._made: dict[str, SpeechProvider] = {}
        self._lock = threading.Lock()

    def get(self, voice_id: str) -> SpeechProvider:
        with self._lock:
            provider = self._made.get(voice_id)
            if provider is None:
                provider = self._made[voice_id] = self._make(voice_id)
            return provider

    def _make(self, voice_id: str) -> SpeechProvider:
        kind, _, name = voice_id.partition(":")
        if kind == "piper":
            return piper_voice(self.settings)
        if kind == "openai":
            from .openai_speech import OpenAISpeech

            config = openai_config(self.settings)
            if config is None:
                raise ValueError("no speech service is configured (OPENAI_API_KEY)")
            return OpenAISpeech(replace(config, speech_voice=name))
        raise ValueError(f"unknown voice {voice_id!r}")


def text_model(settings: Settings):
    """Return the configured language model, or None (offline: outlines and documents only)."""
    if not settings.text_model_configured:
        return None
    from .llm.openai_text import OpenAIText

    config = openai_config(settings)
    assert config is not None
    return OpenAIText(config)


WIKIMEDIA_USER_AGENT = "videoforge/0.1 (self-hosted educational video service)"


def image_finder(settings: Settings):
    """Build the image sources the settings name, in their order; unconfigured ones are skipped."""
    from .fetch import SafeFetcher
    from .images.finder import ImageFinder
    from .images.library import LocalLibrary
    from .images.openverse import OPENVERSE_HOSTS, Openverse
    from .images.pexels import PEXELS_HOSTS, Pexels
    from .images.unsplash import UNSPLASH_HOSTS, Unsplash
    from .images.wikimedia import WIKIMEDIA_HOSTS, WikimediaCommons

    sources = []
    for name in settings.image_sources:
        if name == "library" and settings.media_library:
            sources.append(LocalLibrary(Path(settings.media_library)))
        elif name == "openverse":
            sources.append(Openverse(SafeFetcher(OPENVERSE_HOSTS)))
        elif name == "wikimedia":
            fetcher = SafeFetcher(WIKIMEDIA_HOSTS, user_agent=WIKIMEDIA_USER_AGENT)
            sources.append(WikimediaCommons(fetcher))
        elif name == "unsplash" and settings.unsplash_access_key:
            sources.append(Unsplash(SafeFetcher(UNSPLASH_HOSTS), settings.unsplash_access_key))
        elif name == "pexels" and settings.pexels_api_key:
            sources.append(Pexels(SafeFetcher(PEXELS_HOSTS), settings.pexels_api_key))
        elif name == "openai" and settings.image_model:
            from .openai_images import OpenAIImages

            config = openai_config(settings)
            if config is not None:
                sources.append(OpenAIImages(config))
        elif name not in ("library", "unsplash", "pexels", "openai"):
            log.warning("VIDEOFORGE_IMAGE_SOURCES names an unknown source %r; skipped", name)
    return ImageFinder(sources)
