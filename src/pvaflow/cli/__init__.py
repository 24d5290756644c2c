"""The ``pvaflow`` command. :func:`main` is its entry point: it imports the tools only once it can catch a
Ctrl-C, so an interrupt in the first moments ends the command with one line, not a traceback."""

from __future__ import annotations

import sys
from collections.abc import Sequence

EXIT_INTERRUPTED = 130  # as a shell reports a command ended by SIGINT


def main(argv: Sequence[str] | None = None) -> int:
    try:
        from .main import main as run_command

        return run_command(argv)
    except KeyboardInterrupt:
        print("pvaflow: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
