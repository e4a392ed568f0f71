"""Where a run's artifacts live for the web to serve: the data directory, or an S3 bucket.

Both hold the same layout under two areas: `videos/{name}.mp4` and
`runs/{run id}/{attempt}/{file}` (stills under `slides/`). `LocalArtifacts` reads the data
directory as before; `S3Artifacts` reads and writes objects in an S3-compatible bucket (AWS
S3, MinIO, Cloudflare R2, ...) through boto3, with credentials from the usual AWS variables.
An object only exists once its upload (a single PUT, or a multipart upload once completed)
has finished, so a partial object is never visible; the worker records a run as completed
only after its uploads.
"""

from __future__ import annotations

import logging
import mimetypes
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ..core.errors import NotFound, StorageError
from ..core.settings import Settings

log = logging.getLogger(__name__)

AREAS = ("videos", "runs", "uploads")
CHUNK = 256 * 1024
_TYPES = {
    ".mp4": "video/mp4",
    ".json": "application/json",
    ".vtt": "text/vtt; charset=utf-8",
    ".srt": "application/x-subrip; charset=utf-8",
    ".jpg": "image/jpeg",
    ".png": "image/png",
    ".pdf": "application/pdf",
    ".wav": "audio/wav",
}


class Blob(Protocol):
    """One stored file: its size, its bytes by range, and where a client may fetch it itself."""

    size: int
    suffix: str

    def read(self, start: int, length: int) -> Iterator[bytes]: ...

    def text(self) -> str: ...

    def url(self, content_type: str, download_as: str | None = None) -> str | None: ...


class Artifacts(Protocol):
    """A place holding the videos and run files the web serves."""

    def find(self, area: str, *parts: str) -> Blob | None: ...

    def has_folder(self, area: str, *parts: str) -> bool: ...


def _check(area: str, parts: tuple[str, ...]) -> None:
    """Refuse an area or a part that could leave its folder or prefix."""
    if area not in AREAS:
        raise NotFound("no such file")
    for part in parts:
        if part in ("", ".", "..") or any(c in part for c in "/\\\0"):
            raise NotFound("no such file")


# --- the data directory ------------------------------------------------------------------------


def inside(root: Path, *parts: str) -> Path:
    """Join parts under root and refuse any result that escapes it (symlinks resolved)."""
    base = root.resolve()
    path = base.joinpath(*parts).resolve()
    if path != base and base not in path.parents:
        raise NotFound("no such file")
    return path


@dataclass
class LocalBlob:
    """A file in the data directory."""

    path: Path
    size: int

    @property
    def suffix(self) -> str:
        return self.path.suffix

    def read(self, start: int, length: int) -> Iterator[bytes]:
        """Yield `length` bytes from `start`, in chunks."""
        with self.path.open("rb") as f:
            f.seek(start)
            while length > 0:
                chunk = f.read(min(CHUNK, length))
                if not chunk:
                    return
                length -= len(chunk)
                yield chunk

    def text(self) -> str:
        return self.path.read_text(encoding="utf-8")

    def url(self, content_type: str, download_as: str | None = None) -> str | None:
        return None


class LocalArtifacts:
    """The data directory's `videos/` and `runs/` folders (the default)."""

    def __init__(self, videos_dir: Path, runs_dir: Path):
        self.roots = {"videos": videos_dir, "runs": runs_dir}

    def find(self, area: str, *parts: str) -> LocalBlob | None:
        """Return the file at area/parts, None when absent; NotFound for a path escaping it."""
        if area not in AREAS:
            raise NotFound("no such file")
        path = inside(self.roots[area], *parts)
        if not path.is_file():
            return None
        return LocalBlob(path, path.stat().st_size)

    def has_folder(self, area: str, *parts: str) -> bool:
        if area not in AREAS:
            raise NotFound("no such file")
        return inside(self.roots[area], *parts).is_dir()


# --- S3-compatible object storage ----------------------------------------------------------


@dataclass
class S3Blob:
    """An object in the bucket."""

    store: S3Artifacts
    key: str
    size: int

    @property
    def suffix(self) -> str:
        name = self.key.rsplit("/", 1)[-1]
        return name[name.rfind(".") :] if "." in name else ""

    def read(self, start: int, length: int) -> Iterator[bytes]:
        """Yield `length` bytes from `start`, fetched with one ranged GET."""
        if length <= 0:
            return
        answer = self.store.call(
            "get_object",
            Bucket=self.store.bucket,
            Key=self.key,
            Range=f"bytes={start}-{start + length - 1}",
        )
        body = answer["Body"]
        try:
            yield from body.iter_chunks(CHUNK)
        finally:
            body.close()

    def text(self) -> str:
        answer = self.store.call("get_object", Bucket=self.store.bucket, Key=self.key)
        return answer["Body"].read().decode("utf-8")

    def url(self, content_type: str, download_as: str | None = None) -> str | None:
        """Return a presigned GET URL when the store redirects, else None (stream it)."""
        if self.store.presign_seconds <= 0:
            return None
        params: dict[str, Any] = {
            "Bucket": self.store.bucket,
            "Key": self.key,
            "ResponseContentType": content_type,
        }
        if download_as:
            params["ResponseContentDisposition"] = f'attachment; filename="{download_as}"'
        return self.store.client.generate_presigned_url(
            "get_object", Params=params, ExpiresIn=int(self.store.presign_seconds)
        )


class Throttle:
    """Hold uploads to a rate: called with each chunk's size as it is sent, it sleeps as needed.

    One per process, shared by its uploads (boto3 calls it from its sending threads).
    """

    def __init__(
        self,
        bytes_per_second: float,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.rate = float(bytes_per_second)
        self.sleep = sleep
        self.clock = clock
        self.lock = threading.Lock()
        self.free_at = 0.0  # the monotonic time the bytes sent so far are paid for

    def __call__(self, sent: int) -> None:
        if sent <= 0:  # a retried request rewinds its body with a negative amount
            return
        with self.lock:
            now = self.clock()
            self.free_at = max(self.free_at, now) + sent / self.rate
            wait = self.free_at - now
        if wait > 0:
            self.sleep(wait)


class S3Artifacts:
    """Artifacts in an S3-compatible bucket, under a key prefix."""

    def __init__(
        self,
        bucket: str,
        *,
        prefix: str = "",
        endpoint_url: str = "",
        region: str = "",
        presign_seconds: float = 0,
        part_mb: int = 8,
        max_bandwidth: int = 0,
        client: Any = None,
    ):
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.presign_seconds = presign_seconds
        self.part_bytes = part_mb * 1024 * 1024
        self.max_bandwidth = max_bandwidth
        self.throttle = Throttle(max_bandwidth) if max_bandwidth else None
        self.endpoint_url = endpoint_url
        if client is None:
            import boto3
            from botocore.config import Config

            config = Config(
                retries={"max_attempts": 5, "mode": "standard"},
                signature_version="s3v4",
                connect_timeout=10,
                read_timeout=60,
                # MinIO and most self-hosted servers want bucket names in the path.
                s3={"addressing_style": "path" if endpoint_url else "auto"},
            )
            client = boto3.session.Session().client(
                "s3", endpoint_url=endpoint_url or None, region_name=region or None, config=config
            )
        self.client = client

    @classmethod
    def from_settings(cls, settings: Settings) -> S3Artifacts:
        return cls(
            settings.s3_bucket,
            prefix=settings.s3_prefix,
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            presign_seconds=settings.s3_presign_seconds,
            part_mb=settings.s3_part_mb,
            max_bandwidth=settings.s3_max_bandwidth,
        )

    def describe(self) -> str:
        where = f" at {self.endpoint_url}" if self.endpoint_url else ""
        return f"s3://{self.bucket}/{self.prefix}{where}"

    def key(self, area: str, *parts: str) -> str:
        """Return the object key of area/parts; NotFound for a part that could leave its prefix."""
        _check(area, parts)
        return self.prefix + "/".join((area, *parts))

    def call(self, method: str, **kwargs: Any) -> Any:
        """Call the client (boto3 retries throttling and 5xx); failures become StorageError.

        A missing object is FileNotFoundError. The error's detail names no bucket or
        endpoint (it may reach a client); the log has them.
        """
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self.client, method)(**kwargs)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in ("404", "NoSuchKey", "NotFound"):
                raise FileNotFoundError(kwargs.get("Key", "")) from exc
            raise self._failed(method, code or type(exc).__name__, exc) from exc
        except BotoCoreError as exc:
            raise self._failed(method, type(exc).__name__, exc) from exc

    def _failed(self, method: str, reason: str, exc: Exception) -> StorageError:
        """Log a failed call with where it went, and word it for a client without that."""
        log.warning("object storage %s: %s failed: %s", self.describe(), method, exc)
        return StorageError(
            f"the object storage refused or failed {method} ({reason}); try again later"
        )

    def find(self, area: str, *parts: str) -> S3Blob | None:
        key = self.key(area, *parts)
        try:
            head = self.call("head_object", Bucket=self.bucket, Key=key)
        except FileNotFoundError:
            return None
        return S3Blob(self, key, int(head["ContentLength"]))

    def has_folder(self, area: str, *parts: str) -> bool:
        key = self.key(area, *parts) + "/"
        answer = self.call("list_objects_v2", Bucket=self.bucket, Prefix=key, MaxKeys=1)
        return answer.get("KeyCount", 0) > 0

    def upload(self, path: Path, area: str, *parts: str) -> None:
        """Upload one file; multipart past the part size, at most max_bandwidth bytes/s."""
        from boto3.exceptions import S3UploadFailedError
        from boto3.s3.transfer import TransferConfig
        from botocore.exceptions import BotoCoreError, ClientError

        key = self.key(area, *parts)
        config = TransferConfig(
            multipart_threshold=self.part_bytes, multipart_chunksize=self.part_bytes
        )
        kind = _TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0]
        extra = {"ContentType": kind or "application/octet-stream"}
        try:
            self.client.upload_file(
                str(path),
                self.bucket,
                key,
                ExtraArgs=extra,
                Config=config,
                Callback=self.throttle if self.max_bandwidth else None,
            )
        except (ClientError, BotoCoreError, S3UploadFailedError) as exc:
            # The bucket and the endpoint are for the operator's log, not for an error event.
            log.warning("object storage %s: could not upload %s: %s", self.describe(), key, exc)
            raise StorageError(
                f"could not upload {path.name} to the object storage (see the worker's log)"
            ) from exc

    def delete(self, area: str, *parts: str, folder: bool = False) -> int:
        """Delete one object, or with folder every object under area/parts/; returns how many."""
        key = self.key(area, *parts)
        if not folder:
            self.call("delete_object", Bucket=self.bucket, Key=key)
            return 1
        deleted = 0
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=key + "/"
        )
        for page in pages:
            keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if keys:
                self.call("delete_objects", Bucket=self.bucket, Delete={"Objects": keys})
                deleted += len(keys)
        return deleted

    def list_names(self, area: str, *parts: str) -> list[str]:
        """Return the names directly under area/parts/ (objects and folders)."""
        key = self.key(area, *parts) + "/"
        names: list[str] = []
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=key, Delimiter="/"
        )
        for page in pages:
            names += [item["Key"][len(key) :] for item in page.get("Contents", [])]
            names += [p["Prefix"][len(key) :].rstrip("/") for p in page.get("CommonPrefixes", [])]
        return names


def probe_bucket(s3: S3Artifacts) -> list[str]:
    """Check the bucket answers, takes an object and gives it back, then delete it.

    Returns the steps that worked ("reachable", "writable", "readable"); raises StorageError
    naming the step that failed.
    """
    import uuid

    done: list[str] = []
    key = f"{s3.prefix}.doctor/probe-{uuid.uuid4().hex}"
    body = uuid.uuid4().bytes
    s3.call("head_bucket", Bucket=s3.bucket)
    done.append("reachable")
    s3.call("put_object", Bucket=s3.bucket, Key=key, Body=body)
    done.append("writable")
    try:
        if s3.call("get_object", Bucket=s3.bucket, Key=key)["Body"].read() != body:
            raise StorageError(f"object storage {s3.describe()}: read back other bytes")
        done.append("readable")
    finally:
        s3.call("delete_object", Bucket=s3.bucket, Key=key)
    return done


def open_artifacts(settings: Settings) -> LocalArtifacts | S3Artifacts:
    """Return the configured artifacts: the bucket when VIDEOFORGE_S3_BUCKET is set, else the data dir."""
    if settings.s3_bucket:
        return S3Artifacts.from_settings(settings)
    return LocalArtifacts(settings.videos_dir, settings.runs_dir)
