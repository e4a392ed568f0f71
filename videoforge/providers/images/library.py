"""The local library: pictures in a folder, matched by file name, tags and title."""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ...core.errors import ProviderError
from ...core.types import FoundImage, Size
from ..fetch import MAX_IMAGE_BYTES, MAX_PIXELS, save_image
from .api import text_of, work_file

logger = logging.getLogger(__name__)

LIBRARY_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp"})
_SIDECAR_MAX_BYTES = 64 * 1024
_STOP_WORDS = frozenset(
    {"a", "an", "and", "at", "for", "in", "of", "on", "or", "the", "to", "with"}
)
_WORD = re.compile(r"[^\W_]+")


def _stem(word: str) -> str:
    """Return a crude singular of an English word: "berries" -> "berry", "boxes" -> "box"."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("ches", "shes", "xes", "sses", "zes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def match_words(text: str) -> frozenset[str]:
    """Return the comparable words of text: lower-cased, split on non-letters, stemmed."""
    words = _WORD.findall(text.casefold())
    return frozenset(_stem(w) for w in words if w not in _STOP_WORDS)


@dataclass(frozen=True)
class _Entry:
    path: Path  # the resolved file, inside the library folder
    relative: str  # its name relative to the folder, for ties and messages
    words: frozenset[str]
    title: str
    author: str | None
    license: str
    license_url: str | None
    source_url: str | None


class LocalLibrary:
    """Pick a picture from a folder by matching the query against file names and tags.

    A file ``photo.jpg`` may have a sidecar ``photo.json`` ({"tags": [...], "title",
    "author", "license", "license_url", "source_url"}) or ``photo.txt`` (one tag a line).
    The best match has the most query words in common with the name, tags and title; ties
    go to the alphabetically first name. A query equal to a file name picks that file.
    Files (or links) resolving outside the folder are ignored.
    """

    name = "library"

    def __init__(
        self, folder: Path, *, max_bytes: int = MAX_IMAGE_BYTES, max_pixels: int = MAX_PIXELS
    ):
        self.folder = Path(folder)
        self.max_bytes = max_bytes
        self.max_pixels = max_pixels

    @staticmethod
    def default_hosts() -> tuple[str, ...]:
        """Return the hosts this source needs: none, it is offline."""
        return ()

    def find(self, query: str, *, workdir: Path, size: Size) -> FoundImage | None:
        """Return the best-matching library picture converted to PNG, or None."""
        wanted = match_words(query)
        if not wanted:
            return None
        entries = list(self._entries())
        exact = query.strip().casefold()
        ranked = sorted(
            (
                (
                    exact in (e.relative.casefold(), e.relative.rsplit("/", 1)[-1].casefold()),
                    len(wanted & e.words),
                    e,
                )
                for e in entries
            ),
            key=lambda t: (-t[0], -t[1], t[2].relative),
        )
        last_error: ProviderError | None = None
        for is_exact, score, entry in ranked:
            if not (is_exact or score):
                break
            try:
                return self._load(entry, workdir)
            except ProviderError as exc:
                logger.warning("library image %s is unusable: %s", entry.relative, exc.detail)
                last_error = exc
        if last_error is not None:
            raise ProviderError(self.name, f"no usable match for {query!r}: {last_error.detail}")
        return None

    def _entries(self) -> Iterator[_Entry]:
        try:
            root = self.folder.resolve(strict=True)
        except OSError:
            raise ProviderError(
                self.name, f"image library folder {str(self.folder)!r} does not exist"
            ) from None
        for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
            dirnames.sort()
            for filename in sorted(filenames):
                candidate = Path(dirpath) / filename
                if candidate.suffix.lower() not in LIBRARY_EXTENSIONS:
                    continue
                resolved = _inside(candidate, root)
                if resolved is None:
                    logger.warning("library file %s points outside %s; ignored", candidate, root)
                    continue
                yield self._entry(candidate, resolved, root)

    def _entry(self, candidate: Path, resolved: Path, root: Path) -> _Entry:
        meta = _read_sidecar(candidate, root)
        tags = meta.get("tags") or []
        title = text_of(meta.get("title")) or ""
        words = match_words(candidate.stem) | match_words(title)
        for tag in tags if isinstance(tags, list) else []:
            words |= match_words(str(tag))
        return _Entry(
            path=resolved,
            relative=candidate.relative_to(root).as_posix(),
            words=words,
            title=title or candidate.stem,
            author=text_of(meta.get("author")),
            license=text_of(meta.get("license")) or "local library",
            license_url=text_of(meta.get("license_url")),
            source_url=text_of(meta.get("source_url")),
        )

    def _load(self, entry: _Entry, workdir: Path) -> FoundImage:
        try:
            with entry.path.open("rb") as fh:
                data = fh.read(self.max_bytes + 1)
        except OSError as exc:
            raise ProviderError(self.name, f"cannot read {entry.relative}: {exc}") from None
        if len(data) > self.max_bytes:
            raise ProviderError(
                self.name, f"{entry.relative} is over the {self.max_bytes}-byte limit"
            )
        out = work_file(workdir, self.name, entry.relative)
        save_image(data, out, max_pixels=self.max_pixels, origin=entry.relative)
        return FoundImage(
            path=out,
            source=self.name,
            title=entry.title,
            author=entry.author,
            license=entry.license,
            license_url=entry.license_url,
            source_url=entry.source_url,
        )


def _inside(path: Path, root: Path) -> Path | None:
    """Return path resolved if it is a regular file inside root (after links), else None."""
    try:
        resolved = path.resolve(strict=True)
    except (OSError, RuntimeError):  # dangling link or a link loop
        return None
    if not resolved.is_relative_to(root) or not resolved.is_file():
        return None
    return resolved


def _read_sidecar(image: Path, root: Path) -> dict:
    """Return the metadata of image's .json or .txt sidecar, or {} when there is none."""
    for suffix in (".json", ".txt"):
        sidecar = image.with_suffix(suffix)
        if not sidecar.exists() or _inside(sidecar, root) is None:
            continue
        try:
            with sidecar.open("rb") as fh:
                raw = fh.read(_SIDECAR_MAX_BYTES).decode("utf-8")
            if suffix == ".txt":
                return {"tags": [line.strip() for line in raw.splitlines() if line.strip()]}
            meta = json.loads(raw)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            logger.warning("library sidecar %s is unreadable, ignored: %s", sidecar.name, exc)
            return {}
        if isinstance(meta, dict):
            return meta
        logger.warning("library sidecar %s is not a JSON object, ignored", sidecar.name)
        return {}
    return {}
