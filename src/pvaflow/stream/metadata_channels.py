"""Metadata channels (``--metadata-channels``): PVs monitored beside the input.

Each channel's updates go into a bounded :class:`MetadataQueue`, which the
processor reads as ``metadataQueueMap[name]``. When a queue is full the
oldest update is dropped and counted: for metadata the newest values are the
ones a frame still waiting to be processed can match.

Channel specs: ``pva://name``, ``ca://name`` or a bare ``name`` (CA), as
pvaPy. CA channels go through pvaccess's CA provider and request
``value`` and ``timeStamp``; PVA channels request the whole structure.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from typing import Any

import pvaccess as pva

from .client import PROVIDERS
from .metadata_spec import DEFAULT_QUEUE_SIZE, MetadataSpec
from .request import record_options
from .stats import SOURCE_CHANNEL_TYPES, source_channel_stats

logger = logging.getLogger(__name__)

CA_FIELDS = "field(value,timeStamp)"


class MetadataQueue:
    """A bounded queue of one channel's updates that drops its oldest entry when full; reads like
    ``pvaccess.PvObjectQueue``.

    pvaccess fills ``arrivals``, an unbounded ``PvObjectQueue``, through ``Channel.qMonitor``: in C++, with
    no Python and no GIL per update. (A Python callback per update, with six channels at 3,000 frames per
    second, took the GIL 18,000 times a second from the thread processing frames, and the channels'
    monitors overran.) Reading moves the arrivals into the bounded queue first, dropping the oldest beyond
    ``maxLength``; the owner also collects at each status refresh, so arrivals that no processor reads stay
    bounded. ``get(timeout)`` raises ``pvaccess.QueueEmpty`` when nothing arrives in time, so processors
    written for pvaPy's queues work unchanged.
    """

    def __init__(self, max_length: int = DEFAULT_QUEUE_SIZE) -> None:
        self.maxLength = max_length  # 0: unbounded (pvaccess's attribute name)
        self.arrivals = pva.PvObjectQueue()
        self.items: collections.deque[Any] = collections.deque()
        self.lock = threading.Lock()
        self.n_received = 0
        self.n_dropped = 0
        self.n_delivered = 0

    def put(self, item: Any) -> None:
        """Queue an update (a channel's monitor puts into ``arrivals`` itself)."""
        self.arrivals.put(item)

    def collect(self) -> None:
        """Move the arrivals into the bounded queue."""
        with self.lock:
            self._collect()

    def _collect(self) -> None:
        arrivals, items = self.arrivals, self.items
        n_new = len(arrivals)  # only this queue's reader takes from arrivals (len: 5x quicker than getCounters)
        if not n_new:
            return
        for _ in range(n_new):
            items.append(arrivals.get())
        self.n_received += n_new
        if self.maxLength > 0:
            while len(items) > self.maxLength:
                items.popleft()
                self.n_dropped += 1

    def get(self, timeout: float = 0.0) -> Any:
        """The oldest update; waits up to ``timeout`` seconds, then raises ``pvaccess.QueueEmpty``."""
        update = self._pop()
        if update is None and timeout > 0:
            self.waitForPut(timeout)
            update = self._pop()
        if update is None:
            raise pva.QueueEmpty("metadata queue is empty")
        return update

    def _pop(self) -> Any:
        with self.lock:
            self._collect()
            if not self.items:
                return None
            self.n_delivered += 1
            return self.items.popleft()

    def take_all(self) -> list[Any]:
        """Every queued update, oldest first, at once (one lock for all: what pvaflow's processors use)."""
        with self.lock:
            self._collect()
            if not self.items:
                return []
            updates = list(self.items)
            self.items.clear()
            self.n_delivered += len(updates)
            return updates

    def waitForPut(self, timeout: float) -> None:  # noqa: N802 (pvaccess's name)
        if not self.items:
            self.arrivals.waitForPut(timeout)  # returns on a put or after ``timeout``

    def clear(self) -> None:
        with self.lock:
            self._collect()
            self.items.clear()

    def __len__(self) -> int:
        return len(self.items) + len(self.arrivals)

    def getCounters(self) -> dict[str, int]:  # noqa: N802 (pvaccess's name)
        with self.lock:
            self._collect()
            return {
                "nReceived": self.n_received,
                "nRejected": self.n_dropped,  # pvaccess's name for what did not stay queued
                "nDelivered": self.n_delivered,
                "nQueued": len(self.items),
            }

    def resetCounters(self) -> None:  # noqa: N802 (pvaccess's name)
        with self.lock:
            self._collect()
            self.n_received = self.n_dropped = self.n_delivered = 0


CONNECT_WARNING_SECONDS = 5.0  # a metadata channel not connected this long after start is reported


def stats_key(index: int) -> str:
    """Field name of a metadata channel's stats in the status structure (1-based, as pvaPy's ids)."""
    return f"metadata_{index}"


METADATA_STAT_TYPES = {
    "channel": pva.STRING,
    "connected": pva.BOOLEAN,
    "nReceived": pva.UINT,
    "nDropped": pva.UINT,
    "nDelivered": pva.UINT,
    "nQueued": pva.UINT,
    "nOverruns": pva.UINT,
}


class MetadataChannels:
    """Monitors every metadata channel into its queue; owned and started by the host."""

    def __init__(self, specs: tuple[MetadataSpec, ...], server_queue_size: int, queue_size: int) -> None:
        self.specs = specs
        record = record_options(server_queue_size)
        self.requests = {
            spec.name: record + (CA_FIELDS if spec.protocol == "ca" else "field()") for spec in specs
        }
        self.queues = {spec.name: MetadataQueue(queue_size) for spec in specs}
        self.channels = {spec.name: pva.Channel(spec.name, PROVIDERS[spec.protocol]) for spec in specs}
        self.started = 0.0  # time.monotonic() of start()
        self.warned: set[str] = set()  # channels reported as not connected

    def start(self) -> None:
        self.started = time.monotonic()
        for name, channel in self.channels.items():
            logger.debug("monitoring metadata channel %s with request %s", name, self.requests[name])
            channel.qMonitor(self.queues[name].arrivals, self.requests[name])

    def stop(self) -> None:
        for channel in self.channels.values():
            channel.stopMonitor()

    def stat_types(self) -> dict[str, Any]:
        """metadataStats (pvaflow's) and metadataStats_<n> at the top level (pvaPy's, as its status declares)."""
        if not self.specs:
            return {}
        numbers = range(1, len(self.specs) + 1)
        return {"metadataStats": {stats_key(i): METADATA_STAT_TYPES for i in numbers}} | {
            f"metadataStats_{i}": SOURCE_CHANNEL_TYPES for i in numbers}

    def stats(self) -> dict[str, Any]:
        if not self.specs:
            return {}
        section: dict[str, Any] = {}
        pvapy_sections: dict[str, Any] = {}
        seconds = time.monotonic() - self.started if self.started else 0.0
        for index, spec in enumerate(self.specs, start=1):
            counters = self.queues[spec.name].getCounters()
            monitor = self.channels[spec.name].getMonitorCounters()
            connected = bool(self.channels[spec.name].isConnected())
            self.warn_if_unconnected(spec.name, connected)
            section[stats_key(index)] = {
                "channel": spec.name,
                "connected": connected,
                "nReceived": counters["nReceived"],
                "nDropped": counters["nRejected"],
                "nDelivered": counters["nDelivered"],
                "nQueued": counters["nQueued"],
                "nOverruns": int(monitor.get("nOverruns", 0)),
            }
            pvapy_sections[f"metadataStats_{index}"] = source_channel_stats(  # the counters are its queueStats
                index, spec.name, counters["nReceived"], counters["nRejected"], int(monitor.get("nOverruns", 0)),
                counters, seconds)
        return {"metadataStats": section} | pvapy_sections

    def warn_if_unconnected(self, name: str, connected: bool) -> None:
        """One warning for a channel still not connected CONNECT_WARNING_SECONDS after start (and again after it
        was connected and lost)."""
        if connected:
            self.warned.discard(name)
        elif name not in self.warned and time.monotonic() - self.started >= CONNECT_WARNING_SECONDS:
            self.warned.add(name)
            logger.warning("metadata channel %s is not connected (%.0f s after start): frames get no metadata "
                           "from it until it is (metadataStats ... connected)", name,
                           time.monotonic() - self.started)

    def reset_stats(self) -> None:
        for name, queue in self.queues.items():
            queue.resetCounters()
            self.channels[name].resetMonitorCounters()
