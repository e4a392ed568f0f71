"""Image sources for slides: a local folder, Openverse, Wikimedia Commons, Unsplash, Pexels.

Each source implements ``ImageSource``: ``find(query, workdir=..., size=...)`` returns a
``FoundImage`` (a checked RGB PNG under workdir plus its credit) or None. Network sources
take a ``SafeFetcher`` whose allowed hosts are the source's ``HOSTS`` constant, and a
``base_url`` so tests can point them at a local server. ``ImageFinder`` tries sources in
order and moves on when one fails.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from ..core.errors import ProviderError
from ..core.types import FoundImage, Size
from .base import ImageSource
from .fetch import MiB, SafeFetcher, save_image

logger = logging.getLogger(__name__)

# The hosts each source's fetcher must allow: the API and wherever its images are served.
# Openverse images come through the API's own thumbnail proxy (/v1/images/{id}/thumb/), so
# one host suffices however many sites the originals live on.
OPENVERSE_HOSTS = ("api.openverse.org",)
WIKIMEDIA_HOSTS = ("commons.wikimedia.org", "upload.wikimedia.org")
UNSPLASH_HOSTS = ("api.unsplash.com", "images.unsplash.com")
PEXELS_HOSTS = ("api.pexels.com", "images.pexels.com")

LIBRARY_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp"})
_SIDECAR_MAX_BYTES = 64 * 1024
_STOP_WORDS = frozenset(
    {"a", "an", "and", "at", "for", "in", "of", "on", "or", "the", "to", "with"}
)
_WORD = re.compile(r"[^\W_]+")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


# --- matching words -----------------------------------------------------------------------


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


# --- the local library --------------------------------------------------------------------


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

    def __init__(self, folder: Path, *, max_bytes: int = 15 * MiB, max_pixels: int = 40_000_000):
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
        title = _text(meta.get("title")) or ""
        words = match_words(candidate.stem) | match_words(title)
        for tag in tags if isinstance(tags, list) else []:
            words |= match_words(str(tag))
        return _Entry(
            path=resolved,
            relative=candidate.relative_to(root).as_posix(),
            words=words,
            title=title or candidate.stem,
            author=_text(meta.get("author")),
            license=_text(meta.get("license")) or "local library",
            license_url=_text(meta.get("license_url")),
            source_url=_text(meta.get("source_url")),
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
        out = workdir / f"library-{_digest(entry.relative)}.png"
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


# --- helpers for the API sources ----------------------------------------------------------


def _text(value: object) -> str | None:
    """Return value as a stripped string, or None when it is empty or not a string."""
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        text = " ".join(str(value).split())
        return text or None
    return None


def _dig(data: object, *keys: str) -> object:
    """Return data[k1][k2]... through nested objects, or None where a level is missing."""
    for key in keys:
        if not isinstance(data, Mapping):
            return None
        data = data.get(key)
    return data


def _list_at(source: str, data: object, key: str) -> list:
    """Return the list under key of an API answer, or raise a ProviderError naming the shape."""
    items = _dig(data, key)
    if not isinstance(items, list):
        raise ProviderError(source, f"unexpected API answer: no {key!r} list")
    return items


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _base(url: str) -> str:
    return url.rstrip("/")


class _TextOnly(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def strip_html(markup: str) -> str:
    """Return the visible text of an HTML fragment, entities decoded, spaces collapsed."""
    parser = _TextOnly()
    parser.feed(markup)
    parser.close()
    return " ".join("".join(parser.parts).split())


def cc_license_name(code: str | None, version: str | None) -> str | None:
    """Return a readable licence name from Openverse's code and version ("by-sa", "4.0")."""
    code = (code or "").strip().lower()
    version = (version or "").strip()
    if not code:
        return None
    if code == "cc0":
        name = "CC0"
    elif code == "pdm":
        name = "Public Domain Mark"
    else:
        name = "CC " + code.upper().replace("SAMPLING+", "Sampling+")
    return f"{name} {version}".strip()


def _orientation(size: Size) -> str:
    if size.width > size.height:
        return "landscape"
    if size.height > size.width:
        return "portrait"
    return "square"


def _try_results(
    source: str,
    candidates: Sequence[tuple[str, FoundImage]],
    fetch_one: Callable[[str, Path], object],
) -> FoundImage | None:
    """Return the first candidate whose image downloads and decodes; None when there are none.

    Raise a ProviderError carrying the last failure when there were candidates and none
    worked, so the finder logs why the source came back empty.
    """
    last: ProviderError | None = None
    for url, found in candidates:
        try:
            fetch_one(url, found.path)
        except ProviderError as exc:
            logger.info("%s result %s skipped: %s", source, found.title or url, exc.detail)
            last = exc
            continue
        return found
    if last is not None:
        raise ProviderError(
            source, f"none of {len(candidates)} results could be used; last: {last.detail}"
        )
    return None


# --- Openverse ----------------------------------------------------------------------------


class Openverse:
    """Search Openverse (openly licensed images) and download through its thumbnail proxy.

    Search: GET {base_url}/v1/images/?q=...&page_size=5&license_type=all-cc. Each result's
    id gives {base_url}/v1/images/{id}/thumb/?full_size=true&compressed=true, which Openverse
    serves itself, so the fetcher only needs api.openverse.org.
    """

    name = "openverse"

    def __init__(
        self,
        fetcher: SafeFetcher,
        *,
        base_url: str = "https://api.openverse.org",
        license_type: str = "all-cc",
        page_size: int = 5,
        full_size: bool = True,
        max_pixels: int = 40_000_000,
    ):
        self.fetcher = fetcher
        self.base_url = _base(base_url)
        self.license_type = license_type
        self.page_size = page_size
        self.full_size = full_size
        self.max_pixels = max_pixels

    @staticmethod
    def default_hosts() -> tuple[str, ...]:
        """Return the hosts the fetcher must allow for this source."""
        return OPENVERSE_HOSTS

    def find(self, query: str, *, workdir: Path, size: Size) -> FoundImage | None:
        """Return the first Openverse result for query that downloads and decodes, or None."""
        if not query.strip():
            return None
        params = {"q": query.strip(), "page_size": self.page_size, "mature": "false"}
        if self.license_type:
            params["license_type"] = self.license_type
        data = self.fetcher.get_json(f"{self.base_url}/v1/images/?{urlencode(params)}")
        thumb_params = urlencode({"full_size": str(self.full_size).lower(), "compressed": "true"})
        candidates = []
        for item in _list_at(self.name, data, "results"):
            identifier = _text(_dig(item, "id"))
            if not identifier or not _UUID.match(identifier.lower()):
                continue
            thumb = f"{self.base_url}/v1/images/{identifier.lower()}/thumb/?{thumb_params}"
            found = FoundImage(
                path=workdir / f"openverse-{_digest(identifier)}.png",
                source=self.name,
                title=_text(_dig(item, "title")) or "",
                author=_text(_dig(item, "creator")),
                license=cc_license_name(
                    _text(_dig(item, "license")), _text(_dig(item, "license_version"))
                ),
                license_url=_text(_dig(item, "license_url")),
                source_url=_text(_dig(item, "foreign_landing_url")),
            )
            candidates.append((thumb, found))
        return _try_results(self.name, candidates, self._download)

    def _download(self, url: str, out: Path) -> None:
        self.fetcher.get_image(url, out, max_pixels=self.max_pixels)


# --- Wikimedia Commons --------------------------------------------------------------------


class WikimediaCommons:
    """Search Wikimedia Commons files through the MediaWiki API and download a scaled copy.

    One request: action=query, generator=search in the File namespace (6) restricted to
    bitmaps, prop=imageinfo with url and extmetadata, and a thumbnail width, so each hit
    carries thumburl (on upload.wikimedia.org), Artist, LicenseShortName and LicenseUrl.
    Wikimedia asks API clients for a User-Agent naming the tool and a contact address; set
    it on the fetcher.
    """

    name = "wikimedia"

    def __init__(
        self,
        fetcher: SafeFetcher,
        *,
        base_url: str = "https://commons.wikimedia.org",
        thumb_width: int = 1600,
        limit: int = 5,
        max_pixels: int = 40_000_000,
    ):
        self.fetcher = fetcher
        self.base_url = _base(base_url)
        self.thumb_width = thumb_width
        self.limit = limit
        self.max_pixels = max_pixels

    @staticmethod
    def default_hosts() -> tuple[str, ...]:
        """Return the hosts the fetcher must allow for this source."""
        return WIKIMEDIA_HOSTS

    def find(self, query: str, *, workdir: Path, size: Size) -> FoundImage | None:
        """Return the best-ranked Commons file for query that downloads and decodes, or None."""
        if not query.strip():
            return None
        params = {
            "action": "query",
            "generator": "search",
            "gsrsearch": f"{query.strip()} filetype:bitmap",
            "gsrnamespace": 6,
            "gsrlimit": self.limit,
            "prop": "imageinfo",
            "iiprop": "url|extmetadata",
            "iiurlwidth": self.thumb_width,
            "iiextmetadatafilter": "Artist|LicenseShortName|LicenseUrl|ObjectName",
            "format": "json",
        }
        data = self.fetcher.get_json(f"{self.base_url}/w/api.php?{urlencode(params)}")
        if isinstance(_dig(data, "error"), Mapping):
            info = _text(_dig(data, "error", "info")) or "unknown error"
            raise ProviderError(self.name, f"API error: {info}")
        pages = _dig(data, "query", "pages")
        if pages is None:
            return None  # no hits: MediaWiki leaves out "query" altogether
        if isinstance(pages, Mapping):
            pages = list(pages.values())
        if not isinstance(pages, list):
            raise ProviderError(self.name, "unexpected API answer: query.pages")
        pages = [p for p in pages if isinstance(p, Mapping)]
        pages.sort(key=lambda p: p.get("index") if isinstance(p.get("index"), int) else 1 << 30)
        candidates = []
        for page in pages:
            infos = page.get("imageinfo")
            info = infos[0] if isinstance(infos, list) and infos else None
            url = _text(_dig(info, "thumburl")) or _text(_dig(info, "url"))
            if not url:
                continue
            meta = _dig(info, "extmetadata")
            artist = _text(_dig(meta, "Artist", "value"))
            license = _text(_dig(meta, "LicenseShortName", "value"))
            file_title = _text(page.get("title")) or ""
            title = _text(_dig(meta, "ObjectName", "value")) or _file_title(file_title)
            found = FoundImage(
                path=workdir / f"wikimedia-{_digest(file_title or url)}.png",
                source=self.name,
                title=strip_html(title),
                author=strip_html(artist) if artist else None,
                license=strip_html(license) if license else None,
                license_url=_text(_dig(meta, "LicenseUrl", "value")),
                source_url=_text(_dig(info, "descriptionurl")),
            )
            candidates.append((url, found))
        return _try_results(self.name, candidates, self._download)

    def _download(self, url: str, out: Path) -> None:
        self.fetcher.get_image(url, out, max_pixels=self.max_pixels)


def _file_title(page_title: str) -> str:
    """Return "Red fox" from "File:Red fox.jpg"."""
    name = page_title.split(":", 1)[-1]
    return name.rsplit(".", 1)[0] if "." in name else name


# --- Unsplash -----------------------------------------------------------------------------


class Unsplash:
    """Search Unsplash photos (needs an access key) and download the "regular" size.

    The key goes in ``Authorization: Client-ID <key>`` to the API host only. Following the
    API guidelines, the photo's download_location is requested once the photo is used,
    and the credit link carries utm_source/utm_medium=referral.
    """

    name = "unsplash"

    def __init__(
        self,
        fetcher: SafeFetcher,
        access_key: str,
        *,
        base_url: str = "https://api.unsplash.com",
        per_page: int = 5,
        app_name: str = "videoforge",
        max_pixels: int = 40_000_000,
    ):
        if not access_key:
            raise ValueError("Unsplash needs an access key")
        self.fetcher = fetcher
        self._access_key = access_key
        self.base_url = _base(base_url)
        self.per_page = per_page
        self.app_name = app_name
        self.max_pixels = max_pixels

    def __repr__(self) -> str:
        return f"Unsplash(base_url={self.base_url!r})"  # never show the key

    @staticmethod
    def default_hosts() -> tuple[str, ...]:
        """Return the hosts the fetcher must allow for this source."""
        return UNSPLASH_HOSTS

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Client-ID {self._access_key}", "Accept-Version": "v1"}

    def find(self, query: str, *, workdir: Path, size: Size) -> FoundImage | None:
        """Return the first Unsplash photo for query that downloads and decodes, or None."""
        if not query.strip():
            return None
        params = {
            "query": query.strip(),
            "per_page": self.per_page,
            "content_filter": "high",
            "orientation": {"square": "squarish"}.get(_orientation(size), _orientation(size)),
        }
        data = self.fetcher.get_json(
            f"{self.base_url}/search/photos?{urlencode(params)}", headers=self._auth()
        )
        candidates = []
        tracking: dict[Path, str] = {}
        for item in _list_at(self.name, data, "results"):
            url = _text(_dig(item, "urls", "regular"))
            if not url:
                continue
            page = _text(_dig(item, "links", "html"))
            found = FoundImage(
                path=workdir / f"unsplash-{_digest(_text(_dig(item, 'id')) or url)}.png",
                source=self.name,
                title=_text(_dig(item, "description"))
                or _text(_dig(item, "alt_description"))
                or "",
                author=_text(_dig(item, "user", "name")),
                license="Unsplash License",
                license_url="https://unsplash.com/license",
                source_url=_with_utm(page, self.app_name) if page else None,
            )
            location = _text(_dig(item, "links", "download_location"))
            if location:
                tracking[found.path] = location
            candidates.append((url, found))
        found = _try_results(self.name, candidates, self._download)
        if found is not None and found.path in tracking:
            self._track_download(tracking[found.path])
        return found

    def _download(self, url: str, out: Path) -> None:
        self.fetcher.get_image(url, out, max_pixels=self.max_pixels)

    def _track_download(self, location: str) -> None:
        """Tell Unsplash the photo was used, as its API guidelines require; never fatal."""
        if urlsplit(location).hostname != urlsplit(self.base_url).hostname:
            logger.warning("unsplash download_location is not on the API host; not requested")
            return
        try:
            self.fetcher.get_json(location, headers=self._auth())
        except ProviderError as exc:
            logger.warning("unsplash download tracking failed: %s", exc.detail)


def _with_utm(url: str, app_name: str) -> str:
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}{urlencode({'utm_source': app_name, 'utm_medium': 'referral'})}"


# --- Pexels -------------------------------------------------------------------------------


class Pexels:
    """Search Pexels photos (needs an API key) and download the large2x size."""

    name = "pexels"

    def __init__(
        self,
        fetcher: SafeFetcher,
        api_key: str,
        *,
        base_url: str = "https://api.pexels.com",
        per_page: int = 5,
        max_pixels: int = 40_000_000,
    ):
        if not api_key:
            raise ValueError("Pexels needs an API key")
        self.fetcher = fetcher
        self._api_key = api_key
        self.base_url = _base(base_url)
        self.per_page = per_page
        self.max_pixels = max_pixels

    def __repr__(self) -> str:
        return f"Pexels(base_url={self.base_url!r})"  # never show the key

    @staticmethod
    def default_hosts() -> tuple[str, ...]:
        """Return the hosts the fetcher must allow for this source."""
        return PEXELS_HOSTS

    def find(self, query: str, *, workdir: Path, size: Size) -> FoundImage | None:
        """Return the first Pexels photo for query that downloads and decodes, or None."""
        if not query.strip():
            return None
        params = {
            "query": query.strip(),
            "per_page": self.per_page,
            "orientation": _orientation(size),
        }
        data = self.fetcher.get_json(
            f"{self.base_url}/v1/search?{urlencode(params)}",
            headers={"Authorization": self._api_key},
        )
        candidates = []
        for item in _list_at(self.name, data, "photos"):
            url = _text(_dig(item, "src", "large2x"))
            if not url:
                continue
            found = FoundImage(
                path=workdir / f"pexels-{_digest(_text(_dig(item, 'id')) or url)}.png",
                source=self.name,
                title=_text(_dig(item, "alt")) or "",
                author=_text(_dig(item, "photographer")),
                license="Pexels License",
                license_url="https://www.pexels.com/license/",
                source_url=_text(_dig(item, "url")),
            )
            candidates.append((url, found))
        return _try_results(self.name, candidates, self._download)

    def _download(self, url: str, out: Path) -> None:
        self.fetcher.get_image(url, out, max_pixels=self.max_pixels)


# --- trying sources in order --------------------------------------------------------------


class ImageFinder:
    """Try image sources in order; a failing source is logged and the next one tried."""

    name = "finder"

    def __init__(self, sources: Sequence[ImageSource]):
        self.sources = tuple(sources)

    def find(self, query: str, *, workdir: Path, size: Size) -> FoundImage | None:
        """Return the first source's picture for query, or None when no source has one."""
        for source in self.sources:
            try:
                found = source.find(query, workdir=workdir, size=size)
            except ProviderError as exc:
                # exc.detail never holds keys: fetch errors show URLs without their query.
                logger.warning("image source %s failed for %r: %s", source.name, query, exc.detail)
                continue
            if found is not None:
                logger.info("image for %r from %s: %s", query, source.name, found.attribution)
                return found
        return None
