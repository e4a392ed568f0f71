"""The one place that runs ffmpeg: every call goes through `run_ffmpeg` with an argv list.

The binary is the static ffmpeg that imageio-ffmpeg ships (no system install, no ffprobe);
a non-zero exit raises `FFmpegError` with the tail of ffmpeg's stderr.

ffmpeg runs in its own session, so a terminal's Ctrl-C or a SIGTERM sent to the worker's
process group reaches the worker, not ffmpeg: the worker decides when ffmpeg must stop
(the `should_stop` check) and kills it then.
"""

from __future__ import annotations

import functools
import logging
import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence

from ..core.errors import FFmpegError, FFmpegInterrupted, Stopped

log = logging.getLogger(__name__)

Runner = Callable[..., subprocess.CompletedProcess]

STDERR_TAIL_LINES = 30
STDERR_TAIL_CHARS = 4000
STOP_POLL_SECONDS = 0.2  # how often a running ffmpeg's stop check is asked
SIGNAL_GRACE_SECONDS = 1.0  # how long a signal's stop may take to reach us after ffmpeg's


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
    runner: Runner | None = None,
    check: bool = True,
    should_stop: Callable[[], bool] | None = None,
) -> subprocess.CompletedProcess:
    """Run ffmpeg with `args` and return the finished process (stdout and stderr as bytes).

    The binary and `-hide_banner -nostdin -nostats -y` are prepended. ffmpeg runs in a
    session of its own; `should_stop` is asked every STOP_POLL_SECONDS, and when it says
    yes ffmpeg is killed and `Stopped` raised. With `check` (the default) a non-zero exit
    raises `FFmpegError(argv, returncode, stderr_tail)`, or `FFmpegInterrupted` (retryable)
    when a signal ended ffmpeg, unless the stop check then says the run is stopping anyway
    (`Stopped`). A timeout raises `FFmpegError` with return code -1. `runner` stands in for
    `subprocess.run` in tests.
    """
    argv = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-nostats", "-y", *map(str, args)]
    log.debug("running %s", argv)
    if runner is not None and runner is not subprocess.run:
        try:
            proc = runner(argv, capture_output=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired as exc:
            tail = stderr_tail(exc.stderr)
            raise FFmpegError(argv, -1, f"{tail}\ntimed out after {timeout} s".strip()) from exc
    else:
        proc = _run(argv, timeout, should_stop)
    if check and proc.returncode != 0:
        tail = stderr_tail(proc.stderr)
        if interrupted(proc.returncode, tail):
            # The signal that ended ffmpeg (a platform stopping every process) may reach
            # this process a moment later: a stopping run is given back, not failed.
            if should_stop is not None and _stops_soon(should_stop):
                raise Stopped("ffmpeg was stopped: the run must stop")
            raise FFmpegInterrupted(argv, proc.returncode, tail)
        raise FFmpegError(argv, proc.returncode, tail)
    return proc


def interrupted(returncode: int, tail: str) -> bool:
    """Tell whether ffmpeg ended because of a signal (killed, or its own exit on SIGTERM/SIGINT).

    ffmpeg exits 255 after "received signal N", and 123 after "Received > 3 system signals,
    hard exiting".
    """
    if returncode < 0:
        return True
    text = tail.lower()
    return (returncode == 255 and "received signal" in text) or (
        returncode == 123 and "system signals" in text
    )


def _stops_soon(should_stop: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + SIGNAL_GRACE_SECONDS
    while True:
        if should_stop():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


def _run(
    argv: list[str], timeout: float | None, should_stop: Callable[[], bool] | None
) -> subprocess.CompletedProcess:
    """Run argv in a new session, polling should_stop; kill it on a stop, a timeout or an error."""
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        while True:
            wait = STOP_POLL_SECONDS if should_stop is not None else None
            if deadline is not None:
                left = max(deadline - time.monotonic(), 0.0)
                wait = left if wait is None else min(wait, left)
            try:
                stdout, stderr = proc.communicate(timeout=wait)
                return subprocess.CompletedProcess(argv, proc.returncode, stdout, stderr)
            except subprocess.TimeoutExpired:
                pass
            if should_stop is not None and should_stop():
                _kill(proc)
                log.info("stopped ffmpeg (pid %d): the run must stop", proc.pid)
                raise Stopped("ffmpeg was stopped: the run must stop")
            if deadline is not None and time.monotonic() >= deadline:
                _, stderr = _kill(proc)
                tail = stderr_tail(stderr)
                raise FFmpegError(argv, -1, f"{tail}\ntimed out after {timeout} s".strip())
    except BaseException:
        if proc.poll() is None:
            _kill(proc)
        raise


def _kill(proc: subprocess.Popen) -> tuple[bytes, bytes]:
    """Kill ffmpeg's whole session (it may have children), reap it and return what it wrote."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()
    stdout, stderr = proc.communicate()
    return stdout or b"", stderr or b""
