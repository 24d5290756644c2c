"""Option groups shared by several pvaflow commands, declared once.

Long and short option names follow pvaPy's tools, so command lines copied
from its documentation work unchanged.
"""

from __future__ import annotations

import argparse

from ..log import LEVELS


def add_log_options(parser: argparse.ArgumentParser) -> None:
    """-ll/--log-level and -lf/--log-file."""
    group = parser.add_argument_group("logging")
    group.add_argument(
        "-ll", "--log-level", dest="log_level", default=None, choices=LEVELS, type=str.lower,
        help="log level (default: warnings and errors only)",
    )
    group.add_argument(
        "-lf", "--log-file", dest="log_file", default=None,
        help="write the log to this file instead of standard error",
    )


def add_report_options(
    parser: argparse.ArgumentParser, report_period_help: str, default: float, kind: type = int
) -> None:
    """-rp/--report-period (frames for sim-server, seconds for hosts) and -dc/--disable-curses."""
    group = parser.add_argument_group("reporting")
    group.add_argument(
        "-rp", "--report-period", dest="report_period", type=kind, default=default, help=report_period_help
    )
    group.add_argument(
        "-dc", "--disable-curses", dest="disable_curses", action="store_true", default=False,
        help="print plain report lines instead of updating one line in place on a terminal",
    )


def comma_list(text: str | None) -> tuple[str, ...]:
    """Split a comma-separated option value, dropping empty items."""
    return tuple(item.strip() for item in (text or "").split(",") if item.strip())
