"""What the benchmarks share: asking a channel, waiting for one, CPU time of a process tree, pvaPy's tools."""

from __future__ import annotations

import functools
import os
import shutil
import signal
import subprocess
import sys
import time
from typing import Any

import pvaccess as pva

from pvaflow.loopback import server_env
from pvaflow.stream.asker import Asker

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

# A benchmark started in the background (`cmd &` in a script) inherits SIGINT ignored, and so would
# every tool it starts: they could not be stopped with Ctrl-C. A handler here is reset to the default
# in the children, which then install Python's own.
signal.signal(signal.SIGINT, signal.default_int_handler)


@functools.cache
def asker() -> Asker:
    """pvaflow's asking process, which makes the benchmarks' gets: a pvaccess get whose server goes away during it
    can hang or crash the process making it (docs/reliability.md), and the benchmarks ask tools that are starting
    and ending."""
    return Asker("a channel for the benchmarks")


def ask(channel_name: str, request: str, field: str | None, timeout: float) -> Any:
    """``field`` of the channel's value ("": None once it answers; None: the whole value as a dict);
    ``pva.PvaException`` when it does not answer."""
    return asker().ask(channel_name, pva.PVA, request, field, timeout)


def wait_for(channel_name: str, timeout: float = 20.0) -> None:
    """Return once ``channel_name`` answers a get (a new Channel each time: one whose searches went unanswered
    searches ever more rarely); RuntimeError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            ask(channel_name, "field()", "", 0.5)
            return
        except pva.PvaException:
            continue
    raise RuntimeError(f"{channel_name} not ready")


def tree_cpu(pid: int) -> float:
    """CPU seconds used so far by ``pid`` and its descendants (from /proc)."""
    total = 0.0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            fields = open(f"/proc/{current}/stat").read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime
            for task in os.listdir(f"/proc/{current}/task"):
                pending += [int(child) for child in open(f"/proc/{current}/task/{task}/children").read().split()]
        except (OSError, IndexError, ValueError):
            continue
    return total


def pvapy_tool(name: str) -> str | None:
    """Path of one of pvaPy's command-line tools installed beside this Python, or None."""
    return shutil.which(name, path=os.path.dirname(sys.executable))


def processed_count(status_channel: str) -> int:
    """``processorStats.nProcessed`` from a pvaflow or pvaPy status channel."""
    return ask(status_channel, "field(processorStats)", "processorStats", 5.0)["nProcessed"]


def start(command: list[str]) -> subprocess.Popen:
    """Start a tool quietly, with the loopback environment and a PVA server port of its own."""
    return subprocess.Popen(command, env=server_env(dict(os.environ)), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def stop(process: subprocess.Popen, timeout: float = 20.0) -> None:
    """Ctrl-C (the tool stops cleanly), then kill if it has not ended within ``timeout`` seconds."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
