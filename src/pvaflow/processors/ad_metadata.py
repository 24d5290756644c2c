"""AdMetadataProcessor: attach metadata channel values to the frames they belong to.

The host fills ``metadataQueueMap`` from ``--metadata-channels``. For each
frame and each channel, the update whose time stamp is nearest to the
frame's, within ``timestampTolerance`` seconds, becomes an NTNDArray
attribute named after the channel. Updates older than the frame minus the
tolerance can match no later frame (frames arrive in time order) and are
discarded; newer ones wait for later frames. Metadata that arrives after its
frame is matched when frames are accumulated first (``--accumulate-objects``).

Config keys: ``timestampTolerance`` (seconds, default 0.001),
``metadataTimestampOffset`` (seconds added to metadata time stamps, for a
source whose clock is off; default 0), ``frameTimestampField``
(``timeStamp``, default, or ``dataTimeStamp``).
"""

from __future__ import annotations

import collections
import logging
import time
from collections.abc import Iterator
from typing import Any, ClassVar, NamedTuple

import pvaccess as pva

from .. import ntnd
from ..ad_image_processor import AdImageProcessor
from ..errors import ConfigError
from .counted_stats import CountedStats

logger = logging.getLogger(__name__)

DEFAULT_TOLERANCE = 0.001
TIMESTAMP_FIELDS = ("timeStamp", "dataTimeStamp")
ATTRIBUTE_TYPES = (bool, int, float, str)


class Match(NamedTuple):
    """What one frame found in one channel."""

    value: Any = None
    found: bool = False
    n_discarded: int = 0


NO_MATCH = Match()


class MetadataMatcher:
    """The pending updates of one channel, matched to frames by time stamp (no PVA here)."""

    def __init__(self, tolerance: float) -> None:
        self.tolerance = tolerance
        self.pending: collections.deque[tuple[float, Any]] = collections.deque()

    def add(self, stamp: float, value: Any) -> None:
        self.pending.append((stamp, value))

    def match(self, frame_time: float) -> Match:
        """Take the update nearest to ``frame_time`` within the tolerance; drop the older ones."""
        pending = self.pending
        if not pending:
            return NO_MATCH
        n_discarded = 0
        earliest = frame_time - self.tolerance
        while pending and pending[0][0] < earliest:
            pending.popleft()
            n_discarded += 1
        best_index = -1
        best_distance = self.tolerance
        latest = frame_time + self.tolerance
        for index, (stamp, _) in enumerate(pending):
            if stamp > latest:
                break
            distance = abs(stamp - frame_time)
            if distance <= best_distance:
                best_index, best_distance = index, distance
        if best_index < 0:
            return Match(n_discarded=n_discarded)
        for _ in range(best_index):  # older than the match: no later frame is nearer to them
            pending.popleft()
        return Match(pending.popleft()[1], True, n_discarded + best_index)


def queued_updates(queue: Any) -> Iterator[Any]:
    """What a ``pvaccess.PvObjectQueue`` (or a queue read like one) holds now, oldest first. ``get()`` without
    a timeout: on an empty pvaccess queue, ``get(0)`` waits about 0.2 ms before it raises ``QueueEmpty``."""
    while True:
        try:
            yield queue.get()
        except pva.QueueEmpty:
            return


def _tolerance(config: dict[str, Any], current: float) -> float:
    value = config.get("timestampTolerance", current)
    try:
        tolerance = float(value)
    except (TypeError, ValueError) as ex:
        raise ConfigError(f"timestampTolerance must be a number of seconds, not {value!r}") from ex
    if tolerance < 0:
        raise ConfigError(f"timestampTolerance must be >= 0, not {tolerance}")
    return tolerance


class AdMetadataProcessor(CountedStats, AdImageProcessor):
    """Adds the metadata channels' values to each frame as attributes, matched by time stamp."""

    COUNTERS: ClassVar[dict[str, Any]] = {
        "nFramesProcessed": pva.UINT,
        "nFramesMissingMetadata": pva.UINT,
        "nMetadataReceived": pva.UINT,
        "nMetadataProcessed": pva.UINT,
        "nMetadataDiscarded": pva.UINT,
        "nMetadataInvalid": pva.UINT,
        "processingTime": pva.DOUBLE,
    }

    def __init__(self, configDict: dict[str, Any] | None = None) -> None:  # noqa: N803
        super().__init__(configDict)
        self.tolerance = DEFAULT_TOLERANCE
        self.offset = 0.0
        self.frame_field = "timeStamp"
        self.matchers: dict[str, MetadataMatcher] = {}
        self.invalid_kinds: set[str] = set()
        self.apply(self.configDict)
        self.resetStats()

    def apply(self, config: dict[str, Any]) -> None:
        tolerance = _tolerance(config, self.tolerance)
        try:
            offset = float(config.get("metadataTimestampOffset", self.offset))
        except (TypeError, ValueError) as ex:
            raise ConfigError(f"metadataTimestampOffset must be a number of seconds: {ex}") from ex
        frame_field = config.get("frameTimestampField", self.frame_field)
        if frame_field not in TIMESTAMP_FIELDS:
            raise ConfigError(f"frameTimestampField must be one of {', '.join(TIMESTAMP_FIELDS)}, not {frame_field!r}")
        self.tolerance, self.offset, self.frame_field = tolerance, offset, frame_field
        for matcher in self.matchers.values():
            matcher.tolerance = tolerance

    def start(self) -> None:
        self.matchers = {name: MetadataMatcher(self.tolerance) for name in self.metadataQueueMap}
        if not self.matchers:
            self.logger.warning("no metadata channels (--metadata-channels): frames pass unchanged")

    def configure(self, configDict: dict[str, Any]) -> None:  # noqa: N803
        self.apply(configDict)

    def _drain(self, name: str, matcher: MetadataMatcher) -> None:
        """Move every queued update of channel ``name`` to its matcher."""
        queue = self.metadataQueueMap[name]
        take_all = getattr(queue, "take_all", None)  # pvaflow's queues hand over all at once
        updates = take_all() if take_all is not None else list(queued_updates(queue))
        if not updates:
            return
        self.nMetadataReceived += len(updates)
        offset, add = self.offset, matcher.add
        for update in updates:
            try:
                fields = update.toDict()  # one conversion for value and time stamp
                value = fields["value"]
                if not isinstance(value, ATTRIBUTE_TYPES):
                    raise TypeError(f"{type(value).__name__} values cannot be attributes")
                stamp = ntnd.seconds(fields["timeStamp"]) + offset
            except Exception as ex:  # noqa: BLE001 (any malformed update: counted, the frame goes on)
                self.nMetadataInvalid += 1
                if name not in self.invalid_kinds:
                    self.invalid_kinds.add(name)
                    self.logger.error("metadata channel %s: unusable update (%s: %s); further ones are counted only",
                                      name, type(ex).__name__, ex)
                continue
            add(stamp, value)

    def process(self, pvObject: pva.PvObject) -> pva.PvObject:  # noqa: N803
        started = time.perf_counter()
        frame_time = ntnd.seconds(pvObject[self.frame_field])
        values: dict[str, Any] = {}
        for name, matcher in self.matchers.items():
            self._drain(name, matcher)
            match = matcher.match(frame_time)
            self.nMetadataDiscarded += match.n_discarded
            if match.found:
                values[name] = match.value
                self.nMetadataProcessed += 1
        if len(values) < len(self.matchers):
            self.nFramesMissingMetadata += 1
        if values:
            ntnd.set_attributes(pvObject, values)
        self.nFramesProcessed += 1
        self.processingTime += time.perf_counter() - started
        self.updateOutputChannel(pvObject)
        return pvObject
