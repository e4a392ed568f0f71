"""What the API sources share: a search hit, the one download routine, and their base class.

A source subclasses ``ApiSource``: it names itself and its hosts and writes ``search``, the
API request and the reading of its answer into ``Hit``s. ``ApiSource.find`` then downloads
the hits in order with ``download`` and keeps the first picture that passes the fetcher's
checks. The work-file name and the metadata clean-up here serve the local library too.
"""

from __future__ import annotations

import hashlib
import logging
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from ...core.errors import ProviderError
from ...core.types import FoundImage, Size
from ..fetch import SafeFetcher

logger = logging.getLogger(__name__)


def text_of(value: object) -> str | None:
    """Return value as a stripped string, or None when it is empty or not a string."""
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        cleaned = " ".join(str(value).split())
        return cleaned or None
    return None


def dig(data: object, *keys: str) -> object:
    """Return data[k1][k2]... through nested objects, or None where a level is missing."""
    for key in keys:
        if not isinstance(data, Mapping):
            return None
        data = data.get(key)
    return data


def text_at(data: object, *keys: str) -> str | None:
    """Return the text at data[k1][k2]... of an API answer, or None (``text_of`` of ``dig``)."""
    return text_of(dig(data, *keys))


def work_file(workdir: Path, source: str, key: str) -> Path:
    """Return the PNG under workdir for one result of a source, named after a digest of key."""
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]
    return workdir / f"{source}-{digest}.png"


def orientation(size: Size) -> str:
    """Return "landscape", "portrait" or "square" for a slide size."""
    if size.width > size.height:
        return "landscape"
    if size.height > size.width:
        return "portrait"
    return "square"


@dataclass(frozen=True)
class Hit:
    """One search result: where its picture is and what the slide's credit says."""

    url: str  # the picture, on one of the source's hosts
    key: str  # a stable id of the result; names the file in the work folder
    title: str | None = None
    author: str | None = None
    license: str | None = None
    license_url: str | None = None
    source_url: str | None = None  # the page the credit links to
    tracking_url: str | None = None  # Unsplash: requested once the picture is used


def download(
    hit: Hit, *, source: str, fetcher: SafeFetcher, workdir: Path, max_pixels: int
) -> FoundImage:
    """Download hit's picture, check it and save it under workdir; return it with its credit.

    The fetcher refuses hosts outside the source's list, non-public addresses and oversized
    bodies; the bytes must decode as an image of at most max_pixels, saved as an RGB PNG
    named by ``work_file``. Raises ProviderError (the fetcher's FetchError) otherwise.
    """
    path = work_file(workdir, source, hit.key)
    fetcher.get_image(hit.url, path, max_pixels=max_pixels)
    return FoundImage(
        path=path,
        source=source,
        title=hit.title or "",
        author=hit.author,
        license=hit.license,
        license_url=hit.license_url,
        source_url=hit.source_url,
    )


class ApiSource(ABC):
    """An image source behind a search API, reached only through a ``SafeFetcher``.

    ``base_url`` lets tests point the source at a local server; the fetcher must allow
    ``hosts``. The repr shows the base URL only, never a key.
    """

    name: ClassVar[str]
    hosts: ClassVar[tuple[str, ...]]  # the API and wherever its pictures are served

    def __init__(self, fetcher: SafeFetcher, *, base_url: str, max_pixels: int):
        self.fetcher = fetcher
        self.base_url = base_url.rstrip("/")
        self.max_pixels = max_pixels

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r})"

    @classmethod
    def default_hosts(cls) -> tuple[str, ...]:
        """Return the hosts the fetcher must allow for this source."""
        return cls.hosts

    @abstractmethod
    def search(self, query: str, size: Size) -> list[Hit]:
        """Ask the API for query (stripped, not empty) and return its hits, best first."""

    def used(self, hit: Hit) -> None:
        """Tell the API that hit's picture was kept; most APIs do not ask for this."""
        return None

    def find(self, query: str, *, workdir: Path, size: Size) -> FoundImage | None:
        """Return the first hit for query whose picture downloads and decodes, or None.

        Raise a ProviderError carrying the last failure when there were hits and none
        worked, so the finder logs why the source came back empty.
        """
        query = query.strip()
        if not query:
            return None
        hits = self.search(query, size)
        last: ProviderError | None = None
        for hit in hits:
            try:
                found = download(
                    hit,
                    source=self.name,
                    fetcher=self.fetcher,
                    workdir=workdir,
                    max_pixels=self.max_pixels,
                )
            except ProviderError as exc:
                logger.info("%s result %s skipped: %s", self.name, hit.title or hit.url, exc.detail)
                last = exc
                continue
            self.used(hit)
            return found
        if last is not None:
            raise ProviderError(
                self.name, f"none of {len(hits)} results could be used; last: {last.detail}"
            )
        return None

    def _list_at(self, data: object, key: str) -> list:
        """Return the list under key of an API answer, or raise a ProviderError naming the shape."""
        items = dig(data, key)
        if not isinstance(items, list):
            raise ProviderError(self.name, f"unexpected API answer: no {key!r} list")
        return items
