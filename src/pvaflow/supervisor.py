"""Supervisor: run several pvaflow processes, forward signals, stop them in reverse order.

Used by ``pvaflow consumer -nc N`` (one process per consumer). Children are
plain ``python -m pvaflow ...`` processes; Ctrl-C or SIGTERM to the
supervisor reaches each child as SIGINT, then each is waited for with a
timeout and killed if it does not exit. A child gets SIGTERM (a clean stop)
when its supervisor dies, even by ``kill -9`` (Linux: ``PR_SET_PDEATHSIG``),
so no child outlives it holding its channel names.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .stream.config import HostConfig

logger = logging.getLogger(__name__)

STOP_TIMEOUT = 15.0
POLL_SECONDS = 0.2
PR_SET_PDEATHSIG = 1
# options of `pvaflow consumer` set per child process: (short, long)
PER_CHILD_OPTIONS = (("-id", "--consumer-id"), ("-nc", "--n-consumers"), ("-cid", "--consumer-id-list"),
                     ("-oo", "--oid-offset"))
PARENT_VARIABLE = "PVAFLOW_STOP_WITH_PARENT"  # the pid of the parent a child stops with


def with_parent_watch(environment: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a child that must stop when this process dies: the child reads it at start
    (:func:`stop_with_parent`). No ``preexec_fn``: code run between fork and exec can deadlock the child, and
    the ``Popen`` waiting for it, in a process with other threads (pvaccess's), as the Python docs warn."""
    return dict(os.environ if environment is None else environment) | {PARENT_VARIABLE: str(os.getpid())}


def stop_with_parent() -> None:
    """In a child started with :func:`with_parent_watch`: get SIGTERM (a clean stop) when that parent dies
    (Linux ``PR_SET_PDEATHSIG``; elsewhere nothing). The variable is taken out of the environment, so this
    process's own children do not inherit a parent that is not theirs."""
    parent = os.environ.pop(PARENT_VARIABLE, None)
    if parent is None:
        return
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):  # not Linux
        return
    if str(os.getppid()) != parent:  # the parent died before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)


def consumer_commands(argv: Sequence[str], configs: Sequence[HostConfig]) -> list[list[str]]:
    """One command line per consumer of ``configs`` (``pvaflow consumer -nc N`` and a pipeline's consumer
    stage run one process each): ``argv`` without its per-child options, then the consumer's id and its
    object id offset; plain reports, as the children share a terminal."""
    flags = {flag for pair in PER_CHILD_OPTIONS for flag in pair}
    shared: list[str] = []
    skip_value = False
    for item in argv:
        if skip_value:
            skip_value = False
            continue
        name = item.split("=", 1)[0]
        if name in flags:
            skip_value = "=" not in item
            continue
        shared.append(item)
    if "-dc" not in shared and "--disable-curses" not in shared:
        shared.append("--disable-curses")
    return [[*shared, "--consumer-id", str(config.host_id), "--oid-offset", str(config.oid_offset)]
            for config in configs]


class Supervisor:
    """Starts child commands and owns them until they all exit."""

    def __init__(self, commands: Sequence[Sequence[str]]) -> None:
        self.commands = [list(command) for command in commands]
        self.children: list[subprocess.Popen] = []

    def start(self) -> None:
        for command in self.commands:
            self.children.append(subprocess.Popen([sys.executable, "-m", "pvaflow", *command],
                                                  env=with_parent_watch()))

    def stop(self) -> None:
        """SIGINT to each child, last started first; timed wait, then kill."""
        for child in reversed(self.children):
            if child.poll() is None:
                child.send_signal(signal.SIGINT)
        deadline = time.monotonic() + STOP_TIMEOUT
        for child in reversed(self.children):
            try:
                child.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                logger.error("child %s did not stop in %ss: killed", child.pid, STOP_TIMEOUT)
                child.kill()
                child.wait()

    def run(self, stop: threading.Event) -> int:
        """Start all, wait until all exit or ``stop`` is set; the worst exit code."""
        self.start()
        try:
            while not stop.is_set() and any(child.poll() is None for child in self.children):
                stop.wait(POLL_SECONDS)
        finally:
            self.stop()
        return max((abs(child.returncode or 0) for child in self.children), default=0)
