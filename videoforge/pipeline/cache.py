"""A content-addressed store of stage outputs (speech, slide images, videos) on disk."""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path

logger = logging.getLogger(__name__)

_KEY = re.compile(r"[0-9a-f]{64}")
_SUFFIX = re.compile(r"(?:\.[A-Za-z0-9_-]{1,16}){0,3}")


class Cache:
    """Files under root named by a sha256 key: root/ab/abcdef...<suffix>.

    Writers build a file under a unique temporary name in the key's folder and rename it
    into place, so readers see a whole file or none, and two processes storing the same key
    at once both succeed (the later rename wins; the contents are the same by construction).
    Temporary names start with ".tmp-"; ones left by a crash can be deleted at any time.
    A hit (get, get_or_create) sets the entry's mtime to now, so mtimes order entries by
    last use.
    """

    def __init__(self, root: Path):
        self.root = Path(root)

    @staticmethod
    def key(*parts: str | bytes) -> str:
        """Return the hex sha256 of the parts, each prefixed by its length.

        The prefix keeps ("ab", "c") and ("a", "bc") apart. Strings are hashed as UTF-8,
        so "x" and b"x" give the same key.
        """
        digest = hashlib.sha256()
        for part in parts:
            data = part.encode("utf-8") if isinstance(part, str) else bytes(part)
            digest.update(len(data).to_bytes(8, "big"))
            digest.update(data)
        return digest.hexdigest()

    def path(self, key: str, suffix: str) -> Path:
        """Return where the entry for key lives; raise ValueError unless key is a sha256 hex."""
        if not _KEY.fullmatch(key):
            raise ValueError(f"cache keys are 64 lower-case hex digits, not {key[:80]!r}")
        if not _SUFFIX.fullmatch(suffix):
            raise ValueError(f"cache suffixes look like '.wav', not {suffix[:80]!r}")
        return self.root / key[:2] / f"{key}{suffix}"

    def get(self, key: str, suffix: str) -> Path | None:
        """Return the stored file for key, marked as used now, or None when there is none.

        The mark is the file's mtime, so it says when the entry was last written or used:
        retention removes the least recently used entries and keeps those a running run
        used. An entry removed before it could be marked is a miss.
        """
        path = self.path(key, suffix)
        try:
            if not path.is_file():
                return None
            os.utime(path)
        except FileNotFoundError:  # retention removed it meanwhile
            return None
        return path

    def put(self, key: str, suffix: str, src: Path) -> Path:
        """Copy src into the cache under key (atomically) and return the stored path."""
        dest = self.path(key, suffix)
        tmp = self._temporary(dest)
        try:
            shutil.copyfile(src, tmp)
            os.replace(tmp, dest)
        finally:
            tmp.unlink(missing_ok=True)
        return dest

    def get_or_create(
        self, key: str, suffix: str, make: Callable[[Path], None]
    ) -> tuple[Path, bool]:
        """Return the stored file for key and True, or make it, store it and return False.

        On a miss, make receives a path that does not exist yet, ending in suffix, in the cache's own
        folder; it must create the file there. If make raises, nothing is stored.
        """
        found = self.get(key, suffix)
        if found is not None:
            return found, True
        dest = self.path(key, suffix)
        tmp = self._temporary(dest)
        try:
            make(tmp)
            if not tmp.is_file():
                raise FileNotFoundError(f"the cache maker for {dest.name} did not write {tmp}")
            os.replace(tmp, dest)
        finally:
            tmp.unlink(missing_ok=True)
        logger.debug("cached %s", dest.name)
        return dest, False

    def _temporary(self, dest: Path) -> Path:
        """Return a fresh, unused name next to dest that keeps dest's suffix."""
        dest.parent.mkdir(parents=True, exist_ok=True)
        return dest.with_name(f".tmp-{uuid.uuid4().hex}-{dest.name}")
