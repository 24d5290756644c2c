"""The frames a pipeline's source has published, counted by a monitor of its channel (the runner's "sent")."""

from __future__ import annotations

import pvaccess as pva

from ..stream.request import monitor_request


class SourceCounter:
    """Counts the frames a source publishes: a monitor on its channel that asks for the id only.

    One pvaccess thread calls ``_on_update``; ``count`` reads a plain int, so no lock is needed.
    """

    def __init__(self, channel_name: str) -> None:
        self.channel = pva.Channel(channel_name)
        self.n_frames = 0
        self.last_id = 0
        self.monitoring = False  # the source's current value arrived: every frame from now on is counted

    def start(self) -> None:
        self.channel.monitor(self._on_update, monitor_request(1000, "uniqueId", "uniqueId"))

    def _on_update(self, pv: pva.PvObject) -> None:
        unique_id = pv["uniqueId"]
        # 0: a record's value before the first frame; the same id again: the value a reconnect delivers
        if unique_id and unique_id != self.last_id:
            self.n_frames += 1
        self.last_id = unique_id
        self.monitoring = True

    @property
    def count(self) -> int:
        return self.n_frames

    def stop(self) -> None:
        self.channel.stopMonitor()


