"""Faults a beamline meets, on loopback: malformed frames, processors that fail to start or hang in stop(),
a processor slower than the stream, a source killed mid-stream. Each is counted or reported in one line
and the stream goes on."""

from __future__ import annotations

import json
import re
import signal
import time
from pathlib import Path

import pytest

from .helpers import Recorder, get, start_frames, wait_for_initial_value, wait_until

pytestmark = [pytest.mark.system, pytest.mark.timeout(120)]

HERE = Path(__file__).parent
EXAMPLES = HERE.parents[1] / "examples"
RECORDER = ("-pf", str(HERE / "processors" / "recorder.py"), "-pc", "Recorder")


def stats(channel: str) -> dict:
    return get(channel)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def test_malformed_frames_are_counted_and_the_stream_goes_on(start_process, wait_for_channel) -> None:
    updates = [["bad:image", 1], ["bad:image", 2, "dims"], ["bad:image", 3, "colorMode"], ["bad:image", 4, "empty"],
               ["bad:image", 5, "codec"], ["bad:image", 6]]
    source = start_process(json.dumps({"channels": ["bad:image"], "updates": updates}),
                           script=str(HERE / "publish_ids.py"))
    wait_for_channel("bad:image", source)
    consumer = start_process("consumer", "-ic", "bad:image", "-pf", str(EXAMPLES / "threshold_processor.py"),
                             "-pc", "Threshold", "-oc", "bad:out", "-sc", "bad:status", "-dc")
    wait_for_channel("bad:status", consumer)
    wait_for_initial_value("bad:status")  # the monitor got the initial (skipped) update
    output = Recorder("bad:out")
    source.send_line()
    wait_until(lambda: stats("bad:status")["processorStats"]["lastObjectId"] == 6, what="all six handled")
    processor_stats = stats("bad:status")["processorStats"]
    assert (processor_stats["nProcessed"], processor_stats["nErrors"]) == (2, 4)
    assert output.wait_for(2) == [1, 6]
    output.stop()
    consumer.check_running()
    consumer.stop()
    log = consumer.output
    for reason in ("need 35 values, value has 4", "do not fit colour mode 9", "value union is empty",
                   "codec 'nosuchcodec'"):
        assert log.count(reason) == 1, reason  # one clear line per kind of fault
    assert "Traceback" not in log


def test_processor_start_failure_is_one_line(start_process) -> None:
    consumer = start_process("consumer", "-ic", "x:image", *RECORDER, "-pa", '{"raiseOnStart": true}', "-dc")
    assert consumer.wait(30) == 1
    lines = [line for line in consumer.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "processor start() failed: RuntimeError: detector not armed" in lines[0], lines


def test_processor_hanging_in_stop_does_not_hang_the_consumer(start_process, wait_for_channel) -> None:
    consumer = start_process("consumer", "-ic", "x:image", "-sc", "hang:status", *RECORDER,
                             "-pa", '{"stopSeconds": 300}', "-dc")
    wait_for_channel("hang:status", consumer)
    started = time.monotonic()
    consumer.process.send_signal(signal.SIGINT)
    assert consumer.wait(30) == 0
    assert time.monotonic() - started < 20
    assert "processor stop() did not return within 10 s" in consumer.output


def test_slow_processor_fills_the_queue_counts_rejections_and_catches_up(start_process, wait_for_channel) -> None:
    server = start_process("sim-server", "-cn", "slow:image", "-nx", "512", "-ny", "512", "-fps", "200",
                           "-nf", "1200", "-cs", "10", "-sos", "-std", "60", "-shd", "2", "-rp", "0", "-dc")
    wait_for_channel("slow:image", server)
    # -sqs 100: the server holds updates the loaded machine cannot take at once (seen: 1 run with other tests
    # beside it lost updates in pvAccess, before they reach the queue this test counts)
    consumer = start_process("consumer", "-ic", "slow:image", "-sc", "slow:status", "-rqs", "10", "-sqs", "100",
                             *RECORDER, "-pa", '{"sleep": 0.02}', "-dc")
    wait_for_channel("slow:status", consumer)
    start_frames(server, "slow:status")
    wait_until(lambda: stats("slow:status")["receiverStats"]["nReceived"] > 100, what="streaming")
    baseline = rss_mb(consumer.process.pid)
    peak = baseline
    while server.process.poll() is None:
        peak = max(peak, rss_mb(consumer.process.pid))
        time.sleep(0.2)
    assert server.wait(10) == 0

    def drained() -> bool:
        status = stats("slow:status")
        queue = status["queueStats"]
        # everything the monitor delivered was queued or rejected (on a loaded machine pvAccess also loses
        # updates before the queue: overruns, a lower bound, seen 5 in 1201)
        taken = queue["nReceived"] + queue["nRejected"] == status["receiverStats"]["nReceived"]
        return queue["nQueued"] == 0 and taken

    wait_until(drained, timeout=30, what="every frame delivered queued or rejected, and the queue drained")
    status = stats("slow:status")
    queue, processor = status["queueStats"], status["processorStats"]
    print(f"FIGURES slow processor: sent 1200, received {status['receiverStats']['nReceived']}, queued "
          f"{queue['nReceived']}, rejected {queue['nRejected']}, overruns {status['receiverStats']['nOverruns']}, "
          f"processed {processor['nProcessed']}, "
          f"RSS {baseline:.0f} -> peak {peak:.0f} MB")
    assert queue["nRejected"] > 500  # 50 frames/s of processing against 200 frames/s
    assert status["receiverStats"]["nRejected"] == queue["nRejected"]
    assert processor["nProcessed"] + processor["nSkipped"] == queue["nDelivered"] == queue["nReceived"]
    # every id between the first and the last processed is processed or counted missed (rejected, overrun)
    assert processor["nProcessed"] + processor["nMissed"] == processor["lastObjectId"] - processor["firstObjectId"] + 1
    assert peak - baseline < 64, f"resident memory grew {peak - baseline:.0f} MB (queue of ten 0.26 MB frames)"


@pytest.mark.parametrize("start_id", [1, 10001], ids=["ids-from-1", "ids-go-on"])
def test_source_killed_and_restarted_mirror_consumer_and_collector_follow(
    start_process, wait_for_channel, start_id: int
) -> None:
    """source -> mirror -> consumer -> collector; the source is killed mid-stream and a new one serves the
    same channel. Every stage reconnects by itself and processes the new ids. A source that numbers from 1
    again is counted as an id restart at the consumer and the collector; one that goes on counting (-sid)
    leaves a gap that both count exactly as missed."""
    sim = ("sim-server", "-cn", f"rs{start_id}:src", "-nx", "16", "-ny", "16", "-rp", "0", "-dc")
    first = start_process(*sim, "-fps", "100", "-std", "1", "-rt", "60")
    wait_for_channel(f"rs{start_id}:src", first)
    mirror = start_process("mirror", "-cm", f"(rs{start_id}:image,rs{start_id}:src,pva,100)", "-dc")
    wait_for_channel(f"rs{start_id}:image", mirror)
    consumer = start_process("consumer", "-ic", f"rs{start_id}:image", "-oc", f"rs{start_id}:1:out", "-sqs", "100",
                             "-sc", f"rs{start_id}:status", *RECORDER, "-dc")
    wait_for_channel(f"rs{start_id}:status", consumer)
    collector = start_process("collector", "-ic", f"rs{start_id}:*:out", "-pid", "1", "-sqs", "100", "-cgw", "0.5",
                              "-sc", f"rs{start_id}:col:status", *RECORDER, "-dc")
    wait_for_channel(f"rs{start_id}:col:status", collector)
    consumer_stats = f"rs{start_id}:status"
    collector_stats = f"rs{start_id}:col:status"
    # past id 300 before the kill: every id of a new source numbering from 1 (1..300) is below the last one
    # seen, so the restart cannot pass for a gap, however long reconnecting takes
    wait_until(lambda: stats(collector_stats)["userStats"]["lastId"] > 300, what="frames through before the kill")
    first.process.send_signal(signal.SIGKILL)
    first.wait(10)
    time.sleep(1.5)  # > 2 collector gap waits of quiet: a lower id after this starts a new sequence
    before = stats(consumer_stats)["processorStats"]
    # reconnecting takes seconds (pvAccess's search interval grows while a channel is away; a channel the
    # mirror's re-created record left stale is found in about 6 s more): the new source publishes from 3 s
    # after its start until 100 of its frames reached the consumer, and what passes before the stream is back
    # is counted
    # at most 280 frames: ids from 1 stay below the old ones, however long the channel takes to come back
    second = start_process(*sim, "-fps", "20", "-std", "3", "-shd", "2", "-sid", str(start_id), "-nf", "280",
                           "-cs", "10")
    def new_frames_through() -> bool:
        processor = stats(consumer_stats)["processorStats"]
        numbered_again = processor["nIdRestarts"] == 1 or start_id > 1  # ids from 1 are below the old ones
        return numbered_again and processor["lastObjectId"] >= start_id + 100

    wait_until(new_frames_through, timeout=60, what="the new source's frames through the consumer")
    second.process.send_signal(signal.SIGINT)
    assert second.wait(20) == 0
    published = int(re.search(r"frames published\D*(\d+)", second.output).group(1))
    last_id = start_id + published - 1
    # both statuses once they show the last frame (a status is published every second: an earlier one may
    # not count the last frames yet)
    wait_until(lambda: stats(consumer_stats)["processorStats"]["lastObjectId"] == last_id
               and stats(collector_stats)["userStats"]["lastId"] == last_id, what="the new source's last frame")
    processor = stats(consumer_stats)["processorStats"]
    receiver = stats(consumer_stats)["receiverStats"]
    collected = stats(collector_stats)
    new_ids = processor["nProcessed"] - before["nProcessed"]
    print(f"FIGURES source restart ({start_id}): consumer processed {before['nProcessed']} before, {new_ids} after, "
          f"missed {processor['nMissed']}, id restarts {processor['nIdRestarts']}, reconnects "
          f"{receiver['nReconnects']}; collector {collected['collectorStats']}")
    assert receiver["nReconnects"] >= 1
    assert before["nMissed"] == 0
    if start_id == 1:
        # the new source's frames that passed before the stream reconnected are counted missed
        assert processor["nIdRestarts"] == 1 and new_ids + processor["nMissed"] == published
        assert collected["collectorStats"]["nIdRestarts"] == 1
    else:
        # ids first..last: processed or counted missed, none hidden (the placeholder, id 0, is not processed)
        span = processor["lastObjectId"] - processor["firstObjectId"] + 1
        assert processor["nIdRestarts"] == 0 and processor["nProcessed"] + processor["nMissed"] == span
    # the collector counts the same gaps and passes on every frame from the first one it saw
    late_start = collected["processorStats"]["firstObjectId"] - processor["firstObjectId"]
    assert collected["userStats"]["nSeen"] == processor["nProcessed"] - late_start
    assert collected["collectorStats"]["nMissing"] == processor["nMissed"]
    for stage in (mirror, consumer, collector):
        stage.check_running()


def test_mirror_restarted_mid_stream_the_gap_is_counted(start_process, wait_for_channel) -> None:
    """The server between source and consumer dies and comes back while the source goes on counting: the
    consumer reconnects and counts the ids it never saw as missed."""
    server = start_process("sim-server", "-cn", "gap:src", "-nx", "16", "-ny", "16", "-fps", "50", "-nf", "400",
                           "-cs", "10", "-sos", "-std", "60", "-shd", "2", "-rp", "0", "-dc")
    wait_for_channel("gap:src", server)
    mirror_args = ("mirror", "-cm", "(gap:image,gap:src,pva,100)", "-dc")
    first = start_process(*mirror_args)
    wait_for_channel("gap:image", first)
    consumer = start_process("consumer", "-ic", "gap:image", "-sc", "gap:status", "-sqs", "20", *RECORDER, "-dc")
    wait_for_channel("gap:status", consumer)
    start_frames(server, "gap:status")
    wait_until(lambda: stats("gap:status")["processorStats"]["nProcessed"] >= 60, what="frames before the kill")
    first.process.send_signal(signal.SIGKILL)
    first.wait(10)
    time.sleep(1.0)
    second = start_process(*mirror_args)
    wait_for_channel("gap:image", second)
    assert server.wait(40) == 0
    wait_until(lambda: stats("gap:status")["processorStats"]["lastObjectId"] == 400, what="the last frame")
    processor = stats("gap:status")["processorStats"]
    span = processor["lastObjectId"] - processor["firstObjectId"] + 1
    print(f"FIGURES mirror restart: ids {processor['firstObjectId']}..{processor['lastObjectId']}, processed "
          f"{processor['nProcessed']}, counted missed {processor['nMissed']}")
    assert processor["nMissed"] > 0, "the frames published while the mirror was down are counted"
    # every id from the first to the last is processed or counted missed; the value sent on reconnecting,
    # a repeat of the last id the mirror had, is skipped, not processed twice
    assert processor["nProcessed"] + processor["nMissed"] == span, processor
    assert stats("gap:status")["receiverStats"]["nReconnects"] == 1


@pytest.mark.parametrize("attempt", range(2))
def test_a_record_re_created_on_a_live_server_keeps_the_consumer_fed(start_process, wait_for_channel,
                                                                     attempt) -> None:
    """pvaccess fault: a channel may go stale for good when the server re-creates the record (its monitor
    silent while connected and active as pvaccess says, or bound to the removed record, or never connecting
    again; without the check, 4 of 6 runs of ten re-creations failed here): the consumer sees the record
    change through a new channel and makes a new one; frames lost meanwhile are counted missed."""
    source = start_process(f"re{attempt}:image", "10", script=str(HERE / "recreate_record.py"))
    wait_for_channel(f"re{attempt}:image", source)
    consumer = start_process("consumer", "-ic", f"re{attempt}:image", *RECORDER, "-sc", f"re{attempt}:status", "-dc",
                             "-ll", "info")  # skips logged: a failure shows them
    wait_for_initial_value(f"re{attempt}:status")
    source.send_line()
    wait_until(lambda: stats(f"re{attempt}:status")["processorStats"]["lastObjectId"] > 150, timeout=60,
               what="frames published after the last re-creation (id 100) reaching the consumer")
    source.send_line()
    wait_until(lambda: "last" in source.output, what="the source's last id")
    last = int(source.output.split("last")[1].split()[0])
    wait_until(lambda: stats(f"re{attempt}:status")["processorStats"]["lastObjectId"] == last, what="the last frame")
    status = stats(f"re{attempt}:status")
    processor, receiver = status["processorStats"], status["receiverStats"]
    print(f"processor {processor}; receiver {receiver}")
    # every id counted; a reconnect too short for the connection watch (it polls) may hand the last frame over
    # again, processed twice: at most once per re-creation (seen once in about 20 runs)
    span = last - processor["firstObjectId"] + 1
    assert span <= processor["nProcessed"] + processor["nMissed"] <= span + 10
    assert (processor["nErrors"], processor["nIdRestarts"]) == (0, 0)
    assert ("connecting again" in consumer.output) == (receiver["nStaleChannels"] > 0)
