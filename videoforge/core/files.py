"""File helpers every floor uses: atomic writes and the length of a WAV file."""

from __future__ import annotations

import json
import os
import uuid
import wave
from pathlib import Path
from typing import Any


def write_text_atomic(path: Path, text: str) -> Path:
    """Write text (UTF-8) to path so that readers see the old file or the new one, never half."""
    path = Path(path)
    tmp = path.with_name(f".tmp-{uuid.uuid4().hex}-{path.name}")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_json_atomic(path: Path, data: Any) -> Path:
    """Write data as indented UTF-8 JSON to path, atomically (see write_text_atomic)."""
    return write_text_atomic(path, json.dumps(data, ensure_ascii=False, indent=2))


def wav_duration(path: Path) -> float:
    """Return the length in seconds of a PCM WAV file, from its frame count and rate."""
    with wave.open(str(path), "rb") as w:
        return w.getnframes() / w.getframerate()


def library_file(library: str, name: str) -> Path:
    """Return the path of file `name` in the media library folder; raise ValueError unless it is one.

    The name must stay inside the folder (no separators, no `..`) and be a file there.
    """
    if not library:
        raise ValueError(
            f"{name!r} names a media library file, but VIDEOFORGE_MEDIA_LIBRARY is not set"
        )
    root = Path(library).resolve()
    path = (root / name).resolve()
    if path.parent != root or not path.is_file():
        raise ValueError(f"there is no file {name!r} in the media library")
    return path


def library_picture(library: str, name: str) -> Path:
    """Return the path of picture `name` in the media library; ValueError unless Pillow reads it."""
    from PIL import Image

    path = library_file(library, name)
    try:
        with Image.open(path) as picture:
            picture.verify()
    except Exception:
        raise ValueError(
            f"{name!r} in the media library is not a picture Pillow can read"
        ) from None
    return path
