"""The ``pvaflow`` command. :func:`main` is its entry point: while it imports the tools, an interrupt is only
noted (an interrupt inside numpy's import comes out as an ImportError, not as KeyboardInterrupt), so a Ctrl-C
in the first moments ends the command with one line, not a traceback."""

from __future__ import annotations

import signal
import sys
from collections.abc import Sequence

EXIT_INTERRUPTED = 130  # as a shell reports a command ended by SIGINT


def main(argv: Sequence[str] | None = None) -> int:
    interrupted: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, _frame: interrupted.append(signum))
    try:
        from ..parent_watch import stop_with_parent

        stop_with_parent()  # a child of the runner or of `consumer -nc N`: stop when it dies
        from .main import main as run_command
    finally:
        signal.signal(signal.SIGINT, previous)
    try:
        if interrupted:
            raise KeyboardInterrupt
        return run_command(argv)
    except KeyboardInterrupt:
        print("pvaflow: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
