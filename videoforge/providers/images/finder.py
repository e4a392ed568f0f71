"""ImageFinder: the image sources tried in the settings' order."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from ...core.errors import ProviderError
from ...core.types import FoundImage, Size
from ..base import ImageSource

logger = logging.getLogger(__name__)


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
