"""Option groups shared by several pvaflow commands, declared once.

Long and short option names follow pvaPy's tools, so command lines copied
from its documentation work unchanged.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import Any, NoReturn

from ..limits import MAX_ID, MAX_SECONDS, MAX_SERVER_QUEUE
from ..log import LEVELS


def bounded(kind: type, minimum: float | None = None, maximum: float | None = None,
            above: float | None = None) -> Callable[[str], Any]:
    """An argparse type: a ``kind`` (int or float) within the bounds (``above``: strictly greater than it).

    argparse prints a refused value as one line naming the option, e.g. ``argument -nc/--n-consumers: must be
    1 to 1000, not 0``.
    """
    if above is not None:
        wanted = f"> {above:g}" + (f" and <= {maximum:g}" if maximum is not None else "")
    elif maximum is None:
        wanted = f">= {minimum:g}"
    else:
        wanted = f"{minimum} to {maximum}" if kind is int else f"{minimum:g} to {maximum:g}"

    def convert(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {'an integer' if kind is int else 'a number'} {wanted}, "
                                             f"not {text!r}") from None
        if (isinstance(value, float) and not math.isfinite(value)) or (minimum is not None and value < minimum) \
                or (maximum is not None and value > maximum) or (above is not None and value <= above):
            raise argparse.ArgumentTypeError(f"must be {wanted}, not {text}")
        return value

    convert.__name__ = kind.__name__
    return convert


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (argparse prints the usage block before them), and that
    keeps its options by long name (``long_options``, groups' included): a pipeline stage's options become
    the same Namespace as a command line's through them (pipeline.stage_options)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.long_options: dict[str, argparse.Action] = {}

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")

    def add_argument(self, *args: Any, **kwargs: Any) -> argparse.Action:
        return self._keep(super().add_argument(*args, **kwargs))

    def add_argument_group(self, *args: Any, **kwargs: Any) -> Any:
        group = super().add_argument_group(*args, **kwargs)
        add = group.add_argument
        group.add_argument = lambda *a, **k: self._keep(add(*a, **k))  # type: ignore[method-assign]
        return group

    def _keep(self, action: argparse.Action) -> argparse.Action:
        for option in action.option_strings:
            if option.startswith("--") and option not in ("--help", "--version"):
                self.long_options[option[2:]] = action
        return action


SECONDS = bounded(float, 0, MAX_SECONDS)  # a time of 0 or more seconds
POSITIVE_SECONDS = bounded(float, maximum=MAX_SECONDS, above=0)


def seconds_or_off(text: str) -> float:
    """An argparse type: seconds, where 0 or less means none (pvaPy's reading of -rt and -rp)."""
    return max(0.0, bounded(float, -MAX_SECONDS, MAX_SECONDS)(text))


def channel_name_text(text: str) -> str:
    """An argparse type: a PVA channel name (not empty, no spaces)."""
    if not text.strip() or any(character.isspace() for character in text):
        raise argparse.ArgumentTypeError(f"a channel name must not be empty or contain spaces, not {text!r}")
    return text


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


def options_from(cls: type, args: argparse.Namespace, **overrides: Any) -> Any:
    """An options dataclass filled from the parsed arguments of the same names."""
    values = {name: getattr(args, name) for name in cls.__dataclass_fields__ if hasattr(args, name)}
    return cls(**(values | overrides))


def comma_list(text: str | None) -> tuple[str, ...]:
    """Split a comma-separated option value, dropping empty items."""
    return tuple(item.strip() for item in (text or "").split(",") if item.strip())


def add_output_channel_options(parser: argparse.ArgumentParser, role: str) -> None:
    """-oc, -sc, -cc and -ifs of a consumer or collector."""
    group = parser.add_argument_group(f"channels of this {role} ('*' is its id, '_' the default name)")
    add = group.add_argument
    add("-oc", "--output-channel", dest="output_channel", default=None, type=channel_name_text,
        help=f"output channel on this {role}'s server ('_': pvapy:{role}:<id>:output)")
    add("-sc", "--status-channel", dest="status_channel", default=None, type=channel_name_text,
        help=f"status channel ('_': pvapy:{role}:<id>:status)")
    add("-cc", "--control-channel", dest="control_channel", default=None, type=channel_name_text,
        help=f"control channel ('_': pvapy:{role}:<id>:control); commands: configure, reset_stats, "
             "get_stats, stop")
    add("-ifs", "--id-format-spec", dest="id_format_spec", default=None,
        help="format of ids in channel names, e.g. 02d")


def add_receive_options(group: Any, role: str) -> None:
    """-sqs, -of, -fr and -siu of a consumer (its input channel) or collector (each producer's channel)."""
    where = "the input's server" if role == "consumer" else "each producer's server"
    group.add_argument("-sqs", "--server-queue-size", dest="server_queue_size", type=bounded(int, 0, MAX_SERVER_QUEUE),
                       default=0, help=f"monitor queue size on {where} (record[queueSize=N]; allocated there up "
                                       f"front, at most {MAX_SERVER_QUEUE}; default: 0)")
    group.add_argument("-of", "--oid-field", dest="oid_field", default="uniqueId",
                       help="object id field (default: uniqueId)")
    group.add_argument("-fr", "--field-request", dest="field_request", default="",
                       help="fields to request, e.g. 'value,dimension' (the id field is always added)")
    if role == "consumer":
        default, text = None, "default: 1 for pva and ca input, 0 for pvas and rpc"
    else:
        default, text = 1, "of each producer; default: 1"
    group.add_argument("-siu", "--skip-initial-updates", dest="skip_initial_updates",
                       type=bounded(int, -MAX_ID, MAX_ID), default=default,
                       help=f"initial updates not processed ({text})")


def add_processor_options(parser: argparse.ArgumentParser) -> None:
    """-pf, -pc, -pa."""
    group = parser.add_argument_group("processor")
    add = group.add_argument
    add("-pf", "--processor-file", dest="processor_file", default=None, help="Python file with the class")
    add("-pc", "--processor-class", dest="processor_class", default=None,
        help="class name in the file, or module.Class (default: passthrough UserDataProcessor)")
    add("-pa", "--processor-args", dest="processor_args", default=None,
        help="JSON object passed to the processor as configDict")


def add_run_options(parser: argparse.ArgumentParser) -> None:
    """-mc, -rt, -rp, -dc, -rs and the logging options of a consumer or collector."""
    parser.add_argument("-mc", "--metadata-channels", dest="metadata_channels", default=None,
                        help="metadata PVs as 'pva://x,ca://y,z' (bare names are CA); updates are queued "
                             "in the processor's metadataQueueMap[name], the oldest dropped when full")
    parser.add_argument("-asf", "--access-security-file", dest="access_security_file", default=None,
                        help="EPICS access security file (ACF): groups CONTROL (control channel), INPUT (pvas "
                             "input channel), DEFAULT (the rest) decide who may write (pvaflow only)")
    parser.add_argument("-rt", "--runtime", dest="runtime", type=seconds_or_off, default=0.0,
                        help="seconds to run; <= 0: until stopped")
    add_report_options(parser, "seconds between reports; <= 0: none (default: 0)", default=0.0, kind=seconds_or_off)
    parser.add_argument("-rs", "--report-stats", dest="report_stats", default=None,
                        help="periodic reports as tables of these sections: all, or some of receiver,publisher,"
                             "queue,processor,user,collector,metadata (default: one summary line per report; "
                             "the final report is always the full table)")
    add_log_options(parser)
