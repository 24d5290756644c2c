"""Latency added by each stage: pvaflow's tools and pvaPy's, side by side on the same source at the same time.

The sim-server publishes; pvaflow's and pvaPy's stages run at once on its channel (passthrough processors
with an output channel), for each topology:

- ``consumer``: one consumer;
- ``chain``: two consumers, the second reading the first's output;
- ``collector``: two consumers sharing the stream (distributor, one update each) and a collector behind them.

One client process per channel measured (the source, and every stage's output) monitors the id and time
stamp only (``field(uniqueId,timeStamp)``) and notes when each frame arrives: its latency there is the
arrival time minus the time stamp the sim-server gave the frame (one host clock). Per round and channel: p50,
p99 and max; over rounds: the median of each. A stage's added latency is its output's figure minus its
input's (the source's client is the floor: what any client of the source sees). Per-frame differences of
two clients are not used: on two cores the client of the input is often scheduled after the stage has
already published the frame.

A pvas server hands each update to its monitors one after the other, in the order they subscribed: at
512x512 a monitor subscribed after two others got each frame about 0.15 ms later per monitor ahead of it
(measured here with a probe at ``process()`` entry). So the order is set, not left to start-up times: the
source's client subscribes first (it asks for two small fields), then each tool in turn, the next one started
once every stage of the previous one has received its input's first value; the order rotates from round to
round, so with as many rounds as tools (or a multiple) each tool is first, second, ... equally often.
After each size, a line per stage counts the rounds in which pvaflow's output was at most pvaPy's (p50, p99):
both read the same input in a round, so that is the added latency compared round by round.
Loopback only.

    .venv/bin/python benchmarks/latency.py                                 # every topology, both sizes
    .venv/bin/python benchmarks/latency.py --topologies consumer --sizes 512 --rounds 4
    .venv/bin/python benchmarks/latency.py --topologies consumer --rounds 12 --seconds 20 --tools pvaflow,pvapy,floor
    .venv/bin/python benchmarks/latency.py --topologies consumer,chain --tools pvaflow,pvapy,floor   # + pvaccess alone
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pvaccess as pva
from harness import pvapy_tool, start, stop, wait_for

from pvaflow.loopback import loopback_env, server_env

SOURCE = "lat:image"
SERVER_QUEUE = "20"
SECONDS_PER_ROUND = 5.0  # default; --seconds (a p99 of 500 frames is their 5th latest: longer rounds steady it)
RATES = {512: 1000.0, 2048: 100.0}  # frames per second by frame size (square, uint8)
PASSTHROUGH_PVAPY = "pvapy.hpc.userDataProcessor.UserDataProcessor"

# a client that notes each frame's latency (arrival minus its time stamp); {id: seconds} as JSON at SIGINT
ID_CLIENT = """
import json, signal, sys, threading, time, pvaccess as pva
latency = {}
done = threading.Event()
signal.signal(signal.SIGINT, lambda *_: done.set())
def on_update(pv):
    arrived = time.time()
    stamp = pv['timeStamp']
    if stamp['secondsPastEpoch']:  # 0: a record's value before its first frame
        latency[pv['uniqueId']] = arrived - stamp['secondsPastEpoch'] - stamp['nanoseconds'] * 1e-9
channel = pva.Channel(sys.argv[1])
channel.monitor(on_update, 'record[queueSize=1000]field(uniqueId,timeStamp)')
print('monitoring', flush=True)
done.wait()
channel.stopMonitor()
with open(sys.argv[2], 'w') as out:
    json.dump(latency, out)
"""


# the floor of a consumer stage: pvaccess alone, as a user would write it (no framework): a monitor whose callback
# republishes each frame on a server of its own (the record made from the input's current value)
REPUBLISHER = """
import signal, sys, threading, pvaccess as pva
source, output = sys.argv[1], sys.argv[2]
server = pva.PvaServer()
made = threading.Event()
def on_update(pv):
    if made.is_set():
        server.update(output, pv)
    else:
        server.addRecord(output, pv.copy(), None)
        made.set()
channel = pva.Channel(source)
channel.monitor(on_update, 'record[queueSize=%s]field()')
done = threading.Event()
signal.signal(signal.SIGINT, lambda *_: done.set())
done.wait()
channel.stopMonitor()
"""


@dataclass(frozen=True)
class Stage:
    """One stage of a topology: its name, the channels it reads and those it publishes."""

    name: str
    reads: tuple[str, ...]
    outputs: tuple[str, ...]  # a distributed stage: one per consumer


def consumer_command(tool: str, prefix: str, input_channel: str, extra: tuple[str, ...] = ()) -> list[str]:
    if tool == "floor":
        return [sys.executable, "-c", REPUBLISHER % SERVER_QUEUE, input_channel, f"{prefix}:1:output"]
    common = ["-ic", input_channel, "-oc", f"{prefix}:*:output", "-sc", f"{prefix}:*:status",
              "-sqs", SERVER_QUEUE, "-rp", "1000", "-dc", *extra]
    if tool == "pvaflow":
        return [sys.executable, "-m", "pvaflow", "consumer", *common]
    return [pvapy_tool("pvapy-hpc-consumer"), *common, "-pc", PASSTHROUGH_PVAPY]


def collector_command(tool: str, prefix: str, producers: str) -> list[str]:
    common = ["--collector-id", "1", "--producer-id-list", "1,2", "-ic", producers,
              "-oc", f"{prefix}:*:output", "-sc", f"{prefix}:*:status",
              "-sqs", SERVER_QUEUE, "-ccs", "100", "-rp", "1000", "-dc"]
    if tool == "pvaflow":
        return [sys.executable, "-m", "pvaflow", "collector", *common]
    return [pvapy_tool("pvapy-hpc-collector"), *common, "-pc", PASSTHROUGH_PVAPY]


def topology(tool: str, kind: str) -> tuple[list[list[str]], list[Stage], list[str]]:
    """(commands, stages, status channels) of one tool's topology, its channels prefixed by the tool."""
    status = "output" if tool == "floor" else "status"  # the floor has no status channel: its output answers
    if kind == "consumer":
        prefix = f"lat:{tool}:c"
        return ([consumer_command(tool, prefix, SOURCE)], [Stage("consumer", (SOURCE,), (f"{prefix}:1:output",))],
                [f"{prefix}:1:{status}"])
    if kind == "chain":
        first, second = f"lat:{tool}:a", f"lat:{tool}:b"
        return ([consumer_command(tool, first, SOURCE), consumer_command(tool, second, f"{first}:1:output")],
                [Stage("chain 1", (SOURCE,), (f"{first}:1:output",)),
                 Stage("chain 2", (f"{first}:1:output",), (f"{second}:1:output",))],
                [f"{first}:1:{status}", f"{second}:1:{status}"])
    producers, collector = f"lat:{tool}:p", f"lat:{tool}:k"
    outputs = (f"{producers}:1:output", f"{producers}:2:output")
    # a distributor group per tool: each tool's two consumers share every frame between them
    return ([consumer_command(tool, producers, SOURCE, ("-nc", "2", "-du", "1", "-dg", tool)),
             collector_command(tool, collector, f"{producers}:*:output")],
            [Stage("distributed consumer", (SOURCE,), outputs),
             Stage("collector", outputs, (f"{collector}:1:output",))],
            [f"{producers}:1:status", f"{producers}:2:status", f"{collector}:1:status"])


def wait_until_received(status: str, timeout: float = 20.0) -> None:
    """Return once the stage whose status channel (pvaflow's or pvaPy's) is ``status`` has received its input's
    first value, that is, its monitor has subscribed; the floor has no status channel, and its output record
    exists only once it has (``status`` is its output then). pvaPy's collector has no receiverStats: it reads
    its own tool's producers, whose servers no other tool shares, so the order does not matter there."""
    wait_for(status, timeout)
    if status.endswith(":output"):
        return
    channel = pva.Channel(status)
    channel.setTimeout(1.0)
    if "receiverStats" not in channel.get("field()").toDict():
        return
    deadline = time.monotonic() + timeout
    while channel.get("field(receiverStats)")["receiverStats"]["nReceived"] < 1:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{status}: no value received from the input in {timeout:g} s")
        time.sleep(0.05)


def rotated(tools: list[str], round_index: int) -> list[str]:
    """The order tools subscribe in, in round ``round_index``: each one first in turn."""
    shift = round_index % len(tools)
    return tools[shift:] + tools[:shift]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def stage_latencies(stage: Stage, latencies: dict[str, dict[int, float]]) -> tuple[list[float], list[float]]:
    """(latencies at the stage's input, at its output), seconds, for the frames seen at both."""
    def merged(names: tuple[str, ...]) -> dict[int, float]:
        return {frame_id: value for name in names for frame_id, value in latencies.get(name, {}).items()}

    inputs, output = merged(stage.reads), merged(stage.outputs)
    both = sorted(set(output) & set(inputs))
    return [inputs[frame_id] for frame_id in both], [output[frame_id] for frame_id in both]


def run_round(kind: str, size: int, tools: list[str], workdir: Path, seconds: float
              ) -> dict[str, dict[str, tuple[list[float], list[float]]]]:
    """One round: the source, every tool's topology at once, one client per channel; each stage's latencies
    at its input and output."""
    rate = RATES[size]
    frames = int(rate * seconds)
    sim = start([sys.executable, "-m", "pvaflow", "sim-server", "-cn", SOURCE, "-nx", str(size), "-ny", str(size),
                 "-fps", str(rate), "-nf", str(frames), "-cs", "10", "-sos", "-std", "60", "-shd", "3", "-rp", "0",
                 "-dc"])
    processes, clients = [sim], {}
    layouts = {tool: topology(tool, kind) for tool in tools}

    def measure_client(name: str) -> None:
        path = workdir / f"client{len(clients)}.json"
        client = subprocess.Popen([sys.executable, "-c", ID_CLIENT, name, str(path)],
                                  env=server_env(dict(os.environ)), stdout=subprocess.PIPE, text=True)
        clients[name] = (client, path)
        client.stdout.readline()  # monitoring

    try:
        wait_for(SOURCE)
        measure_client(SOURCE)  # the source's client subscribes first
        for commands, _, statuses in layouts.values():  # then each tool's stages, in the round's order
            processes += [start(command) for command in commands]
            for status in statuses:
                wait_until_received(status)
        for _, stages, _ in layouts.values():
            for stage in stages:
                for name in stage.outputs:
                    measure_client(name)
        time.sleep(1.0)  # a client's monitor subscribes after it printed "monitoring"
        sim.send_signal(signal.SIGUSR1)
        sim.wait(seconds * 4 + 30)
        time.sleep(1.0)  # the last frames reach the last clients
    finally:
        for client, _ in clients.values():
            client.send_signal(signal.SIGINT)
        for client, _ in clients.values():
            client.wait(30)
        for process in reversed(processes):
            stop(process)
    latencies = {name: {int(key): value for key, value in json.loads(path.read_text()).items()}
                 for name, (_, path) in clients.items() if path.exists()}
    return {tool: {stage.name: stage_latencies(stage, latencies) for stage in layout[1]}
            for tool, layout in layouts.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--topologies", default="consumer,chain,collector", help="comma-separated: %(default)s")
    parser.add_argument("--sizes", default="512,2048", help="frame sizes (512: 1,000 fps, 2048: 100 fps)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per topology and size (default 3)")
    parser.add_argument("--seconds", type=float, default=SECONDS_PER_ROUND,
                        help="seconds of frames per round (default %(default)g)")
    parser.add_argument("--tools", default="pvaflow,pvapy", help="comma-separated: %(default)s; also floor (pvaccess "
                        "alone republishing each frame; consumer and chain topologies)")
    args = parser.parse_args()
    os.environ.update(loopback_env())
    tools = [tool for tool in args.tools.split(",") if tool in ("pvaflow", "floor") or pvapy_tool("pvapy-hpc-consumer")]
    print(f"latency from the source's time stamp, ms: median over {args.rounds} rounds of each round's p50 / p99 / "
          f"max, at the stage's input and output; added = output - input ({args.seconds:g} s rounds, the tools "
          "at once on one source, subscribing in an order that rotates round by round)")
    print(f"{'topology':10} {'size':>5} {'rate':>6} {'stage':22} {'tool':8} {'frames':>7} {'in p50':>7} {'in p99':>7} "
          f"{'out p50':>7} {'out p99':>7} {'out max':>7} {'+p50':>6} {'+p99':>6}")
    for kind in args.topologies.split(","):
        for size in (int(text) for text in args.sizes.split(",")):
            figures: dict[tuple[str, str], list[list[float]]] = {}
            for round_index in range(args.rounds):
                present = [tool for tool in tools if not (tool == "floor" and kind == "collector")]
                order = rotated(present, round_index)
                with tempfile.TemporaryDirectory() as workdir:
                    result = run_round(kind, size, order, Path(workdir), args.seconds)
                for tool, stages in result.items():
                    for stage, (at_input, at_output) in stages.items():
                        if at_output:
                            figures.setdefault((stage, tool), []).append(
                                [len(at_output), *(1e3 * percentile(at_input, q) for q in (0.5, 0.99)),
                                 *(1e3 * percentile(at_output, q) for q in (0.5, 0.99)), 1e3 * max(at_output)])
            for (stage, tool), rounds in sorted(figures.items()):
                n, in50, in99, out50, out99, top = (statistics.median(item[column] for item in rounds)
                                                    for column in range(6))
                print(f"{kind:10} {size:5d} {RATES[size]:6g} {stage:22} {tool:8} {n:7.0f} {in50:7.2f} {in99:7.2f} "
                      f"{out50:7.2f} {out99:7.2f} {top:7.2f} {out50 - in50:6.2f} {out99 - in99:6.2f}", flush=True)
            for stage in sorted({stage for stage, _ in figures}):
                ours, theirs = figures.get((stage, "pvaflow"), []), figures.get((stage, "pvapy"), [])
                if len(ours) == len(theirs) == args.rounds:  # the same rounds: the tools side by side in each
                    pairs = list(zip(ours, theirs, strict=True))  # one input client: output compares as added
                    print(f"{'':10} {size:5d} {'':6} {stage:22} pvaflow's output at most pvaPy's in "
                          f"{sum(a[3] <= b[3] for a, b in pairs)} of {args.rounds} rounds at p50, "
                          f"{sum(a[4] <= b[4] for a, b in pairs)} at p99", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
