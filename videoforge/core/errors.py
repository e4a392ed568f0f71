"""The error tree. HTTP-facing classes carry their status; one handler turns them into JSON."""

from __future__ import annotations


class VideoforgeError(Exception):
    """Base of every error this service raises on purpose."""

    status = "500 Internal Server Error"

    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail


# --- errors that reach HTTP clients ---------------------------------------------------------


class InvalidRequest(VideoforgeError):
    status = "400 Bad Request"


class Unauthorized(VideoforgeError):
    status = "401 Unauthorized"


class Forbidden(VideoforgeError):
    status = "403 Forbidden"


class NotFound(VideoforgeError):
    status = "404 Not Found"


class Gone(VideoforgeError):
    """The resource was there and was removed on purpose (by the retention policy)."""

    status = "410 Gone"


class Conflict(VideoforgeError):
    status = "409 Conflict"

    def __init__(self, detail: str, **extra: object):
        super().__init__(detail)
        self.extra = extra


class PayloadTooLarge(VideoforgeError):
    status = "413 Payload Too Large"


class UnsupportedMediaType(VideoforgeError):
    status = "415 Unsupported Media Type"


class RangeNotSatisfiable(VideoforgeError):
    status = "416 Range Not Satisfiable"

    def __init__(self, detail: str, size: int):
        super().__init__(detail)
        self.size = size


class Unprocessable(VideoforgeError):
    status = "422 Unprocessable Content"


class TooManyRequests(VideoforgeError):
    """A limit was reached; the answer carries Retry-After (seconds)."""

    status = "429 Too Many Requests"

    def __init__(self, detail: str, retry_after: int):
        super().__init__(detail)
        self.retry_after = retry_after


class Unavailable(VideoforgeError):
    status = "503 Service Unavailable"


# --- errors raised inside a job ----------------------------------------------------------------


class Retryable:
    """Marker: the worker may run the job again after this error."""


class StageError(VideoforgeError):
    """A pipeline stage failed; names the stage (a contract status) and the cause."""

    def __init__(self, stage: str, cause: str | BaseException):
        self.stage = stage
        self.cause = cause
        super().__init__(f"{stage}: {cause}")


class ProviderError(VideoforgeError):
    """A provider (model, voice, image source) failed."""

    def __init__(self, provider: str, detail: str):
        self.provider = provider
        super().__init__(f"{provider}: {detail}")


class RetryableProviderError(ProviderError, Retryable):
    pass


class FFmpegError(VideoforgeError):
    """ffmpeg exited non-zero; carries the argv, the exit code and the tail of stderr."""

    def __init__(self, argv: list[str], returncode: int, stderr_tail: str):
        self.argv = argv
        self.returncode = returncode
        self.stderr_tail = stderr_tail
        super().__init__(f"ffmpeg exited with {returncode}: {stderr_tail.strip()[-500:]}")


class Cancelled(VideoforgeError):
    """The job was cancelled (or its lease lost) while it ran."""


class Stopped(VideoforgeError, Retryable):
    """Work was stopped because its run must stop (worker stopping, run cancelled or taken over).

    The worker decides what that means for the run from its own state: a stopping worker
    gives the run back, a cancelled or lost run is left alone.
    """


class FFmpegInterrupted(FFmpegError, Retryable):
    """ffmpeg was ended by a signal this process did not send; running it again may work."""


class StorageError(VideoforgeError, Retryable):
    """The object storage refused or failed an upload or a read, after its own retries."""

    status = "503 Service Unavailable"  # for the web: the bucket is away, try again later
