"""What the stages' status channels say, for the runner: watched by monitors, summed by a pure function.

The runner never waits on a stage: each status channel is monitored for the whole run (pvAccess reconnects a
monitor to a restarted stage by itself), a pvaccess thread keeps the latest value of each, and the runner's
loop only reads those. (Polling with a get every half second, a Channel made and dropped each time, once
left the runner's loop blocked for good while a stage died at start.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pvaccess as pva

from ..stream.callback_thread import keeping_thread_state
from ..stream.client import stop_monitor

SECTIONS = ("userStats", "collectorStats")  # status sections summed as they are (not kept across restarts)
COUNTS = ("nReceived", "nProcessed", "nPublished", "nMissed", "nErrors", "nQueued", "nRejected")


@dataclass(frozen=True)
class StatusCounts:
    """What a process's status channels say: summed counts, processing rate, numeric SECTIONS, and the
    first and last object ids (of its one status channel; a consumer process and a collector have one)."""

    counts: dict[str, float]
    rate: float
    sections: dict[str, dict[str, float]]
    ids: tuple[int, int]


def status_counts(statuses: list[dict[str, Any]]) -> StatusCounts | None:
    """What the status values say (as dicts); None for none."""
    if not statuses:
        return None
    totals = dict.fromkeys(COUNTS, 0.0)
    ids = (0, 0)
    sections: dict[str, dict[str, float]] = {name: {} for name in SECTIONS}
    rate = 0.0
    for status in statuses:
        receiver, processor = status.get("receiverStats", {}), status.get("processorStats", {})
        publisher, queue = status.get("publisherStats", {}), status.get("queueStats", {})
        totals["nReceived"] += receiver.get("nReceived", 0)
        totals["nRejected"] += receiver.get("nRejected", 0)
        totals["nProcessed"] += processor.get("nProcessed", 0)
        totals["nPublished"] += publisher.get("nPublished", 0)
        totals["nMissed"] += processor.get("nMissed", 0)
        totals["nErrors"] += processor.get("nErrors", 0) + receiver.get("nErrors", 0) + publisher.get("nErrors", 0)
        totals["nQueued"] += queue.get("nQueued", 0)
        rate += processor.get("processedRate", 0.0)
        ids = (int(processor.get("firstObjectId", 0)), int(processor.get("lastObjectId", 0)))
        for name, summed in sections.items():
            for key, value in status.get(name, {}).items():
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    summed[key] = summed.get(key, 0) + value
    return StatusCounts(totals, rate, sections, ids)


def input_monitored(status: dict[str, Any]) -> bool:
    """A stage's status says it received its input's current value (a collector: from every producer)."""
    producers = [value for key, value in status.items() if key.startswith("producerStats_")]
    if producers:
        return all(producer.get("nReceived", 0) >= 1 for producer in producers)
    return status.get("receiverStats", {}).get("nReceived", 0) >= 1


class StatusWatch:
    """Monitors status channels and keeps the latest value of each (None: none since the start or forget()).

    pvaccess threads write ``latest[name]`` (one dict assignment); the runner's thread reads it.
    """

    def __init__(self, names: list[str]) -> None:
        self.latest: dict[str, dict[str, Any] | None] = dict.fromkeys(names)
        self.channels = {name: pva.Channel(name) for name in self.latest}

    def start(self) -> None:
        for name, channel in self.channels.items():
            channel.monitor(keeping_thread_state(lambda pv, name=name: self._on_update(name, pv)), "field()")

    def _on_update(self, name: str, pv: pva.PvObject) -> None:
        self.latest[name] = pv.toDict()

    def values(self, names: list[str]) -> list[dict[str, Any]]:
        """The latest values of ``names`` that have one."""
        return [value for value in (self.latest.get(name) for name in names) if value is not None]

    def forget(self, names: list[str]) -> None:
        """A stage process died: what its channels said belongs to it, not to its next incarnation."""
        for name in names:
            self.latest[name] = None

    def stop(self) -> None:
        for channel in self.channels.values():
            stop_monitor(channel)
