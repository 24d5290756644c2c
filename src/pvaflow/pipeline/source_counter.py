"""The frames a pipeline's source has published, counted by a monitor of its channel (the runner's "sent")."""

from __future__ import annotations

import pvaccess as pva

from ..stream.request import monitor_request
from ..stream.stale_channel import StaleChannelCheck


class SourceCounter:
    """Counts the frames a source publishes: a monitor on its channel that asks for the id only.

    One pvaccess thread calls ``_on_update``; ``count`` reads a plain int, so no lock is needed. ``look()``,
    called often by the runner's thread, renews the channel as a consumer's receiver does
    (:class:`StaleChannelCheck`): one made before its source served the record may connect many seconds late
    (pvAccess backs off its searches), as one runner's count of a source run by another (``--only``) did.
    """

    def __init__(self, channel_name: str) -> None:
        self.channel_name = channel_name
        self.channel = pva.Channel(channel_name)
        self.staleness = StaleChannelCheck(channel_name, pva.PVA, f"the source {channel_name}", "uniqueId")
        self.connected_once = False
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

    def look(self) -> None:
        """Replace the channel if it went stale or never connected while the record is there."""
        self.connected_once = self.connected_once or self.channel.isConnected()
        received = self.channel.getMonitorCounters().get("nReceived", 0)
        if self.staleness.dead(self.channel, received, self.connected_once):
            self.channel.stopMonitor()
            self.channel = pva.Channel(self.channel_name)
            self.start()
            self.staleness.renewed(0)

    @property
    def count(self) -> int:
        return self.n_frames

    def stop(self) -> None:
        self.staleness.close()
        self.channel.stopMonitor()
