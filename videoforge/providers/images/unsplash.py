"""Unsplash: photos found with an access key; each photo used is reported back to the API."""

from __future__ import annotations

import logging
from urllib.parse import urlencode, urlsplit

from ...core.errors import ProviderError
from ...core.types import Size
from ..fetch import MAX_PIXELS, SafeFetcher
from .api import ApiSource, Hit, orientation, text_at

logger = logging.getLogger(__name__)

UNSPLASH_HOSTS = ("api.unsplash.com", "images.unsplash.com")


def _with_utm(url: str, app_name: str) -> str:
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}{urlencode({'utm_source': app_name, 'utm_medium': 'referral'})}"


class Unsplash(ApiSource):
    """Search Unsplash photos (needs an access key) and download the "regular" size.

    The key goes in ``Authorization: Client-ID <key>`` to the API host only. Following the
    API guidelines, the photo's download_location is requested once the photo is used,
    and the credit link carries utm_source/utm_medium=referral.
    """

    name = "unsplash"
    hosts = UNSPLASH_HOSTS

    def __init__(
        self,
        fetcher: SafeFetcher,
        access_key: str,
        *,
        base_url: str = "https://api.unsplash.com",
        per_page: int = 5,
        app_name: str = "videoforge",
        max_pixels: int = MAX_PIXELS,
    ):
        if not access_key:
            raise ValueError("Unsplash needs an access key")
        super().__init__(fetcher, base_url=base_url, max_pixels=max_pixels)
        self._access_key = access_key
        self.per_page = per_page
        self.app_name = app_name

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Client-ID {self._access_key}", "Accept-Version": "v1"}

    def search(self, query: str, size: Size) -> list[Hit]:
        """Return Unsplash's photos for query in the slide's orientation, "regular" size."""
        shape = orientation(size)
        params = {
            "query": query,
            "per_page": self.per_page,
            "content_filter": "high",
            "orientation": "squarish" if shape == "square" else shape,
        }
        data = self.fetcher.get_json(
            f"{self.base_url}/search/photos?{urlencode(params)}", headers=self._auth()
        )
        hits = []
        for item in self._list_at(data, "results"):
            url = text_at(item, "urls", "regular")
            if not url:
                continue
            page = text_at(item, "links", "html")
            hits.append(
                Hit(
                    url=url,
                    key=text_at(item, "id") or url,
                    title=text_at(item, "description") or text_at(item, "alt_description"),
                    author=text_at(item, "user", "name"),
                    license="Unsplash License",
                    license_url="https://unsplash.com/license",
                    source_url=_with_utm(page, self.app_name) if page else None,
                    tracking_url=text_at(item, "links", "download_location"),
                )
            )
        return hits

    def used(self, hit: Hit) -> None:
        """Tell Unsplash the photo was used, as its API guidelines require; never fatal."""
        location = hit.tracking_url
        if not location:
            return
        if urlsplit(location).hostname != urlsplit(self.base_url).hostname:
            logger.warning("unsplash download_location is not on the API host; not requested")
            return
        try:
            self.fetcher.get_json(location, headers=self._auth())
        except ProviderError as exc:
            logger.warning("unsplash download tracking failed: %s", exc.detail)
