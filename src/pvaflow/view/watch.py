"""The viewer's PVA side: one monitor per channel shown, keeping only the latest value and counts.

A pvaccess thread calls :meth:`ChannelWatch.on_update` for every update; it counts the update and keeps a
reference to it (frames are never queued here: the page shows the latest, at its own rate). What a channel
is (an NTNDArray, a stage's status, something else) is decided by its first value.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import pvaccess as pva

from ..stream.callback_thread import keeping_thread_state
from ..stream.client import stop_monitor

IMAGE, STATUS, OTHER = "image", "status", "other"
STATUS_SECTIONS = ("processorStats", "receiverStats", "collectorStats")
SERVER_QUEUE = 2  # the source's queue for this monitor: a viewer that falls behind skips frames at the source
RATE_SECONDS = 2.0  # the shown rate is the count over about this long

logger = logging.getLogger(__name__)


def kind_of(pv: pva.PvObject) -> str:
    """IMAGE for an NTNDArray, STATUS for a consumer's or collector's status, else OTHER."""
    if pv.hasField("uniqueId") and pv.hasField("value") and pv.hasField("dimension"):
        return IMAGE
    return STATUS if any(pv.hasField(section) for section in STATUS_SECTIONS) else OTHER


@dataclass(frozen=True)
class Counts:
    """What the viewer received on a channel: updates, ids missed (gaps), and the rate of late."""

    received: int
    missed: int
    rate: float


class RateMeter:
    """Updates per second from (time, count) samples taken when read (nothing runs per update)."""

    def __init__(self) -> None:
        self.samples: deque[tuple[float, int]] = deque()

    def rate(self, now: float, count: int) -> float:
        self.samples.append((now, count))
        while len(self.samples) > 2 and now - self.samples[1][0] >= RATE_SECONDS:
            self.samples.popleft()
        first_time, first_count = self.samples[0]
        return (count - first_count) / (now - first_time) if now > first_time else 0.0


class ChannelWatch:
    """Monitors ``name`` and keeps its latest value; ``kind`` is None until the first update."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.kind: str | None = None
        self.latest: pva.PvObject | None = None
        self.received = 0
        self.missed = 0
        self.last_id: int | None = None
        self.fields: list[str] = []
        self.meter = RateMeter()
        self.lock = threading.Lock()  # counts and latest change together
        self.channel = pva.Channel(name)

    def start(self) -> None:
        self.channel.monitor(keeping_thread_state(self.on_update), f"record[queueSize={SERVER_QUEUE}]field()")

    def stop(self) -> None:
        stop_monitor(self.channel)

    def on_update(self, pv: pva.PvObject) -> None:
        if self.kind is None:
            self.kind = kind_of(pv)
            self.fields = sorted(pv.keys())
            logger.info("%s: %s channel", self.name, self.kind)
        with self.lock:
            self.received += 1
            if self.kind == IMAGE:
                image_id = pv["uniqueId"]
                if self.last_id is not None and image_id > self.last_id + 1:
                    self.missed += image_id - self.last_id - 1
                self.last_id = image_id
            self.latest = pv

    def snapshot(self) -> tuple[pva.PvObject | None, Counts]:
        """The latest value and the counts so far (the rate over the last RATE_SECONDS)."""
        with self.lock:
            latest, received, missed = self.latest, self.received, self.missed
        return latest, Counts(received, missed, self.meter.rate(time.monotonic(), received))

    def status(self) -> dict[str, Any] | None:
        """The latest value as a dict (status channels: they change about once a second)."""
        latest = self.latest
        return None if latest is None else latest.toDict()
