"""The ``pvaflow`` command: one entry point, one subcommand per tool."""

from __future__ import annotations

import argparse
import faulthandler
import signal
import sys
from collections.abc import Sequence

from .. import __version__
from ..errors import ConfigError, PvaflowError
from ..memory import reuse_freed_buffers
from . import collector, consumer, control, mirror, run, sim_server, status, view
from .options import OneLineParser

# subcommand name -> module with add_parser(subparsers) and run(args) -> int
SUBCOMMANDS = {
    "collector": collector,
    "consumer": consumer,
    "control": control,
    "mirror": mirror,
    "run": run,
    "view": view,
    "sim-server": sim_server,
    "status": status,
}

EXIT_RUNTIME_ERROR = 1
EXIT_USAGE_ERROR = 2

STACKS_SIGNAL = signal.SIGUSR2  # a stage that seems stuck prints where each thread is


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="pvaflow",
        description="Streaming framework for EPICS pvAccess (Area Detector) data.",
    )
    parser.add_argument("-V", "--version", action="version", version=f"pvaflow {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True, parser_class=OneLineParser)
    for name, module in SUBCOMMANDS.items():
        module.add_parser(subparsers, name)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    args.argv = argv  # the command line as given, for child processes
    faulthandler.register(STACKS_SIGNAL, all_threads=True)  # kill -USR2 PID: every thread's stack to stderr
    faulthandler.enable(all_threads=True)  # a crash (SIGSEGV, SIGABRT, SIGBUS, SIGFPE) leaves the stacks too
    reuse_freed_buffers()  # every tool moves frame-sized buffers
    try:
        return SUBCOMMANDS[args.command].run(args)
    except ConfigError as ex:
        print(f"pvaflow {args.command}: error: {ex}", file=sys.stderr)
        return EXIT_USAGE_ERROR
    except PvaflowError as ex:
        print(f"pvaflow {args.command}: error: {ex}", file=sys.stderr)
        return EXIT_RUNTIME_ERROR


if __name__ == "__main__":
    sys.exit(main())
