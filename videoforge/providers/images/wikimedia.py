"""Wikimedia Commons: files found through the MediaWiki API, downloaded as scaled copies."""

from __future__ import annotations

from collections.abc import Mapping
from html.parser import HTMLParser
from urllib.parse import urlencode

from ...core.errors import ProviderError
from ...core.types import Size
from ..fetch import MAX_PIXELS, SafeFetcher
from .api import ApiSource, Hit, dig, text_at, text_of

WIKIMEDIA_HOSTS = ("commons.wikimedia.org", "upload.wikimedia.org")


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


def _file_title(page_title: str) -> str:
    """Return "Red fox" from "File:Red fox.jpg"."""
    name = page_title.split(":", 1)[-1]
    return name.rsplit(".", 1)[0] if "." in name else name


class WikimediaCommons(ApiSource):
    """Search Wikimedia Commons files through the MediaWiki API and download a scaled copy.

    One request: action=query, generator=search in the File namespace (6) restricted to
    bitmaps, prop=imageinfo with url and extmetadata, and a thumbnail width, so each hit
    carries thumburl (on upload.wikimedia.org), Artist, LicenseShortName and LicenseUrl.
    Wikimedia asks API clients for a User-Agent naming the tool and a contact address; set
    it on the fetcher.
    """

    name = "wikimedia"
    hosts = WIKIMEDIA_HOSTS

    def __init__(
        self,
        fetcher: SafeFetcher,
        *,
        base_url: str = "https://commons.wikimedia.org",
        thumb_width: int = 1600,
        limit: int = 5,
        max_pixels: int = MAX_PIXELS,
    ):
        super().__init__(fetcher, base_url=base_url, max_pixels=max_pixels)
        self.thumb_width = thumb_width
        self.limit = limit

    def search(self, query: str, size: Size) -> list[Hit]:
        """Return the Commons files for query in the search's ranking, with their metadata."""
        params = {
            "action": "query",
            "generator": "search",
            "gsrsearch": f"{query} filetype:bitmap",
            "gsrnamespace": 6,
            "gsrlimit": self.limit,
            "prop": "imageinfo",
            "iiprop": "url|extmetadata",
            "iiurlwidth": self.thumb_width,
            "iiextmetadatafilter": "Artist|LicenseShortName|LicenseUrl|ObjectName",
            "format": "json",
        }
        data = self.fetcher.get_json(f"{self.base_url}/w/api.php?{urlencode(params)}")
        if isinstance(dig(data, "error"), Mapping):
            info = text_at(data, "error", "info") or "unknown error"
            raise ProviderError(self.name, f"API error: {info}")
        pages = dig(data, "query", "pages")
        if pages is None:
            return []  # no hits: MediaWiki leaves out "query" altogether
        if isinstance(pages, Mapping):
            pages = list(pages.values())
        if not isinstance(pages, list):
            raise ProviderError(self.name, "unexpected API answer: query.pages")
        pages = [p for p in pages if isinstance(p, Mapping)]
        pages.sort(key=lambda p: p.get("index") if isinstance(p.get("index"), int) else 1 << 30)
        hits = []
        for page in pages:
            infos = page.get("imageinfo")
            info = infos[0] if isinstance(infos, list) and infos else None
            url = text_at(info, "thumburl") or text_at(info, "url")
            if not url:
                continue
            meta = dig(info, "extmetadata")
            artist = text_at(meta, "Artist", "value")
            license = text_at(meta, "LicenseShortName", "value")
            file_title = text_of(page.get("title")) or ""
            title = text_at(meta, "ObjectName", "value") or _file_title(file_title)
            hits.append(
                Hit(
                    url=url,
                    key=file_title or url,
                    title=strip_html(title),
                    author=strip_html(artist) if artist else None,
                    license=strip_html(license) if license else None,
                    license_url=text_at(meta, "LicenseUrl", "value"),
                    source_url=text_at(info, "descriptionurl"),
                )
            )
        return hits
