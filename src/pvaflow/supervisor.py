"""Supervisor: the one owner of pvaflow's child processes - start, watch, restart, stop in reverse order.

Used by ``pvaflow consumer -nc N`` (one process per consumer) and by ``pvaflow run`` (one process per stage
process). Children are ``python -m pvaflow ...`` processes, started here (LocalLauncher) or as Slurm job
steps (pipeline.launcher). A child that exits with 0 has finished; one that dies is restarted under the restart
policy (``on-failure``, at most ``max_restarts`` times) or marked failed. Stopping sends SIGINT (a user's
Ctrl-C, through the launcher) to each child, last started first, waits with a timeout and kills what is left.
A local child gets SIGTERM (a clean stop) when its supervisor dies, even by ``kill -9`` (Linux:
``PR_SET_PDEATHSIG``), so no child outlives it holding its channel names."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from .parent_watch import with_parent_watch

if TYPE_CHECKING:
    from .stream.config import HostConfig

logger = logging.getLogger(__name__)

STOP_TIMEOUT = 15.0
POLL_SECONDS = 0.2
# options of `pvaflow consumer` set per child process: (short, long)
PER_CHILD_OPTIONS = (("-id", "--consumer-id"), ("-nc", "--n-consumers"), ("-cid", "--consumer-id-list"),
                     ("-oo", "--oid-offset"))


def pvaflow_command(command: Sequence[str]) -> list[str]:
    """The command line of one pvaflow process, as started on this host."""
    return [sys.executable, "-m", "pvaflow", *command]


class Launcher(Protocol):
    """Turns a child (its pvaflow command line, the node it was placed on) into the command started, with the
    variables it gets beside this process's, and signals the pvaflow process it runs. ``runs_here``: the child
    is that process itself, on this host: it stops when this process dies (:func:`with_parent_watch`) and its
    signal handlers can be read from /proc. A Slurm job step is not (its parent is Slurm's step daemon, and
    Slurm ends it with the job)."""

    environment: dict[str, str]
    runs_here: bool

    def command(self, child: Child) -> list[str]: ...

    def signal(self, child: Child, signum: int) -> None: ...

    def leave_failed_node(self, child: Child) -> str | None:
        """Called when ``child`` ended: the node it ran on when that node failed (``child.node`` is then moved
        to one that works, when the launcher has one), else None."""


@dataclass(frozen=True)
class LocalLauncher:
    """``python -m pvaflow ...`` on this host."""

    environment: dict[str, str] = field(default_factory=dict)
    runs_here: bool = True

    def command(self, child: Child) -> list[str]:
        return pvaflow_command(child.command)

    def signal(self, child: Child, signum: int) -> None:
        if child.process is not None:
            child.process.send_signal(signum)

    def leave_failed_node(self, child: Child) -> str | None:
        return None  # this host runs the supervisor too


LOCAL = LocalLauncher()


def handles_signal(pid: int, signum: int) -> bool:
    """Process ``pid`` has a handler for ``signum`` now (Linux: its SigCgt mask; elsewhere False). A signal a
    process does not handle may end it: SIGUSR1 does."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    mask = next((line.split()[1] for line in status.splitlines() if line.startswith("SigCgt:")), "0")
    return bool(int(mask, 16) >> (signum - 1) & 1)


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


@dataclass(frozen=True)
class RestartPolicy:
    """Whether a child that died (exit code not 0) is started again, and how often at most."""

    on_failure: bool = False
    max_restarts: int = 0


@dataclass
class Child:
    """One supervised process: its command line (after ``python -m pvaflow``) and what became of it."""

    name: str  # as log lines name it, e.g. "stage work"
    command: list[str]
    node: str | None = None  # where a cluster launcher runs it (pipeline.placement); None: here
    process: subprocess.Popen | None = None
    restarts: int = 0
    failed_nodes: list[str] = field(default_factory=list)  # nodes that failed under it (a cluster launcher's)
    finished: bool = False  # exited by itself with code 0
    failed: bool = False  # died and was not restarted

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def handles(self, signum: int) -> bool:
        return self.alive and handles_signal(self.process.pid, signum)


@dataclass(frozen=True)
class Exit:
    """A child that ended, as :meth:`Supervisor.check` saw it."""

    child: Child
    code: int
    restarted: bool


class Supervisor:
    """Starts child processes and owns them until they all exit or are stopped.

    ``own_sessions``: each child in a session of its own, so a Ctrl-C on the terminal reaches the supervisor
    only, which then stops the children in order. ``stop_one_by_one``: wait for each child to end before
    stopping the one started before it (pipeline stages: downstream first, while upstream still serves);
    otherwise all get SIGINT at once (the consumers of ``-nc N``). ``quiet``: the children's standard output
    (their periodic reports) is dropped; their log lines still reach standard error.
    """

    def __init__(self, children: Sequence[Child], policy: RestartPolicy = RestartPolicy(), own_sessions: bool = False,
                 quiet: bool = False, stop_one_by_one: bool = False, stop_timeout: float = STOP_TIMEOUT,
                 launcher: Launcher = LOCAL) -> None:
        self.children = list(children)
        self.launcher = launcher
        self.policy = policy
        self.own_sessions = own_sessions
        self.quiet = quiet  # the children's standard output is dropped (their log lines go to standard error)
        self.stop_one_by_one = stop_one_by_one
        self.stop_timeout = stop_timeout

    def start(self) -> None:
        for child in self.children:
            self.launch(child)

    def launch(self, child: Child) -> None:
        where = f" on {child.node}" if child.node else ""
        logger.info("starting %s%s: pvaflow %s", child.name, where, " ".join(child.command))
        child.process = subprocess.Popen(self.launcher.command(child),
                                         stdin=subprocess.DEVNULL if self.own_sessions else None,
                                         stdout=subprocess.DEVNULL if self.quiet else None,
                                         start_new_session=self.own_sessions,
                                         env=(with_parent_watch() if self.launcher.runs_here
                                              else dict(os.environ)) | self.launcher.environment)

    def check(self) -> list[Exit]:
        """The children that ended since the last call: finished (code 0), restarted, or failed."""
        exits: list[Exit] = []
        for child in self.children:
            if child.process is None or child.finished or child.failed or child.alive:
                continue
            code = child.process.returncode
            lost = self.launcher.leave_failed_node(child)
            if lost is not None:  # whatever its exit code (srun may end with 0 then): it did not finish
                child.failed_nodes.append(lost)
                moved = f"; its next start is on {child.node}" if child.node != lost else ""
                logger.error("%s: its node %s failed%s", child.name, lost, moved)
            if code == 0 and lost is None:
                child.finished = True
                logger.info("%s finished", child.name)
                exits.append(Exit(child, code, restarted=False))
            elif self.policy.on_failure and child.restarts < self.policy.max_restarts:
                child.restarts += 1
                logger.warning("%s exited with %s: restarting (%d of %d)", child.name, code, child.restarts,
                               self.policy.max_restarts)
                self.launch(child)
                exits.append(Exit(child, code, restarted=True))
            else:
                child.failed = True
                logger.error("%s exited with %s and is not restarted", child.name, code)
                exits.append(Exit(child, code, restarted=False))
        return exits

    def stop(self) -> None:
        """SIGINT (through the launcher) to each child still running, last started first; a timed wait, then
        kill."""
        running = [child for child in reversed(self.children) if child.alive]
        if self.stop_one_by_one:
            for child in running:
                self.launcher.signal(child, signal.SIGINT)
                self._wait_or_kill(child.process, time.monotonic() + self.stop_timeout)
            return
        for child in running:
            self.launcher.signal(child, signal.SIGINT)
        deadline = time.monotonic() + self.stop_timeout
        for child in running:
            self._wait_or_kill(child.process, deadline)

    def _wait_or_kill(self, process: subprocess.Popen, deadline: float) -> None:
        try:
            process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            name = next(child.name for child in self.children if child.process is process)
            logger.error("%s did not stop in %.0f s: killed", name, self.stop_timeout)
            process.kill()
            process.wait()

    def run(self, stop: threading.Event) -> int:
        """Start all, wait until all exit or ``stop`` is set; the worst exit code."""
        self.start()
        try:
            while not stop.is_set() and any(child.alive for child in self.children):
                self.check()
                stop.wait(POLL_SECONDS)
        finally:
            self.stop()
        return max((abs(child.process.returncode or 0) for child in self.children), default=0)
