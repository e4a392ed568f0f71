"""Run the ``videoforge`` console script as ``python -m videoforge.cli``."""

from . import main

if __name__ == "__main__":
    raise SystemExit(main())
