"""``pvaflow status CHANNEL...``: print stages' status channels once, or ``--watch``; a table or ``--json``."""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
from typing import Any, TextIO

from rich.console import Console

from ..errors import ChannelError, ConfigError
from ..limits import MAX_SECONDS
from ..log import configure_logging
from ..report import SECTION_KEYS, render
from ..stream.client import read_status
from .hosting import install_stop_handlers
from .options import POSITIVE_SECONDS, add_log_options, bounded

EXIT_NO_ANSWER = 1
MIN_WATCH = 0.1  # seconds between prints with --watch


def add_parser(subparsers: Any, name: str) -> None:
    parser = subparsers.add_parser(name, help="print the status channel of consumers and collectors",
                                   description="Print status channels of pvaflow (or pvaPy) consumers and "
                                               "collectors, once or repeatedly.")
    parser.add_argument("channels", nargs="+", metavar="CHANNEL", help="status channel, e.g. pvapy:consumer:1:status")
    parser.add_argument("-w", "--watch", nargs="?", const=1.0, type=bounded(float, MIN_WATCH, MAX_SECONDS),
                        default=None, metavar="SECONDS",
                        help="print again every SECONDS (default 1) until Ctrl-C")
    parser.add_argument("-j", "--json", action="store_true", help="print JSON (one object per channel and line)")
    parser.add_argument("-t", "--timeout", type=POSITIVE_SECONDS,
        default=5.0, help="seconds to wait for an answer (default 5)")
    add_log_options(parser)


def sections(status: dict[str, Any]) -> tuple[str, ...]:
    """The report sections this status value has (a pvaPy status lacks some)."""
    return tuple(section for section, key in SECTION_KEYS.items() if key in status)


def show(console: Console, output: TextIO, channel: str, status: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps({"channel": channel, "status": status}, default=str), file=output, flush=True)
        return
    role_id = next((f"{key[:-2]} {value}" for key, value in status.items() if key.endswith("Id") and key != "objectId"),
                   "")
    console.print(render(status, sections(status), f"{channel} ({role_id}, input {status.get('inputChannel', '?')})"))


def run(args: argparse.Namespace) -> int:
    configure_logging(args.log_level, args.log_file)
    output = own_stdout()
    console = Console(file=output, highlight=False)
    stop = threading.Event()
    install_stop_handlers(stop)
    failed = False
    try:
        while True:
            for channel in args.channels:
                try:
                    show(console, output, channel, checked_status(channel, read_status(channel, args.timeout)),
                         args.json)
                except (ChannelError, ConfigError) as ex:
                    failed = True
                    print(f"pvaflow status: error: {ex}", file=sys.stderr, flush=True)
            if args.watch is None or stop.wait(args.watch):
                return EXIT_NO_ANSWER if failed and args.watch is None else 0
    except BrokenPipeError:  # the reader went away (| head): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), output.fileno())
        return 0


def checked_status(channel: str, status: dict[str, Any]) -> dict[str, Any]:
    """``status`` if it looks like a consumer's or collector's status (pvaflow or pvaPy); ConfigError if not."""
    if not any(key in status for key in ("processorStats", "receiverStats", "collectorStats")):
        fields = ", ".join(sorted(status)[:6]) or "none"
        raise ConfigError(f"{channel} is not a status channel of a consumer or collector (its fields: {fields})")
    return status


def own_stdout() -> TextIO:
    """Standard output for our lines only: pvAccess prints some warnings (e.g. a channel name served twice)
    on file descriptor 1 itself; from here on those go to standard error, not into a table or JSON."""
    sys.stdout.flush()
    output = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    return output
