"""The status structure (pvaPy's field names) and the counters behind it.

A snapshot is a plain nested dict shaped like the status channel's
PvObject, so the same value feeds the status channel, the terminal report
and the final report.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import pvaccess as pva

from .. import ntnd
from ..accounting import MissedObjects
from .parts import Receiver

RECEIVER_TYPES = {
    "nReceived": pva.UINT,
    "receivedRate": pva.DOUBLE,
    "nRejected": pva.UINT,
    "rejectedRate": pva.DOUBLE,
    "nErrors": pva.UINT,
    "errorRate": pva.DOUBLE,
    "nOverruns": pva.UINT,
    "overrunRate": pva.DOUBLE,
    "nReconnects": pva.UINT,
    "nStaleChannels": pva.UINT,
}
PUBLISHER_TYPES = {
    "nPublished": pva.UINT,
    "publishedRate": pva.DOUBLE,
    "nErrors": pva.UINT,
    "errorRate": pva.DOUBLE,
}
QUEUE_TYPES = {"nReceived": pva.UINT, "nRejected": pva.UINT, "nDelivered": pva.UINT, "nQueued": pva.UINT}
PROCESSOR_TYPES = {
    "runtime": pva.DOUBLE,
    "startTime": pva.DOUBLE,
    "endTime": pva.DOUBLE,
    "receivingTime": pva.DOUBLE,
    "firstObjectTime": pva.DOUBLE,
    "lastObjectTime": pva.DOUBLE,
    "firstObjectId": pva.UINT,
    "lastObjectId": pva.UINT,
    "nProcessed": pva.UINT,
    "processedRate": pva.DOUBLE,
    "processingTime": pva.DOUBLE,
    "nSkipped": pva.UINT,
    "nErrors": pva.UINT,
    "errorRate": pva.DOUBLE,
    "nMissed": pva.UINT,
    "missedRate": pva.DOUBLE,
    "nIdRestarts": pva.UINT,
    "nRejected": pva.UINT,
}
# one monitored channel (a collector's producer, a metadata channel) as pvaPy's status declares it:
# producerStats_<id> and metadataStats_<n> at the top level
SOURCE_CHANNEL_TYPES = {
    "producerId": pva.UINT,
    "channel": pva.STRING,
    "receiverStats": {"nReceived": pva.UINT, "receivedRate": pva.DOUBLE, "nRejected": pva.UINT,
                      "rejectedRate": pva.DOUBLE, "nOverruns": pva.UINT, "overrunRate": pva.DOUBLE},
    "queueStats": {"nReceived": pva.UINT, "nRejected": pva.UINT, "nDelivered": pva.UINT, "nQueued": pva.UINT},
}


def source_channel_stats(source_id: int, channel: str, received: int, rejected: int, overruns: int,
                         queue: dict[str, int], seconds: float) -> dict[str, Any]:
    """A SOURCE_CHANNEL_TYPES value: counts and their rates over ``seconds``."""
    return {
        "producerId": source_id,
        "channel": channel,
        "receiverStats": {"nReceived": received, "receivedRate": rate(received, seconds), "nRejected": rejected,
                          "rejectedRate": rate(rejected, seconds), "nOverruns": overruns,
                          "overrunRate": rate(overruns, seconds)},
        "queueStats": queue,
    }


def status_types(role: str, user_types: dict[str, Any]) -> dict[str, Any]:
    """The status channel structure for ``role`` ('consumer' or 'collector')."""
    types: dict[str, Any] = {
        f"{role}Id": pva.UINT,
        "inputChannel": pva.STRING,
        "objectId": pva.UINT,
        "objectTime": pva.DOUBLE,
        "objectTimestamp": pva.PvTimeStamp(),
        "receiverStats": RECEIVER_TYPES,
        "publisherStats": PUBLISHER_TYPES,
        "queueStats": QUEUE_TYPES,
        "processorStats": PROCESSOR_TYPES,
    }
    if user_types:
        types["userStats"] = dict(user_types)
    return types


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else 0.0


@dataclass
class ProcessorCounters:
    """What the host counts per object (plain ints and floats, no per-object allocation)."""

    start_time: float = field(default_factory=time.time)
    end_time: float = 0.0
    n_processed: int = 0
    n_skipped: int = 0
    n_errors: int = 0
    n_rejected: int = 0  # objects the processor found not authentic (IntegrityError): not in the id accounting
    processing_time: float = 0.0
    first_object_id: int | None = None
    last_object_id: int | None = None
    first_object_time: float = 0.0
    last_object_time: float = 0.0

    def snapshot(self, accounting: MissedObjects, now: float) -> dict[str, Any]:
        n_missed = accounting.missed
        receiving = self.last_object_time - self.first_object_time
        return {
            "runtime": now - self.start_time,
            "startTime": self.start_time,
            "endTime": self.end_time,
            "receivingTime": receiving,
            "firstObjectTime": self.first_object_time,
            "lastObjectTime": self.last_object_time,
            "firstObjectId": self.first_object_id or 0,
            "lastObjectId": self.last_object_id or 0,
            "nProcessed": self.n_processed,
            "processedRate": rate(self.n_processed, receiving),
            "processingTime": self.processing_time,
            "nSkipped": self.n_skipped,
            "nErrors": self.n_errors,
            "errorRate": rate(self.n_errors, receiving),
            "nMissed": n_missed,
            "missedRate": rate(n_missed, receiving),
            "nIdRestarts": accounting.restarts,
            "nRejected": self.n_rejected,
        }

    def lost_after_processing(self, n_lost: int) -> None:
        """Objects counted processed that the processor lost after all (FramesLostError): errors now."""
        self.n_processed -= n_lost
        self.n_errors += n_lost


def with_rates(counts: dict[str, int], seconds: float, rate_names: dict[str, str]) -> dict[str, Any]:
    """``counts`` plus a rate per count (e.g. nReceived -> receivedRate)."""
    result: dict[str, Any] = dict(counts)
    for count_name, rate_name in rate_names.items():
        result[rate_name] = rate(counts.get(count_name, 0), seconds)
    return result


RECEIVER_RATES = {"nReceived": "receivedRate", "nRejected": "rejectedRate", "nErrors": "errorRate",
                  "nOverruns": "overrunRate"}
PUBLISHER_RATES = {"nPublished": "publishedRate", "nErrors": "errorRate"}


def user_stats(values: dict[str, Any], types: dict[str, Any]) -> dict[str, Any]:
    """The processor's own stats restricted to the keys it typed."""
    return {key: value for key, value in values.items() if key in types}


def status_snapshot(role: str, host_id: int, n_snapshot: int, now: float, receiver: Receiver,
                    publisher_counts: dict[str, int], processor_stats: dict[str, Any], own_stats: dict[str, Any],
                    metadata_stats: dict[str, Any]) -> dict[str, Any]:
    """The status channel's value (as a dict): the receiver's sections, the metadata channels' and the host's.
    Rates are per second of receiving (first to last object)."""
    receiving = processor_stats["receivingTime"]
    return receiver.extra_stats() | metadata_stats | {
        f"{role}Id": host_id,
        "inputChannel": receiver.channel_name,
        "objectId": n_snapshot,
        "objectTime": now,
        "objectTimestamp": ntnd.time_stamp(now),
        "receiverStats": with_rates(receiver.counts(), receiving, RECEIVER_RATES),
        "publisherStats": with_rates(publisher_counts, receiving, PUBLISHER_RATES),
        "queueStats": receiver.queue_counts(),
        "processorStats": processor_stats,
        "userStats": own_stats,
    }
