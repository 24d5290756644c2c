"""The shutdown watchdog: a host that was asked to stop ends within a bounded time, even if a processor hangs.

A ``process()`` that never returns holds the host's lock (and, in the
monitor callback, pvAccess's thread), so a clean stop can wait forever. Once
a stop is asked for (Ctrl-C, SIGTERM, the ``stop`` command, the runtime),
the watchdog gives the clean stop ``SHUTDOWN_TIMEOUT`` seconds; a forced
stop (a second Ctrl-C) gets none. Then it logs one line naming the call that
is stuck and ends the process with ``EXIT_STUCK``, without the final report.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable

logger = logging.getLogger(__name__)

SHUTDOWN_TIMEOUT = 15.0  # seconds a clean stop may take once asked for
WATCH_SECONDS = 0.25
EXIT_STUCK = 3


def where(thread_id: int | None) -> str:
    """``file:line in function`` where the thread is now ('?' if it is gone)."""
    frame = sys._current_frames().get(thread_id) if thread_id is not None else None
    if frame is None:
        return "?"
    return f"{frame.f_code.co_filename}:{frame.f_lineno} in {frame.f_code.co_name}"


def call_with_timeout(call: Callable[[], object], timeout: float, name: str) -> bool:
    """``call()`` on a daemon thread, waited for ``timeout`` seconds: False if it has not returned by then
    (it is left running); what it raised is raised here."""
    failures: list[BaseException] = []

    def run() -> None:
        try:
            call()
        except BaseException as ex:  # noqa: BLE001 (handed to the caller, whatever it is)
            failures.append(ex)

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        return False
    if failures:
        raise failures[0]
    return True


class ShutdownWatchdog:
    """Watches one host run: started by the host, ended by ``done()`` when the run has finished."""

    def __init__(self, stop_asked: Callable[[], bool], force: threading.Event, stuck: Callable[[], str]) -> None:
        self.stop_asked = stop_asked  # True once a clean stop is under way
        self.force = force  # set: do not wait for the clean stop
        self.stuck = stuck  # what is holding the stop up, for the log line
        self.finished = threading.Event()
        self.thread = threading.Thread(target=self.watch, name="shutdown-watchdog", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def done(self) -> None:
        self.finished.set()
        self.thread.join(1.0)

    def watch(self) -> None:
        asked_at: float | None = None
        while not self.finished.wait(WATCH_SECONDS):
            now = time.monotonic()
            if asked_at is None and (self.stop_asked() or self.force.is_set()):
                asked_at = now
            if asked_at is not None and (self.force.is_set() or now - asked_at > SHUTDOWN_TIMEOUT):
                self.exit(now - asked_at)

    def exit(self, waited: float) -> None:
        how = "a second interrupt" if self.force.is_set() else f"{SHUTDOWN_TIMEOUT:.0f} s"
        logger.critical("the stop did not finish (%s, after %.1f s): %s; exiting now without the final report "
                        "(exit code %d)", how, waited, self.stuck(), EXIT_STUCK)
        for handler in logging.getLogger().handlers:
            handler.flush()
        sys.stderr.flush()
        os._exit(EXIT_STUCK)
