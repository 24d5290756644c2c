"""``pvaflow mirror``: serve mirrors of other servers' channels; options as ``pvapy-mirror-server``."""

from __future__ import annotations

import argparse
import threading
import time
from contextlib import nullcontext
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from .. import __version__
from ..log import configure_logging
from ..mirror import MirrorServer, parse_channel_map
from .hosting import install_stop_handlers
from .options import SECONDS, add_log_options, add_report_options

DESCRIPTION = (
    "Mirror PVA or CA channels: clients (and consumers with the distributor plugin) connect to the "
    "mirror instead of loading the source IOC. Options as pvapy-mirror-server."
)
POLL_SECONDS = 0.2


def add_parser(subparsers: Any, name: str) -> None:
    parser = subparsers.add_parser(name, help="serve mirrors of PVA/CA channels", description=DESCRIPTION)
    parser.add_argument("-v", "--version", action="version", version=f"pvaflow {__version__}")
    parser.add_argument(
        "-cm", "--channel-map", dest="channel_map", default=None,
        help="one or more tuples (mirror,source[,pva|ca][,queueSize[,nMonitors[,request]]]): source provider "
             "pva (default) or ca, server queue size on the source (default 0), number of source monitors "
             "(default 1) and their request, e.g. '_[pydistributor=updates:1;group:mirror;trigger:uniqueId]' "
             "for a source that runs the distributor plugin",
    )
    parser.add_argument("-rt", "--runtime", dest="runtime", type=SECONDS, default=0.0,
                        help="seconds to run; 0: until stopped (default)")
    add_report_options(parser, "seconds between per-channel reports; 0: none (default: 0)", default=0.0,
                       kind=SECONDS)
    add_log_options(parser)


def stats_table(stats: dict[str, dict[str, Any]], title: str) -> Table:
    table = Table(title=title)
    for column in ("mirror", "source", "received", "rate (Hz)", "overruns"):
        table.add_column(column, justify="left" if column in ("mirror", "source") else "right")
    for mirror, values in stats.items():
        table.add_row(mirror, values["source"], str(values["nReceived"]), f"{values['receivedRate']:.1f}",
                      str(values["nOverruns"]))
    return table


def run(args: argparse.Namespace) -> int:
    configure_logging(args.log_level, args.log_file)
    entries = parse_channel_map(args.channel_map)
    stop = threading.Event()
    install_stop_handlers(stop)
    console = Console(highlight=False)
    server = MirrorServer(entries)
    server.start()
    started = time.monotonic()
    console.print(f"Mirroring {len(entries)} channel(s): "
                  + ", ".join(f"{entry.mirror} <- {entry.source} ({entry.provider})" for entry in entries))
    use_live = args.report_period > 0 and console.is_terminal and not args.disable_curses
    live_view = Live(Text(""), console=console, refresh_per_second=2) if use_live else nullcontext()
    next_report = started + args.report_period
    try:
        with live_view as live:
            while not stop.wait(POLL_SECONDS):
                server.watch()
                now = time.monotonic()
                if args.runtime > 0 and now - started >= args.runtime:
                    break
                if args.report_period > 0 and now >= next_report:
                    table = stats_table(server.stats(), f"mirror @ {now - started:.1f} s")
                    if live is not None:
                        live.update(table)
                    else:
                        console.print(table)
                    next_report = now + args.report_period
        final = server.stats()
    finally:
        server.stop()
    runtime = time.monotonic() - started
    for values in final.values():  # the final rates: over the whole run
        values["receivedRate"] = values["nReceived"] / runtime if runtime > 0 else 0.0
    console.print(stats_table(final, f"mirror (final, {runtime:.1f} s)"))
    return 0
