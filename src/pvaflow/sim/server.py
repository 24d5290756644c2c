"""The AD simulation server: publishes NTNDArray frames on a PvaServer at a set rate.

Frames come from a :class:`~pvaflow.sim.sources.FrameSource`. When all of
the source's frames fit in memory they are turned into NTNDArray objects
once and recycled (only ``uniqueId`` and the time stamps change per
frame); otherwise a producer thread builds them ahead into a bounded
queue. Every frame gets the next ``uniqueId`` (starting at ``start_id``, 1
by default) and the
same ``timeStamp``/``dataTimeStamp`` as the metadata PVs updated with it.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import pvaccess as pva

from .. import ntnd
from ..errors import ChannelError, ConfigError
from ..stream.names_served import NameCheck
from .metadata_pvs import MetadataPvs
from .pacing import Pacer
from .sources import FrameSource

logger = logging.getLogger(__name__)
START_POLL_SECONDS = 0.05  # how often a start on signal looks at the stop request as well

# Sources whose NTNDArrays take at most this much memory are built once.
PREBUILT_BYTES = 256 * 1024 * 1024
QUEUE_POLL_SECONDS = 0.5
BYTES_IN_MEGABYTE = 1_000_000
ID_MAX = 2**31 - 1  # NTNDArray uniqueId is a 32-bit int


@dataclass(frozen=True)
class SimServerConfig:
    """Options of ``pvaflow sim-server`` that shape publishing."""

    channel_name: str = "pvapy:image"
    frame_rate: float = 20.0
    runtime: float = 300.0
    publish_limit: int | None = None  # stop after this many frames (None: until runtime)
    cache_size: int = 1000
    start_delay: float = 10.0
    shutdown_delay: float = 10.0
    report_period: int = 1
    notify_pv: str | None = None
    notify_pv_value: str = "1"
    metadata_pvs: tuple[str, ...] = ()
    start_id: int = 1  # uniqueId of the first frame (a restarted source can go on counting)


@dataclass(frozen=True)
class SimSummary:
    """What the server did, for the final report."""

    frames_published: int
    runtime: float
    frame_rate: float
    requested_rate: float
    frame_bytes: int
    frames_late: int  # frames that waited for the producer thread

    @property
    def data_rate(self) -> float:
        """Uncompressed data rate in MB/s (10**6 bytes)."""
        return self.frame_rate * self.frame_bytes / BYTES_IN_MEGABYTE


def _build(source: FrameSource, index: int) -> pva.PvObject:
    spec = source.spec
    data = source.frame(index)
    if spec.codec:
        return ntnd.generate_compressed(
            0, data, spec.codec, spec.dtype, spec.nx, spec.ny, spec.color_mode
        )
    return ntnd.generate(0, data, spec.color_mode)


class FrameFeed:
    """Gives the NTNDArray for each publish: from a prebuilt ring or a producer thread."""

    def __init__(self, source: FrameSource, config: SimServerConfig) -> None:
        self.source = source
        self.limit = config.publish_limit
        self.ring: list[pva.PvObject] = []
        self.queue: queue.Queue[pva.PvObject] = queue.Queue(maxsize=max(1, config.cache_size))
        self.stop_event = threading.Event()
        self.thread: threading.Thread | None = None
        self.frames_late = 0
        if source.n_frames * source.spec.frame_bytes <= PREBUILT_BYTES:
            self.ring = [_build(source, i) for i in range(source.n_frames)]
        else:
            self.thread = threading.Thread(target=self._produce, name="sim-frame-producer", daemon=True)
            self.thread.start()

    def _produce(self) -> None:
        index = 0
        try:
            while not self.stop_event.is_set() and (self.limit is None or index < self.limit):
                frame = _build(self.source, index % self.source.n_frames)
                while not self.stop_event.is_set():
                    try:
                        self.queue.put(frame, timeout=QUEUE_POLL_SECONDS)
                        break
                    except queue.Full:
                        continue
                index += 1
        except Exception:
            logger.exception("frame producer failed at frame index %s", index)

    def next(self, published: int) -> pva.PvObject | None:
        """The frame to publish after ``published`` frames, or None when done."""
        if self.ring:
            return self.ring[published % len(self.ring)]
        if self.queue.empty():
            self.frames_late += 1
        while True:
            try:
                return self.queue.get(timeout=QUEUE_POLL_SECONDS)
            except queue.Empty:
                if self.thread is None or not self.thread.is_alive():
                    return None  # the producer is done and everything is published

    def close(self) -> None:
        self.stop_event.set()
        if self.thread is not None:
            while True:  # unblock a producer waiting on a full queue
                try:
                    self.queue.get_nowait()
                except queue.Empty:
                    break
            self.thread.join(timeout=5)


def notify(pv_name: str, value: str) -> None:
    """Put ``value`` to a CA channel (``pva://`` prefix: a PVA channel) at start."""
    provider = pva.PVA if pv_name.startswith("pva://") else pva.CA
    name = pv_name.split("://", 1)[-1]
    try:
        pva.Channel(name, provider).put(value)
    except Exception as ex:  # pvaccess raises its own exception types
        raise ChannelError(f"cannot set notify PV {pv_name} to {value}: {ex}") from ex


class SimServer:
    """Publishes frames from a source; run() returns when done or stopped."""

    def __init__(
        self,
        config: SimServerConfig,
        source: FrameSource,
        report: Callable[[str], None] | None = None,
    ) -> None:
        if config.frame_rate < 0:
            raise ConfigError(f"frame rate must not be negative, not {config.frame_rate}")
        if not 1 <= config.start_id <= ID_MAX:
            raise ConfigError(f"start id must be between 1 and {ID_MAX}, not {config.start_id}")
        self.config = config
        self.source = source
        self.report = report or logger.info
        NameCheck([config.channel_name], "sim-server").raise_if_served()
        self.server = pva.PvaServer()
        self.metadata = MetadataPvs(config.metadata_pvs, self.server)
        self.feed = FrameFeed(source, config)
        # Like an areaDetector IOC before acquisition: an empty array, id 0.
        self.server.addRecord(config.channel_name, pva.NtNdArray(), None)

    def _publish_all(self, stop: threading.Event) -> tuple[int, float, float]:
        """The publishing loop; returns (frames published, first and last publish time)."""
        config = self.config
        channel = config.channel_name
        period = config.report_period
        pacer = Pacer(config.frame_rate)
        published = 0
        first = last = 0.0
        first_id = config.start_id
        while not stop.is_set():
            if config.publish_limit is not None and published >= config.publish_limit:
                break
            frame = self.feed.next(published)
            if frame is None:
                break
            now = time.time()
            self.metadata.update(now)
            ntnd.stamp(frame, first_id + published, now)
            self.server.update(channel, frame)
            published += 1
            last = now
            if published == 1:
                first = now
                pacer.restart()
            if period > 0 and published % period == 0:
                rate = (published - 1) / (last - first) if last > first else 0.0
                self.report(
                    f"Published frame id {first_id + published - 1:6d} @ {last:.3f}s "
                    f"(frame rate: {rate:.4f}fps; runtime: {last - first:.3f}s)"
                )
            if last - first > config.runtime:
                break
            pacer.wait(published)
        return published, first, last

    def run(self, stop: threading.Event, start: threading.Event | None = None,
            on_published: Callable[[SimSummary], None] | None = None) -> SimSummary:
        """Serve, wait the start delay (or until ``start`` is set, when given, the start delay at most),
        publish, hand the summary to ``on_published`` (clients may still be catching up), wait the shutdown
        delay, stop."""
        config = self.config
        self.server.start()
        try:
            if config.notify_pv:
                notify(config.notify_pv, config.notify_pv_value)
            if start is None:
                stop.wait(config.start_delay)
            else:
                deadline = time.monotonic() + config.start_delay
                while not (start.is_set() or stop.is_set()) and time.monotonic() < deadline:
                    start.wait(START_POLL_SECONDS)
                if not (start.is_set() or stop.is_set()):
                    logger.warning("no start signal (SIGUSR1) within the start delay of %g s: starting",
                                   config.start_delay)
            published, first, last = self._publish_all(stop)
            self.feed.close()
            elapsed = last - first
            summary = SimSummary(
                frames_published=published,
                runtime=elapsed,
                frame_rate=(published - 1) / elapsed if elapsed > 0 else 0.0,
                requested_rate=config.frame_rate,
                frame_bytes=self.source.spec.frame_bytes,
                frames_late=self.feed.frames_late,
            )
            if on_published is not None:
                on_published(summary)
            if not stop.is_set():
                stop.wait(config.shutdown_delay)
            return summary
        finally:
            self.feed.close()
            self.metadata.close()
            self.server.stop()
