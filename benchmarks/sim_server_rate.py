"""Achieved vs requested frame rate: pvaflow sim-server beside pvapy-ad-sim-server.

Each server runs in turn with the same options; a pvaccess monitor in this
process counts the frames that arrive and the server's own CPU time is read
from its rusage. Loopback only (the EPICS variables are set below).

    .venv/bin/python benchmarks/sim_server_rate.py            # 128x128 uint8 at 10,000 fps, 10 s
    .venv/bin/python benchmarks/sim_server_rate.py --fps 2000 --size 512 --runtime 5
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass

import pvaccess as pva

from pvaflow.loopback import loopback_env, server_env

CHANNEL = "bench:image"
START_DELAY = 3.0


@dataclass
class Result:
    name: str
    received: int
    first_id: int
    last_id: int
    receive_rate: float
    server_cpu: float

    @property
    def missed(self) -> int:
        return self.last_id - self.first_id + 1 - self.received if self.received else 0


def measure(name: str, command: list[str], runtime: float) -> Result:
    lock = threading.Lock()
    ids: list[int] = []
    times: list[float] = []

    def on_frame(pv: pva.PvObject) -> None:
        image_id = pv["uniqueId"]
        if image_id:
            with lock:
                ids.append(image_id)
                times.append(time.monotonic())

    server = subprocess.Popen(
        command, env=server_env(dict(os.environ)), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    channel = pva.Channel(CHANNEL)
    channel.setTimeout(0.5)
    deadline = time.monotonic() + START_DELAY + 5
    while time.monotonic() < deadline:
        try:
            channel.get("field(uniqueId)")
            break
        except pva.PvaException:
            continue
    channel.subscribe("bench", on_frame)
    channel.startMonitor("record[queueSize=10000]field(uniqueId)")
    _, _, usage = os.wait4(server.pid, 0)
    server.returncode = 0
    channel.stopMonitor()
    with lock:
        elapsed = times[-1] - times[0] if len(times) > 1 else 0.0
        return Result(
            name=name,
            received=len(ids),
            first_id=ids[0] if ids else 0,
            last_id=ids[-1] if ids else 0,
            receive_rate=(len(ids) - 1) / elapsed if elapsed else 0.0,
            server_cpu=usage.ru_utime + usage.ru_stime,
        )


def main() -> int:
    parser = argparse.ArgumentParser(description="sim-server rate: pvaflow vs pvaPy")
    parser.add_argument("--fps", type=float, default=10000.0)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--datatype", default="uint8")
    parser.add_argument("--runtime", type=float, default=10.0)
    args = parser.parse_args()
    os.environ.update(loopback_env())

    common = ["-cn", CHANNEL, "-nx", str(args.size), "-ny", str(args.size), "-dt", args.datatype,
              "-fps", str(args.fps), "-rt", str(args.runtime), "-std", str(START_DELAY), "-shd", "1",
              "-rp", "0", "-dc"]
    servers = [("pvaflow sim-server", [sys.executable, "-m", "pvaflow", "sim-server", *common])]
    pvapy_tool = shutil.which("pvapy-ad-sim-server", path=os.path.dirname(sys.executable))
    if pvapy_tool:
        servers.append(("pvapy-ad-sim-server", [pvapy_tool, *common]))
    else:
        print("pvapy-ad-sim-server not found; measuring pvaflow only")

    print(f"{args.size}x{args.size} {args.datatype}, requested {args.fps:g} fps for {args.runtime:g} s")
    print(f"{'server':22} {'received':>9} {'missed ids':>10} {'rate (fps)':>11} {'of requested':>12} "
          f"{'server CPU s':>12} {'CPU us/frame':>12}")
    for name, command in servers:
        result = measure(name, command, args.runtime)
        share = result.receive_rate / args.fps * 100 if args.fps else 0.0
        per_frame = result.server_cpu / result.received * 1e6 if result.received else 0.0
        print(f"{result.name:22} {result.received:9d} {result.missed:10d} {result.receive_rate:11.1f} "
              f"{share:11.1f}% {result.server_cpu:12.2f} {per_frame:12.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
