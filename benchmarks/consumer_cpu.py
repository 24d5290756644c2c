"""Consumer CPU per frame and highest loss-free rate: pvaflow consumer vs pvapy-hpc-consumer.

For each frame size and number of consumers, the sim-server publishes a
fixed number of frames at each rate; every consumer (a passthrough
processor with an output channel) reports what it processed on its status
channel, and its CPU time comes from its rusage (children included). A bare
pvaccess monitor that only counts gives the floor. Loopback only.

    .venv/bin/python benchmarks/consumer_cpu.py                    # the full table (several minutes)
    .venv/bin/python benchmarks/consumer_cpu.py --quick            # one run per tool and size
    .venv/bin/python benchmarks/consumer_cpu.py --cpu-only         # the CPU table only
    .venv/bin/python benchmarks/consumer_cpu.py --loss-free-only   # the rate search only
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

from harness import processed_count, pvapy_tool, tree_cpu, wait_for

from pvaflow.loopback import loopback_env, server_env

SOURCE = "bench:image"
START_DELAY = 4.0
SECONDS_PER_RUN = 5.0
SERVER_QUEUE = 20  # record[queueSize=N] for every client: absorbs scheduling jitter on 2 cores
# a monitor whose callback only counts; with "keep" as third argument it keeps the callback
# thread's Python thread state, as pvaflow's receiver does (pvaflow.stream.callback_thread); with
# "publish" it also keeps the state and publishes every object on a record of its own PvaServer,
# with nothing else in Python: the floor of any consumer built on pvaccess that has an output channel
BARE_MONITOR = """
import sys, time, pvaccess as pva
from pvaflow.memory import reuse_freed_buffers
from pvaflow.stream.callback_thread import keeping_thread_state
reuse_freed_buffers()  # as every pvaflow tool does
count = [0]
server = pva.PvaServer() if sys.argv[3:] == ['publish'] else None
def on_update(pv):
    count[0] += 1
def on_update_publish(pv):
    if count[0]:
        server.updateUnchecked('bench:bare:out', pv)
    else:
        server.addRecord('bench:bare:out', pv.copy(), None)
    count[0] += 1
channel = pva.Channel(sys.argv[1])
callback = keeping_thread_state(on_update_publish if server else on_update) if sys.argv[3:] else on_update
channel.monitor(callback, 'record[queueSize=%d]field()' % int(sys.argv[2]))
try:
    while True:
        time.sleep(0.2)
        print(count[0], flush=True)  # the count so far: readable even if the process must be killed
except KeyboardInterrupt:
    pass
print(count[0], flush=True)
channel.stopMonitor()
"""


@dataclass
class Run:
    tool: str
    size: int
    consumers: int
    rate: float
    sent: int
    processed: int
    cpu: float

    @property
    def lossless(self) -> bool:
        return self.processed >= self.sent

    @property
    def cpu_per_frame_us(self) -> float:
        return self.cpu / self.processed * 1e6 if self.processed else float("nan")


def consumer_command(tool: str, consumers: int) -> list[str]:
    common = ["-ic", SOURCE, "-oc", "bench:*:out", "-sc", "bench:*:status", "-sqs", str(SERVER_QUEUE), "-dc"]
    if consumers > 1:
        common += ["-nc", str(consumers), "-du", "1"]
    if tool == "pvaflow":
        return [sys.executable, "-m", "pvaflow", "consumer", *common]
    if tool == "pvaflow-no-output":  # where the time goes: the same consumer without publishing
        return [sys.executable, "-m", "pvaflow", "consumer", *common[:2], *common[4:]]
    if tool == "pvapy":
        return [pvapy_tool("pvapy-hpc-consumer"), *common,
                "-pc", "pvapy.hpc.userDataProcessor.UserDataProcessor"]
    variant = {"bare-kept": ["keep"], "bare-publish": ["publish"]}.get(tool, [])
    return [sys.executable, "-c", BARE_MONITOR, SOURCE, str(SERVER_QUEUE), *variant]


def processed_total(tool: str, consumers: int, bare_output: str) -> int:
    if tool.startswith("bare"):
        lines = bare_output.strip().splitlines()
        return int(lines[-1]) - 1 if lines else 0  # minus the initial update
    return sum(processed_count(f"bench:{consumer_id}:status") for consumer_id in range(1, consumers + 1))


def measure(tool: str, size: int, consumers: int, rate: float) -> Run:
    """CPU is counted from just before the first frame to after the last, start-up excluded."""
    sent = int(rate * SECONDS_PER_RUN)
    sim = subprocess.Popen(
        [sys.executable, "-m", "pvaflow", "sim-server", "-cn", SOURCE, "-nx", str(size), "-ny", str(size),
         "-fps", str(rate), "-nf", str(sent), "-cs", "1", "-std", str(START_DELAY), "-shd", "3", "-rp", "0", "-dc"],
        env=server_env(dict(os.environ)), stdout=subprocess.DEVNULL,
    )
    started = time.monotonic()
    wait_for(SOURCE)
    with tempfile.TemporaryFile("w+") as output:
        consumer = subprocess.Popen(consumer_command(tool, consumers), env=server_env(dict(os.environ)),
                                    stdout=output, stderr=subprocess.DEVNULL, text=True)
        if not tool.startswith("bare"):
            for consumer_id in range(1, consumers + 1):
                wait_for(f"bench:{consumer_id}:status")
        time.sleep(max(0.0, started + START_DELAY - 0.5 - time.monotonic()))
        cpu_before = tree_cpu(consumer.pid)
        sim.wait()
        time.sleep(2.5)  # let the last frames drain and the status refresh
        cpu = tree_cpu(consumer.pid) - cpu_before
        processed = processed_total(tool, consumers, "") if not tool.startswith("bare") else 0
        consumer.send_signal(signal.SIGINT)
        try:
            consumer.wait(30)
        except subprocess.TimeoutExpired:  # the count is printed already
            consumer.kill()
            consumer.wait()
        if tool.startswith("bare"):
            output.seek(0)
            processed = processed_total(tool, consumers, output.read())
    return Run(tool, size, consumers, rate, sent, processed, cpu)


def cpu_table(sizes: dict[int, float], tools: list[str], repeats: int) -> None:
    """The tools take turns run by run, so a machine that slows down during the table weighs on all alike."""
    print(f"CPU per frame, 1 consumer, median of {repeats} runs of {SECONDS_PER_RUN:g} s (tools in turn)")
    print(f"{'tool':17} {'size':>5} {'rate':>6} {'processed/sent':>15} {'us/frame (run order)':>30} {'median':>8}")
    for size, rate in sizes.items():
        runs_of: dict[str, list[Run]] = {tool: [] for tool in tools}
        for _ in range(repeats):
            for tool in tools:
                runs_of[tool].append(measure(tool, size, 1, rate))
        for tool, runs in runs_of.items():
            per_frame = [run.cpu_per_frame_us for run in runs]
            counts = ",".join(f"{run.processed}/{run.sent}" for run in runs)
            print(f"{tool:17} {size:5d} {rate:6g} {counts:>15} {' '.join(f'{v:.0f}' for v in per_frame):>30} "
                  f"{statistics.median(per_frame):8.0f}", flush=True)


def loss_free_table(plans: dict[int, list[float]], tools: list[str], consumer_counts: list[int]) -> None:
    print("\nHighest loss-free rate (every frame processed), one run per rate")
    print(f"{'tool':17} {'size':>5} {'n':>2} {'rate':>6} {'processed/sent':>15} {'us/frame':>9}")
    best: dict[tuple[str, int, int], float] = {}
    for size, rates in plans.items():
        for consumers in consumer_counts:
            for tool in tools:
                if tool.startswith("bare") and consumers > 1:
                    continue  # one monitor: the floor for one consumer
                for rate in rates:
                    run = measure(tool, size, consumers, rate)
                    print(f"{tool:8} {size:5d} {consumers:2d} {rate:6g} {run.processed:7d}/{run.sent:<7d} "
                          f"{run.cpu_per_frame_us:9.0f}", flush=True)
                    if not run.lossless:
                        break
                    best[(tool, size, consumers)] = rate
    for (tool, size, consumers), rate in sorted(best.items()):
        print(f"  {tool:8} {size}x{size} x{consumers}: {rate:g} fps")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one run per tool and size, no rate search")
    parser.add_argument("--cpu-only", action="store_true", help="the CPU table (median of 3), no rate search")
    parser.add_argument("--loss-free-only", action="store_true", help="only the rate search, no CPU table")
    parser.add_argument("--tools", help="comma-separated subset of the tools to run")
    args = parser.parse_args()
    os.environ.update(loopback_env())
    tools = ["bare", "bare-kept", "bare-publish", "pvaflow", "pvaflow-no-output"]
    if pvapy_tool("pvapy-hpc-consumer"):
        tools.append("pvapy")
    if args.tools:
        tools = [tool for tool in tools if tool in args.tools.split(",")]
    if not args.loss_free_only:
        cpu_table({512: 1000, 2048: 50}, tools, repeats=1 if args.quick else 3)
    if not (args.quick or args.cpu_only):
        plans = {512: [2000, 3000, 4000, 5000, 6000, 8000], 2048: [100, 200, 300, 400, 500]}
        loss_free_table(plans, [tool for tool in tools if tool in ("bare-publish", "pvaflow", "pvapy")], [1, 2])
    return 0


if __name__ == "__main__":
    sys.exit(main())
