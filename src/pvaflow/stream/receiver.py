"""Input receivers: a PVA (or CA) monitor on the input channel.

Without a receiver queue the monitor calls the host for every object on
pvaccess's own thread (the object is only valid during that call, so
nothing is copied or kept). With a queue (``--receiver-queue-size``)
pvaccess copies each update into its bounded ``PvObjectQueue`` and the host
thread takes them out; a full queue rejects the object and counts it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pvaccess as pva

logger = logging.getLogger(__name__)

PROVIDERS = {"pva": pva.PVA, "ca": pva.CA}


class MonitorReceiver:
    """Monitors one channel; counts received objects, overruns and queue rejections."""

    def __init__(self, channel_name: str, request: str, queue_size: int | None, provider: str = "pva") -> None:
        self.channel_name = channel_name
        self.request = request
        self.channel = pva.Channel(channel_name, PROVIDERS[provider])
        # queue_size None: direct calls; 0: unbounded queue; N: at most N queued
        self.queue: pva.PvObjectQueue | None = None
        if queue_size is not None:
            self.queue = pva.PvObjectQueue(queue_size) if queue_size > 0 else pva.PvObjectQueue()
        self.n_errors = 0

    def start(self, on_object: Callable[[pva.PvObject], None]) -> None:
        logger.debug("monitoring %s with request %s", self.channel_name, self.request)
        if self.queue is None:
            self.channel.monitor(on_object, self.request)
        else:
            self.channel.qMonitor(self.queue, self.request)

    def stop(self) -> None:
        self.channel.stopMonitor()

    # --- queue mode -------------------------------------------------------
    def get(self, timeout: float) -> pva.PvObject | None:
        """The next queued object, or None after ``timeout`` seconds."""
        try:
            return self.queue.get(timeout)
        except pva.QueueEmpty:
            return None

    def queued(self) -> int:
        return len(self.queue) if self.queue is not None else 0

    def seconds_since_put(self) -> float:
        return self.queue.getTimeSinceLastPut() if self.queue is not None else 0.0

    def set_queue_size(self, size: int) -> None:
        if self.queue is None:
            raise ValueError("receiverQueueSize can only change when a receiver queue was configured at start")
        self.queue.maxLength = size

    # --- statistics -------------------------------------------------------
    def counts(self) -> dict[str, int]:
        monitor = self.channel.getMonitorCounters()
        queue = self.queue_counts()
        return {
            "nReceived": int(monitor.get("nReceived", 0)),
            "nRejected": int(queue.get("nRejected", 0)),
            "nErrors": self.n_errors,
            "nOverruns": int(monitor.get("nOverruns", 0)),
        }

    def queue_counts(self) -> dict[str, Any]:
        if self.queue is None:
            return {"nReceived": 0, "nRejected": 0, "nDelivered": 0, "nQueued": 0}
        return dict(self.queue.getCounters())

    def reset_stats(self) -> None:
        self.channel.resetMonitorCounters()
        if self.queue is not None:
            self.queue.resetCounters()
        self.n_errors = 0
