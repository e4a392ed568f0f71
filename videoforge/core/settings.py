"""Settings: a frozen dataclass built once from the environment by the entry points.

The dataclass's fields are the settings table: each is declared with ``setting(...)``, which
records its environment variable, parser, one-line help and README group in the field's
metadata. ``Settings.from_env`` reads the environment by walking that table, and
``settings_table(group)`` renders a group's README table from it.
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from .errors import VideoforgeError
from .themes import THEME_NAMES, parse_colour


class ConfigError(VideoforgeError):
    """A setting has a value we cannot use; the message names the variable."""


# --- parsers: turn one variable's raw text (None when unset) into a value -----------------


class Parser(Protocol):
    def __call__(self, name: str, raw: str | None, default: Any) -> Any: ...

    def describe(self) -> str:
        """Return what the variable accepts, for the README ("" when the help says it all)."""
        ...


@dataclass(frozen=True)
class Text:
    """Text, stripped; empty or unset means the default."""

    def __call__(self, name: str, raw: str | None, default: str) -> str:
        return (raw or "").strip() or default

    def describe(self) -> str:
        return ""


@dataclass(frozen=True)
class UpperText:
    """Text, stripped and upper-cased; empty or unset means the default."""

    def __call__(self, name: str, raw: str | None, default: str) -> str:
        return ((raw or "").strip() or default).upper()

    def describe(self) -> str:
        return ""


@dataclass(frozen=True)
class Directory:
    """A path, stripped; empty or unset means the default."""

    def __call__(self, name: str, raw: str | None, default: Path) -> Path:
        text = (raw or "").strip()
        return Path(text) if text else default

    def describe(self) -> str:
        return ""


@dataclass(frozen=True)
class Int:
    """A whole number in [lo, hi]; empty or unset means the default."""

    lo: int
    hi: int

    def __call__(self, name: str, raw: str | None, default: int) -> int:
        text = (raw or "").strip()
        if not text:
            return default
        try:
            value = int(text)
        except ValueError:
            raise ConfigError(f"{name} must be a whole number, got {text!r}") from None
        if not self.lo <= value <= self.hi:
            raise ConfigError(f"{name} must be between {self.lo} and {self.hi}, got {value}")
        return value

    def describe(self) -> str:
        return f"{self.lo} to {self.hi}"


@dataclass(frozen=True)
class Float:
    """A number in [lo, hi]; empty or unset means the default."""

    lo: float
    hi: float

    def __call__(self, name: str, raw: str | None, default: float) -> float:
        text = (raw or "").strip()
        if not text:
            return default
        try:
            value = float(text)
        except ValueError:
            raise ConfigError(f"{name} must be a number, got {text!r}") from None
        if not self.lo <= value <= self.hi:  # also refuses nan
            raise ConfigError(f"{name} must be between {self.lo} and {self.hi}, got {value}")
        return value

    def describe(self) -> str:
        return f"{self.lo} to {self.hi}"


@dataclass(frozen=True)
class Choice:
    """One of a few words, stripped and lower-cased; empty or unset means the default."""

    allowed: tuple[str, ...]

    def __init__(self, *allowed: str):
        object.__setattr__(self, "allowed", allowed)

    def __call__(self, name: str, raw: str | None, default: str) -> str:
        value = (raw or "").strip().lower() or default
        if value not in self.allowed:
            raise ConfigError(f"{name} must be one of {', '.join(self.allowed)}, got {value!r}")
        return value

    def describe(self) -> str:
        return "one of " + ", ".join(f"`{word}`" for word in self.allowed)


@dataclass(frozen=True)
class Bool:
    """Yes or no: 1, true, yes, on or 0, false, no, off (any case); empty or unset means the default."""

    def __call__(self, name: str, raw: str | None, default: bool) -> bool:
        value = (raw or "").strip().lower()
        if not value:
            return default
        if value in ("1", "true", "yes", "on"):
            return True
        if value in ("0", "false", "no", "off"):
            return False
        raise ConfigError(
            f"{name} must be 1, true, yes or on, or 0, false, no or off, got {value!r}"
        )

    def describe(self) -> str:
        return "`1` or `0`"


@dataclass(frozen=True)
class Colour:
    """A colour written #rrggbb; empty or unset means the default."""

    def __call__(self, name: str, raw: str | None, default: str) -> str:
        value = (raw or "").strip() or default
        if value:
            try:
                parse_colour(value)
            except ValueError as exc:
                raise ConfigError(f"{name}: {exc}") from None
        return value

    def describe(self) -> str:
        return "`#rrggbb`"


@dataclass(frozen=True)
class CommaList:
    """Comma-separated items, each stripped; unset means the default, empty means none."""

    def __call__(self, name: str, raw: str | None, default: tuple[str, ...]) -> tuple[str, ...]:
        if raw is None:
            return default
        return tuple(item.strip() for item in raw.split(",") if item.strip())

    def describe(self) -> str:
        return "comma-separated"


# --- the table -----------------------------------------------------------------------------

# Which README table a setting belongs to, in README order.
GROUPS = ("service", "limits", "stream", "worker", "storage", "media", "model")


@dataclass(frozen=True)
class Setting:
    """One row of the settings table (kept in its dataclass field's metadata)."""

    env: str
    parser: Parser
    help: str
    group: str
    shown: str | None = None  # how the README shows the default, when not the value itself
    secret: bool = False


def setting(
    env: str,
    default: Any,
    parser: Parser,
    help: str,
    *,
    group: str,
    shown: str | None = None,
    secret: bool = False,
) -> Any:
    """Declare a field of Settings: its variable, default, parser, help and README group."""
    if group not in GROUPS:
        raise ValueError(f"{env}: unknown group {group!r}; one of {', '.join(GROUPS)}")
    row = Setting(env, parser, help, group, shown, secret)
    return dataclasses.field(default=default, repr=not secret, metadata={"setting": row})


@dataclass(frozen=True)
class Settings:
    """Everything configurable; each field is a row of the settings table (see setting())."""

    data_dir: Path = setting(
        "VIDEOFORGE_DATA_DIR",
        Path("data"),
        Directory(),
        "database file, videos, run outputs, cache",
        group="service",
    )
    database_url: str = setting(
        "DATABASE_URL",
        "",
        Text(),
        "`postgresql://user:pass@host/db` to share one database between web and worker machines",
        group="service",
        shown="SQLite file in the data dir",
        secret=True,  # it may hold a password
    )
    host: str = setting(
        "HOST", "127.0.0.1", Text(), "address the web process listens on", group="service"
    )
    port: int = setting(
        "PORT", 8000, Int(0, 65535), "port the web process listens on", group="service"
    )
    api_token: str = setting(
        "VIDEOFORGE_API_TOKEN",
        "",
        Text(),
        "when set, every endpoint but `/health` and `/` needs `Authorization: Bearer <token>`;"
        " the progress stream, videos and captions also take `?token=<token>` (EventSource"
        " and `<video>` cannot send headers)",
        group="service",
        shown="unset (open, as the reference was)",
        secret=True,
    )
    cors_origins: tuple[str, ...] = setting(
        "VIDEOFORGE_CORS_ORIGINS",
        ("http://localhost:5173",),
        CommaList(),
        "origins allowed for browser clients; `*` for any; empty for none",
        group="service",
    )
    max_body_bytes: int = setting(
        "VIDEOFORGE_MAX_BODY_BYTES",
        1024 * 1024,
        Int(1024, 1 << 30),
        "larger request bodies get a 413 from Waitress before the body is read",
        group="service",
    )
    allowed_hosts: tuple[str, ...] = setting(
        "VIDEOFORGE_ALLOWED_HOSTS",
        (),
        CommaList(),
        "host names a request's `Host` header may carry (others get a 400, which stops DNS"
        " rebinding); `*` for any",
        group="service",
        shown="`localhost`, `127.0.0.1`, `::1` and `HOST`",
    )
    public: bool = setting(
        "VIDEOFORGE_PUBLIC",
        False,
        Bool(),
        "serve a non-loopback `HOST` without `VIDEOFORGE_API_TOKEN`, a deliberately open"
        " service; without it the web process refuses to start that way",
        group="service",
    )
    # Waitress sizing: each open progress stream holds one thread.
    threads: int = setting(
        "VIDEOFORGE_THREADS",
        512,
        Int(4, 4096),
        "Waitress threads; each open progress stream holds one",
        group="service",
    )
    connection_limit: int = setting(
        "VIDEOFORGE_CONNECTION_LIMIT",
        2000,
        Int(10, 100000),
        "Waitress's limit on open connections",
        group="service",
    )
    # Limits and retention.
    max_slide_narration: int = setting(
        "VIDEOFORGE_MAX_SLIDE_NARRATION",
        5000,
        Int(100, 1_000_000),
        "characters of narration on one slide (about 5 minutes of speech); a longer document"
        " section is spread over several slides",
        group="limits",
    )
    max_narration: int = setting(
        "VIDEOFORGE_MAX_NARRATION",
        54_000,
        Int(1000, 100_000_000),
        "characters of narration in one video (about an hour of speech at 150 words a minute)",
        group="limits",
    )
    max_queued: int = setting(
        "VIDEOFORGE_MAX_QUEUED",
        100,
        Int(1, 1_000_000),
        "queued runs in all before `POST /api/generate` answers 429",
        group="limits",
    )
    max_queued_per_client: int = setting(
        "VIDEOFORGE_MAX_QUEUED_PER_CLIENT",
        5,
        Int(1, 1_000_000),
        "queued or running runs one client address may have before it gets a 429",
        group="limits",
    )
    max_streams_per_client: int = setting(
        "VIDEOFORGE_MAX_STREAMS_PER_CLIENT",
        64,
        Int(1, 100_000),
        "open progress streams one client address may hold before it gets a 429",
        group="limits",
    )
    keep_days: float = setting(
        "VIDEOFORGE_KEEP_DAYS",
        30.0,
        Float(0, 36500),
        "days a finished run's video and files are kept (`0`: forever)",
        group="limits",
    )
    keep_mb: int = setting(
        "VIDEOFORGE_KEEP_MB",
        20_000,
        Int(0, 1 << 40),
        "megabytes of videos, run files and cache kept; past it the least recently used cache"
        " entries (not those in use), then the oldest finished runs' files, are removed"
        " (`0`: no limit)",
        group="limits",
    )
    # The progress stream.
    max_streams: int = setting(
        "VIDEOFORGE_MAX_STREAMS",
        480,
        Int(1, 100000),
        "open progress streams before new ones get a retry hint",
        group="stream",
    )
    poll_interval: float = setting(
        "VIDEOFORGE_POLL_INTERVAL",
        0.5,
        Float(0.01, 10),
        "seconds between a stream's checks of heartbeats, timeout and hang-ups",
        group="stream",
    )
    change_interval: float = setting(
        "VIDEOFORGE_CHANGE_INTERVAL",
        0.1,
        Float(0.01, 10),
        "seconds between the web process's change watcher's reads of the event log",
        group="stream",
    )
    heartbeat_interval: float = setting(
        "VIDEOFORGE_HEARTBEAT_INTERVAL",
        2.0,
        Float(0.05, 60),
        "seconds of silence before a heartbeat",
        group="stream",
    )
    waiting_period: float = setting(
        "VIDEOFORGE_WAITING_PERIOD",
        5.0,
        Float(0, 600),
        "seconds of `waiting` messages for an id with no run",
        group="stream",
    )
    stream_timeout: float = setting(
        "VIDEOFORGE_STREAM_TIMEOUT",
        300.0,
        Float(0.1, 86400),
        "seconds before a stream ends",
        group="stream",
    )
    retry_ms: int = setting(
        "VIDEOFORGE_RETRY_MS",
        3000,
        Int(0, 3600_000),
        "the `retry:` hint (ms) in a stream's first message",
        group="stream",
    )
    busy_retry_ms: int = setting(
        "VIDEOFORGE_BUSY_RETRY_MS",
        10000,
        Int(0, 3600_000),
        "the `retry:` hint (ms) for a stream refused past `VIDEOFORGE_MAX_STREAMS`",
        group="stream",
    )
    # The worker.
    lease_seconds: float = setting(
        "VIDEOFORGE_LEASE_SECONDS",
        30.0,
        Float(0.5, 3600),
        "seconds of a run's lease; renewed every third of it",
        group="worker",
    )
    max_attempts: int = setting(
        "VIDEOFORGE_MAX_ATTEMPTS",
        3,
        Int(1, 100),
        "attempts at one run before it ends in error",
        group="worker",
    )
    worker_poll_interval: float = setting(
        "VIDEOFORGE_WORKER_POLL_INTERVAL",
        0.5,
        Float(0.01, 60),
        "seconds between an idle worker's looks for queued runs",
        group="worker",
    )
    # Media.
    # Object storage (S3-compatible) for what the web serves.
    s3_bucket: str = setting(
        "VIDEOFORGE_S3_BUCKET",
        "",
        Text(),
        "bucket that holds the videos and run files, so web and workers share nothing but it"
        " and the database; unset: the data directory. Credentials come from the usual AWS"
        " variables (or the machine's role)",
        group="storage",
    )
    s3_prefix: str = setting(
        "VIDEOFORGE_S3_PREFIX",
        "",
        Text(),
        "key prefix inside the bucket (e.g. `videoforge/`)",
        group="storage",
    )
    s3_endpoint_url: str = setting(
        "VIDEOFORGE_S3_ENDPOINT_URL",
        "",
        Text(),
        "the S3 API's URL for MinIO, R2 and others (e.g. `http://127.0.0.1:9000`)",
        group="storage",
        shown="AWS S3",
    )
    s3_region: str = setting(
        "VIDEOFORGE_S3_REGION",
        "",
        Text(),
        "the bucket's region (R2: `auto`)",
        group="storage",
        shown="the AWS default",
    )
    s3_presign_seconds: float = setting(
        "VIDEOFORGE_S3_PRESIGN_SECONDS",
        0.0,
        Float(0, 604800),
        "when above 0, videos, posters, slides and deck downloads answer with a redirect to"
        " a presigned URL valid this many seconds, fetched from the bucket directly; `0`: the"
        " web process streams them (with Range)",
        group="storage",
    )
    s3_part_mb: int = setting(
        "VIDEOFORGE_S3_PART_MB",
        8,
        Int(5, 5120),
        "uploads larger than this many MB are multipart, in parts of this size",
        group="storage",
    )
    s3_max_bandwidth: int = setting(
        "VIDEOFORGE_S3_MAX_BANDWIDTH",
        0,
        Int(0, 1 << 40),
        "bytes a second a worker's uploads may use (`0`: no limit), to spare a shared uplink",
        group="storage",
    )
    piper_voice_path: str = setting(
        "VIDEOFORGE_PIPER_VOICE",
        "",
        Text(),
        "path of another Piper `.onnx` voice (its `.onnx.json` beside it says the language)",
        group="media",
        shown="the joe voice",
    )
    media_library: str = setting(
        "VIDEOFORGE_MEDIA_LIBRARY",
        "",
        Text(),
        "folder of pictures for the `library` source",
        group="media",
    )
    image_sources: tuple[str, ...] = setting(
        "VIDEOFORGE_IMAGE_SOURCES",
        ("library", "openverse", "wikimedia", "unsplash", "pexels", "openai"),
        CommaList(),
        "picture sources, tried in order; a source without its setting is skipped",
        group="media",
    )
    theme: str = setting(
        "VIDEOFORGE_THEME",
        "dark",
        Choice(*THEME_NAMES),
        "slide theme of a request that names none",
        group="media",
    )
    brand_color: str = setting(
        "VIDEOFORGE_BRAND_COLOR",
        "",
        Colour(),
        "accent colour of the `brand` theme (made darker where text needs it)",
        group="media",
        shown="#7c3aed",
    )
    brand_logo: str = setting(
        "VIDEOFORGE_BRAND_LOGO",
        "",
        Text(),
        "file name in the media library of the logo on title slides (any theme)",
        group="media",
    )
    brand_name: str = setting(
        "VIDEOFORGE_BRAND_NAME",
        "",
        Text(),
        "the deployment's name, written on title slides",
        group="media",
    )
    title_slide: bool = setting(
        "VIDEOFORGE_TITLE_SLIDE",
        False,
        Bool(),
        "open every video with a title slide unless its request says `title_slide: false`",
        group="media",
    )
    unsplash_access_key: str = setting(
        "UNSPLASH_ACCESS_KEY",
        "",
        Text(),
        "key for the `unsplash` source",
        group="media",
        secret=True,
    )
    pexels_api_key: str = setting(
        "PEXELS_API_KEY", "", Text(), "key for the `pexels` source", group="media", secret=True
    )
    loudness: float = setting(
        "VIDEOFORGE_LOUDNESS",
        -16.0,
        Float(-40, -5),
        "integrated loudness (LUFS) every slide's narration is brought to",
        group="media",
    )
    true_peak: float = setting(
        "VIDEOFORGE_TRUE_PEAK",
        -1.5,
        Float(-12, 0),
        "the highest true peak (dBTP) the video's sound may reach",
        group="media",
    )
    # Uploaded decks (PDF or PPTX narrated as they are).
    deck_max_mb: int = setting(
        "VIDEOFORGE_DECK_MAX_MB",
        50,
        Int(1, 2048),
        "an uploaded deck (multipart `POST /api/generate`) larger than this many MB gets a"
        " 413 before its body is read",
        group="limits",
    )
    deck_max_pages: int = setting(
        "VIDEOFORGE_DECK_MAX_PAGES",
        100,
        Int(1, 1000),
        "an uploaded deck with more pages or slides than this fails at `generating_content`",
        group="limits",
    )
    deck_max_pixels: int = setting(
        "VIDEOFORGE_DECK_MAX_PIXELS",
        25_000_000,
        Int(100_000, 1_000_000_000),
        "a deck page larger than this many pixels at 72 dpi (points x points) is refused",
        group="limits",
    )
    soffice: str = setting(
        "VIDEOFORGE_SOFFICE",
        "",
        Text(),
        "LibreOffice's `soffice`, which converts a PPTX to PDF so its design is kept; empty:"
        " found on `PATH`; `off`: never (slides are drawn from their text and pictures)",
        group="media",
        shown="on `PATH`",
    )
    soffice_timeout: float = setting(
        "VIDEOFORGE_SOFFICE_TIMEOUT",
        120.0,
        Float(5, 3600),
        "seconds LibreOffice may take to convert one deck before the run fails",
        group="media",
    )
    # Any OpenAI-compatible service (OpenAI, Ollama, llama.cpp, vLLM, LM Studio).
    openai_api_key: str = setting(
        "OPENAI_API_KEY",
        "",
        Text(),
        "key of the OpenAI-compatible service; setting it (or `OPENAI_BASE_URL`) enables the"
        " language model",
        group="model",
        secret=True,
    )
    openai_base_url: str = setting(
        "OPENAI_BASE_URL",
        "",
        Text(),
        "e.g. `http://localhost:11434/v1` for Ollama",
        group="model",
        shown="OpenAI",
    )
    text_model: str = setting(
        "VIDEOFORGE_TEXT_MODEL",
        "gpt-4o-mini",
        Text(),
        "chat model that writes slides and narration",
        group="model",
    )
    speech: str = setting(
        "VIDEOFORGE_SPEECH",
        "auto",
        Choice("auto", "piper", "openai"),
        "who speaks the narration; `auto`: the service's speech when a key is set, else Piper",
        group="model",
    )
    speech_model: str = setting(
        "VIDEOFORGE_SPEECH_MODEL",
        "gpt-4o-mini-tts",
        Text(),
        "the service's speech model",
        group="model",
    )
    speech_voice: str = setting(
        "VIDEOFORGE_SPEECH_VOICE",
        "alloy",
        Text(),
        "the service's default voice; a request may name another",
        group="model",
    )
    image_model: str = setting(
        "VIDEOFORGE_IMAGE_MODEL",
        "",
        Text(),
        "image model for slides that ask for a picture (e.g. `gpt-image-1`)",
        group="model",
    )
    openai_timeout: float = setting(
        "VIDEOFORGE_OPENAI_TIMEOUT",
        60.0,
        Float(1, 3600),
        "seconds a request to the service may take",
        group="model",
    )
    openai_retries: int = setting(
        "VIDEOFORGE_OPENAI_RETRIES",
        4,
        Int(0, 20),
        "retries of a request answered with 429 or 5xx or timed out",
        group="model",
    )
    log_level: str = setting(
        "VIDEOFORGE_LOG_LEVEL", "INFO", UpperText(), "logging level", group="service"
    )

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Build settings from an environment mapping; the only reader of os.environ."""
        values = {}
        for f in dataclasses.fields(cls):
            row: Setting = f.metadata["setting"]
            values[f.name] = row.parser(row.env, env.get(row.env), f.default)
        return cls(**values)

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
        """Return the configured secrets (the table's secret settings that are set)."""
        rows = (f for f in dataclasses.fields(self) if f.metadata["setting"].secret)
        return tuple(value for f in rows if (value := getattr(self, f.name)))

    @property
    def runs_dir(self) -> Path:
        return self.data_dir / "runs"

    @property
    def videos_dir(self) -> Path:
        return self.data_dir / "videos"

    @property
    def cache_dir(self) -> Path:
        return self.data_dir / "cache"

    @property
    def uploads_dir(self) -> Path:
        return self.data_dir / "uploads"

    @property
    def soffice_off(self) -> bool:
        """Say whether VIDEOFORGE_SOFFICE turns LibreOffice off (`off`, `none`, `0`, `false`)."""
        return self.soffice.lower() in ("off", "none", "0", "false")

    @property
    def soffice_command(self) -> str:
        """Return LibreOffice's soffice that converts PPTX decks, "" when off or not installed."""
        if self.soffice_off:
            return ""
        return self.soffice or shutil.which("soffice") or ""

    @property
    def deck_max_bytes(self) -> int:
        return self.deck_max_mb * 1000 * 1000


# --- the README tables ---------------------------------------------------------------------


def settings_rows(group: str | None = None) -> list[tuple[dataclasses.Field, Setting]]:
    """Return (field, row) for every setting, or for one group's, in declaration order."""
    pairs = [(f, f.metadata["setting"]) for f in dataclasses.fields(Settings)]
    return [(f, row) for f, row in pairs if group is None or row.group == group]


def shown_default(value: object, row: Setting) -> str:
    """Return how the README shows a setting's default."""
    if row.shown is not None:
        return row.shown
    if isinstance(value, bool):
        return f"`{int(value)}`"
    if row.secret or value in ("", ()):
        return "unset"
    if isinstance(value, tuple):
        value = ",".join(value)
    elif isinstance(value, float):
        value = repr(value).removesuffix(".0")  # 2.0 reads as 2, as people write it
    return f"`{value}`"


def settings_table(group: str) -> str:
    """Render one group's README table: variable, default, meaning."""
    if group not in GROUPS:
        raise ValueError(f"unknown group {group!r}; one of {', '.join(GROUPS)}")
    lines = ["| variable | default | meaning |", "| --- | --- | --- |"]
    for f, row in settings_rows(group):
        accepts = row.parser.describe()
        meaning = f"{row.help} ({accepts})" if accepts else row.help
        lines.append(f"| `{row.env}` | {shown_default(f.default, row)} | {meaning} |")
    return "\n".join(lines) + "\n"
