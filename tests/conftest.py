"""Test fixtures: loopback-only EPICS, free ports, child processes with firm teardown.

The EPICS variables (pvaflow.loopback) are set here, at import, before any
test creates a pvaccess or p4p context, so this process and every child it starts search, serve
and send beacons on 127.0.0.1 only. Each pytest run takes its own UDP
search port and each server its own TCP port, so runs can go in parallel.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pvaflow.loopback import loopback_env, server_env
from pvaflow.supervisor import handles_signal

from .answering import answers

pytest.register_assert_rewrite("tests.pv_compare")  # its asserts explain a mismatch, as in a test

os.environ.update(loopback_env())
# Children are stopped with SIGINT, as a user's Ctrl-C. Run in the background, pytest would inherit
# SIGINT ignored and pass that on to them; a handler here is reset to the default in the children.
signal.signal(signal.SIGINT, signal.default_int_handler)

READY_TIMEOUT = 20.0
STOP_TIMEOUT = 15.0
ORPHAN_GRACE = 5.0  # how long processes a child started may outlive it


def process_group(pgid: int) -> list[tuple[int, str]]:
    """(pid, command line) of every live process in the process group ``pgid`` (from /proc)."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            fields = stat[stat.rindex(")") + 2:].split()  # after "pid (comm) ": state, ppid, pgrp, ...
            if int(fields[2]) == pgid and fields[0] != "Z":
                members.append((int(entry.name), (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()))
        except (OSError, ValueError):
            continue
    return members


def child_env() -> dict[str, str]:
    """Environment for a child process: loopback EPICS and its own server port."""
    return dict(server_env(dict(os.environ)), PYTHONUNBUFFERED="1")


def print_stacks(pids: list[int]) -> None:
    """A pvaflow process prints every thread's stack on SIGUSR2 (faulthandler): into its log, for a failure."""
    signalled = [pid for pid in pids if handles_signal(pid, signal.SIGUSR2)]
    for pid in signalled:
        os.kill(pid, signal.SIGUSR2)
    if signalled:
        time.sleep(0.5)  # faulthandler writes at once; the log is read after


class Child:
    """A started child process whose output goes to a file."""

    def __init__(self, args: list[str], log_path: Path, cwd: Path | None = None,
                 env: dict[str, str] | None = None) -> None:
        self.args = args
        self.log_path = log_path
        self.log = open(log_path, "w")  # noqa: SIM115 (closed in stop())
        self.process = subprocess.Popen(
            args, stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.PIPE, env=child_env() | (env or {}),
            start_new_session=True, cwd=cwd,
        )

    def send_line(self, line: str = "") -> None:
        """Write a line to the child's standard input."""
        self.process.stdin.write(f"{line}\n".encode())
        self.process.stdin.flush()

    @property
    def output(self) -> str:
        if not self.log.closed:
            self.log.flush()
        return self.log_path.read_text()

    def check_running(self) -> None:
        if self.process.poll() is not None:
            pytest.fail(f"{' '.join(self.args)} exited with {self.process.returncode}:\n{self.output}")

    def wait(self, timeout: float) -> int:
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            print_stacks([self.process.pid])
            pytest.fail(f"{' '.join(self.args)} still running after {timeout}s:\n{self.output}")

    def stop(self) -> list[tuple[int, str]]:
        """SIGINT, a timed wait, then kill; then the processes it started that outlived it by ORPHAN_GRACE
        (returned, and killed: an orphan would serve its channels into the next test)."""
        if self.process.stdin and not self.process.stdin.closed:
            self.process.stdin.close()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                print_stacks([self.process.pid])  # why it hangs, into its log
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(STOP_TIMEOUT)
        self.log.close()
        deadline = time.monotonic() + ORPHAN_GRACE
        while (orphans := process_group(self.process.pid)) and time.monotonic() < deadline:
            time.sleep(0.1)
        if orphans:
            os.killpg(self.process.pid, signal.SIGKILL)
        return orphans


FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator:
    report = yield
    if report.when == "call" and report.failed:
        item.stash[FAILED] = True
    return report


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it (from /proc)."""
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                pending += [int(child) for child in Path(f"/proc/{current}/task/{task}/children").read_text().split()]
        except OSError:
            continue
    return found


def print_all_stacks(children: list[Child]) -> None:
    """Every pvaflow process still running below the children (a pipeline's stages too) prints its threads'
    stacks into its log: what each was doing when the test failed."""
    print_stacks([pid for child in children if child.process.poll() is None for pid in descendants(child.process.pid)])


@pytest.fixture
def start_process(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator:
    """start_process(*args) runs ``python -m pvaflow *args`` (``env``: variables beside the loopback ones); all are
    stopped at teardown (after printing their stacks when the test failed)."""
    children: list[Child] = []

    def start(*args: str, script: str | None = None, cwd: Path | None = None,
              env: dict[str, str] | None = None) -> Child:
        command = [sys.executable, script, *args] if script else [sys.executable, "-m", "pvaflow", *args]
        child = Child(command, tmp_path / f"child{len(children)}.log", cwd, env)
        children.append(child)
        return child

    yield start
    if request.node.stash.get(FAILED, False):
        print_all_stacks(children)
    orphans = []
    for child in reversed(children):
        orphans += child.stop()
        print(f"--- output of {' '.join(child.args)}:\n{child.output}")
    assert not orphans, f"processes outlived the child that started them by {ORPHAN_GRACE} s: {orphans}"


def _wait_for_channel(name: str, child: Child, timeout: float = READY_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not answers(name):  # asked by a child process: see tests/answering.py
        child.check_running()
        if time.monotonic() > deadline:
            pytest.fail(f"channel {name} not ready after {timeout}s:\n{child.output}")


@pytest.fixture
def wait_for_channel():
    """wait_for_channel(name, child): poll until the channel answers; fail at once if child exits."""
    return _wait_for_channel
