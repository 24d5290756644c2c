"""Mirror CPU per frame and frames forwarded: pvaflow mirror (pvaccess's PvaMirrorServer) vs a Python relay
(a monitor whose callback updates a PvaServer record) vs pvapy-mirror-server.

The sim-server publishes a fixed number of frames; the mirror serves them
with a server queue on its source monitor; a bare client monitor counts what
reaches it through the mirror. The mirror's CPU time comes from /proc from
just before the first frame to after the last. Loopback only.

    .venv/bin/python benchmarks/mirror_cpu.py             # 512x512 @ 1000 fps and 2048x2048 @ 100 fps, 3 runs
    .venv/bin/python benchmarks/mirror_cpu.py --repeats 1
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

from harness import pvapy_tool, stop, tree_cpu, wait_for

from pvaflow.loopback import loopback_env, server_env

SOURCE = "bench:source"
MIRROR = "bench:mirror"
START_DELAY = 5.0
SECONDS_PER_RUN = 5.0
QUEUE = 100  # server queue of the mirror's source monitor and of the counting client
# the alternative the issue asks to measure: a Python monitor that republishes every update
PYTHON_RELAY = """
import sys, time, pvaccess as pva
from pvaflow.stream.callback_thread import keeping_thread_state
source, mirror, queue = sys.argv[1], sys.argv[2], int(sys.argv[3])
server = pva.PvaServer()
channel = pva.Channel(source)
server.addRecord(mirror, channel.get('field()'), None)
channel.monitor(keeping_thread_state(lambda pv: server.updateUnchecked(mirror, pv)),
                'record[queueSize=%d]field()' % queue)
try:
    while True:
        time.sleep(0.2)
except KeyboardInterrupt:
    pass
channel.stopMonitor()
"""
COUNTER = """
import sys, time, pvaccess as pva
count = [0]
channel = pva.Channel(sys.argv[1])
channel.monitor(lambda pv: count.__setitem__(0, count[0] + 1), 'record[queueSize=%d]field()' % int(sys.argv[2]))
try:
    while True:
        time.sleep(0.2)
        print(count[0], flush=True)
except KeyboardInterrupt:
    pass
print(count[0], flush=True)
"""


def mirror_command(tool: str) -> list[str]:
    if tool == "pvaflow":
        return [sys.executable, "-m", "pvaflow", "mirror", "-cm", f"({MIRROR},{SOURCE},pva,{QUEUE})", "-dc"]
    if tool == "python-relay":
        return [sys.executable, "-c", PYTHON_RELAY, SOURCE, MIRROR, str(QUEUE)]
    return [pvapy_tool("pvapy-mirror-server"), "-cm", f"({MIRROR},{SOURCE},pva,{QUEUE})"]


def measure(tool: str, size: int, rate: float) -> tuple[int, int, float]:
    """(frames sent, frames counted through the mirror, mirror CPU us per frame)."""
    sent = int(rate * SECONDS_PER_RUN)
    sim = subprocess.Popen(
        [sys.executable, "-m", "pvaflow", "sim-server", "-cn", SOURCE, "-nx", str(size), "-ny", str(size),
         "-fps", str(rate), "-nf", str(sent), "-cs", "1", "-std", str(START_DELAY), "-shd", "3", "-rp", "0", "-dc"],
        env=server_env(dict(os.environ)), stdout=subprocess.DEVNULL,
    )
    started = time.monotonic()
    wait_for(SOURCE)
    mirror = subprocess.Popen(mirror_command(tool), env=server_env(dict(os.environ)), stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    with tempfile.TemporaryFile("w+") as output:
        wait_for(MIRROR)
        counter = subprocess.Popen([sys.executable, "-c", COUNTER, MIRROR, str(QUEUE)],
                                   env=server_env(dict(os.environ)), stdout=output, text=True)
        time.sleep(max(0.0, started + START_DELAY - 0.5 - time.monotonic()))
        cpu_before = tree_cpu(mirror.pid)
        sim.wait()
        time.sleep(2.0)
        cpu = tree_cpu(mirror.pid) - cpu_before
        stop(counter)
        stop(mirror)
        output.seek(0)
        lines = output.read().split()
    counted = int(lines[-1]) - 1 if lines else 0  # minus the value found on connect
    return sent, counted, cpu / max(counted, 1) * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    os.environ.update(loopback_env())
    tools = ["pvaflow", "python-relay"] + (["pvapy"] if pvapy_tool("pvapy-mirror-server") else [])
    print(f"Mirror CPU per forwarded frame, median of {args.repeats} runs of {SECONDS_PER_RUN:g} s")
    print(f"{'tool':13} {'size':>5} {'rate':>6} {'counted/sent (runs)':>28} {'us/frame (runs)':>22} {'median':>7}")
    for size, rate in ((512, 1000.0), (2048, 100.0)):
        for tool in tools:
            runs = [measure(tool, size, rate) for _ in range(args.repeats)]
            counts = ",".join(f"{counted}/{sent}" for sent, counted, _ in runs)
            per_frame = sorted(run[2] for run in runs)
            print(f"{tool:13} {size:5d} {rate:6g} {counts:>28} {' '.join(f'{v:.0f}' for v in per_frame):>22} "
                  f"{statistics.median(per_frame):7.0f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
