"""Collector: pvaflow collector vs pvapy-hpc-collector on the same producers.

The sim-server publishes 512x512 uint8 frames; four passthrough producers
(`pvaflow consumer -nc 4 -du 1`) split them; then one collector (ours or
pvaPy's, in turn, with the same options) gathers the four producers,
restores the order and publishes. This process monitors the collector's
output (ids only), checks that they are strictly increasing and counts
them. Reported per run: frames sent by the source, delivered by the
producers (what any collector can collect), processed by the collector, refused
by it and counted (its queue full, monitor overruns, late or duplicate ids:
processed + refused = delivered when every frame is accounted for) and seen in
order at its output, the collector's CPU per processed frame, and
the highest rate tried at which every delivered frame came out in order.
Loopback only.

    .venv/bin/python benchmarks/collector_rate.py                   # rates 500..3000 fps, 5 s each
    .venv/bin/python benchmarks/collector_rate.py --rates 1000 --repeats 3 --tools pvaflow
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from dataclasses import dataclass

import pvaccess as pva
from harness import ask, processed_count, pvapy_tool, start, stop, tree_cpu, wait_for

from pvaflow.loopback import loopback_env

SOURCE = "bench:image"
PRODUCERS = "bench:p:*:out"
PRODUCER_STATUS = "bench:p:*:status"
OUTPUT = "bench:col:out"
STATUS = "bench:col:status"
N_PRODUCERS = 4
START_DELAY = 6.0
QUEUE = "100"  # server queue size for producers and collectors
CACHE = "100"  # collector cache size


@dataclass
class Run:
    tool: str
    rate: float
    sent: int
    delivered: int  # frames the producers processed (and published): what the collector can collect
    processed: int
    refused: int  # frames the collector counted as not processed: refused by its full queue, overruns, late ones
    in_order: int
    out_of_order: int
    cpu: float
    drain: float  # seconds from the source's end until the collector stopped processing

    @property
    def complete(self) -> bool:
        return self.in_order >= self.delivered and self.out_of_order == 0

    @property
    def cpu_per_frame_us(self) -> float:
        return self.cpu / self.processed * 1e6 if self.processed else float("nan")


class OrderCheck:
    """Monitors the collector's output ids; counts those that came in increasing order."""

    def __init__(self, channel_name: str) -> None:
        self.last_id = 0
        self.in_order = 0
        self.out_of_order = 0
        self.lock = threading.Lock()
        self.channel = pva.Channel(channel_name)
        self.channel.monitor(self.on_update, "record[queueSize=20000]field(uniqueId)")

    def on_update(self, pv: pva.PvObject) -> None:
        object_id = pv["uniqueId"]
        if object_id == 0:
            return  # the record's initial value
        with self.lock:
            if object_id > self.last_id:
                self.in_order += 1
            else:
                self.out_of_order += 1
            self.last_id = object_id

    def stop(self) -> tuple[int, int]:
        self.channel.stopMonitor()
        with self.lock:
            return self.in_order, self.out_of_order


def counted_refusals(status: dict) -> int:
    """Frames the collector received, or lost at its monitors, and did not process, by its own counts (pvaPy's
    status has some of these fields)."""
    receiver = status.get("receiverStats", {})
    return receiver.get("nRejected", 0) + receiver.get("nOverruns", 0) + status.get("collectorStats", {}).get(
        "nRejected", 0)


def wait_for_drain(settle: float = 2.0, timeout: float = 120.0) -> int:
    """The collector's processed count once unchanged for ``settle`` seconds (the status refreshes each second)."""
    deadline = time.monotonic() + timeout
    last = processed_count(STATUS)
    while time.monotonic() < deadline:
        time.sleep(settle)
        current = processed_count(STATUS)
        if current == last:
            return current
        last = current
    return last


def collector_command(tool: str) -> list[str]:
    common = ["-pid", f"range(1,{N_PRODUCERS + 1})", "-ic", PRODUCERS, "-oc", OUTPUT, "-sc", STATUS,
              "-sqs", QUEUE, "-ccs", CACHE, "-dc"]
    if tool == "pvaflow":
        return [sys.executable, "-m", "pvaflow", "collector", *common]
    return [pvapy_tool("pvapy-hpc-collector"), *common, "-pc", "pvapy.hpc.userDataProcessor.UserDataProcessor"]


def measure(tool: str, rate: float, runtime: float) -> Run:
    """CPU is counted from just before the first frame to after the last (start-up excluded)."""
    sent = int(rate * runtime)
    sim = start([sys.executable, "-m", "pvaflow", "sim-server", "-cn", SOURCE, "-nx", "512", "-ny", "512",
                 "-fps", str(rate), "-nf", str(sent), "-cs", "100", "-std", str(START_DELAY), "-shd", "3",
                 "-rp", "0", "-dc"])
    started = time.monotonic()
    producers = collector = None
    try:
        wait_for(SOURCE)
        producers = start([sys.executable, "-m", "pvaflow", "consumer", "-ic", SOURCE, "-oc", PRODUCERS,
                           "-sc", PRODUCER_STATUS, "-nc", str(N_PRODUCERS), "-du", "1", "-sqs", QUEUE, "-dc"])
        for producer in range(1, N_PRODUCERS + 1):
            wait_for(PRODUCER_STATUS.replace("*", str(producer)))
        collector = start(collector_command(tool))
        wait_for(STATUS)
        wait_for(OUTPUT)
        order = OrderCheck(OUTPUT)
        time.sleep(max(0.0, started + START_DELAY - 0.5 - time.monotonic()))
        cpu_before = tree_cpu(collector.pid)
        sim.wait()
        drain_started = time.monotonic()
        processed = wait_for_drain()
        drain = time.monotonic() - drain_started
        refused = counted_refusals(ask(STATUS, "field()", None, 5.0))
        cpu = tree_cpu(collector.pid) - cpu_before
        in_order, out_of_order = order.stop()
        delivered = sum(processed_count(PRODUCER_STATUS.replace("*", str(n))) for n in range(1, N_PRODUCERS + 1))
    finally:
        for process in (collector, producers, sim):
            if process is not None:
                stop(process)
    return Run(tool, rate, sent, delivered, processed, refused, in_order, out_of_order, cpu, drain)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="500,1000,2000,3000", help="frame rates to try, in order")
    parser.add_argument("--runtime", type=float, default=5.0, help="seconds of frames per run")
    parser.add_argument("--repeats", type=int, default=1, help="runs per tool and rate (CPU: the median)")
    parser.add_argument("--tools", default="pvaflow,pvapy", help="collectors to run")
    args = parser.parse_args()
    os.environ.update(loopback_env())
    tools = [tool for tool in args.tools.split(",") if tool != "pvapy" or pvapy_tool("pvapy-hpc-collector")]
    rates = [float(rate) for rate in args.rates.split(",")]
    print(f"{N_PRODUCERS} producers, 512x512 uint8, {args.runtime:g} s per run")
    print(f"{'tool':8} {'rate':>6} {'sent':>6} {'delivered':>9} {'processed':>9} {'refused':>7} {'in order':>8} "
          f"{'out of order':>12} {'us/frame':>9} {'drain s':>7}")
    best: dict[str, float] = {}
    for rate in rates:
        runs: dict[str, list[Run]] = {tool: [] for tool in tools}
        for _ in range(args.repeats):  # tools take turns, so a slow spell of the machine hits both
            for tool in tools:
                run = measure(tool, rate, args.runtime)
                runs[tool].append(run)
                print(f"{tool:8} {rate:6g} {run.sent:6d} {run.delivered:9d} {run.processed:9d} {run.refused:7d} "
                      f"{run.in_order:8d} {run.out_of_order:12d} {run.cpu_per_frame_us:9.0f} {run.drain:7.1f}",
                      flush=True)
        for tool in tools:
            if args.repeats > 1:
                cpu = statistics.median(run.cpu_per_frame_us for run in runs[tool])
                in_order = statistics.median(run.in_order for run in runs[tool])
                print(f"{tool:8} {rate:6g} median: {in_order:.0f} in order, {cpu:.0f} us CPU per frame", flush=True)
            if all(run.complete for run in runs[tool]):
                best[tool] = max(best.get(tool, 0.0), rate)
    for tool in tools:
        print(f"  {tool}: every delivered frame in order up to {best.get(tool, 0):g} fps (of the rates tried)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
