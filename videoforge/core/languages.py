"""Language names as requests spell them, mapped to the one name providers compare."""

from __future__ import annotations

# Request spellings of a language mapped to the one name providers compare.
_LANGUAGE_ALIASES = {
    "english": "english",
    "en": "english",
    "en-us": "english",
    "en_us": "english",
}


def normalize_language(name: str) -> str:
    """Return the canonical name of a request language ("EN-us" -> "english").

    Unknown names come back trimmed and lower-cased, so they compare equal to themselves.
    """
    key = name.strip().casefold()
    return _LANGUAGE_ALIASES.get(key, key)
