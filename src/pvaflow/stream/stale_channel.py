"""Tells a channel that went stale for good from a quiet input, so that the receiver makes a new one.

A pvaccess fault (pvapy 5.6, seen here): when a live server removes a record and adds it again (pvaccess's
own ``PvaMirrorServer`` does when its source restarts), a client's channel to it may go stale for good, in
one of three ways: its monitor stops delivering while the channel says it is connected and the monitor
active (p4p sees that monitor end); the channel stays bound to the removed record (gets answer its last
value); or it never connects again. A new Channel to the same name reaches the new record at once.

Silence alone proves nothing (a paused source is silent too). So once the input delivered nothing for
``quiet_seconds``, a probe (a new Channel, monitoring the id field only) watches the record beside it: the
receiver's channel is dead when the probe sees the id change and the input still delivers nothing
``quiet_seconds / 2`` later, or when the probe has had the record for ``quiet_seconds`` while the receiver's
channel stayed disconnected. A probe that saw nothing new by the next look is replaced (it may have gone
stale itself). Probes are monitors, not asynchronous gets: dropping a pvaccess Channel that made an
asyncGet holds the GIL for 0.8 s (measured here), which would stall the whole process.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import pvaccess as pva

from .callback_thread import keeping_thread_state

logger = logging.getLogger(__name__)

QUIET_SECONDS = 2.0


class StaleChannelCheck:
    """Watches one input channel by name; ``dead(channel, received)`` is called often by the thread that
    owns the receiver, which replaces its channel when it returns True."""

    def __init__(self, channel_name: str, provider: Any, what: str, id_field: str,
                 quiet_seconds: float = QUIET_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self.channel_name = channel_name
        self.provider = provider
        self.what = what  # names the channel in the log
        self.request = f"field({id_field})"
        self.id_field = id_field
        self.quiet_seconds = quiet_seconds
        self.clock = clock
        self.next_look = 0.0
        self.n_received: int | None = None  # the input's count when it was last seen to change
        self.probe: pva.Channel | None = None
        self.lock = threading.Lock()  # the probe's updates come on a pvaccess thread
        self.n_probe_updates = 0  # updates of the current probe (pvaccess thread)
        self.probe_updates_seen = 0  # ... at the last look
        self.first_id: Any = None  # the record's id when the probing began
        self.first_time: float | None = None  # when a probe first had the record
        self.changed_time: float | None = None  # when a probe first saw another id
        self.n_renewals = 0

    def dead(self, channel: pva.Channel, received: int) -> bool:
        """True (once) when ``channel``, whose monitor has delivered ``received`` updates, must be replaced."""
        now = self.clock()
        if now < self.next_look:
            return False
        self.next_look = now + self.quiet_seconds
        connected = channel.isConnected()
        if connected and received != self.n_received:
            self.n_received = received
            self._end_probing()
            return False
        with self.lock:
            first_id, first_time, changed_time, n_updates = (self.first_id, self.first_time, self.changed_time,
                                                             self.n_probe_updates)
        if connected and changed_time is not None and now - changed_time >= self.quiet_seconds / 2:
            reason = f"delivered nothing while its {self.id_field} changed from {first_id}"
        elif not connected and first_time is not None and now - first_time >= self.quiet_seconds:
            reason = "stayed disconnected while a new channel to it had the record"
        else:
            if self.probe is None or n_updates == self.probe_updates_seen:
                self._new_probe()  # none yet, or it saw nothing new (it may have gone stale itself)
            self.probe_updates_seen = n_updates
            return False
        logger.warning("the channel to %s %s (a pvaccess channel can go stale when the server re-creates the "
                       "record): connecting again; objects published meanwhile are lost", self.what, reason)
        return True

    def renewed(self) -> None:
        """The caller made a new channel and monitor."""
        self.n_renewals += 1
        self.n_received = None
        self._end_probing()

    def _new_probe(self) -> None:
        self._stop_probe()
        self.probe = pva.Channel(self.channel_name, self.provider)
        self.probe_updates_seen = 0
        self.probe.monitor(keeping_thread_state(self._on_probe_update), self.request)

    def _on_probe_update(self, pv: pva.PvObject) -> None:
        object_id = pv[self.id_field]
        now = self.clock()
        with self.lock:
            self.n_probe_updates += 1
            if self.first_time is None:
                self.first_id, self.first_time = object_id, now
            elif object_id != self.first_id and self.changed_time is None:
                self.changed_time = now

    def _end_probing(self) -> None:
        self._stop_probe()
        with self.lock:
            self.first_id = self.first_time = self.changed_time = None

    def _stop_probe(self) -> None:
        if self.probe is None:
            return
        try:
            self.probe.stopMonitor()
        except pva.PvaException as ex:  # a probe that never connected
            logger.debug("stopping the probe of %s: %s", self.what, ex)
        self.probe = None
        with self.lock:
            self.n_probe_updates = 0
