"""Pexels: photos found with an API key, downloaded in the large2x size."""

from __future__ import annotations

from urllib.parse import urlencode

from ...core.types import Size
from ..fetch import MAX_PIXELS, SafeFetcher
from .api import ApiSource, Hit, orientation, text_at

PEXELS_HOSTS = ("api.pexels.com", "images.pexels.com")


class Pexels(ApiSource):
    """Search Pexels photos (needs an API key) and download the large2x size."""

    name = "pexels"
    hosts = PEXELS_HOSTS

    def __init__(
        self,
        fetcher: SafeFetcher,
        api_key: str,
        *,
        base_url: str = "https://api.pexels.com",
        per_page: int = 5,
        max_pixels: int = MAX_PIXELS,
    ):
        if not api_key:
            raise ValueError("Pexels needs an API key")
        super().__init__(fetcher, base_url=base_url, max_pixels=max_pixels)
        self._api_key = api_key
        self.per_page = per_page

    def search(self, query: str, size: Size) -> list[Hit]:
        """Return Pexels' photos for query in the slide's orientation."""
        params = {"query": query, "per_page": self.per_page, "orientation": orientation(size)}
        data = self.fetcher.get_json(
            f"{self.base_url}/v1/search?{urlencode(params)}",
            headers={"Authorization": self._api_key},
        )
        hits = []
        for item in self._list_at(data, "photos"):
            url = text_at(item, "src", "large2x")
            if not url:
                continue
            hits.append(
                Hit(
                    url=url,
                    key=text_at(item, "id") or url,
                    title=text_at(item, "alt"),
                    author=text_at(item, "photographer"),
                    license="Pexels License",
                    license_url="https://www.pexels.com/license/",
                    source_url=text_at(item, "url"),
                )
            )
        return hits
