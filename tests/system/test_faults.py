"""Faults a beamline meets, on loopback: malformed frames, processors that fail to start or hang in stop(),
a processor slower than the stream, a source killed mid-stream. Each is counted or reported in one line
and the stream goes on."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest

from .helpers import Recorder, get, wait_until

pytestmark = [pytest.mark.system, pytest.mark.timeout(120)]

HERE = Path(__file__).parent
EXAMPLES = HERE.parents[1] / "examples"
RECORDER = ("-pf", str(HERE / "processors" / "recorder.py"), "-pc", "Recorder")


def stats(channel: str) -> dict:
    return get(channel).toDict()


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
    time.sleep(1.0)  # the monitor connects and gets the initial (skipped) update
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
                           "-nf", "1200", "-cs", "10", "-std", "4", "-shd", "2", "-rp", "0", "-dc")
    wait_for_channel("slow:image", server)
    consumer = start_process("consumer", "-ic", "slow:image", "-sc", "slow:status", "-rqs", "10", *RECORDER,
                             "-pa", '{"sleep": 0.02}', "-dc")
    wait_for_channel("slow:status", consumer)
    wait_until(lambda: stats("slow:status")["receiverStats"]["nReceived"] > 100, what="streaming")
    baseline = rss_mb(consumer.process.pid)
    peak = baseline
    while server.process.poll() is None:
        peak = max(peak, rss_mb(consumer.process.pid))
        time.sleep(0.2)
    assert server.wait(10) == 0

    def drained() -> bool:
        queue = stats("slow:status")["queueStats"]
        return queue["nQueued"] == 0 and queue["nReceived"] + queue["nRejected"] == 1201

    wait_until(drained, timeout=30, what="every frame accepted or rejected, and the queue drained")
    status = stats("slow:status")
    queue, processor = status["queueStats"], status["processorStats"]
    assert queue["nRejected"] > 500  # 50 frames/s of processing against 200 frames/s
    assert status["receiverStats"]["nRejected"] == queue["nRejected"]
    assert processor["nProcessed"] + processor["nSkipped"] == queue["nDelivered"] == queue["nReceived"]
    assert peak - baseline < 64, f"resident memory grew {peak - baseline:.0f} MB (queue of ten 0.26 MB frames)"


def test_source_killed_mid_stream_and_restarted_is_picked_up(start_process, wait_for_channel) -> None:
    first = start_process("sim-server", "-cn", "kill:image", "-nx", "16", "-ny", "16", "-fps", "50", "-rt", "60",
                          "-std", "1", "-rp", "0", "-dc")
    wait_for_channel("kill:image", first)
    consumer = start_process("consumer", "-ic", "kill:image", "-sc", "kill:status", *RECORDER, "-dc")
    wait_for_channel("kill:status", consumer)
    wait_until(lambda: stats("kill:status")["userStats"]["nSeen"] >= 50, what="frames before the kill")
    first.process.send_signal(signal.SIGKILL)
    first.wait(10)
    seen_before = stats("kill:status")["userStats"]["nSeen"]
    second = start_process("sim-server", "-cn", "kill:image", "-nx", "16", "-ny", "16", "-fps", "50", "-nf", "100",
                           "-cs", "10", "-std", "1", "-rp", "0", "-dc")
    assert second.wait(40) == 0
    wait_until(lambda: stats("kill:status")["userStats"]["lastId"] == 100, what="the new source's frames")
    user = stats("kill:status")["userStats"]
    assert user["nSeen"] >= seen_before + 90  # the new source's ids (its first may come before the monitor)
    consumer.check_running()
