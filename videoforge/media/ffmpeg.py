"""The one place that runs ffmpeg: every call goes through `run_ffmpeg` with an argv list,
or through `FFmpegPipe` for an ffmpeg that reads what we write to it while it runs.

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
import threading
import time
from collections import deque
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
        raise _failure(argv, proc.returncode, stderr_tail(proc.stderr), should_stop)
    return proc


def _failure(
    argv: list[str], returncode: int, tail: str, should_stop: Callable[[], bool] | None
) -> FFmpegError | Stopped:
    """Return what a non-zero exit means: a failure, a retryable interruption or a stop."""
    if interrupted(returncode, tail):
        # The signal that ended ffmpeg (a platform stopping every process) may reach
        # this process a moment later: a stopping run is given back, not failed.
        if should_stop is not None and _stops_soon(should_stop):
            return Stopped("ffmpeg was stopped: the run must stop")
        return FFmpegInterrupted(argv, returncode, tail)
    return FFmpegError(argv, returncode, tail)


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


class FFmpegPipe:
    """A running ffmpeg that reads its input from what `write` sends to its stdin.

    The guarantees of `run_ffmpeg` hold while it runs, however long that is and whether or
    not anything is being written: it runs in a session of its own, a watcher asks
    `should_stop` every STOP_POLL_SECONDS and kills it when the run must stop (a later
    `write` or `close` then raises `Stopped`), and a failure raises `FFmpegError` (or
    `FFmpegInterrupted`) with the tail of its stderr. `close` ends the input and waits for
    ffmpeg to finish its output; `kill` ends it at once and may be called any number of
    times (a `with` block kills it on an exception). `args` are ffmpeg's arguments after
    the binary and `-hide_banner -nostdin -nostats -y`, reading `pipe:0`.
    """

    STDERR_KEEP = 64 * 1024  # bytes of stderr kept for the error message
    WRITE_CHUNK = 1 << 20  # the stop flag is looked at between chunks of a large write

    def __init__(self, args: Sequence[str], *, should_stop: Callable[[], bool] | None = None):
        self.argv = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-nostats", "-y", *map(str, args)]
        self.should_stop = should_stop
        self._stopped = threading.Event()
        self._stderr: deque[bytes] = deque()
        self._stderr_size = 0
        log.debug("starting %s", self.argv)
        self.proc = subprocess.Popen(
            self.argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        self._reader = threading.Thread(
            target=self._read_stderr, daemon=True, name=f"ffmpeg-{self.proc.pid}-stderr"
        )
        self._reader.start()
        self._watcher: threading.Thread | None = None
        if should_stop is not None:
            self._watcher = threading.Thread(
                target=self._watch, daemon=True, name=f"ffmpeg-{self.proc.pid}-stop"
            )
            self._watcher.start()

    def __enter__(self) -> FFmpegPipe:
        return self

    def __exit__(self, kind: object, value: object, traceback: object) -> None:
        if kind is not None:
            self.kill()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def write(self, data: bytes | memoryview) -> None:
        """Send `data` to ffmpeg's input; raise `Stopped` or `FFmpegError` if it takes no more."""
        view = memoryview(data).cast("B")
        for start in range(0, len(view), self.WRITE_CHUNK):
            if self._stopped.is_set():
                raise Stopped("ffmpeg was stopped: the run must stop")
            try:
                self.proc.stdin.write(view[start : start + self.WRITE_CHUNK])
            except (BrokenPipeError, ValueError, OSError):
                raise self._ended() from None

    def close(self, timeout: float | None = None) -> None:
        """End ffmpeg's input and wait for it to finish; raise as `run_ffmpeg` does on a failure."""
        try:
            self.proc.stdin.close()
        except (BrokenPipeError, OSError):
            pass  # it ended already: its exit status says why
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            try:
                self.proc.wait(timeout=STOP_POLL_SECONDS)
                break
            except subprocess.TimeoutExpired:
                pass
            if self._stopped.is_set():
                break
            if deadline is not None and time.monotonic() >= deadline:
                self.kill()
                raise FFmpegError(self.argv, -1, f"{self._tail()}\ntimed out after {timeout} s")
        self._reader.join(timeout=5)
        if self._stopped.is_set():
            raise Stopped("ffmpeg was stopped: the run must stop")
        if self.proc.returncode != 0:
            raise _failure(self.argv, self.proc.returncode, self._tail(), self.should_stop)

    def kill(self) -> None:
        """End ffmpeg's whole session now (nothing it was writing is kept) and reap it."""
        if self.proc.poll() is None:
            log.info("stopped ffmpeg (pid %d) before it finished", self.proc.pid)
        self._kill_session()
        try:
            self.proc.stdin.close()
        except (BrokenPipeError, OSError):
            pass

    def _kill_session(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                self.proc.kill()
        self.proc.wait()

    def _ended(self) -> BaseException:
        """Return what ffmpeg's end (seen as a closed input) means, once it has exited."""
        self.proc.wait()
        self._reader.join(timeout=5)
        if self._stopped.is_set():
            return Stopped("ffmpeg was stopped: the run must stop")
        if self.proc.returncode == 0:
            tail = f"{self._tail()}\nffmpeg ended before reading all of its input".strip()
            return FFmpegError(self.argv, 0, tail)
        return _failure(self.argv, self.proc.returncode, self._tail(), self.should_stop)

    def _tail(self) -> str:
        return stderr_tail(b"".join(self._stderr))

    def _read_stderr(self) -> None:
        for line in iter(self.proc.stderr.readline, b""):
            self._stderr.append(line)
            self._stderr_size += len(line)
            while self._stderr_size > self.STDERR_KEEP and len(self._stderr) > 1:
                self._stderr_size -= len(self._stderr.popleft())
        self.proc.stderr.close()

    def _watch(self) -> None:
        assert self.should_stop is not None
        while self.proc.poll() is None:
            if self.should_stop():
                self._stopped.set()
                self._kill_session()  # a write blocked on the pipe then fails at once
                log.info("stopped ffmpeg (pid %d): the run must stop", self.proc.pid)
                return
            time.sleep(STOP_POLL_SECONDS)
