"""Metadata channels: spec parsing, the drop-oldest queue, time-stamp matching, AdMetadataProcessor."""

from __future__ import annotations

import threading
import time

import numpy as np
import pvaccess as pva
import pytest

from pvaflow import AdMetadataProcessor, ConfigError, ntnd
from pvaflow.processors.ad_metadata import MISSING, SCALAR_GETTERS, MetadataMatcher, read_any, reader_for
from pvaflow.stream.config import CollectorOptions, ConsumerOptions, collector_config, consumer_config
from pvaflow.stream.metadata_channels import MetadataQueue
from pvaflow.stream.metadata_spec import MetadataSpec, metadata_queue_size, parse_metadata_channels

METADATA_TYPE = {"value": pva.DOUBLE, "timeStamp": pva.PvTimeStamp()}


def update(value: float, seconds: float) -> pva.PvObject:
    return pva.PvObject(METADATA_TYPE, {"value": value, "timeStamp": ntnd.time_stamp(seconds)})


def frame(image_id: int, seconds: float) -> pva.PvObject:
    nt = ntnd.generate(image_id, np.zeros((4, 4), dtype=np.uint8))
    ntnd.stamp(nt, image_id, seconds)
    return nt


def test_channel_specs_default_to_ca_as_pvapy() -> None:
    assert parse_metadata_channels("pva://x, ca://y,z,,") == (
        MetadataSpec("x", "pva"), MetadataSpec("y", "ca"), MetadataSpec("z", "ca"),
    )
    assert parse_metadata_channels(None) == ()


@pytest.mark.parametrize(("receiver_queue_size", "expected"), [(-1, 1000), (0, 0), (5, 5)])
def test_queue_size_follows_the_receiver_queue_option(receiver_queue_size: int, expected: int) -> None:
    assert metadata_queue_size(receiver_queue_size) == expected


def test_full_queue_drops_the_oldest_and_counts_it() -> None:
    queue = MetadataQueue(3)
    for value in range(5):
        queue.put(update(value, 0.0))
    assert [queue.get(0)["value"] for _ in range(3)] == [2, 3, 4]
    assert queue.getCounters() == {"nReceived": 5, "nRejected": 2, "nDelivered": 3, "nQueued": 0}
    with pytest.raises(pva.QueueEmpty):
        queue.get(0)


def test_unbounded_queue_keeps_everything() -> None:
    queue = MetadataQueue(0)
    for value in range(2000):
        queue.put(update(value, 0.0))
    assert len(queue) == 2000 and queue.getCounters()["nRejected"] == 0
    assert [queue.get(0)["value"] for _ in range(2000)] == list(range(2000))


def test_get_waits_for_a_put_from_another_thread() -> None:
    queue = MetadataQueue(10)
    threading.Timer(0.05, queue.put, args=(update(7, 0.0),)).start()
    started = time.monotonic()
    assert queue.get(5.0)["value"] == 7
    assert time.monotonic() - started < 4.0  # woken by the put, not by the timeout


def test_matcher_takes_the_nearest_update_within_tolerance() -> None:
    matcher = MetadataMatcher(tolerance=0.010)
    for stamp, value in [(0.980, "old"), (0.995, "a"), (0.999, "b"), (1.004, "c"), (1.050, "future")]:
        matcher.add(stamp, value)
    assert matcher.match(1.000) == "b"
    assert matcher.n_discarded == 2  # "old" too old, "a" passed over
    assert [value for _, value in matcher.pending] == ["c", "future"]


def test_matcher_keeps_future_updates_and_reports_a_miss() -> None:
    matcher = MetadataMatcher(tolerance=0.001)
    matcher.add(2.0, "next frame's")
    assert matcher.match(1.0) is MISSING and matcher.n_discarded == 0
    assert matcher.match(2.0005) == "next frame's"


def test_matcher_with_zero_tolerance_needs_equal_stamps() -> None:
    matcher = MetadataMatcher(tolerance=0.0)
    matcher.add(1.5, "x")
    assert matcher.match(1.5) == "x"


def test_matcher_discards_what_came_before_a_clock_that_went_back() -> None:
    matcher = MetadataMatcher(tolerance=0.001)
    matcher.add(5.0, "before the restart")
    matcher.add(6.0, "before the restart")
    matcher.add(1.0, "after")  # the channel's time went back: the two above can no longer be placed
    assert matcher.n_discarded == 2
    assert matcher.match(1.0) == "after"


def test_matcher_keeps_matching_after_many_updates() -> None:
    """The consumed updates are cut from the lists now and then: long streams keep matching in order."""
    matcher = MetadataMatcher(tolerance=0.0001)
    for index in range(3 * MetadataMatcher.COMPACT_AT):
        matcher.add(index * 0.001, index)
        if index % 2 == 0:  # every other update finds a frame
            assert matcher.match(index * 0.001) == index
    assert matcher.n_discarded == 3 * MetadataMatcher.COMPACT_AT // 2 - 1  # the odd ones but the last
    assert len(matcher.stamps) <= 2 * MetadataMatcher.COMPACT_AT


def test_a_batch_of_frames_reads_each_queue_once() -> None:
    """Once an update later than a frame's window is pending, the next frames match without reading the queue
    (later arrivals cannot be nearer); a frame with nothing pending after its window reads it again."""
    processor = make_processor({"timestampTolerance": 0.002}, channels=("x",))
    queue = processor.metadataQueueMap["x"]
    for index in range(3):
        queue.put(update(10.0 + index, 100.0 + index))
    processor.process(frame(1, 100.0))
    assert queue.getCounters()["nDelivered"] == 3
    queue.put(update(13.0, 103.0))
    processor.process(frame(2, 101.0))  # the update at 102 is pending: the queue is not read
    assert queue.getCounters()["nDelivered"] == 3
    processor.process(frame(3, 102.0))  # nothing pending after its window: read
    assert queue.getCounters()["nDelivered"] == 4
    processor.process(frame(4, 103.0))
    assert [metadata_attributes(pv) for pv in processor.published] == [{"x": 10.0}, {"x": 11.0}, {"x": 12.0},
                                                                       {"x": 13.0}]
    assert processor.getStats()["nMetadataDiscarded"] == 0


def metadata_attributes(pv: pva.PvObject) -> dict:
    return {name: value for name, value in ntnd.attribute_values(pv).items() if name != "ColorMode"}


def make_processor(config: dict | None = None, channels: tuple[str, ...] = ("x", "y")) -> AdMetadataProcessor:
    processor = AdMetadataProcessor(config or {})
    processor.metadataQueueMap = {name: MetadataQueue(100) for name in channels}
    published: list[pva.PvObject] = []
    processor.outputChannel = "out"
    processor.dataPublisher = type("Sink", (), {"updateOutputChannel": lambda self, pv: published.append(pv)})()
    processor.published = published
    processor.start()
    return processor


def test_frames_get_the_matching_values_as_attributes() -> None:
    processor = make_processor({"timestampTolerance": 0.002})
    for index in range(3):
        processor.metadataQueueMap["x"].put(update(10.0 + index, 100.0 + index))
        processor.metadataQueueMap["y"].put(update(20.0 + index, 100.0 + index + 0.001))
    for index in range(3):
        processor.process(frame(index + 1, 100.0 + index))
    values = [metadata_attributes(pv) for pv in processor.published]
    assert values == [{"x": 10.0 + i, "y": 20.0 + i} for i in range(3)]
    stats = processor.getStats()
    assert stats["nFramesProcessed"] == 3 and stats["nMetadataProcessed"] == 6
    assert stats["nFramesMissingMetadata"] == 0 and stats["nMetadataDiscarded"] == 0


def test_a_pvaccess_queue_in_the_map_is_read_as_well() -> None:
    """A processor may be given pvaccess's own queues (as pvaPy's framework gives): read one by one."""
    processor = make_processor({"timestampTolerance": 0.002}, channels=("x",))
    processor.metadataQueueMap["x"] = pva.PvObjectQueue()
    for index in range(2):
        processor.metadataQueueMap["x"].put(update(10.0 + index, 100.0 + index))
    for index in range(2):
        processor.process(frame(index + 1, 100.0 + index))
    assert [metadata_attributes(pv) for pv in processor.published] == [{"x": 10.0}, {"x": 11.0}]
    assert processor.getStats()["nMetadataProcessed"] == 2


def test_missing_and_discarded_metadata_are_counted_and_the_frame_still_published() -> None:
    processor = make_processor({"timestampTolerance": 0.001}, channels=("x",))
    processor.metadataQueueMap["x"].put(update(1.0, 50.0))  # long before the frame
    processor.process(frame(1, 100.0))
    assert len(processor.published) == 1 and metadata_attributes(processor.published[0]) == {}
    stats = processor.getStats()
    assert stats["nFramesMissingMetadata"] == 1 and stats["nMetadataDiscarded"] == 1


def test_unusable_updates_are_counted_not_raised() -> None:
    processor = make_processor(channels=("x",))
    processor.metadataQueueMap["x"].put(pva.PvObject({"value": [pva.DOUBLE]}, {"value": [1.0, 2.0]}))
    processor.metadataQueueMap["x"].put(pva.PvObject({"other": pva.INT}))
    processor.process(frame(1, 100.0))
    stats = processor.getStats()
    assert stats["nMetadataInvalid"] == 2 and stats["nFramesMissingMetadata"] == 1
    assert len(processor.published) == 1


@pytest.mark.parametrize("scalar_type", list(SCALAR_GETTERS), ids=str)
def test_a_scalar_update_is_read_as_to_dict_reads_it(scalar_type) -> None:
    scalar = pva.PvObject({"value": scalar_type, "timeStamp": pva.PvTimeStamp()},
                          {"timeStamp": ntnd.time_stamp(100.25)})
    assert reader_for(scalar)(scalar) == read_any(scalar)
    assert reader_for(scalar) is not read_any, "a scalar is read with pvaccess's typed getter"


def test_a_channel_whose_structure_changes_is_read_as_each_update_is_structured() -> None:
    processor = make_processor({"timestampTolerance": 0.002}, channels=("x",))
    queue = processor.metadataQueueMap["x"]
    queue.put(update(1.5, 100.0))
    queue.put(pva.PvObject({"value": pva.STRING, "timeStamp": pva.PvTimeStamp()},
                           {"value": "open", "timeStamp": ntnd.time_stamp(101.0)}))
    queue.put(pva.PvObject({"value": pva.INT}, {"value": 3}))  # no time stamp: unusable, counted
    queue.put(update(2.5, 102.0))
    for index in range(3):
        processor.process(frame(index + 1, 100.0 + index))
    assert [metadata_attributes(pv) for pv in processor.published] == [{"x": 1.5}, {"x": "open"}, {"x": 2.5}]
    assert processor.getStats()["nMetadataInvalid"] == 1


def test_metadata_offset_and_runtime_tolerance_change() -> None:
    processor = make_processor({"metadataTimestampOffset": 0.5, "timestampTolerance": 0.0001}, channels=("x",))
    processor.metadataQueueMap["x"].put(update(7.0, 99.5))
    processor.process(frame(1, 100.0))
    assert metadata_attributes(processor.published[-1]) == {"x": 7.0}
    processor.configure({"timestampTolerance": 0.2})
    processor.metadataQueueMap["x"].put(update(8.0, 100.85))  # 100.85 + 0.5 offset, 0.15 from the frame
    processor.process(frame(2, 101.5))
    assert metadata_attributes(processor.published[-1]) == {"x": 8.0}


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"timestampTolerance": "soon"}, "timestampTolerance must be a number"),
        ({"timestampTolerance": -1}, "timestampTolerance must be >= 0"),
        ({"metadataTimestampOffset": "x"}, "metadataTimestampOffset must be a number"),
        ({"frameTimestampField": "uniqueId"}, "frameTimestampField must be one of"),
    ],
)
def test_bad_config_is_refused(config: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        AdMetadataProcessor(config)


def test_metadata_settings_reach_consumer_and_collector_configs() -> None:
    consumer = consumer_config(ConsumerOptions("in", metadata_channels="pva://x,y", server_queue_size=5), 1)
    assert consumer.metadata_channels == (MetadataSpec("x", "pva"), MetadataSpec("y", "ca"))
    assert consumer.metadata_queue_size == 1000 and consumer.server_queue_size == 5
    collector = collector_config(CollectorOptions("p*", metadata_channels="ca://z", receiver_queue_size=7))
    assert collector.metadata_channels == (MetadataSpec("z", "ca"),) and collector.metadata_queue_size == 7
