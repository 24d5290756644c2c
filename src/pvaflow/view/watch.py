"""The viewer's PVA side: what each channel shown is, its counts, and its frames fetched at the display rate.

What a channel is (an NTNDArray, a stage's status, something else) is read from its first value (a get,
tried by :meth:`ChannelWatch.discover` until the channel answers). Then:

- an image channel is read with a get when a browser is ready to draw a frame: the stage serving it sends
  whole frames to the viewer about ten times a second, and nothing per frame. The stream's rate comes from
  the ids fetched; the frames between two fetches are counted as skipped for display. With ``every_frame``
  its ``uniqueId`` is also monitored, so every frame is counted (received, ids missed); that costs the
  serving stage a monitor update per frame (benchmarks/view_cost.py: about 70 us a frame for a consumer
  serving 512x512 frames, against about 130 us it spends on the frame itself);
- a status channel is monitored whole (it changes about once a second).
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
from ..stream.client import get_within, stop_monitor

IMAGE, STATUS, OTHER = "image", "status", "other"
STATUS_SECTIONS = ("processorStats", "receiverStats", "collectorStats")
ID_QUEUE = 1000  # the source's queue for the id monitor: ids are a few bytes, a busy viewer still counts each
RATE_SECONDS = 2.0  # the shown rate is the count over about this long
GET_SECONDS = 2.0
FETCH_REUSE_SECONDS = 0.05

logger = logging.getLogger(__name__)


def kind_of(pv: pva.PvObject) -> str:
    """IMAGE for an NTNDArray, STATUS for a consumer's or collector's status, else OTHER."""
    if pv.hasField("uniqueId") and pv.hasField("value") and pv.hasField("dimension"):
        return IMAGE
    return STATUS if any(pv.hasField(section) for section in STATUS_SECTIONS) else OTHER


@dataclass(frozen=True)
class Counts:
    """What the viewer counted on an image channel. ``received``: frames fetched, or with every_frame each
    frame's id; ``missed``: ids never seen (every_frame only, else None); ``skipped``: frames published between
    two fetched (not drawn: the display rate); ``rate``: the stream's frames a second."""

    received: int
    missed: int | None
    skipped: int
    rate: float


class RateMeter:
    """Per second from (time, count) samples (count: updates, or the last id), taken when read."""

    def __init__(self) -> None:
        self.samples: deque[tuple[float, int]] = deque()

    def rate(self, now: float, count: int) -> float:
        self.samples.append((now, count))
        while len(self.samples) > 2 and now - self.samples[1][0] >= RATE_SECONDS:
            self.samples.popleft()
        first_time, first_count = self.samples[0]
        return max(0.0, (count - first_count) / (now - first_time)) if now > first_time else 0.0


class ChannelWatch:
    """One channel shown: ``kind`` is None until :meth:`discover` has read its first value."""

    def __init__(self, name: str, every_frame: bool = False) -> None:
        self.name = name
        self.every_frame = every_frame
        self.kind: str | None = None
        self.fields: list[str] = []
        self.latest: pva.PvObject | None = None  # a status (or other) channel's last value
        self.lock = threading.Lock()  # the counts change together (pvaccess's thread, the render thread)
        self.received = 0  # monitor updates
        self.missed = 0
        self.last_id: int | None = None  # of the monitor
        self.fetched = 0
        self.skipped = 0
        self.fetched_id: int | None = None
        self.fetched_frame: tuple[float, pva.PvObject] | None = None  # (when, value) of the last fetch
        self.meter = RateMeter()
        self.channel = pva.Channel(name)
        self.channel.setTimeout(GET_SECONDS)
        self.monitoring = False

    def discover(self) -> bool:
        """Read the channel's first value and start its monitor; False while it does not answer."""
        try:
            first = get_within(self.channel, "field()", GET_SECONDS)
        except pva.PvaException:
            return False
        self.kind, self.fields = kind_of(first), sorted(first.keys())
        logger.info("%s: %s channel", self.name, self.kind)
        if self.kind != IMAGE:
            self.channel.monitor(keeping_thread_state(self.on_update), "field()")
            self.monitoring = True
        elif self.every_frame:
            self.channel.monitor(keeping_thread_state(self.on_id), f"record[queueSize={ID_QUEUE}]field(uniqueId)")
            self.monitoring = True
        return True

    def stop(self) -> None:
        if self.monitoring:
            stop_monitor(self.channel)

    def on_update(self, pv: pva.PvObject) -> None:
        self.latest = pv
        with self.lock:
            self.received += 1

    def on_id(self, pv: pva.PvObject) -> None:
        image_id = pv["uniqueId"]
        with self.lock:
            self.received += 1
            if self.last_id is not None and image_id > self.last_id + 1:
                self.missed += image_id - self.last_id - 1
            self.last_id = image_id

    def fetch(self) -> pva.PvObject:
        """The channel's current value, whole (a get; PvaException when it does not answer). Tabs asking
        within FETCH_REUSE_SECONDS of each other share one get."""
        now = time.monotonic()
        with self.lock:
            if self.fetched_frame is not None and now - self.fetched_frame[0] < FETCH_REUSE_SECONDS:
                return self.fetched_frame[1]
        frame = get_within(self.channel, "field()", GET_SECONDS)
        image_id = frame["uniqueId"]
        with self.lock:
            self.fetched_frame = (now, frame)
            if image_id != self.fetched_id:
                self.fetched += 1
                if self.fetched_id is not None and image_id > self.fetched_id + 1:
                    self.skipped += image_id - self.fetched_id - 1
                self.fetched_id = image_id
        return frame

    def counts(self) -> Counts:
        """The counts so far (read on one thread: the loop's)."""
        now = time.monotonic()
        with self.lock:
            if self.every_frame:
                return Counts(self.received, self.missed, self.skipped, self.meter.rate(now, self.received))
            return Counts(self.fetched, None, self.skipped, self.meter.rate(now, self.fetched_id or 0))

    def status(self) -> dict[str, Any] | None:
        """A status channel's latest value as a dict."""
        latest = self.latest
        return None if latest is None else latest.toDict()
