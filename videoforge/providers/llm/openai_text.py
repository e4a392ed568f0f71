"""The language model behind any OpenAI-compatible endpoint (OpenAI, Ollama, vLLM, ...).

OpenAIText asks for a deck or for narration with the prompts and schemas beside it, reads
the answer with answers.py, and asks again with the problem named until an answer is valid.
A server that rejects json_schema output is remembered and asked for plain JSON from then on.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TypeVar

from ...core.errors import ProviderError
from ...core.types import Slide, Usage
from ..base import TextModel
from ..openai_client import OpenAIConfig, make_client, translate_error
from .answers import InvalidAnswer, extract_json, needs_narration, parse_deck, parse_narrations
from .prompts import deck_messages, narration_messages
from .schema import DECK_SCHEMA, NARRATION_SCHEMA

if TYPE_CHECKING:
    import openai

logger = logging.getLogger(__name__)

T = TypeVar("T")

_MAX_ECHO = 20000  # how much of an invalid answer is sent back with the correction

# (endpoint, model) pairs whose server answered 400 to a json_schema response_format.
_SCHEMA_REJECTED: set[tuple[str, str]] = set()
_SCHEMA_REJECTED_LOCK = threading.Lock()


class OpenAIText(TextModel):
    """A chat model behind any OpenAI-compatible endpoint (OpenAI, Ollama, vLLM, ...)."""

    name = "openai"

    def __init__(
        self, config: OpenAIConfig, *, client: openai.OpenAI | None = None, attempts: int = 3
    ):
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        self.config = config
        self.client = client if client is not None else make_client(config)
        self.attempts = attempts

    def write_deck(
        self, *, topic: str, num_slides: int, language: str, tone: str, usage: Usage
    ) -> list[Slide]:
        """Return num_slides slides about topic, numbered from 1, each with narration.

        Raises ProviderError when the model gives no valid deck in `attempts` answers, and
        RetryableProviderError when the service stays unavailable.
        """
        if num_slides < 1:
            raise ValueError("num_slides must be at least 1")
        messages = deck_messages(topic=topic, num_slides=num_slides, language=language, tone=tone)
        return self._ask(
            messages,
            schema_name="slide_deck",
            schema=DECK_SCHEMA,
            parse=lambda data: parse_deck(data, num_slides),
            what="slide deck",
            step="generating_content",
            usage=usage,
        )

    def write_narration(
        self, slides: list[Slide], *, topic: str, language: str, tone: str, usage: Usage
    ) -> list[Slide]:
        """Return the slides with narration written for those without their own (one call)."""
        todo = [i for i, slide in enumerate(slides) if needs_narration(slide)]
        if not todo:
            return list(slides)
        messages = narration_messages(slides, todo, topic=topic, language=language, tone=tone)
        texts = self._ask(
            messages,
            schema_name="narrations",
            schema=NARRATION_SCHEMA,
            parse=lambda data: parse_narrations(data, len(todo)),
            what="narration",
            step="generating_scripts",
            usage=usage,
        )
        written = dict(zip(todo, texts, strict=True))
        return [
            replace(slide, narration=written[i]) if i in written else slide
            for i, slide in enumerate(slides)
        ]

    def _ask(
        self,
        messages: list[dict],
        *,
        schema_name: str,
        schema: dict,
        parse: Callable[[Any], T],
        what: str,
        step: str,
        usage: Usage,
    ) -> T:
        """Ask until parse() accepts an answer, telling the model what was wrong each time."""
        messages = list(messages)
        problem = ""
        for attempt in range(1, self.attempts + 1):
            content = self._complete(messages, schema_name, schema, step, usage)
            try:
                return parse(extract_json(content))
            except InvalidAnswer as exc:
                problem = str(exc)
            logger.warning(
                "the text model's %s was invalid (attempt %d of %d): %s",
                what,
                attempt,
                self.attempts,
                problem,
            )
            messages += [
                {"role": "assistant", "content": (content or "")[:_MAX_ECHO]},
                {
                    "role": "user",
                    "content": f"Your previous answer was invalid: {problem}. "
                    "Answer again with only the JSON object.",
                },
            ]
        raise ProviderError(
            self.name,
            f"the text model gave no valid {what} after {self.attempts} attempts: {problem}",
        )

    def _complete(
        self, messages: list[dict], schema_name: str, schema: dict, step: str, usage: Usage
    ) -> str | None:
        """Return the content of one chat completion, falling back from json_schema on 400."""
        import openai

        key = (self.config.endpoint, self.config.text_model)
        mode = self.config.structured_output
        with _SCHEMA_REJECTED_LOCK:
            if mode == "auto" and key in _SCHEMA_REJECTED:
                mode = "off"
        try:
            try:
                response = self._create(messages, _response_format(mode, schema_name, schema))
            except openai.BadRequestError as exc:
                if mode != "auto":
                    raise
                logger.warning(
                    "%s rejected json_schema output for %s (%s); asking for plain JSON from now on",
                    self.config.endpoint,
                    self.config.text_model,
                    exc.code or exc.status_code,
                )
                response = self._create(messages, None)
                with _SCHEMA_REJECTED_LOCK:
                    _SCHEMA_REJECTED.add(key)
        except openai.OpenAIError as exc:
            raise translate_error(
                exc,
                provider=self.name,
                step=step,
                setting_hint="VIDEOFORGE_TEXT_MODEL",
                secrets=[self.config.api_key],
            ) from None
        _count(response, usage)
        if not response.choices:
            return None
        message = response.choices[0].message
        if not message.content and getattr(message, "refusal", None):
            logger.warning("the text model refused: %s", message.refusal)
        return message.content

    def _create(self, messages: list[dict], response_format: dict | None) -> Any:
        extra: dict[str, Any] = {}
        if response_format is not None:
            extra["response_format"] = response_format
        return self.client.chat.completions.create(
            model=self.config.text_model, messages=messages, **extra
        )


def _response_format(mode: str, name: str, schema: dict) -> dict | None:
    if mode in ("auto", "json_schema"):
        return {
            "type": "json_schema",
            "json_schema": {"name": name, "strict": True, "schema": schema},
        }
    if mode == "json_object":
        return {"type": "json_object"}
    return None


def _count(response: Any, usage: Usage) -> None:
    """Add a chat response's token counts (absent on some local servers) and one request."""
    counts = getattr(response, "usage", None)
    usage.add(
        prompt_tokens=getattr(counts, "prompt_tokens", None) or 0,
        completion_tokens=getattr(counts, "completion_tokens", None) or 0,
        requests=1,
    )


def forget_schema_rejections() -> None:
    """Forget which servers rejected json_schema output (for tests)."""
    with _SCHEMA_REJECTED_LOCK:
        _SCHEMA_REJECTED.clear()
