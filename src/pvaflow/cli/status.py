"""``pvaflow status CHANNEL...``: print stages' status channels once, or ``--watch``; a table or ``--json``."""

from __future__ import annotations

import argparse
import json
import threading
from typing import Any

from rich.console import Console

from ..errors import ChannelError
from ..log import configure_logging
from ..report import SECTION_KEYS, render
from ..stream.client import read_status
from .hosting import install_stop_handlers
from .options import add_log_options

EXIT_NO_ANSWER = 1


def add_parser(subparsers: Any, name: str) -> None:
    parser = subparsers.add_parser(name, help="print the status channel of consumers and collectors",
                                   description="Print status channels of pvaflow (or pvaPy) consumers and "
                                               "collectors, once or repeatedly.")
    parser.add_argument("channels", nargs="+", metavar="CHANNEL", help="status channel, e.g. pvapy:consumer:1:status")
    parser.add_argument("-w", "--watch", nargs="?", const=1.0, type=float, default=None, metavar="SECONDS",
                        help="print again every SECONDS (default 1) until Ctrl-C")
    parser.add_argument("-j", "--json", action="store_true", help="print JSON (one object per channel and line)")
    parser.add_argument("-t", "--timeout", type=float, default=5.0, help="seconds to wait for an answer (default 5)")
    add_log_options(parser)


def sections(status: dict[str, Any]) -> tuple[str, ...]:
    """The report sections this status value has (a pvaPy status lacks some)."""
    return tuple(section for section, key in SECTION_KEYS.items() if key in status)


def show(console: Console, channel: str, status: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps({"channel": channel, "status": status}, default=str), flush=True)
        return
    role_id = next((f"{key[:-2]} {value}" for key, value in status.items() if key.endswith("Id") and key != "objectId"),
                   "")
    console.print(render(status, sections(status), f"{channel} ({role_id}, input {status.get('inputChannel', '?')})"))


def run(args: argparse.Namespace) -> int:
    configure_logging(args.log_level, args.log_file)
    console = Console(highlight=False)
    stop = threading.Event()
    install_stop_handlers(stop)
    failed = False
    while True:
        for channel in args.channels:
            try:
                show(console, channel, read_status(channel, args.timeout), args.json)
            except ChannelError as ex:
                failed = True
                print(f"pvaflow status: error: {ex}", flush=True)
        if args.watch is None or stop.wait(args.watch):
            return EXIT_NO_ANSWER if failed and args.watch is None else 0
