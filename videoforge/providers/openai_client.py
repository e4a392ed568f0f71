"""The OpenAI-compatible client shared by the text, speech and image providers.

One place builds the client from settings, turns its exceptions into ProviderError with
messages that name the setting to fix, and keeps the API key out of every message.
The client retries 429, 408, 409, 5xx, timeouts and connection errors itself, with
exponential backoff that honours Retry-After, so an exception that reaches us has already
spent that budget.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..core.errors import ProviderError, RetryableProviderError

if TYPE_CHECKING:
    import openai

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.openai.com/v1"
STRUCTURED_OUTPUT_MODES = ("auto", "json_schema", "json_object", "off")
_MIN_PREFIX = 8  # a leaked key prefix at least this long is redacted too
_MAX_DETAIL = 300


@dataclass(frozen=True)
class OpenAIConfig:
    """How to reach an OpenAI-compatible endpoint and which models to use there.

    structured_output: "auto" asks for a json_schema response_format and falls back to plain
    JSON when the server rejects it with 400; "json_schema", "json_object" and "off" force
    one way. base_url None means OpenAI itself.
    """

    api_key: str
    base_url: str | None
    text_model: str = "gpt-4o-mini"
    speech_model: str = "gpt-4o-mini-tts"
    speech_voice: str = "alloy"
    image_model: str = ""
    timeout: float = 60
    max_retries: int = 4
    structured_output: str = "auto"

    def __post_init__(self) -> None:
        if self.structured_output not in STRUCTURED_OUTPUT_MODES:
            raise ValueError(
                f"structured_output must be one of {', '.join(STRUCTURED_OUTPUT_MODES)}, "
                f"not {self.structured_output!r}"
            )

    def __repr__(self) -> str:
        # The key never appears in a repr, so logging a config is safe.
        return (
            f"OpenAIConfig(api_key='***', base_url={self.base_url!r}, "
            f"text_model={self.text_model!r}, speech_model={self.speech_model!r}, "
            f"speech_voice={self.speech_voice!r}, image_model={self.image_model!r}, "
            f"timeout={self.timeout!r}, max_retries={self.max_retries!r}, "
            f"structured_output={self.structured_output!r})"
        )

    @property
    def endpoint(self) -> str:
        """Return the base URL requests go to."""
        return self.base_url or DEFAULT_BASE_URL


def make_client(config: OpenAIConfig) -> openai.OpenAI:
    """Build the real OpenAI client for config; it retries transient failures itself.

    The base URL is always passed, so the client does not fall back to OPENAI_BASE_URL
    from the environment.
    """
    import openai

    return openai.OpenAI(
        api_key=config.api_key,
        base_url=config.endpoint,
        timeout=config.timeout,
        max_retries=config.max_retries,
    )


def redact(text: str, secrets: Iterable[str]) -> str:
    """Return text with every secret, and any prefix of 8 or more of its characters, as "***"."""
    for secret in secrets:
        if not secret:
            continue
        text = text.replace(secret, "***")
        if len(secret) < _MIN_PREFIX:
            continue
        head = secret[:_MIN_PREFIX]
        parts: list[str] = []
        start = 0
        while (found := text.find(head, start)) >= 0:
            end = found + _MIN_PREFIX
            while (
                end < len(text) and end - found < len(secret) and text[end] == secret[end - found]
            ):
                end += 1
            parts.append(text[start:found])
            parts.append("***")
            start = end
        parts.append(text[start:])
        text = "".join(parts)
    return text


def translate_error(
    exc: BaseException,
    *,
    provider: str = "openai",
    step: str,
    setting_hint: str,
    secrets: Iterable[str] = (),
) -> ProviderError:
    """Return the ProviderError to raise for an exception of the openai client.

    step names the pipeline step ("generating_content"); setting_hint names the setting
    that chooses the model (e.g. "VIDEOFORGE_TEXT_MODEL"). Transient failures (429, 5xx,
    timeouts, connection errors) come back as RetryableProviderError: the client already
    spent its own retries on them. Every message passes through redact() with secrets.
    Raise the result "from None", so the original message (which may echo the key) stays
    out of tracebacks.
    """
    import openai

    secrets = tuple(secrets)

    def fail(detail: str, *, retryable: bool = False) -> ProviderError:
        cls = RetryableProviderError if retryable else ProviderError
        return cls(provider, redact(f"{step}: {detail}", secrets))

    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        said = _server_detail(exc, secrets)
        if isinstance(exc, openai.AuthenticationError):
            return fail(
                f"the service refused the API key (HTTP {status}): OPENAI_API_KEY is wrong or "
                f"lacks access; check it (and OPENAI_BASE_URL){said}"
            )
        if isinstance(exc, openai.PermissionDeniedError):
            return fail(
                f"the API key may not use this (HTTP {status}): OPENAI_API_KEY lacks access to "
                f"the model or endpoint; grant it or pick another model with {setting_hint}{said}"
            )
        if isinstance(exc, openai.NotFoundError):
            return fail(
                f"the model or endpoint was not found (HTTP {status}): check {setting_hint} "
                f"and OPENAI_BASE_URL{said}"
            )
        if isinstance(exc, openai.RateLimitError):
            if exc.code == "insufficient_quota":
                return fail(
                    f"the account behind OPENAI_API_KEY has no quota left (HTTP {status}); "
                    f"check its plan and billing{said}"
                )
            return fail(
                f"rate limited (HTTP {status}) and the client's retries were spent; try again "
                f"later, or lower the request rate{said}",
                retryable=True,
            )
        if isinstance(exc, openai.InternalServerError):
            return fail(
                f"the service failed (HTTP {status}) and the client's retries were spent; "
                f"try again later{said}",
                retryable=True,
            )
        if isinstance(exc, openai.BadRequestError):
            return fail(f"the service rejected the request (HTTP {status}){said}")
        return fail(f"the service answered HTTP {status}{said}")
    if isinstance(exc, openai.APITimeoutError):
        return fail(
            "the request timed out and the client's retries were spent; try again later or "
            "raise the timeout",
            retryable=True,
        )
    if isinstance(exc, openai.APIConnectionError):
        cause = exc.__cause__ or exc.__context__
        reason = f" ({type(cause).__name__}: {_clip(str(cause))})" if cause else ""
        return fail(
            f"could not connect to the service and the client's retries were spent{reason}; "
            "check OPENAI_BASE_URL and the network",
            retryable=True,
        )
    return fail(f"the client failed: {type(exc).__name__}: {_clip(str(exc))}")


def _server_detail(exc: openai.APIStatusError, secrets: tuple[str, ...]) -> str:
    """Return ": <the server's message, redacted> (request id ...)" for a status error, or ""."""
    body = exc.body
    message = body.get("message") if isinstance(body, dict) else None
    if not isinstance(message, str) or not message.strip():
        message = body if isinstance(body, str) else ""
    text = f": {_clip(redact(message, secrets))}" if message.strip() else ""
    if exc.request_id:
        text += f" (request id {exc.request_id})"
    return text


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_DETAIL else text[: _MAX_DETAIL - 1] + "…"
