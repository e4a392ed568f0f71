"""Settings: a frozen dataclass built once from the environment by the entry points."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from .errors import VideoforgeError


class ConfigError(VideoforgeError):
    """A setting has a value we cannot use; the message names the variable."""


def _int(env: Mapping[str, str], name: str, default: int, lo: int, hi: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if not lo <= value <= hi:
        raise ConfigError(f"{name} must be between {lo} and {hi}, got {value}")
    return value


def _float(env: Mapping[str, str], name: str, default: float, lo: float, hi: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if not lo <= value <= hi:
        raise ConfigError(f"{name} must be between {lo} and {hi}, got {value}")
    return value


def _choice(env: Mapping[str, str], name: str, default: str, allowed: tuple[str, ...]) -> str:
    value = env.get(name, "").strip().lower() or default
    if value not in allowed:
        raise ConfigError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
    return value


def _list(env: Mapping[str, str], name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    raw = env.get(name)
    if raw is None:
        return default
    return tuple(item.strip() for item in raw.split(",") if item.strip())


@dataclass(frozen=True)
class Settings:
    """Everything configurable; see the README's Configuration table."""

    data_dir: Path = Path("data")
    database_url: str = field(default="", repr=False)  # empty: SQLite in data_dir
    host: str = "127.0.0.1"
    port: int = 8000
    api_token: str = field(default="", repr=False)
    cors_origins: tuple[str, ...] = ("http://localhost:5173",)
    max_body_bytes: int = 1024 * 1024
    # Waitress sizing: each open progress stream holds one thread.
    threads: int = 512
    connection_limit: int = 2000
    max_streams: int = 480
    # The progress stream.
    poll_interval: float = 0.5
    change_interval: float = 0.1
    heartbeat_interval: float = 2.0
    waiting_period: float = 5.0
    stream_timeout: float = 300.0
    retry_ms: int = 3000
    busy_retry_ms: int = 10000
    # The worker.
    lease_seconds: float = 30.0
    max_attempts: int = 3
    worker_poll_interval: float = 0.5
    # Media.
    piper_voice_path: str = ""
    media_library: str = ""
    image_sources: tuple[str, ...] = (
        "library",
        "openverse",
        "wikimedia",
        "unsplash",
        "pexels",
        "openai",
    )
    unsplash_access_key: str = field(default="", repr=False)
    pexels_api_key: str = field(default="", repr=False)
    # Any OpenAI-compatible service (OpenAI, Ollama, llama.cpp, vLLM, LM Studio).
    openai_api_key: str = field(default="", repr=False)
    openai_base_url: str = ""
    text_model: str = "gpt-4o-mini"
    speech: str = (
        "auto"  # auto: the service's speech when a key is set, else Piper; or piper, openai
    )
    speech_model: str = "gpt-4o-mini-tts"
    speech_voice: str = "alloy"
    image_model: str = ""
    openai_timeout: float = 60.0
    openai_retries: int = 4
    log_level: str = "INFO"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Build settings from an environment mapping; the only reader of os.environ."""
        data_dir = Path(env.get("VIDEOFORGE_DATA_DIR", "").strip() or "data")
        return cls(
            data_dir=data_dir,
            database_url=env.get("DATABASE_URL", "").strip(),
            host=env.get("HOST", "").strip() or "127.0.0.1",
            port=_int(env, "PORT", 8000, 0, 65535),
            api_token=env.get("VIDEOFORGE_API_TOKEN", "").strip(),
            cors_origins=_list(env, "VIDEOFORGE_CORS_ORIGINS", cls.cors_origins),
            max_body_bytes=_int(
                env, "VIDEOFORGE_MAX_BODY_BYTES", cls.max_body_bytes, 1024, 1 << 30
            ),
            threads=_int(env, "VIDEOFORGE_THREADS", cls.threads, 4, 4096),
            connection_limit=_int(
                env, "VIDEOFORGE_CONNECTION_LIMIT", cls.connection_limit, 10, 100000
            ),
            max_streams=_int(env, "VIDEOFORGE_MAX_STREAMS", cls.max_streams, 1, 100000),
            poll_interval=_float(env, "VIDEOFORGE_POLL_INTERVAL", cls.poll_interval, 0.01, 10),
            change_interval=_float(
                env, "VIDEOFORGE_CHANGE_INTERVAL", cls.change_interval, 0.01, 10
            ),
            heartbeat_interval=_float(
                env, "VIDEOFORGE_HEARTBEAT_INTERVAL", cls.heartbeat_interval, 0.05, 60
            ),
            waiting_period=_float(env, "VIDEOFORGE_WAITING_PERIOD", cls.waiting_period, 0, 600),
            stream_timeout=_float(env, "VIDEOFORGE_STREAM_TIMEOUT", cls.stream_timeout, 0.1, 86400),
            retry_ms=_int(env, "VIDEOFORGE_RETRY_MS", cls.retry_ms, 0, 3600_000),
            busy_retry_ms=_int(env, "VIDEOFORGE_BUSY_RETRY_MS", cls.busy_retry_ms, 0, 3600_000),
            lease_seconds=_float(env, "VIDEOFORGE_LEASE_SECONDS", cls.lease_seconds, 0.5, 3600),
            max_attempts=_int(env, "VIDEOFORGE_MAX_ATTEMPTS", cls.max_attempts, 1, 100),
            worker_poll_interval=_float(
                env, "VIDEOFORGE_WORKER_POLL_INTERVAL", cls.worker_poll_interval, 0.01, 60
            ),
            piper_voice_path=env.get("VIDEOFORGE_PIPER_VOICE", "").strip(),
            media_library=env.get("VIDEOFORGE_MEDIA_LIBRARY", "").strip(),
            image_sources=_list(env, "VIDEOFORGE_IMAGE_SOURCES", cls.image_sources),
            unsplash_access_key=env.get("UNSPLASH_ACCESS_KEY", "").strip(),
            pexels_api_key=env.get("PEXELS_API_KEY", "").strip(),
            openai_api_key=env.get("OPENAI_API_KEY", "").strip(),
            openai_base_url=env.get("OPENAI_BASE_URL", "").strip(),
            text_model=env.get("VIDEOFORGE_TEXT_MODEL", "").strip() or cls.text_model,
            speech=_choice(env, "VIDEOFORGE_SPEECH", cls.speech, ("auto", "piper", "openai")),
            speech_model=env.get("VIDEOFORGE_SPEECH_MODEL", "").strip() or cls.speech_model,
            speech_voice=env.get("VIDEOFORGE_SPEECH_VOICE", "").strip() or cls.speech_voice,
            image_model=env.get("VIDEOFORGE_IMAGE_MODEL", "").strip(),
            openai_timeout=_float(env, "VIDEOFORGE_OPENAI_TIMEOUT", cls.openai_timeout, 1, 3600),
            openai_retries=_int(env, "VIDEOFORGE_OPENAI_RETRIES", cls.openai_retries, 0, 20),
            log_level=(env.get("VIDEOFORGE_LOG_LEVEL", "").strip() or "INFO").upper(),
        )

    def with_changes(self, **changes: object) -> Settings:
        """Return a copy with some fields replaced (for tests and the CLI)."""
        return replace(self, **changes)

    @property
    def database(self) -> str:
        """Return the database URL, defaulting to a SQLite file in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'videoforge.db').resolve()}"

    @property
    def text_model_configured(self) -> bool:
        """Say whether a language model is configured (a key, or a local server's base URL)."""
        return bool(self.openai_api_key or self.openai_base_url)

    @property
    def cloud_speech(self) -> bool:
        """Say whether narration is spoken by the service's audio/speech endpoint."""
        if self.speech == "openai":
            return True
        return self.speech == "auto" and bool(self.openai_api_key)

    @property
    def secrets(self) -> tuple[str, ...]:
        """Return the configured secrets, which must never reach a log, event or response."""
        values = (
            self.openai_api_key,
            self.unsplash_access_key,
            self.pexels_api_key,
            self.api_token,
        )
        return tuple(v for v in values if v)

    @property
    def runs_dir(self) -> Path:
        return self.data_dir / "runs"

    @property
    def videos_dir(self) -> Path:
        return self.data_dir / "videos"

    @property
    def cache_dir(self) -> Path:
        return self.data_dir / "cache"
