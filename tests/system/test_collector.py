"""pvaflow collector on loopback: producers split a stream, the collector restores it in order."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pvaccess as pva
import pytest

from .helpers import Recorder, control, get, holds_for, start_frames, wait_for_initial_value, wait_until

pytestmark = [pytest.mark.system, pytest.mark.timeout(150)]

SOURCE = "src:image"
PUBLISH_IDS = str(Path(__file__).parent / "publish_ids.py")


def start_sim(start_process, wait_for_channel, *extra: str):
    """A sim-server that holds its frames until start_frames() (SIGUSR1)."""
    server = start_process("sim-server", "-cn", SOURCE, "-sos", "-std", "60", "-shd", "3", "-rp", "0", "-dc", *extra)
    wait_for_channel(SOURCE, server)
    return server


def start_collector(start_process, wait_for_channel, producers: str, *extra: str):
    collector = start_process("collector", "-ic", "p:*:out", "-pid", producers, "-oc", "col:out", "-sqs", "100",
                              "-sc", "col:status", "-cc", "col:control", "-dc", *extra)
    wait_for_channel("col:status", collector)
    return collector


def collector_stats() -> dict:
    return get("col:status")


@pytest.mark.parametrize("updates", ["1", "8"])
def test_four_producers_are_collected_in_order(start_process, wait_for_channel, updates: str) -> None:
    plan = {"channels": [SOURCE], "updates": [[SOURCE, object_id] for object_id in range(1, 161)], "size": 16,
            "interval": 0.005}
    source = start_process(json.dumps(plan), script=PUBLISH_IDS)  # publishes once everything is connected
    wait_for_channel(SOURCE, source)
    producers = start_process("consumer", "-ic", SOURCE, "-oc", "p:*:out", "-sc", "p:*:status", "-nc", "4",
                              "-sqs", "20", "-du", updates, "-dc")
    for producer in range(1, 5):
        wait_for_channel(f"p:{producer}:status", producers)
        wait_for_initial_value(f"p:{producer}:status")
    start_collector(start_process, wait_for_channel, "1,2,3,4")
    wait_for_initial_value("col:status")  # from every producer
    output = Recorder("col:out")
    source.send_line()
    assert output.wait_for(160, timeout=30) == list(range(1, 161)), "strictly increasing and complete"
    output.stop()
    wait_until(lambda: collector_stats()["collectorStats"]["nCollected"] == 160, what="160 collected in the status")
    stats = collector_stats()
    assert stats["processorStats"]["nMissed"] == 0
    assert sum(stats[f"producerStats_{p}"]["nReceived"] for p in range(1, 5)) == 164  # + 4 initial values



def serve_producers(start_process, wait_for_channel, updates: list[tuple[int, int]], interval: float = 0.05,
                    parts: list[int] | None = None):
    """A child process serving p:<n>:out for the producers in ``updates``; send_line() publishes them, ``interval``
    seconds apart (with ``parts``, each line the next part of them)."""
    channels = sorted({f"p:{producer}:out" for producer, _ in updates})
    plan = {"channels": channels, "updates": [[f"p:{producer}:out", object_id] for producer, object_id in updates],
            "interval": interval, "parts": parts or [len(updates)]}
    server = start_process(json.dumps(plan), script=PUBLISH_IDS)
    for channel in channels:
        wait_for_channel(channel, server)
    return server


def test_gap_is_skipped_and_duplicates_dropped(start_process, wait_for_channel) -> None:
    # producer 1 sends odd ids, producer 2 even ids; 6 never comes; 3 and 8 come twice
    updates = [(1, 1), (2, 2), (1, 3), (2, 4), (1, 5), (1, 3), (1, 7), (2, 8), (2, 8), (1, 9), (2, 10)]
    server = serve_producers(start_process, wait_for_channel, updates)
    start_collector(start_process, wait_for_channel, "1,2", "-ccs", "6", "-cgw", "1")
    output = Recorder("col:out")
    wait_for_initial_value("col:status")  # both monitors connected
    server.send_line()
    assert output.wait_for(9) == [1, 2, 3, 4, 5, 7, 8, 9, 10]
    output.stop()
    expected = {"nCollected": 9, "nDuplicates": 2, "nGapsSkipped": 1, "nMissing": 1, "nLate": 0}

    def counted() -> bool:
        stats = collector_stats()["collectorStats"]
        return all(stats[name] == value for name, value in expected.items())

    wait_until(counted, what=f"collector stats {expected}")  # the status refreshes every second
    assert collector_stats()["processorStats"]["nMissed"] == 1


def test_out_of_order_arrival_is_ordered(start_process, wait_for_channel) -> None:
    order = [3, 1, 2, 6, 5, 4, 9, 7, 8, 12, 10, 11]
    server = serve_producers(start_process, wait_for_channel, [(object_id % 3 + 1, object_id) for object_id in order])
    start_collector(start_process, wait_for_channel, "1,2,3", "-ccs", "30", "-cgw", "2")
    output = Recorder("col:out")
    wait_for_initial_value("col:status")
    server.send_line()
    assert output.wait_for(12, timeout=15) == list(range(1, 13))
    output.stop()
    wait_until(lambda: collector_stats()["collectorStats"]["nOutOfOrder"] > 0, what="out-of-order arrivals counted")


def test_a_restarted_producer_is_picked_up_again(start_process, wait_for_channel) -> None:
    server = start_sim(start_process, wait_for_channel, "-nx", "8", "-ny", "8", "-fps", "20", "-rt", "60")
    first = start_process("consumer", "-ic", SOURCE, "-oc", "p:1:out", "-sc", "p:1:status", "-dc")
    wait_for_channel("p:1:status", first)
    start_collector(start_process, wait_for_channel, "1", "-cgw", "0.5")
    start_frames(server, "p:1:status")
    wait_until(lambda: collector_stats()["collectorStats"]["nCollected"] > 10, what="collecting")
    first.stop()
    collected = collector_stats()["collectorStats"]["nCollected"]
    second = start_process("consumer", "-ic", SOURCE, "-oc", "p:1:out", "-sc", "p:1:status", "-dc")
    wait_for_channel("p:1:status", second)
    wait_until(lambda: collector_stats()["collectorStats"]["nCollected"] > collected + 10, what="collecting again")
    stats = collector_stats()
    assert stats["collectorStats"]["nGapsSkipped"] >= 1  # the frames published while no producer ran
    # the new producer's record starts with the input it skipped (never processed): skipped here too
    producer = stats["producerStats_1"]
    assert (producer["nReconnects"], producer["nSkipped"], stats["collectorStats"]["nDuplicates"]) == (1, 2, 0)
    server.stop()


def run_slow_collector(start_process, wait_for_channel, *queue_options: str) -> tuple[dict, list[dict]]:
    """Two producers send a frame (2x2) each, then 298 at once, to a collector whose processor takes 20 ms a frame;
    once every update is taken or refused and nothing is left queued, cached or to process: its status and each
    producer's counts."""
    updates = [(object_id % 2 + 1, object_id) for object_id in range(1, 301)]
    server = serve_producers(start_process, wait_for_channel, updates, interval=0, parts=[2, 298])
    processor = str(Path(__file__).parent / "processors" / "recorder.py")
    # -sqs 400: each producer's 150 updates fit in its server queue, so all 302 reach the collector (none overrun)
    start_collector(start_process, wait_for_channel, "1,2", "-ccs", "4", "-cgw", "0.5", "-sqs", "400",
                    "-pf", processor, "-pc", "Recorder", "-pa", '{"sleep": 0.02}', *queue_options)
    wait_until(lambda: collector_stats()["receiverStats"]["nReceived"] == 2, what="both initial values")
    server.send_line()  # the first frames tell the collector the producers' frame size
    wait_until(lambda: collector_stats()["processorStats"]["nProcessed"] == 2, what="the first two frames processed")
    server.send_line()

    def producer_counts() -> list[dict]:
        stats = collector_stats()
        return [stats[f"producerStats_{producer}"] for producer in (1, 2)]

    def settled() -> bool:
        counts = producer_counts()
        arrived = sum(c["nReceived"] for c in counts) == 302  # + the 2 initial values
        stats = collector_stats()
        return arrived and all(c["queueStats"]["nQueued"] == 0 for c in counts) and \
            stats["collectorStats"]["nCached"] == 0 and \
            stats["processorStats"]["nProcessed"] == stats["collectorStats"]["nCollected"]

    wait_until(settled, timeout=60, what="every update taken or refused, nothing left queued, cached or to process")
    stats = collector_stats()
    counts = producer_counts()
    for producer in counts:  # each update that arrived: the initial value skipped, refused or collected
        assert producer["receiverStats"]["nOverruns"] == 0
        assert producer["nReceived"] == producer["nSkipped"] + producer["nRejected"] + \
            producer["queueStats"]["nDelivered"]
        assert producer["nSkipped"] == 1
    assert stats["receiverStats"]["nRejected"] == sum(c["nRejected"] for c in counts)
    collected = stats["collectorStats"]["nCollected"]
    assert collected == sum(c["queueStats"]["nDelivered"] for c in counts) == stats["processorStats"]["nProcessed"]
    # every id from the first to the last collected is collected or counted missing
    assert collected + stats["collectorStats"]["nMissing"] == \
        stats["processorStats"]["lastObjectId"] - stats["processorStats"]["firstObjectId"] + 1
    return stats, counts


def test_a_slow_collector_refuses_what_its_producer_queues_cannot_hold_and_counts_it(
        start_process, wait_for_channel) -> None:
    """-rqs 10 shared by two producers (5 queued each): what a producer's full queue refuses is counted, everything
    else is collected, and nothing is lost uncounted."""
    stats, _ = run_slow_collector(start_process, wait_for_channel, "-rqs", "10")
    assert stats["receiverStats"]["nRejected"] > 100  # 50 frames a second of processing against 300 at once
    # each producer's last updates were refused, newer than any taken: not an update held back by its monitor.
    # The stale-channel check looks every 2 s and acts on 2 s of it: 8 s with the stream paused and no renewal
    holds_for(lambda: [collector_stats()[f"producerStats_{producer}"]["nStaleChannels"] for producer in (1, 2)]
              == [0, 0], 8, "no producer channel renewed")


def test_by_default_the_producer_queues_hold_as_many_frames_as_fit_in_an_eighth_of_the_memory(
        start_process, wait_for_channel) -> None:
    """Without -rqs the count bound (10 x the cache of 4: 20 frames a producer) grows to what fits in 1/8 of the
    memory: 298 frames of 4 bytes at once are all queued and collected, none refused (the first frames of each
    producer meet the count bound, before their size is known)."""
    stats, _ = run_slow_collector(start_process, wait_for_channel)
    assert stats["receiverStats"]["nRejected"] == 0
    assert stats["collectorStats"]["nCollected"] == 300


def test_collector_control_channel(start_process, wait_for_channel) -> None:
    server = serve_producers(start_process, wait_for_channel, [(1, 1)])
    collector = start_collector(start_process, wait_for_channel, "1")
    assert control("col:control", "get_stats") == "Stats update successful"
    assert control("col:control", "configure", '{"x": 1}') == "Configuration successful"
    assert control("col:control", "configure", '{"receiverQueueSize": 50}') == "Configuration successful"
    assert control("col:control", "bogus").startswith("Ignoring invalid request (unrecognized command specified)")
    assert control("col:control", "stop") == "Stop flag set"
    assert collector.wait(20) == 0
    server.stop()


EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.mark.timeout(180)
def test_split_stitch_restores_every_frame_pixel_for_pixel(start_process, wait_for_channel) -> None:
    """sim-server 3840x2160 -> split consumer -> 4 passthrough consumers -> stitching collector."""
    collector = start_process("collector", "-pid", "1,2,3,4", "-ic", "tiles:*:out", "-sqs", "20",
                              "-pf", str(EXAMPLES / "tile_stitcher.py"), "-pc", "TileStitcher",
                              "-oc", "stitched:image", "-sc", "col:status", "-dc")
    passthrough = start_process("consumer", "-ic", "split:tiles", "-oc", "tiles:*:out", "-sc", "tiles:*:status",
                                "-nc", "4", "-du", "1", "-dt", "uniqueId", "-sqs", "20", "-dc")
    splitter = start_process("consumer", "-ic", SOURCE, "-pf", str(EXAMPLES / "tile_splitter.py"),
                             "-pc", "TileSplitter", "-pa", '{"tilesX": 2, "tilesY": 2}', "-oc", "split:tiles",
                             "-sc", "split:status", "-sqs", "10", "-dc")
    for name, child in [("col:status", collector), ("split:status", splitter)] + [
        (f"tiles:{n}:status", passthrough) for n in range(1, 5)
    ]:
        wait_for_channel(name, child)
    server = start_sim(start_process, wait_for_channel, "-nx", "3840", "-ny", "2160", "-nf", "8", "-cs", "4",
                       "-fps", "2")
    source = Recorder(SOURCE)
    stitched = Recorder("stitched:image")
    wait_for_initial_value("split:status")  # its output exists from here on
    for n in range(1, 5):
        wait_for_initial_value(f"tiles:{n}:status")
    wait_for_initial_value("col:status")
    start_frames(server)
    assert server.wait(60) == 0
    assert stitched.wait_for(8, timeout=30) == list(range(1, 9))
    originals = {image_id: image for image_id, image, _ in source.stop()}
    assert sorted(originals) == list(range(1, 9))
    for image_id, image, _ in stitched.stop():
        assert image.shape == (2160, 3840)
        assert np.array_equal(image, originals[image_id]), f"frame {image_id} differs after split and stitch"
    wait_until(lambda: get("col:status")["userStats"]["nStitched"] == 8, what="8 frames stitched")
    stats = get("col:status")
    assert stats["userStats"]["nIncomplete"] == 0
    assert stats["collectorStats"]["nCollected"] == 32


def test_objects_of_one_id_from_several_producers_are_all_handed_on(start_process, wait_for_channel) -> None:
    """Issue 19, as pvaPy's collector: tiles of one frame come from several producers under the frame's id."""
    updates = [[f"tile:{producer}:out", i] for i in range(1, 7) for producer in (2, 1)] + [["tile:1:out", 6]]
    source = start_process(json.dumps({"channels": ["tile:1:out", "tile:2:out"], "updates": updates}),
                           script=str(Path(__file__).parent / "publish_ids.py"))
    wait_for_channel("tile:2:out", source)
    collector = start_process("collector", "-ic", "tile:*:out", "-pid", "1,2", "-oc", "tile:col", "-sc", "tile:status",
                              "-cgw", "1", "-dc")
    wait_for_channel("tile:status", collector)
    wait_until(lambda: get("tile:status")["receiverStats"]["nReceived"] == 2, what="initial updates")
    output = Recorder("tile:col")
    source.send_line()
    assert output.wait_for(12) == [i for i in range(1, 7) for _ in (1, 2)]
    frames = output.stop()
    assert [int(image[0, 0]) for _, image, _ in frames] == [i for i in range(1, 7) for _ in (1, 2)]
    # the status accounts for all 13 updates: the repeat of 6 comes last, after the 12 collected
    wait_until(lambda: sum(collector_stats_of("tile:status")[name] for name in ("nCollected", "nDuplicates", "nLate"))
               == 13, what="the status shows all 13 updates")
    collected = collector_stats_of("tile:status")
    assert (collected["nDuplicates"], collected["nLate"]) == (1, 0)


def collector_stats_of(channel: str) -> dict:
    return get(channel)["collectorStats"]


def declared_fields_missing(declared: dict, ours: dict, path: str = "") -> list[str]:
    """Fields pvaPy's declared status structure has that ours lacks or types differently."""
    missing = []
    for key, kind in declared.items():
        if key not in ours:
            missing.append(f"{path}{key}")
        elif isinstance(kind, dict):
            missing += declared_fields_missing(kind, ours[key], f"{path}{key}.")
        elif not isinstance(kind, pva.PvObject) and ours[key] != kind:
            missing.append(f"{path}{key} ({ours[key]} instead of {kind})")
    return missing


def test_status_has_the_fields_pvapys_clients_read(start_process, wait_for_channel) -> None:
    """Issue 19: collectorStats, producerStats_<id> and metadataStats_<n> with pvaPy's names, nesting and types,
    read from the installed pvaPy (its declared structures), not copied."""
    from pvapy.hpc.dataCollector import DataCollector
    from pvapy.hpc.sourceChannel import SourceChannel

    collector = start_process("collector", "-ic", "shape:*:out", "-pid", "1,2", "-sc", "shape:col:status",
                              "-mc", "pva://shape:md", "-dc")
    consumer = start_process("consumer", "-ic", "shape:in", "-mc", "pva://shape:md", "-sc", "shape:con:status",
                             "-dc")
    wait_for_channel("shape:col:status", collector)
    wait_for_channel("shape:con:status", consumer)
    channel = pva.Channel("shape:col:status")
    ours = channel.getIntrospectionDict()
    expected = {key: value for key, value in DataCollector.STATUS_TYPE_DICT.items() if not key.startswith(
        ("producerStats_", "metadataStats_", "userStats"))}
    expected |= {"producerStats_1": SourceChannel.STATUS_TYPE_DICT, "producerStats_2": SourceChannel.STATUS_TYPE_DICT,
                 "metadataStats_1": SourceChannel.STATUS_TYPE_DICT}
    assert declared_fields_missing(expected, ours) == []
    consumer_status = pva.Channel("shape:con:status").getIntrospectionDict()
    assert declared_fields_missing({"metadataStats_1": SourceChannel.STATUS_TYPE_DICT}, consumer_status) == []
    wait_until(lambda: get("shape:col:status")["objectId"] >= 1, what="the first status update")
    values = get("shape:col:status")
    assert values["producerStats_2"]["producerId"] == 2 and values["producerStats_2"]["channel"] == "shape:2:out"
    assert values["metadataStats_1"]["channel"] == "shape:md"
