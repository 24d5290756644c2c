"""Start-up: how soon a consumer started before its source processes the source's first frames, side by side.

pvaflow's consumer and pvaPy's (passthrough processors, status channels) start on a channel that does not
exist yet; a few seconds later the sim-server comes up and publishes at once (no start signal, as a
detector that starts on its own). The first id each consumer processed (``processorStats.firstObjectId``)
tells how many frames passed before it was monitoring: ids 1 .. first - 1. Rounds alternate which consumer
starts first; the medians over rounds are compared. Loopback only.

    .venv/bin/python benchmarks/startup.py                   # 5 rounds, 50 fps, the source 5 s after
    .venv/bin/python benchmarks/startup.py --rounds 9 --wait 2
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import pvaccess as pva
from harness import pvapy_tool, start, stop, wait_for

from pvaflow.loopback import loopback_env

SOURCE = "startup:image"
PASSTHROUGH_PVAPY = "pvapy.hpc.userDataProcessor.UserDataProcessor"


def consumer_command(tool: str) -> list[str]:
    status = f"startup:{tool}:*:status"
    if tool == "pvaflow":
        return [sys.executable, "-m", "pvaflow", "consumer", "-ic", SOURCE, "-sc", status, "-pc",
                "UserDataProcessor", "-dc"]
    return [pvapy_tool("pvapy-hpc-consumer"), "--input-channel", SOURCE, "--status-channel", status,
            "--processor-class", PASSTHROUGH_PVAPY, "--disable-curses"]


def first_id(tool: str) -> int:
    channel = pva.Channel(f"startup:{tool}:1:status")
    channel.setTimeout(5)
    stats = channel.get("field(processorStats)")["processorStats"]
    return int(stats["firstObjectId"])


def run_round(tools: list[str], rate: float, wait: float, frames: int) -> dict[str, int]:
    """Frames each consumer missed at start (first id processed - 1)."""
    consumers = {tool: start(consumer_command(tool)) for tool in tools}
    sim = None
    try:
        for tool in tools:
            wait_for(f"startup:{tool}:1:status")
        time.sleep(wait)  # the consumers' channels have searched in vain for a while, as before a real start
        sim = start([sys.executable, "-m", "pvaflow", "sim-server", "-cn", SOURCE, "-nx", "64", "-ny", "64",
                     "-fps", str(rate), "-nf", str(frames), "-cs", "10", "-std", "0", "-shd", "2", "-rp", "0",
                     "-dc"])
        sim.wait(frames / rate + 30)
        return {tool: first_id(tool) - 1 for tool in tools}
    finally:
        if sim is not None:
            stop(sim)
        for consumer in consumers.values():
            stop(consumer)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="rounds (default 5)")
    parser.add_argument("--rate", type=float, default=50.0, help="frames per second (default 50)")
    parser.add_argument("--wait", type=float, default=5.0, help="seconds between the consumers and the source "
                        "(default 5)")
    parser.add_argument("--frames", type=int, default=250, help="frames the source sends (default 250)")
    args = parser.parse_args()
    os.environ.update(loopback_env())
    tools = ["pvaflow"] + (["pvapy"] if pvapy_tool("pvapy-hpc-consumer") else [])
    print(f"frames published before each consumer's first one ({args.rate:g} fps, consumers started "
          f"{args.wait:g} s before the source), by round")
    missed: dict[str, list[int]] = {tool: [] for tool in tools}
    for round_index in range(args.rounds):
        order = tools if round_index % 2 == 0 else list(reversed(tools))
        result = run_round(order, args.rate, args.wait, args.frames)
        for tool, count in result.items():
            missed[tool].append(count)
        print(f"round {round_index + 1} (first started: {order[0]}): "
              + ", ".join(f"{tool} {result[tool]}" for tool in tools), flush=True)
    for tool, counts in missed.items():
        print(f"{tool:8} median {statistics.median(counts):6.1f}  all {counts}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
