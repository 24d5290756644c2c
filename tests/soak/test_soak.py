"""Soak (``make soak``, not part of ``make test``): a sustained stream through 2 distributed consumers and a
collector for SOAK_SECONDS (default 600): no frame lost, resident memory, threads and open files flat."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tests.system.helpers import get, wait_until

SECONDS = float(os.environ.get("SOAK_SECONDS", "600"))
RATE = 100  # frames per second, 512x512 uint8
WARM_UP = 30.0  # seconds before the first resource sample (queues and caches filled once)
pytestmark = [pytest.mark.soak, pytest.mark.timeout(SECONDS + 300)]


def resources(pid: int) -> dict[str, float]:
    status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    return {"rss_mb": int(status["VmRSS"].split()[0]) / 1024, "threads": int(status["Threads"]),
            "fds": len(os.listdir(f"/proc/{pid}/fd"))}


def consumer_pids(supervisor_pid: int) -> list[int]:
    children = Path(f"/proc/{supervisor_pid}/task/{supervisor_pid}/children").read_text().split()
    return [int(pid) for pid in children]


def test_soak_two_consumers_and_a_collector(start_process, wait_for_channel) -> None:
    frames = int(SECONDS * RATE)
    collector = start_process("collector", "-ic", "soak:*:out", "-pid", "1,2", "-oc", "soak:ordered",
                              "-sc", "soak:collector:status", "-sqs", "100", "-dc")
    consumers = start_process("consumer", "-ic", "soak:image", "-nc", "2", "-du", "1", "-dt", "uniqueId",
                              "-oc", "soak:*:out", "-sc", "soak:*:status", "-sqs", "100", "-dc")
    for channel, child in (("soak:collector:status", collector), ("soak:1:status", consumers),
                           ("soak:2:status", consumers)):
        wait_for_channel(channel, child)
    server = start_process("sim-server", "-cn", "soak:image", "-nx", "512", "-ny", "512", "-fps", str(RATE),
                           "-nf", str(frames), "-rt", str(SECONDS + 120), "-cs", "100", "-std", "3", "-shd", "3",
                           "-rp", "0", "-dc")
    watched = {"collector": collector.process.pid}
    watched |= {f"consumer {i}": pid for i, pid in enumerate(consumer_pids(consumers.process.pid), start=1)}
    time.sleep(3 + WARM_UP)
    before = {name: resources(pid) for name, pid in watched.items()}
    time.sleep(max(0.0, SECONDS - WARM_UP - 5))  # the second sample while the stream still runs
    after = {name: resources(pid) for name, pid in watched.items()}
    assert server.wait(SECONDS + 120) == 0
    wait_until(lambda: get("soak:collector:status")["collectorStats"]["nCollected"] >= frames,
               timeout=60, what="every frame collected")
    collected = get("soak:collector:status")["collectorStats"]
    processed = [get(f"soak:{i}:status")["processorStats"] for i in (1, 2)]
    print(f"soak {SECONDS:.0f} s, {frames} frames: collected {collected}, consumers "
          f"{[p['nProcessed'] for p in processed]}, resources before {before}, after {after}")
    assert collected["nCollected"] == frames and collected["nMissing"] == 0
    assert sum(p["nProcessed"] for p in processed) == frames and all(p["nMissed"] == 0 for p in processed)
    for name in watched:
        assert after[name]["rss_mb"] - before[name]["rss_mb"] < 20, (name, before[name], after[name])
        assert after[name]["threads"] <= before[name]["threads"], (name, before[name], after[name])
        assert after[name]["fds"] <= before[name]["fds"] + 2, (name, before[name], after[name])
