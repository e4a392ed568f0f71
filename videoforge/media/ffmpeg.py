"""The one place that runs ffmpeg: every call goes through `run_ffmpeg` with an argv list.

The binary is the static ffmpeg that imageio-ffmpeg ships (no system install, no ffprobe);
a non-zero exit raises `FFmpegError` with the tail of ffmpeg's stderr.
"""

from __future__ import annotations

import functools
import logging
import subprocess
from collections.abc import Callable, Sequence

from ..core.errors import FFmpegError

log = logging.getLogger(__name__)

Runner = Callable[..., subprocess.CompletedProcess]

STDERR_TAIL_LINES = 30
STDERR_TAIL_CHARS = 4000


@functools.cache
def ffmpeg_exe() -> str:
    """Return the path of the ffmpeg binary that imageio-ffmpeg ships (looked up once)."""
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def stderr_tail(stderr: bytes | str | None) -> str:
    """Return the last lines of ffmpeg's stderr, enough to say what went wrong."""
    if not stderr:
        return ""
    text = stderr.decode("utf-8", "replace") if isinstance(stderr, bytes) else stderr
    lines = [line for line in text.replace("\r", "\n").splitlines() if line.strip()]
    return "\n".join(lines[-STDERR_TAIL_LINES:])[-STDERR_TAIL_CHARS:]


def run_ffmpeg(
    args: Sequence[str],
    *,
    timeout: float | None = None,
    runner: Runner = subprocess.run,
    check: bool = True,
) -> subprocess.CompletedProcess:
    """Run ffmpeg with `args` and return the finished process (stdout and stderr as bytes).

    The binary and `-hide_banner -nostdin -nostats -y` are prepended. With `check` (the
    default) a non-zero exit raises `FFmpegError(argv, returncode, stderr_tail)`; a timeout
    raises `FFmpegError` with return code -1.
    """
    argv = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-nostats", "-y", *map(str, args)]
    log.debug("running %s", argv)
    try:
        proc = runner(argv, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        tail = stderr_tail(exc.stderr)
        raise FFmpegError(argv, -1, f"{tail}\ntimed out after {timeout} s".strip()) from exc
    if check and proc.returncode != 0:
        raise FFmpegError(argv, proc.returncode, stderr_tail(proc.stderr))
    return proc
