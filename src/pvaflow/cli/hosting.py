"""Running one consumer or collector in this process: signals, reports, final report."""

from __future__ import annotations

import os
import signal
import sys
import threading
from contextlib import nullcontext

from rich.console import Console
from rich.live import Live
from rich.text import Text

from ..report import TerminalReport, render
from ..stream.assemble import build_host
from ..stream.config import HostConfig
from ..stream.watchdog import EXIT_STUCK


def set_later(event: threading.Event) -> None:
    """Set ``event`` from a signal handler: on a thread of its own. A handler runs on the main thread between
    two bytecodes, possibly inside that same event's wait() holding its lock: setting it there deadlocked a
    sim-server (its stacks showed the main thread in Event.set within Event.wait)."""
    threading.Thread(target=event.set, name="signal-set", daemon=True).start()


def install_stop_handlers(stop: threading.Event, force: threading.Event | None = None) -> None:
    """SIGINT and SIGTERM set ``stop`` (the host then stops cleanly); a second SIGINT sets ``force``
    (the host's watchdog then ends the process at once)."""

    def interrupted(*_: object) -> None:
        if stop.is_set() and force is not None:
            set_later(force)
        set_later(stop)

    signal.signal(signal.SIGINT, interrupted)
    signal.signal(signal.SIGTERM, lambda *_: set_later(stop))


def run_stage(config: HostConfig, disable_curses: bool, stop: threading.Event,
              force: threading.Event | None = None) -> int:
    """Build the stage, run it until stopped, print the final report; the exit code (1: the processor ended
    the run with SystemExit or KeyboardInterrupt)."""
    console = Console(highlight=False)
    title = f"{config.role} {config.host_id}: {config.input_channel}"
    use_live = config.report_period > 0 and console.is_terminal and not disable_curses
    live_view = Live(Text(""), console=console, refresh_per_second=2) if use_live else nullcontext()
    with live_view as live:
        sections = config.report_sections if config.report_tables else None
        report = TerminalReport(console, sections, title, live) if config.report_period > 0 else None
        stage = build_host(config, report)
        try:
            final = stage.host.run(stop, force)
        finally:
            stage.close()
    console.print(render(final, config.report_sections, f"{title} (final)"))
    if stage.host.exit_code == EXIT_STUCK:
        # a processor call still runs on a pvaccess thread: Python's own exit would tear that thread down
        # (seen: SIGABRT, "exception not rethrown", instead of exit code 3), so end here, output flushed
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(EXIT_STUCK)
    return stage.host.exit_code
