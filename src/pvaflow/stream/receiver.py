"""Input receivers: a PVA (or CA) monitor on the input channel.

Without a receiver queue the monitor calls the host for every object on
pvaccess's own thread (the object is only valid during that call, so
nothing is copied or kept). With a queue (``--receiver-queue-size``)
pvaccess copies each update into its bounded ``PvObjectQueue`` and the host
thread takes them out; a full queue rejects the object and counts it.
"""

from __future__ import annotations

import collections
import itertools
import logging
import time
from collections.abc import Callable
from typing import Any

import pvaccess as pva

from .. import ntnd
from .callback_thread import keeping_thread_state
from .client import PROVIDERS, stop_monitor
from .stale_channel import Delivered, QueueOrder, StaleChannelCheck
from .stats import SOURCE_CHANNEL_TYPES, rate, source_channel_stats

logger = logging.getLogger(__name__)

IDLE_POLL_SECONDS = 0.002  # the collector looks for new objects this often when it has none
QUIET_POLL_SECONDS = 0.02  # ... and this often once nothing came for QUIET_SECONDS
QUIET_SECONDS = 1.0


NO_COUNTS = {"nReceived": 0, "nOverruns": 0}  # a monitor's counts that a renewal carries over


def monitor_counts(channel: pva.Channel, carried: dict[str, int]) -> dict[str, int]:
    """nReceived and nOverruns of ``channel``'s monitor plus ``carried``, those of the channels it replaced
    since the last reset (a renewed channel's monitor counts from 0)."""
    monitor = channel.getMonitorCounters()
    return {name: count + int(monitor.get(name, 0)) for name, count in carried.items()}


class ConnectionWatch:
    """Follows one channel's connection from the host thread, polling ``isConnected()`` (the channel's
    own connection callback crashed pvaccess here), and logs it going away and coming back."""

    def __init__(self, channel: pva.Channel, what: str) -> None:
        self.channel = channel
        self.what = what  # names the channel in the log
        self.connected = False
        self.connected_once = False
        self.renewed = False  # a new channel replaced a live one: its first connection is not a reconnect
        self.n_reconnects = 0

    def renew(self, channel: pva.Channel, live: bool) -> None:
        """Watch ``channel``, made to replace the watched one (see StaleChannelCheck). ``live``: the old one
        was working (its monitor held back an update), so the new one connecting is not a reconnect; else the
        new channel is how the input comes back: its connection is counted as one."""
        self.channel = channel
        if live:
            self.connected = False
            self.renewed = True

    def lost(self) -> bool:
        """Whether the channel went away since the last call (a reconnect is counted and logged)."""
        connected = self.channel.isConnected()
        if connected == self.connected:
            return False
        self.connected = connected
        if not connected:
            logger.warning("%s disconnected; waiting for it to come back", self.what)
            return True
        if self.renewed:
            self.renewed = False
            logger.info("%s: the new channel connected", self.what)
        elif self.connected_once:
            self.n_reconnects += 1
            logger.warning("%s connected again", self.what)
        self.connected_once = True
        return False


class QueuedInput:
    """The receiver queue side shared by every single-input receiver (monitor, pvas, rpc).

    ``queue`` is None without ``--receiver-queue-size``: objects then go
    straight to the host on the thread that received them.
    """

    def __init__(self, channel_name: str, queue_size: int | None) -> None:
        self.channel_name = channel_name
        # queue_size None: direct calls; 0: unbounded queue; N: at most N queued
        self.queue: pva.PvObjectQueue | None = None
        if queue_size is not None:
            self.queue = pva.PvObjectQueue(queue_size) if queue_size > 0 else pva.PvObjectQueue()
        self.n_errors = 0
        # after a disconnect: how many objects are ahead of the channel's current value sent on reconnecting
        self.initial_in: int | None = None
        # that value is one the old monitor held back (it is processed unless it repeats the last id handled)
        self.initial_held_back = False

    def watch_connection(self, delivered: Delivered | None) -> None:
        """Called by the host thread on every turn of its loop: follows the input channel's connection
        (ConnectionWatch) and, when it went away, marks the object that will be the value sent on
        reconnecting (the first after those still queued). ``delivered``: the last id the host handled,
        while it is idle (see StaleChannelCheck). A served input (pvas, rpc) has no channel."""

    def count_error(self) -> None:
        """An object the host could not read (no id field): counted as a receive error."""
        self.n_errors += 1

    def is_initial_update(self) -> bool:
        """Whether the object the host is about to handle is the current value sent on reconnecting."""
        ahead = self.initial_in
        if ahead is None:
            return False
        if ahead > 0:
            self.initial_in = ahead - 1
            return False
        self.initial_in = None
        return True

    def sample(self) -> pva.PvObject | None:
        """An object to type the output channel by before any is processed (the host sees them all)."""
        return None

    def get(self, timeout: float) -> pva.PvObject | None:
        """The next queued object, or None after ``timeout`` seconds."""
        try:
            # get() without a timeout answers at once; get(0) on an empty pvaccess queue waits 0.2 ms
            return self.queue.get(timeout) if timeout > 0 else self.queue.get()
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

    def queue_counts(self) -> dict[str, Any]:
        if self.queue is None:
            return {"nReceived": 0, "nRejected": 0, "nDelivered": 0, "nQueued": 0}
        return dict(self.queue.getCounters())

    def extra_types(self) -> dict[str, Any]:
        return {}

    def extra_stats(self) -> dict[str, Any]:
        return {}

    def reset_queue_stats(self) -> None:
        if self.queue is not None:
            self.queue.resetCounters()
        self.n_errors = 0


class MonitorReceiver(QueuedInput):
    """Monitors one channel; counts received objects, overruns and queue rejections."""

    def __init__(self, channel_name: str, request: str, queue_size: int | None, provider: str = "pva",
                 id_field: str = "uniqueId") -> None:
        super().__init__(channel_name, queue_size)
        self.request = request
        self.provider = PROVIDERS[provider]
        self.channel = pva.Channel(channel_name, self.provider)
        self.connection = ConnectionWatch(self.channel, channel_name)
        # the pvaccess fault it looks for is a PVA server's (a record re-created): not looked for on CA
        self.staleness = StaleChannelCheck(channel_name, self.provider, channel_name, id_field) \
            if provider == "pva" else None
        self.on_object: Callable[[pva.PvObject], None] | None = None
        self.carried = dict(NO_COUNTS)  # counted by channels before a renewal
        self.order = QueueOrder()  # with a receiver queue: whether the last object handled is the newest

    def watch_connection(self, delivered: Delivered | None) -> None:
        if self.queue is not None and not self.order.look(self.queue.getCounters()):
            delivered = None  # an update refused since is newer than the last one handled
        if self.connection.lost():
            self.initial_in = self.queued()
            self.initial_held_back = False
        elif self.staleness is not None and self.staleness.dead(self.channel, self.monitor_counts()["nReceived"],
                                                                self.connection.connected_once, delivered):
            self.carried = self.monitor_counts()  # a new channel's monitor counts from 0
            stop_monitor(self.channel)
            self.channel = pva.Channel(self.channel_name, self.provider)
            self.connection.renew(self.channel, live=self.staleness.held_back)
            self.start(self.on_object)
            self.staleness.renewed(self.carried["nReceived"])  # the new monitor counts from 0
            if self.connection.connected_once:  # else its first value is the one skipped at start
                self.initial_in = self.queued()  # the channel's current value, as on reconnecting
                self.initial_held_back = self.staleness.held_back

    def start(self, on_object: Callable[[pva.PvObject], None]) -> None:
        logger.debug("monitoring %s with request %s", self.channel_name, self.request)
        self.on_object = on_object
        if self.queue is None:
            self.channel.monitor(keeping_thread_state(on_object), self.request)
        else:
            self.channel.qMonitor(self.queue, self.request)

    def stop(self) -> None:
        stop_monitor(self.channel)
        if self.staleness is not None:
            self.staleness.close()

    def monitor_counts(self) -> dict[str, int]:
        """nReceived and nOverruns of every monitor since the last reset (the current one's and before)."""
        return monitor_counts(self.channel, self.carried)

    def counts(self) -> dict[str, int]:
        monitor = self.monitor_counts()
        queue = self.queue_counts()
        return {
            "nReceived": monitor["nReceived"],
            "nRejected": int(queue.get("nRejected", 0)),
            "nErrors": self.n_errors,
            "nOverruns": monitor["nOverruns"],
            "nReconnects": self.connection.n_reconnects,
            "nStaleChannels": self.staleness.n_renewals if self.staleness is not None else 0,
        }

    def reset_stats(self) -> None:
        received = self.monitor_counts()["nReceived"]
        self.channel.resetMonitorCounters()
        self.carried = dict.fromkeys(self.carried, 0)
        self.connection.n_reconnects = 0
        if self.staleness is not None:
            self.staleness.counts_reset(received)
        self.reset_queue_stats()
        self.order.counters_reset()


class CollectingReceiver:
    """Monitors every producer channel and gives their objects back in id order.

    pvaccess copies each producer's updates into that producer's bounded ``PvObjectQueue``
    (``Channel.qMonitor``: in C++, with no Python and no GIL per update; a full queue refuses the update and
    counts it). ``get`` runs on the host thread: it takes what the queues hold, the producers in turn (one
    object of each), skips each producer's first ``skip_initial`` objects of a connection (the values a
    monitor gets on connecting; again on reconnecting: a restarted producer's record may hold an object it
    never processed), puts the rest into the reorder cache in one batch and returns the released objects one
    by one. With nothing queued it looks again after IDLE_POLL_SECONDS (QUIET_POLL_SECONDS after a quiet
    second). A Python callback per update that copied it into one queue cost 10-20% more CPU a frame at
    3,000 fps (four producers, 512x512): every callback took the GIL from the host thread.
    """

    initial_in = None  # see QueuedInput.is_initial_update: never set here (each producer's are skipped here)
    initial_held_back = False

    def is_initial_update(self) -> bool:
        return False

    def count_error(self) -> None:
        self.n_errors += 1

    def __init__(
        self,
        channel_names: dict[int, str],
        request: str,
        cache: Any,
        object_id_field: str,
        queue_size: int,
        skip_initial: int,
        queue_bytes: int = 0,
    ) -> None:
        self.channel_name = ",".join(channel_names.values())
        self.channel_names = channel_names
        self.request = request
        self.cache = cache
        self.object_id_field = object_id_field
        self.channels = {producer: pva.Channel(name) for producer, name in channel_names.items()}
        # each producer's queue, filled by pvaccess (the host's ``queue``: not None, the host takes from it)
        self.queue = {producer: pva.PvObjectQueue() for producer in channel_names}
        self.set_queue_size(queue_size)
        # > 0: each producer's queue also holds as many of its frames as fit in its share of these bytes
        self.queue_bytes = queue_bytes
        self.ready: collections.deque = collections.deque()
        self.skip_initial = skip_initial
        # per producer: objects still to collect before the next skip_initial are skipped (after a reconnect:
        # those queued before it), and how many of those are left to skip
        self.to_pass = dict.fromkeys(channel_names, 0)
        self.to_skip = dict.fromkeys(channel_names, skip_initial)
        self.first_initial: pva.PvObject | None = None  # types the output before anything is collected
        self.last_object_time = 0.0  # time.monotonic() when objects were last taken
        self.connections = {producer: ConnectionWatch(channel, f"producer {producer} ({channel_names[producer]})")
                            for producer, channel in self.channels.items()}
        self.staleness = {producer: StaleChannelCheck(name, pva.PVA, f"producer {producer} ({name})", object_id_field)
                          for producer, name in channel_names.items()}
        # each producer's last id taken and when (the stale-channel check sees a monitor holding back an update
        # by it; not with a server-side filter in the request, which picks the updates by design, nor while an
        # update its queue refused may be newer: QueueOrder)
        self.track_ids = "_[" not in request
        self.last_update: dict[int, Delivered | None] = dict.fromkeys(channel_names)
        self.order = {producer: QueueOrder() for producer in channel_names}
        self.carried = {producer: dict(NO_COUNTS) for producer in channel_names}
        self.reset_stats()

    def start(self, on_object: Callable[[pva.PvObject], None]) -> None:
        for producer, channel in self.channels.items():
            channel.qMonitor(self.queue[producer], self.request)

    def skip_after_queued(self, producer: int) -> None:
        """The producer's monitor (re)connected: the first ``skip_initial`` objects after those queued now are
        its current value."""
        self.to_pass[producer] = len(self.queue[producer])
        self.to_skip[producer] = self.skip_initial

    def watch_connection(self, delivered: Delivered | None) -> None:
        """As MonitorReceiver.watch_connection, per producer: a producer that went away has the
        ``skip_initial`` objects after those already queued skipped (nothing comes from it before it is back)."""
        for producer, connection in self.connections.items():
            queue = self.queue[producer]
            if connection.lost():
                self.skip_after_queued(producer)
                continue
            check = self.staleness[producer]
            idle = self.order[producer].look(queue.getCounters()) and not len(queue)
            if check.dead(self.channels[producer], self.monitor_counts(producer)["nReceived"],
                          connection.connected_once, self.last_update[producer] if idle else None):
                self.carried[producer] = self.monitor_counts(producer)  # a new channel's monitor counts from 0
                stop_monitor(self.channels[producer])
                channel = self.channels[producer] = pva.Channel(self.channel_names[producer])
                connection.renew(channel, live=check.held_back)
                if not check.held_back:  # else the first value is the update held back (a repeat: a duplicate)
                    self.skip_after_queued(producer)  # the new monitor's first value is the current one: skipped
                channel.qMonitor(queue, self.request)
                check.renewed(self.carried[producer]["nReceived"])

    def stop(self) -> None:
        for channel in self.channels.values():
            stop_monitor(channel)
        for check in self.staleness.values():
            check.close()

    def sample(self) -> pva.PvObject | None:
        return self.first_initial

    def take(self, producer: int, now: float) -> list[tuple[int, pva.PvObject]]:
        """The producer's queued objects to collect, its connection's first ``skip_initial`` left out."""
        queue = self.queue[producer]
        n_queued = len(queue)
        if not n_queued:
            return []
        taken = []
        for _ in range(n_queued):
            pv = queue.get()  # without a timeout: answers at once
            if self.to_pass[producer] > 0:
                self.to_pass[producer] -= 1
            elif self.to_skip[producer] > 0:
                self.to_skip[producer] -= 1
                self.skipped[producer] += 1
                if self.first_initial is None:
                    self.first_initial = pv
                continue
            taken.append((producer, pv))
        if self.queue_bytes:
            self.fit_to_bytes(producer, pv)
        if self.track_ids:
            try:
                self.last_update[producer] = Delivered(pv[self.object_id_field], now)
            except Exception:  # noqa: BLE001 (pvaccess raises its own types: counted when collected)
                self.last_update[producer] = None
        return taken

    def get(self, timeout: float) -> pva.PvObject | None:
        if self.ready:
            return self.ready.popleft()
        queues = self.queue.values()
        if timeout > 0 and not any(len(queue) for queue in queues):
            quiet = time.monotonic() - self.last_object_time > QUIET_SECONDS
            time.sleep(min(timeout, QUIET_POLL_SECONDS if quiet else IDLE_POLL_SECONDS))
        now = time.monotonic()
        taken = [self.take(producer, now) for producer in self.queue]
        if any(taken):
            self.last_object_time = now
        for turn in itertools.zip_longest(*taken):  # the producers in turn: near the order of arrival
            for item in turn:
                if item is None:
                    continue
                producer, pv = item
                self.delivered[producer] += 1
                try:
                    self.ready.extend(self.cache.add(int(pv[self.object_id_field]), pv, now, producer))
                except Exception:  # noqa: BLE001 (no id field: counted, dropped)
                    self.n_errors += 1
        self.ready.extend(self.cache.release(now))
        return self.ready.popleft() if self.ready else None

    def queued(self) -> int:
        return sum(len(queue) for queue in self.queue.values()) + len(self.ready)

    def seconds_since_put(self) -> float:
        return 0.0

    def set_queue_size(self, size: int) -> None:
        """``size`` objects queued at most (0: no limit), shared out evenly between the producers; a size set
        so (at start, or by the control channel) stands alone: no byte bound beside it."""
        self.queue_bytes = 0
        self.per_producer = -(-size // len(self.queue)) if size > 0 else -1  # pvaccess's -1: no limit
        for queue in self.queue.values():
            queue.maxLength = self.per_producer

    def fit_to_bytes(self, producer: int, pv: pva.PvObject) -> None:
        """The producer's queue holds as many frames of ``pv``'s size as its share of ``queue_bytes`` does, and
        never fewer than the count bound gives it (objects that are not frames: the count bound)."""
        size = ntnd.frame_bytes(pv)
        if size <= 0:
            return
        frames = max(self.per_producer, self.queue_bytes // (len(self.queue) * size))
        queue = self.queue[producer]
        if queue.maxLength != frames:
            queue.maxLength = frames

    def monitor_counts(self, producer: int) -> dict[str, int]:
        """nReceived and nOverruns of the producer's monitors since the last reset."""
        return monitor_counts(self.channels[producer], self.carried[producer])

    def refused(self, producer: int) -> int:
        """Updates the producer's full queue refused since the last reset."""
        return int(self.queue[producer].getCounters()["nRejected"])

    def counts(self) -> dict[str, int]:
        monitors = [self.monitor_counts(producer) for producer in self.channels]
        return {
            "nReceived": sum(monitor["nReceived"] for monitor in monitors),
            "nRejected": sum(self.refused(producer) for producer in self.channels),
            "nErrors": self.n_errors,
            "nOverruns": sum(monitor["nOverruns"] for monitor in monitors),
            "nReconnects": sum(connection.n_reconnects for connection in self.connections.values()),
            "nStaleChannels": sum(check.n_renewals for check in self.staleness.values()),
        }

    def queue_counts(self) -> dict[str, Any]:
        return {"nReceived": 0, "nRejected": sum(self.refused(producer) for producer in self.channels),
                "nDelivered": self.cache.n_released, "nQueued": self.queued()}

    def extra_types(self) -> dict[str, Any]:
        """collectorStats and producerStats_<id>: pvaPy's fields (nesting and types as pvaPy declares them), and
        pvaflow's own beside them."""
        types: dict[str, Any] = {"collectorStats": {name: pva.UINT for name in self.cache.counts()} | {
            "collectedRate": pva.DOUBLE, "nRejected": pva.UINT, "rejectedRate": pva.DOUBLE, "nMissed": pva.UINT,
            "missedRate": pva.DOUBLE}}
        for producer in self.channels:
            types[f"producerStats_{producer}"] = SOURCE_CHANNEL_TYPES | {
                "nReceived": pva.UINT, "nRejected": pva.UINT, "nSkipped": pva.UINT, "nReconnects": pva.UINT,
                "nStaleChannels": pva.UINT,
            }
        return types

    def extra_stats(self) -> dict[str, Any]:
        seconds = time.monotonic() - self.stats_started
        counts = self.cache.counts()
        rejected = counts["nLate"] + counts["nDuplicates"]  # what pvaPy's collector rejects: ids already handed on
        stats: dict[str, Any] = {"collectorStats": counts | {
            "collectedRate": rate(counts["nCollected"], seconds), "nRejected": rejected,
            "rejectedRate": rate(rejected, seconds), "nMissed": counts["nMissing"],
            "missedRate": rate(counts["nMissing"], seconds)}}
        for producer, name in self.channel_names.items():
            monitor = self.monitor_counts(producer)
            received, refused, skipped = monitor["nReceived"], self.refused(producer), self.skipped[producer]
            queue = {"nReceived": received - skipped - refused, "nRejected": refused,
                     "nDelivered": self.delivered[producer], "nQueued": len(self.queue[producer])}
            stats[f"producerStats_{producer}"] = source_channel_stats(
                producer, name, received, refused, monitor["nOverruns"], queue, seconds) | {
                "nReceived": received, "nRejected": refused, "nSkipped": skipped,
                "nReconnects": self.connections[producer].n_reconnects,
                "nStaleChannels": self.staleness[producer].n_renewals,
            }
        return stats

    def reset_stats(self) -> None:
        for producer, check in self.staleness.items():
            check.counts_reset(self.monitor_counts(producer)["nReceived"])
            self.channels[producer].resetMonitorCounters()
            self.queue[producer].resetCounters()
            self.order[producer].counters_reset()
        for connection in self.connections.values():
            connection.n_reconnects = 0
        self.carried = {producer: dict(NO_COUNTS) for producer in self.channel_names}
        self.skipped = dict.fromkeys(self.channel_names, 0)
        self.delivered = dict.fromkeys(self.channel_names, 0)
        self.n_errors = 0
        self.stats_started = time.monotonic()
        self.cache.reset_counters()
