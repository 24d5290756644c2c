"""Every workflow of pvaPy's streaming-framework document, run with its own command lines (issue 19).

The commands are pvaPy's, as written (pvapy_document.py); documented.py changes only the tool names, the
``/path/to/`` files (our processors in pvaPy's style, tests/system/workflows/), and the rates and run times
named in each test, lowered for a loaded 2-core machine. Each test checks the outcome the document
promises. Two things are added to every sim-server command: ``-sos`` (the frames start when the test, having
seen every stage connected, says so: published() or start_frames(); a start delay is no bound on a loaded
machine) and a shutdown delay of 1 s (pvaPy's default, 10 s, where a consumer must catch up with a backlog).
EJFAT (Input/Output Modes) needs JeffersonLab's e2sar library, which is not available here: not tested.
"""

from __future__ import annotations

import re
import socket
from collections import Counter

import numpy as np
import pytest

from pvaflow.loopback import free_port

from ..keyfiles import write_key_files
from . import pvapy_document as doc
from .documented import documented
from .helpers import Recorder, control, current_frame, get, start_frames, wait_for_initial_value, wait_until

pytestmark = [pytest.mark.system, pytest.mark.timeout(180)]

SUMMARY = re.compile(r"frames published\D*(\d+)")

HOLD = ("-sos", "-std", "120")  # hold the frames until SIGUSR1 (start_frames), two minutes at most


def run(start_process, command: str, lowered: dict[str, str] | None = None, paths: dict[str, str] | None = None,
        ports: dict[str, str] | None = None, shutdown_delay: str = "1"):
    args, env = documented(command, lowered, paths, ports)
    extra = (*HOLD, "-shd", shutdown_delay) if args[0] == "sim-server" else ()
    return start_process(*args, *extra, env=env)


def published(sim, *statuses: str, ended: bool = True) -> int:
    """Start the frames once every stage is connected (and each stage named by its status channel monitors its
    input), then the number the sim-server published, from its summary: once it ended, or with ``ended`` False
    as soon as the summary is out (the sim-server goes on serving for its shutdown delay)."""
    start_frames(sim, *statuses)
    if ended:
        assert sim.wait(120) == 0, sim.output
    else:
        wait_until(lambda: SUMMARY.search(sim.output) or sim.check_running(), 120, "the sim-server's summary")
    return int(SUMMARY.search(sim.output).group(1))


def stats(channel: str) -> dict:
    return get(channel)


def processed(channel: str) -> int:
    return stats(channel)["processorStats"]["nProcessed"]


def wait_processed(channels: list[str], total: int, what: str) -> list[dict]:
    wait_until(lambda: sum(processed(channel) for channel in channels) >= total, timeout=60, what=what)
    return [stats(channel) for channel in channels]


def test_single_consumer_is_watched_configured_and_stopped(start_process, wait_for_channel) -> None:
    consumer = run(start_process, doc.SINGLE_CONSUMER)
    wait_for_channel("consumer:1:status", consumer)
    sim = run(start_process, doc.SIM_1HZ, {"-rt": "2", "-fps": "10"})
    wait_for_initial_value("consumer:1:status")  # its input connected
    n = published(sim)
    (status,) = wait_processed(["consumer:1:status"], n, "every frame processed")
    assert status["processorStats"]["nProcessed"] == n and status["processorStats"]["nMissed"] == 0
    assert get("consumer:1:output", "field(uniqueId)")["uniqueId"] == n  # pvget -r uniqueId consumer:1:output
    assert "Processed frame 1 (128x128)" in consumer.output, "--log-level debug shows the processor's log"
    assert control("consumer:1:control", "configure", '{"x":100}') == "Configuration successful"
    assert get("consumer:1:control")["statusMessage"] == "Configuration successful"  # pvget consumer:1:control
    control("consumer:1:control", "stop")
    assert consumer.wait(30) == 0, "the consumer exits after the stop command"


def test_multiple_consumers_each_process_every_frame(start_process, wait_for_channel) -> None:
    consumers = run(start_process, doc.MULTIPLE_CONSUMERS)
    for consumer_id in (1, 2):
        wait_for_channel(f"consumer:{consumer_id}:status", consumers)
    sim = run(start_process, doc.SIM_1HZ, {"-rt": "2", "-fps": "10"})
    for consumer_id in (1, 2):
        wait_for_initial_value(f"consumer:{consumer_id}:status")
    n = published(sim)
    wait_processed(["consumer:1:status", "consumer:2:status"], 2 * n, "every frame at both consumers")
    for consumer_id in (1, 2):
        status = stats(f"consumer:{consumer_id}:status")["processorStats"]
        assert (status["nProcessed"], status["nMissed"], status["firstObjectId"]) == (n, 0, 1)


def test_multiple_consumers_with_data_distribution_alternate(start_process, wait_for_channel) -> None:
    consumers = run(start_process, doc.DISTRIBUTED_CONSUMERS)
    sim = run(start_process, doc.SIM_1HZ, {"-rt": "2", "-fps": "10"})
    outputs = []
    for consumer_id in (1, 2):
        wait_for_channel(f"consumer:{consumer_id}:output", consumers)  # its input is connected
        outputs.append(Recorder(f"consumer:{consumer_id}:output"))
    n = published(sim, "consumer:1:status", "consumer:2:status")
    statuses = wait_processed(["consumer:1:status", "consumer:2:status"], n, "every frame once")
    ids = [output.wait_for(status["processorStats"]["nProcessed"])
           for output, status in zip(outputs, statuses, strict=True)]
    assert sorted(ids[0] + ids[1]) == list(range(1, n + 1))
    assert {image_id % 2 for image_id in ids[0]} != {image_id % 2 for image_id in ids[1]}
    assert all(len({image_id % 2 for image_id in one}) == 1 for one in ids), "one gets 1,3,5,..., the other 2,4,6"
    assert all(status["processorStats"]["nMissed"] == 0 for status in statuses)


def test_multiple_consumer_sets_share_out_groups_of_three(start_process, wait_for_channel) -> None:
    set_a = run(start_process, doc.CONSUMER_SET_A)
    set_b = run(start_process, doc.CONSUMER_SET_B)
    sim = run(start_process, doc.SIM_1HZ, {"-rt": "2", "-fps": "10"})
    outputs = {}
    for consumer_id, consumers in ((1, set_a), (2, set_a), (3, set_b), (4, set_b)):
        wait_for_channel(f"consumer:{consumer_id}:output", consumers)
        outputs[consumer_id] = Recorder(f"consumer:{consumer_id}:output")
    n = published(sim, *(f"consumer:{consumer_id}:status" for consumer_id in outputs))
    channels = [f"consumer:{consumer_id}:status" for consumer_id in outputs]
    statuses = wait_processed(channels, 2 * n, "every frame by both consumers of one set")
    ids = {cid: outputs[cid].wait_for(s["processorStats"]["nProcessed"])
           for cid, s in zip(outputs, statuses, strict=True)}
    assert ids[1] == ids[2] and ids[3] == ids[4], "the consumers of a set get the same frames"
    assert sorted(ids[1] + ids[3]) == list(range(1, n + 1))
    group = {cid: {(image_id - 1) // 3 % 2 for image_id in ids[cid]} for cid in ids}
    assert len(group[1]) == len(group[3]) == 1 and group[1] != group[3], "(1,2,3,7,8,9,...) and (4,5,6,10,...)"
    assert all(status["processorStats"]["nMissed"] == 0 for status in statuses)


def test_protection_against_lost_data_single_consumer(start_process, wait_for_channel) -> None:
    # without a server queue: whatever is lost at 10 kHz is counted (overruns, missed)
    consumer = run(start_process, doc.UNPROTECTED_CONSUMER)
    wait_for_channel("consumer:1:status", consumer)
    # the server keeps serving after the last frame (60 s at most: stopped once the consumer has it): the
    # consumer, thousands of frames behind at 10 kHz, gets the rest (seen with 1 s: 2,233 frames still queued
    # when the server went away)
    sim = run(start_process, doc.SIM_10KHZ, {"-rt": "1"}, shutdown_delay="60")
    wait_for_channel("consumer:1:output", consumer)
    n = published(sim, "consumer:1:status", ended=False)
    wait_until(lambda: stats("consumer:1:status")["processorStats"]["lastObjectId"] == n, what="the last frame")
    sim.stop()
    status = stats("consumer:1:status")["processorStats"]
    assert status["nProcessed"] + status["nMissed"] == n - status["firstObjectId"] + 1
    print(f"FIGURES unprotected: {n} sent at 10 kHz, {status['nProcessed']} processed, {status['nMissed']} missed, "
          f"{stats('consumer:1:status')['receiverStats']['nOverruns']} overruns")
    control("consumer:1:control", "stop")
    assert consumer.wait(30) == 0
    # with --server-queue-size 1000 and at most 1000 frames nothing can be lost, however slow the consumer
    consumer = run(start_process, doc.SERVER_QUEUE_CONSUMER)
    wait_for_channel("consumer:1:status", consumer)
    sim = run(start_process, doc.SIM_10KHZ, {"-rt": "0.9", "-fps": "1000"})
    wait_for_channel("consumer:1:output", consumer)
    n = published(sim, "consumer:1:status")
    assert n <= 1000
    (status,) = wait_processed(["consumer:1:status"], n, "every frame")
    assert (status["processorStats"]["nProcessed"], status["processorStats"]["nMissed"]) == (n, 0)
    assert status["receiverStats"]["nOverruns"] == 0


@pytest.mark.parametrize(("command", "n_consumers", "sim_command"), [
    (doc.QUEUED_CONSUMER, 1, doc.SIM_5KHZ), (doc.QUEUED_CONSUMERS_2, 2, doc.SIM_5KHZ),
    (doc.QUEUED_CONSUMERS_4, 4, doc.SIM_8KHZ)], ids=["1-consumer", "2-consumers", "4-consumers"])
def test_protection_against_lost_data_with_data_distribution(start_process, wait_for_channel, command: str,
                                                             n_consumers: int, sim_command: str) -> None:
    # consumers with server and receiver queues: received = processed + rejected
    consumers = run(start_process, command)
    sim = run(start_process, sim_command, {"-rt": "2", "-fps": "200", "-rp": "200"})
    channels = [f"consumer:{consumer_id}:status" for consumer_id in range(1, n_consumers + 1)]
    for consumer_id in range(1, n_consumers + 1):
        wait_for_channel(f"consumer:{consumer_id}:output", consumers)
    n = published(sim, *channels, ended=False)  # the distributor shares frames among the monitors it has
    statuses = wait_processed(channels, n, f"every frame over {n_consumers} consumer(s)")
    for status in statuses:
        assert status["processorStats"]["nMissed"] == status["receiverStats"]["nRejected"] == 0
        assert status["receiverStats"]["nOverruns"] == 0
        assert abs(status["processorStats"]["nProcessed"] - n / n_consumers) <= 1, "an equal share each"
    for consumer_id in range(1, n_consumers + 1):
        control(f"consumer:{consumer_id}:control", "stop")
    assert consumers.wait(30) == 0


def test_processing_chain_saves_every_frame_to_a_file(start_process, wait_for_channel, tmp_path) -> None:
    files = tmp_path / "data"
    files.mkdir()
    processors = run(start_process, doc.CHAIN_PROCESSORS)
    writers = run(start_process, doc.CHAIN_FILE_WRITERS, paths={"output/data": str(files)})
    mirror = run(start_process, doc.MIRROR)
    sim = run(start_process, doc.SIM_AD_2KHZ, {"-fps": "100", "-rt": "2", "-rp": "100"})
    wait_for_channel("pvapy:image", mirror)
    for consumer_id in range(1, 5):
        wait_for_channel(f"processor:{consumer_id}:output", processors)
        wait_for_channel(f"file:{consumer_id}:output", writers)
    n = published(sim, *(f"{stage}:{consumer_id}:status" for stage in ("processor", "file")
                         for consumer_id in range(1, 5)))
    wait_until(lambda: len(list(files.iterdir())) >= n, timeout=60, what=f"{n} files")
    saved = {int(name.split("_")[1].split(".")[0]): int(name.split(".")[1]) for name in
             (path.name for path in files.iterdir())}
    assert sorted(saved) == list(range(1, n + 1)), "a file for every frame"
    for first in range(1, n + 1, 8):
        assert len({saved[image_id] for image_id in range(first, min(first + 8, n + 1))}) == 1, "8 in a row each"
    for consumer_id in range(1, 5):  # "objectIdOffset": "25": each writer's 8 ids in every 32 are all it expects
        status = stats(f"file:{consumer_id}:status")
        assert status["userStats"]["nMissedFiles"] == status["processorStats"]["nMissed"] == 0


def test_parallel_processing_chains_split_the_stream_in_eighths(start_process, wait_for_channel) -> None:
    passthrough = run(start_process, doc.PASSTHROUGH_CONSUMERS)
    first_set = run(start_process, doc.PARALLEL_CONSUMERS_1)
    second_set = run(start_process, doc.PARALLEL_CONSUMERS_5)
    sim = run(start_process, doc.SIM_8KHZ, {"-rt": "2", "-fps": "128", "-rp": "128"})
    for consumer_id in (1, 2):
        wait_for_channel(f"passthrough:{consumer_id}:output", passthrough)
    for consumer_id in range(1, 9):
        wait_for_channel(f"consumer:{consumer_id}:output", first_set if consumer_id <= 4 else second_set)
    n = published(sim, "passthrough:1:status", "passthrough:2:status",
                  *(f"consumer:{consumer_id}:status" for consumer_id in range(1, 9)))
    channels = [f"consumer:{consumer_id}:status" for consumer_id in range(1, 9)]
    statuses = wait_processed(channels, n, "every frame once over the 8 processing consumers")
    assert sum(processed(f"passthrough:{consumer_id}:status") for consumer_id in (1, 2)) == n
    for status in statuses:
        assert status["processorStats"]["nMissed"] == 0  # --oid-offset 57: the jump to a consumer's next 8
        assert abs(status["processorStats"]["nProcessed"] - n / 8) <= 8, "an eighth of the stream each"


def tile_chain(start_process, wait_for_channel):
    """The split consumer and the four tile consumers, started, then the 3840x2160 source: (sim, originals)."""
    splitter = run(start_process, doc.SPLIT_CONSUMER)
    tile_consumers = run(start_process, doc.TILE_CONSUMERS)
    sim = run(start_process, doc.SIM_4K, {"-fps": "2", "-rt": "3", "-rp": "2"})
    wait_for_channel("split:1:status", splitter)
    wait_for_initial_value("split:1:status")  # its output exists from the start: not a sign
    for consumer_id in range(1, 5):
        wait_for_channel(f"process:{consumer_id}:output", tile_consumers)
    return sim, Recorder("pvapy:image")


def test_splitting_images_into_tiles(start_process, wait_for_channel) -> None:
    sim, originals = tile_chain(start_process, wait_for_channel)
    tiles = [Recorder(f"process:{consumer_id}:output", with_attributes=True) for consumer_id in range(1, 5)]
    n = published(sim, *(f"process:{consumer_id}:status" for consumer_id in range(1, 5)))
    wait_processed([f"process:{consumer_id}:status" for consumer_id in range(1, 5)], 4 * n, "every tile")
    frames = {image_id: image for image_id, image, _ in originals.stop()}
    positions = set()
    for consumer_id, output in enumerate(tiles, 1):
        assert stats(f"process:{consumer_id}:status")["processorStats"]["nProcessed"] == n, "one tile a frame each"
        output.wait_for(n)
        output.stop()
        tile_positions = {(values["tileX"], values["tileY"]) for values in output.attributes}
        assert len(tile_positions) == 1, "each consumer always gets the same tile"
        tile_x, tile_y = tile_positions.pop()
        positions.add((tile_x, tile_y))
        for image_id, image, _ in output.frames:
            assert image.shape == (1080, 1920)
            original = frames[image_id][tile_y * 1080:(tile_y + 1) * 1080, tile_x * 1920:(tile_x + 1) * 1920]
            assert np.array_equal(image, original)
    assert positions == {(0, 0), (0, 1), (1, 0), (1, 1)}


def test_data_collector_restores_the_order_and_saves_every_frame(start_process, wait_for_channel, tmp_path) -> None:
    files = tmp_path / "data"
    files.mkdir()
    processors = run(start_process, doc.CHAIN_PROCESSORS)
    collector = run(start_process, doc.COLLECTOR)
    writers = run(start_process, doc.COLLECTOR_FILE_WRITERS, paths={"output/data": str(files)})
    mirror = run(start_process, doc.MIRROR)
    sim = run(start_process, doc.SIM_AD_2KHZ, {"-fps": "100", "-rt": "2", "-rp": "100"})
    wait_for_channel("pvapy:image", mirror)
    for consumer_id in range(1, 5):
        wait_for_channel(f"processor:{consumer_id}:output", processors)
    wait_for_channel("collector:1:output", collector)
    wait_for_initial_value("collector:1:status")  # from every producer
    collected = Recorder("collector:1:output")
    for consumer_id in range(1, 5):
        wait_for_channel(f"file:{consumer_id}:output", writers)
    n = published(sim, *(f"file:{consumer_id}:status" for consumer_id in range(1, 5)))
    wait_until(lambda: len(list(files.iterdir())) >= n, timeout=60, what=f"{n} files")
    assert collected.wait_for(n) == list(range(1, n + 1)), "the collector publishes the frames in order"
    collected.stop()
    saved = {int(name.split("_")[1].split(".")[0]): int(name.split(".")[1]) for name in
             (path.name for path in files.iterdir())}
    assert sorted(saved) == list(range(1, n + 1)), "a file for every frame"
    assert len({saved[image_id] for image_id in range(1, 5)}) == 4, "one file at a time to each of the 4 writers"
    assert stats("collector:1:status")["collectorStats"]["nMissed"] == 0


def test_splitting_and_stitching_images_with_the_data_collector(start_process, wait_for_channel) -> None:
    collector = run(start_process, doc.STITCH_COLLECTOR)
    wait_for_channel("collector:1:status", collector)
    sim, originals = tile_chain(start_process, wait_for_channel)
    wait_for_initial_value("collector:1:status")  # the stitcher's output exists from the start: the producers tell
    stitched = Recorder("collector:1:output")
    # the distributor shares tiles among the monitors it has: a tile consumer that joined late got none once
    n = published(sim, *(f"process:{consumer_id}:status" for consumer_id in range(1, 5)))
    wait_until(lambda: stats("collector:1:status")["userStats"]["nFramesStitched"] == n, timeout=60,
               what=f"{n} frames stitched")
    frames = {image_id: image for image_id, image, _ in originals.stop()}
    stitched.wait_for(n)
    result = stitched.stop()
    assert [image_id for image_id, _, _ in result] == list(range(1, n + 1))
    for image_id, image, _ in result:
        assert np.array_equal(image, frames[image_id]), f"stitched frame {image_id} is the original"


def metadata_accounted(frames_attributes: list[dict], names: tuple[str, ...], user_stats: dict) -> None:
    """Every frame has all metadata or is counted as missing some (a value can come after its frame on a
    loaded machine: the collector example does not accumulate); and the metadata does reach frames."""
    complete = sum(set(names) <= set(values) for values in frames_attributes)
    assert complete + user_stats["nFramesMissingMetadata"] == len(frames_attributes), user_stats
    assert complete > 0, "metadata attached to the frames"


@pytest.mark.parametrize("protocol", ["pva", "ca"])
def test_metadata_handling_with_the_data_collector(start_process, wait_for_channel, tmp_path, protocol) -> None:
    # The document says the CA variant needs only the sim-server command replaced. But its IOC serves x, y, z
    # over CA only (pvaPy's too: base.dbd, no QSRV), so the collector must ask for ca://x, not pva://x
    # (docs/compatibility.md). The dbd path the document asks for is not needed by ours: a wrong one is given.
    command = doc.METADATA_COLLECTOR if protocol == "pva" else doc.METADATA_COLLECTOR.replace("pva://", "ca://")
    collector = run(start_process, command)
    wait_for_channel("collector:1:status", collector)
    if protocol == "pva":
        sim = run(start_process, doc.SIM_PVA_METADATA, {"-fps": "20", "-rp": "20", "-rt": "2"})
    else:
        sim = run(start_process, doc.SIM_CA_METADATA, {"-fps": "5", "-rt": "2"},
                  paths={"epics-base/dbd": str(tmp_path)})
    wait_for_channel("collector:1:output", collector)
    output = Recorder("collector:1:output", with_attributes=True)
    n = published(sim)
    wait_until(lambda: stats("collector:1:status")["processorStats"]["nProcessed"] == n, what="every frame")
    assert output.wait_for(n) == list(range(1, n + 1))
    output.stop()
    metadata_accounted(output.attributes, ("x", "y", "z"), stats("collector:1:status")["userStats"])


def test_metadata_handling_with_data_consumers(start_process, wait_for_channel) -> None:
    consumers = run(start_process, doc.METADATA_CONSUMERS)
    mirror = run(start_process, doc.METADATA_MIRROR)
    # the source serves on until the test ends: when it ended, the mirror removed its record, and the last
    # frame once came out of two of the four consumers (docs/reliability.md)
    sim = run(start_process, doc.SIM_AD_METADATA, {"-fps": "100", "-rp": "100", "-rt": "2"}, shutdown_delay="60")
    wait_for_channel("pvapy:image", mirror)
    outputs = []
    for consumer_id in range(1, 5):
        wait_for_channel(f"consumer:{consumer_id}:output", consumers)
        outputs.append(Recorder(f"consumer:{consumer_id}:output", with_attributes=True))
    n = published(sim, *(f"consumer:{consumer_id}:status" for consumer_id in range(1, 5)), ended=False)
    channels = [f"consumer:{consumer_id}:status" for consumer_id in range(1, 5)]
    statuses = wait_processed(channels, n, "every frame once over the 4 consumers")
    for output, status in zip(outputs, statuses, strict=True):
        output.wait_for(status["processorStats"]["nProcessed"])
        output.stop()
        assert status["processorStats"]["nMissed"] == 0
        metadata_accounted(output.attributes, ("pvapy:x", "pvapy:y", "pvapy:z"), status["userStats"])
        # each consumer gets a quarter of the frames and all metadata: the rest is discarded, and counted
        assert status["userStats"]["nMetadataDiscarded"] > 0
    ids = {consumer_id: output.ids for consumer_id, output in enumerate(outputs, start=1)}
    repeated = {image_id for image_id, count in Counter(i for got in ids.values() for i in got).items() if count > 1}
    assert not repeated, {consumer_id: [i for i in got if i in repeated] for consumer_id, got in ids.items()}
    assert sorted(image_id for got in ids.values() for image_id in got) == list(range(1, n + 1))


def test_data_encryption_decrypts_to_the_original(start_process, wait_for_channel, tmp_path) -> None:
    key = write_key_files(tmp_path / "keys")["id_rsa"]
    encryptor = run(start_process, doc.ENCRYPTING_CONSUMER, paths={"id_rsa": str(key)})
    decryptor = run(start_process, doc.DECRYPTING_CONSUMER, paths={"id_rsa": str(key)})
    processor = run(start_process, doc.PROCESSING_CONSUMER)
    for name, child in (("enc:1:status", encryptor), ("dec:1:status", decryptor), ("proc:1:status", processor)):
        wait_for_channel(name, child)
    sim = run(start_process, doc.SIM_1HZ, {"-rt": "2", "-fps": "10"})
    for name in ("enc:1:status", "dec:1:status", "proc:1:status"):
        # each stage's input connected: its current value received (skipped); the encryptor's and decryptor's
        # outputs exist from the start (their types are known), so they tell nothing
        wait_for_initial_value(name)
    originals = Recorder("pvapy:image")
    n = published(sim)
    wait_until(lambda: processed("proc:1:status") == n, timeout=60, what="every frame through the three stages")
    image_id, image = current_frame("dec:1:output")  # pvget dec:1:output: decrypted (raw) data
    frames = {frame_id: frame for frame_id, frame, _ in originals.stop()}
    assert image_id == n and np.array_equal(image, frames[n])
    image_id, image = current_frame("proc:1:output")
    assert image_id == n and np.array_equal(image, np.rot90(frames[n], 2)), "the processed (rotated) image"
    for name in ("enc:1:status", "dec:1:status", "proc:1:status"):
        status = stats(name)["processorStats"]
        assert (status["nProcessed"], status["nMissed"], status["nRejected"]) == (n, 0, 0), name


def all_handled(status: dict) -> bool:
    """Whether a stage processed (or skipped) every object it received, and received some."""
    received = status["receiverStats"]["nReceived"]
    return received > 1 and status["processorStats"]["nProcessed"] + status["processorStats"]["nSkipped"] == received


def test_firewall_set_up_publishes_back_with_a_pva_client(start_process, wait_for_channel) -> None:
    ports = {"10001": str(free_port()), "30001": str(free_port())}
    ports |= {udp: str(free_port(socket.SOCK_DGRAM)) for udp in ("10000", "20000", "30000")}
    lowered = {"-nx": "128", "-ny": "128", "-fps": "10", "-rp": "10", "-rt": "2", "--server-queue-size": "100"}
    sim = run(start_process, doc.FIREWALL_SIM, lowered, ports=ports)
    # stage 1 finds the source only through EPICS_PVA_NAME_SERVERS, which pvAccess asks once it has started
    wait_for_channel("pvapy:image", sim)
    stage1 = run(start_process, doc.FIREWALL_STAGE1, lowered, ports=ports)
    stage2 = run(start_process, doc.FIREWALL_STAGE2, ports=ports)
    wait_for_channel("stage1:1:status", stage1)
    wait_for_channel("stage:1:output", stage2)
    start_frames(sim, "stage1:1:status")  # stage 1's input connected (frames 1-3 once came before it did)
    # Not published(sim), which waits for the sim-server's exit: its PvaServer.stop() crashes (SIGSEGV) about
    # 1 run in 2 while stage 1 is connected to it as a name server (a pvaccess fault, not solved yet;
    # docs/reliability.md). Its summary comes before that, once the last frame is out.
    wait_until(lambda: SUMMARY.search(sim.output), timeout=60, what="the source's summary")
    n = int(SUMMARY.search(sim.output).group(1))
    wait_until(lambda: stats("stage1:1:status")["processorStats"]["lastObjectId"] == n, what="the last frame")
    wait_until(lambda: all_handled(stats("stage1:1:status")), what="stage 1 done with what it received")
    first = stats("stage1:1:status")["processorStats"]
    assert first["nProcessed"] == n
    assert (first["firstObjectId"], first["lastObjectId"], first["nMissed"]) == (1, n, 0)
    wait_until(lambda: processed("stage2:1:status") + stats("stage2:1:status")["receiverStats"]["nOverruns"] == n,
               what="every frame put into stage 2")
    sent = stats("stage1:1:status")["publisherStats"]
    assert (sent["nPublished"], sent["nErrors"]) == (n, 0)
    received = stats("stage2:1:status")
    assert received["receiverStats"]["nReceived"] == n
    assert get("stage:1:output", "field(uniqueId)")["uniqueId"] == n
