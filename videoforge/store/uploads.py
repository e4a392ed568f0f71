"""Uploaded decks: kept in the data directory's `uploads/`, and in the bucket when there is one.

The web process streams a multipart request's file here (hashing it and reading its first
bytes for its kind, nothing more); a worker finds it by name, on this machine or, across
machines, in the bucket. A file is stored once under its SHA-256, so the same deck sent
twice is one file, and a name can never be chosen by a client.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from ..core.decks import SNIFF_BYTES, DeckFile, clean_name, sniff_deck
from ..core.errors import InvalidRequest, PayloadTooLarge, UnsupportedMediaType
from .objects import CHUNK, S3Artifacts

log = logging.getLogger(__name__)

AREA = "uploads"


class Uploads:
    """Store decks as they arrive, and hand a worker the file of a stored one."""

    def __init__(self, folder: Path, bucket: S3Artifacts | None = None):
        self.folder = folder
        self.bucket = bucket

    def save(
        self, read: Callable[[int], bytes], name: str | None, limit: int
    ) -> tuple[DeckFile, bool]:
        """Store the file `read` yields (at most `limit` bytes); 413 past it, 415 unless a deck.

        The kind comes from the bytes: a PDF, or a zip (which the worker checks is a
        presentation); a file named .pdf that is neither is refused here. Returns the deck
        and whether its file is new here (the same bytes may have come before).
        """
        self.folder.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        head = b""
        size = 0
        fd, tmp = tempfile.mkstemp(prefix=".upload-", dir=self.folder)
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := read(CHUNK):
                    size += len(chunk)
                    if size > limit:
                        raise PayloadTooLarge(
                            f"the deck is larger than {limit:,} bytes (VIDEOFORGE_DECK_MAX_MB)"
                        )
                    if len(head) < SNIFF_BYTES:
                        head += chunk[: SNIFF_BYTES - len(head)]
                    digest.update(chunk)
                    out.write(chunk)
            if size == 0:
                raise InvalidRequest("the 'deck' file is empty")
            kind = sniff_deck(head)
            if kind is None:
                raise UnsupportedMediaType(
                    "the deck must be a PDF or a PowerPoint (.pptx) file, told by its bytes,"
                    f" not its name; this one starts with {head[:8]!r}"
                )
            stored = DeckFile(f"{digest.hexdigest()}.{kind}", kind, clean_name(name), size)
            final = self.folder / stored.file
            try:
                os.link(tmp, final)  # only if absent: says exactly whether this request made it
                new = True
            except FileExistsError:
                os.utime(final)  # the same bytes again: stored now, as retention sees it
                new = False
            except OSError:  # a file system without hard links
                new = not final.exists()
                os.replace(tmp, final)
        finally:
            Path(tmp).unlink(missing_ok=True)
        log.info("stored an uploaded %s deck of %d bytes as %s", kind, size, stored.file)
        return stored, new

    def publish(self, deck: DeckFile) -> None:
        """Put a stored deck where every worker finds it: the bucket, when there is one."""
        if self.bucket is not None:
            self.bucket.upload(self.folder / deck.file, AREA, deck.file)

    def discard(self, deck: DeckFile) -> None:
        """Remove a deck stored for a request that was then refused."""
        (self.folder / deck.file).unlink(missing_ok=True)

    def path(self, deck: DeckFile) -> Path:
        """Return the local file of a stored deck, fetched from the bucket if it is not here.

        Raises FileNotFoundError when neither has it (pruned, or another machine's disk).
        """
        local = self.folder / deck.file
        if local.is_file():
            return local
        blob = self.bucket.find(AREA, deck.file) if self.bucket is not None else None
        if blob is None:
            raise FileNotFoundError(deck.file)
        self.folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".fetch-", dir=self.folder)
        digest = hashlib.sha256()
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in blob.read(0, blob.size):
                    digest.update(chunk)
                    out.write(chunk)
            if f"{digest.hexdigest()}.{deck.kind}" != deck.file:
                raise FileNotFoundError(f"{deck.file} (the stored copy does not match its hash)")
            os.replace(tmp, local)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return local
