"""The JSON schemas the language model answers in (strict structured output).

Every object is closed and every key required; optional ones are nullable. One animation's
schema comes from the animation-spec table.
"""

from __future__ import annotations

from ...core.animation_spec import animation_schema

DECK_SCHEMA: dict = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "slides": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "title": {"type": "string"},
                    "bullets": {"type": "array", "items": {"type": "string"}},
                    "narration": {"type": "string"},
                    "needs_image": {"type": "boolean"},
                    "image_keyword": {"type": "string"},
                    "needs_animation": {"type": "boolean"},
                    "animation": {"anyOf": [animation_schema(), {"type": "null"}]},
                },
                "required": [
                    "title",
                    "bullets",
                    "narration",
                    "needs_image",
                    "image_keyword",
                    "needs_animation",
                    "animation",
                ],
            },
        }
    },
    "required": ["slides"],
}

NARRATION_SCHEMA: dict = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"narrations": {"type": "array", "items": {"type": "string"}}},
    "required": ["narrations"],
}
