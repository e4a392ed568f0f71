"""Run a videoforge worker process: claims jobs until SIGTERM/SIGINT (--once: drain and exit)."""

from videoforge.cli import worker_main

if __name__ == "__main__":
    raise SystemExit(worker_main())
