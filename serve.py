"""Run the videoforge web process (Waitress + Falcon); settings come from the environment."""

from videoforge.cli import serve_main

if __name__ == "__main__":
    raise SystemExit(serve_main())
