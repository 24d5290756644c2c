"""Clients the system tests share: a frame recorder, status reads and control commands."""

from __future__ import annotations

import signal
import threading
import time

import numpy as np
import pvaccess as pva

from pvaflow import AdImageProcessor
from pvaflow.ntnd import attribute_values, seconds
from pvaflow.pipeline.status_watch import input_monitored
from pvaflow.stream.client import send_command
from pvaflow.stream.stale_channel import Delivered, StaleChannelCheck
from pvaflow.supervisor import handles_signal

from ..answering import answers, value


class Recorder:
    """Monitors a channel with pvaccess and keeps (id, image, time stamp) of every frame, and with
    ``with_attributes`` its attributes ({name: value}) in ``attributes``."""

    def __init__(self, channel_name: str, queue_size: int = 2000, ready_timeout: float = 20.0,
                 with_attributes: bool = False) -> None:
        self.frames: list[tuple[int, np.ndarray, float]] = []
        self.attributes: list[dict] | None = [] if with_attributes else None
        self.lock = threading.Lock()
        self.monitoring = threading.Event()  # set by the first update: the monitor's initial value
        self.last: Delivered | None = None  # the last frame's id and arrival (the stale-channel check's)
        self.repeat_of: int | None = None  # after a monitor that held back a frame is replaced: the last id had
        wait_until(lambda: answers(channel_name), ready_timeout, f"{channel_name} answering")
        self.channel = pva.Channel(channel_name)
        self.request = f"record[queueSize={queue_size}]field()"
        self._monitor()
        self.staleness = StaleChannelCheck(channel_name, pva.PVA, channel_name, "uniqueId")  # as pvaflow's receivers
        # startMonitor returns before the server has the monitor: an update in between would be seen as
        # the initial value (the one before it lost), so wait for the initial value
        if not self.monitoring.wait(ready_timeout):
            raise AssertionError(f"no initial value from {channel_name} in {ready_timeout} s")

    def _monitor(self) -> None:
        self.channel.subscribe("recorder", self._on_frame)
        self.channel.startMonitor(self.request)

    def _on_frame(self, pv: pva.PvObject) -> None:
        self.monitoring.set()
        image_id, image, *_ = AdImageProcessor.reshapeNtNdArray(pv)
        if image is None:
            return  # a record's initial, empty value
        repeat, self.repeat_of = image_id == self.repeat_of, None
        self.last = Delivered(image_id, time.monotonic())
        if repeat:
            return  # the new monitor's first value: the old one delivered it after all
        with self.lock:
            self.frames.append((image_id, image.copy(), seconds(pv["timeStamp"])))
            if self.attributes is not None:
                self.attributes.append(attribute_values(pv))

    @property
    def ids(self) -> list[int]:
        if self.staleness.dead(self.channel, self.channel.getMonitorCounters().get("nReceived", 0),
                               self.monitoring.is_set(), self.last):
            # a channel gone stale for good (a mirror re-created its record), or its monitor held back a frame
            self.repeat_of = self.last.last_id if self.staleness.held_back else None
            self.channel.stopMonitor()
            self.channel = pva.Channel(self.channel.getName())
            self._monitor()
            self.staleness.renewed(0)  # the new channel's monitor counts from 0
        with self.lock:
            return [frame[0] for frame in self.frames]

    def wait_for(self, count: int, timeout: float = 20.0) -> list[int]:
        deadline = time.monotonic() + timeout
        while len(self.ids) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.ids

    def stop(self) -> list[tuple[int, np.ndarray, float]]:
        self.staleness.close()
        self.channel.stopMonitor()
        self.channel.unsubscribe("recorder")
        with self.lock:
            return list(self.frames)


def current_frame(channel_name: str) -> tuple[int, np.ndarray]:
    """(id, image) of the frame ``channel_name`` holds now: a monitor's initial value (what pvget shows)."""
    recorder = Recorder(channel_name)
    image_id, image, _ = recorder.stop()[0]
    return image_id, image


def assert_ids_received(recorder: Recorder, ids: list[int], expected: list[int]) -> None:
    """``ids`` (what ``recorder`` saw) are ``expected``, or, only when the recorder had to renew a monitor that
    held back updates (a pvAccess fault seen here on a heavily loaded machine; see stale_channel.py), those
    of ``expected`` it saw, in order, up to the last. The stage's own counters say whether it published them all.
    """
    if recorder.staleness.n_renewals == 0:
        missing = sorted(set(expected) - set(ids))
        assert ids == expected, (f"the recorder of {recorder.channel.getName()} missed {missing}, got "
                                 f"{sorted(set(ids) - set(expected))} unexpected, in order: {ids == sorted(ids)}; "
                                 f"its monitor: {recorder.channel.getMonitorCounters()}")
    else:
        seen = set(ids)
        assert ids == [object_id for object_id in expected if object_id in seen] and ids[-1:] == expected[-1:]


GET_ATTEMPT_SECONDS = 2.0


def get(channel_name: str, request: str = "field()", timeout: float = 15) -> dict:
    """The channel's value as a dict (``toDict()``, arrays as lists), asked by the tests' asking process (a get
    whose server goes away during it can hang or crash the process making it: tests/answering.py) every
    GET_ATTEMPT_SECONDS until ``timeout``, each time with a new Channel: one whose first searches went
    unanswered (seen on a loaded machine with many servers) searches again ever more rarely."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return value(channel_name, request, min(GET_ATTEMPT_SECONDS, max(0.1, deadline - time.monotonic())))
        except pva.PvaException:
            if time.monotonic() >= deadline:
                raise


def control(channel_name: str, command: str, args: str = "", timeout: float = 10.0) -> str:
    """Put a command and return the host's answer (waits for objectTime to change)."""
    return send_command(channel_name, command, args, timeout)


def wait_for_initial_value(status_channel: str, timeout: float = 20.0) -> None:
    """Until a stage's status shows its input's current value received (a collector: from every producer), as
    pvaflow run waits for it: its monitor is connected, so nothing published later is lost."""
    def monitored() -> bool:
        try:
            return input_monitored(get(status_channel, timeout=2))
        except pva.PvaException:  # not served yet
            return False

    wait_until(monitored, timeout, f"{status_channel} monitoring its input")


def start_frames(source, *statuses: str) -> None:
    """Let a sim-server started with -sos publish (SIGUSR1), once each stage named by its status channel
    monitors its input (initial value skipped): nothing published is lost to a slow start."""
    for status in statuses:
        wait_for_initial_value(status)
    send_start_signal(source.process)


def send_start_signal(process) -> None:
    """SIGUSR1 to a sim-server started with -sos, once it handles it (before that, SIGUSR1 ends a process)."""
    wait_until(lambda: handles_signal(process.pid, signal.SIGUSR1) or process.poll() is not None, 30,
               "the sim-server handling SIGUSR1")
    process.send_signal(signal.SIGUSR1)


def wait_until(predicate, timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout}s")
        time.sleep(0.05)


def holds_for(predicate, seconds: float, what: str = "condition") -> None:
    """``predicate`` stays true for ``seconds``, looked at every 0.1 s (for what must not happen meanwhile)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not predicate():
            raise AssertionError(f"{what} stopped holding within {seconds}s")
        time.sleep(0.1)
