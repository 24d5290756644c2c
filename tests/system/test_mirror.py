"""pvaflow mirror on loopback: every frame forwarded with a server queue, distributor on the mirror,
source restart survived, and its per-channel report.

Each test mirrors under its own channel name: this pytest process keeps its pvAccess client
channels by name, and one left from an earlier test's (stopped) mirror was seen to miss the
updates a later mirror forwarded after its source restarted.
"""

from __future__ import annotations

import pytest

from .helpers import Recorder, get, start_frames, wait_until

pytestmark = [pytest.mark.system, pytest.mark.timeout(120)]

SOURCE = "mirror:src"
N_FRAMES = 60


def start_sim(start_process, wait_for_channel, *extra: str):
    server = start_process("sim-server", "-cn", SOURCE, "-nx", "64", "-ny", "64", "-cs", "10", "-shd", "2",
                           "-rp", "0", "-dc", *extra)
    wait_for_channel(SOURCE, server)
    return server


def start_mirror(start_process, wait_for_channel, name: str, *extra: str):
    mirror = start_process("mirror", "-cm", f"({name},{SOURCE},pva,100)", "-dc", *extra)
    wait_for_channel(name, mirror)
    return mirror


def test_mirror_forwards_every_frame_in_order(start_process, wait_for_channel) -> None:
    server = start_sim(start_process, wait_for_channel, "-fps", "200", "-nf", str(N_FRAMES), "-sos", "-std", "60")
    mirror = start_mirror(start_process, wait_for_channel, "mirror:ordered", "-rp", "1")
    output = Recorder("mirror:ordered")  # the mirror serves its name once it has the source's value
    start_frames(server)
    assert server.wait(40) == 0
    ids = output.wait_for(N_FRAMES)
    output.stop()
    assert ids == list(range(1, N_FRAMES + 1))
    mirror.stop()
    assert mirror.process.returncode == 0
    final = mirror.output.split("mirror (final")[1]
    # the first update is the source's value on connect (an empty array), then every frame
    assert "mirror:ordered " in final and f" {N_FRAMES + 1} " in final, mirror.output
    assert "mirror @ " in mirror.output, "periodic reports with -rp"


def test_consumers_split_a_mirrored_stream_with_the_distributor(start_process, wait_for_channel) -> None:
    # the source serves on after its last frame until the test ends: a consumer of a mirror whose source
    # ended aborted in pvAccess when the mirror removed its record, twice in 15 full runs (docs/reliability.md)
    server = start_sim(start_process, wait_for_channel, "-fps", "50", "-nf", str(N_FRAMES), "-sos", "-std", "60",
                       "-shd", "60")
    start_mirror(start_process, wait_for_channel, "mirror:split")
    # a server queue for every frame: a consumer slowed by a loaded machine never overruns (one did once)
    consumers = start_process("consumer", "-ic", "mirror:split", "-nc", "2", "-dt", "uniqueId", "-du", "1",
                              "-sqs", str(N_FRAMES), "-oc", "mc:*:out", "-sc", "mc:*:status", "-dc")
    wait_for_channel("mc:1:status", consumers)
    wait_for_channel("mc:2:status", consumers)
    outputs = [Recorder("mc:1:out"), Recorder("mc:2:out")]
    start_frames(server, "mc:1:status", "mc:2:status")
    wait_until(lambda: sum(len(output.ids) for output in outputs) >= N_FRAMES, what=f"{N_FRAMES} frames out")
    first, second = (sorted(frame[0] for frame in output.stop()) for output in outputs)
    assert sorted(first + second) == list(range(1, N_FRAMES + 1)), "every frame once, over both consumers"
    assert len(first) == len(second) == N_FRAMES // 2
    for consumer_id in (1, 2):
        assert get(f"mc:{consumer_id}:status")["processorStats"]["nMissed"] == 0


def test_mirror_survives_a_source_restart(start_process, wait_for_channel) -> None:
    first = start_sim(start_process, wait_for_channel, "-fps", "20", "-rt", "60", "-std", "0")
    start_mirror(start_process, wait_for_channel, "mirror:restart")
    output = Recorder("mirror:restart")
    wait_until(lambda: len(output.ids) >= 5, what="frames through the mirror")
    first.stop()
    # the restarted source numbers from 1001, so its frames are told apart however long the mirror takes
    # to find it again (pvAccess's search back-off: up to seconds on a loaded machine)
    start_sim(start_process, wait_for_channel, "-fps", "20", "-rt", "60", "-std", "0", "-sid", "1001")
    wait_until(lambda: sum(image_id > 1000 for image_id in output.ids) >= 10, timeout=60,
               what="10 frames of the restarted source through the mirror")
    ids = [frame[0] for frame in output.stop()]
    before = [image_id for image_id in ids if image_id <= 1000]
    restarted = ids[len(before):]
    assert before == list(range(before[0], before[0] + len(before))), "the first source's frames in order"
    assert restarted == list(range(restarted[0], restarted[0] + len(restarted))), \
        "once reconnected, every frame of the restarted source, in order"
