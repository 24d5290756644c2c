"""``pvaflow control CHANNEL COMMAND [ARGS]``: send a command to a stage and print its answer."""

from __future__ import annotations

import argparse
from typing import Any

from ..errors import ConfigError
from ..log import configure_logging
from ..stream.client import send_command
from ..stream.control import COMMANDS, CONFIGURE, failed
from .options import POSITIVE_SECONDS, add_log_options
from .status import own_stdout

EXIT_REFUSED = 1


def add_parser(subparsers: Any, name: str) -> None:
    parser = subparsers.add_parser(
        name, help="send a command to a consumer or collector control channel",
        description="Send a command to a control channel and print the answer (statusMessage); exits 1 when "
                    "the stage answers with an error.",
        epilog="""examples: pvaflow control pvapy:consumer:1:control configure '{"level": 50}'; """
               "pvaflow control pvapy:consumer:1:control stop",
    )
    parser.add_argument("channel", metavar="CHANNEL", help="control channel, e.g. pvapy:consumer:1:control")
    parser.add_argument("control_command", metavar="COMMAND", help=f"one of {', '.join(COMMANDS)}")
    parser.add_argument("args", nargs="?", default="", metavar="ARGS", help="JSON object for configure")
    parser.add_argument("-t", "--timeout", type=POSITIVE_SECONDS, default=10.0,
                        help="seconds to wait for the answer (default 10)")
    add_log_options(parser)


def run(args: argparse.Namespace) -> int:
    configure_logging(args.log_level, args.log_file)
    command = args.control_command
    if command not in COMMANDS:
        raise ConfigError(f"unknown command '{command}' (commands: {', '.join(COMMANDS)})")
    if args.args and command != CONFIGURE:
        raise ConfigError(f"{command} takes no ARGS")
    output = own_stdout()
    answer = send_command(args.channel, command, args.args, args.timeout)
    print(answer, file=output, flush=True)
    return EXIT_REFUSED if failed(answer) else 0
