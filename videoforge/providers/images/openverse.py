"""Openverse: openly licensed images, downloaded through the API's own thumbnail proxy."""

from __future__ import annotations

import re
from urllib.parse import urlencode

from ...core.types import Size
from ..fetch import MAX_PIXELS, SafeFetcher
from .api import ApiSource, Hit, text_at

# Images come through the API's thumbnail proxy (/v1/images/{id}/thumb/), so one host
# suffices however many sites the originals live on.
OPENVERSE_HOSTS = ("api.openverse.org",)

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


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


class Openverse(ApiSource):
    """Search Openverse (openly licensed images) and download through its thumbnail proxy.

    Search: GET {base_url}/v1/images/?q=...&page_size=5&license_type=all-cc. Each result's
    id gives {base_url}/v1/images/{id}/thumb/?full_size=true&compressed=true, which Openverse
    serves itself, so the fetcher only needs api.openverse.org.
    """

    name = "openverse"
    hosts = OPENVERSE_HOSTS

    def __init__(
        self,
        fetcher: SafeFetcher,
        *,
        base_url: str = "https://api.openverse.org",
        license_type: str = "all-cc",
        page_size: int = 5,
        full_size: bool = True,
        max_pixels: int = MAX_PIXELS,
    ):
        super().__init__(fetcher, base_url=base_url, max_pixels=max_pixels)
        self.license_type = license_type
        self.page_size = page_size
        self.full_size = full_size

    def search(self, query: str, size: Size) -> list[Hit]:
        """Return Openverse's results for query, each pointing at its thumbnail proxy URL."""
        params = {"q": query, "page_size": self.page_size, "mature": "false"}
        if self.license_type:
            params["license_type"] = self.license_type
        data = self.fetcher.get_json(f"{self.base_url}/v1/images/?{urlencode(params)}")
        thumb_params = urlencode({"full_size": str(self.full_size).lower(), "compressed": "true"})
        hits = []
        for item in self._list_at(data, "results"):
            identifier = text_at(item, "id")
            if not identifier or not _UUID.match(identifier.lower()):
                continue
            hits.append(
                Hit(
                    url=f"{self.base_url}/v1/images/{identifier.lower()}/thumb/?{thumb_params}",
                    key=identifier,
                    title=text_at(item, "title"),
                    author=text_at(item, "creator"),
                    license=cc_license_name(
                        text_at(item, "license"), text_at(item, "license_version")
                    ),
                    license_url=text_at(item, "license_url"),
                    source_url=text_at(item, "foreign_landing_url"),
                )
            )
        return hits
