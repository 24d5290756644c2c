"""Metadata at stream rate: pvaflow's AdMetadataProcessor against pvaPy's consumer with a metadata processor.

pvaPy's "Metadata Handling Tests", side by side: the sim-server publishes uint8 frames and six PVA metadata
channels updated with every frame (``-mpv``); the consumer(s) take the six channels (``-mc``) and process once
10 frames have accumulated (``-ao 10``, with an unbounded receiver queue, ``-rqs 0``); with 2 consumers the
frames are split (``-du 1``) while each consumer receives every metadata update. Variants:

- ``pvaflow``: ``pvaflow consumer -pc AdMetadataProcessor`` with the six channels;
- ``pvapy``: ``pvapy-hpc-consumer`` with tests/system/workflows/hpcAdMetadataProcessorExample.py, our
  stand-in for pvaPy's sample metadata processor (a subclass of pvaPy's AdImageProcessor);
- ``pvapy-get``: the same, the processor reading its queues with ``get()`` rather than ``get(0)`` (on an
  empty pvaccess queue ``get(0)`` waits about 0.2 ms before it raises ``QueueEmpty``: six channels, 1.2 ms
  a frame): pvaPy at its quickest;
- ``plain``: pvaflow's consumer and processor without metadata channels (the source still publishes them):
  the rate to compare ``pvaflow`` with;
- ``floor``: no framework: one Python process with pvaccess alone that monitors the frames and the six
  channels into pvaccess queues (C++) and takes every frame and update out of them, nothing else (no
  matching, no output). What receiving the metadata costs on this machine, beside the source.
- ``floor-attach``: the same client doing the least work that gives the consumer's result: each update
  converted once (``toDict``), each frame given its six values as attributes (its own attributes kept, in
  pvaccess's cheapest form: one list of dictionaries) and published on an output record, without time stamp
  matching (the latest update of each channel), counters or checks. What writing the attributes and
  publishing cost through pvaccess: the floor for any Python processor attaching metadata.

With 2 consumers the floors are two such clients, the frames split between them by the distributor
(``updates:1``, as the consumers' ``-du 1``) and every update sent to each. A floor's drain is measured to its
last frame; a consumer's, through its status channel, includes the accumulation timeout and the status refresh.

A run passes when every published frame was processed within DRAIN_SECONDS (5 s: the accumulation timeout, the
status channel's refresh and 3 s of backlog) of the last one, none was missed
or overran a queue, and every frame got all six values (``nFramesMissingMetadata`` 0). Rates are tried
upward; a variant stops climbing at its first failure in a round. Rounds repeat the whole ladder with the
variants taking turns at each rate; reported per variant: the highest rate passed in each round, and the
median over rounds. Loopback only.

    .venv/bin/python benchmarks/metadata_rate.py
    .venv/bin/python benchmarks/metadata_rate.py --sizes 512 --consumers 1 --rates-512 1000,2000 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pvaccess as pva
from harness import ask, pvapy_tool, start, stop, wait_for

from pvaflow.loopback import loopback_env, server_env

SOURCE = "bench:md:image"
METADATA = ",".join(f"pva://bench:md:m{n}" for n in range(1, 7))
STATUS = "bench:md:c:*:status"
OUTPUT = "bench:md:c:*:out"
FLOOR_OUTPUT = "bench:md:floor:out"
PVAPY_PROCESSOR = Path(__file__).resolve().parent.parent / "tests/system/workflows/hpcAdMetadataProcessorExample.py"
VARIANTS = ("pvaflow", "pvapy", "pvapy-get", "plain", "floor", "floor-attach")
RATES = {512: "500,1000,2000,3000,3500,4000,5000,6000", 2048: "25,50,100,150,200,250,300,400"}
SERVER_QUEUE = {512: "2000", 2048: "200"}
# Done this long after the last frame at most: the last partial batch waits out the accumulation timeout (1 s),
# the status channel is up to 1 s old, and 3 s of backlog are allowed.
DRAIN_SECONDS = 5.0
READY_SECONDS = 30.0


@dataclass
class Run:
    variant: str
    sent: int
    processed: int
    missed: int
    overruns: int
    missing_metadata: int
    drain: float

    @property
    def passed(self) -> bool:
        return (self.processed == self.sent and self.missed == 0 and self.overruns == 0
                and self.missing_metadata == 0 and self.drain <= DRAIN_SECONDS)


def status(consumer: int) -> dict:
    return ask(STATUS.replace("*", str(consumer)), "field()", None, 5.0)


def overruns(stats: dict) -> int:
    """Monitor overruns of the input and of every metadata channel (``metadataStats_<n>``, in both tools)."""
    total = stats["receiverStats"].get("nOverruns", 0)
    for key, value in stats.items():
        if key.startswith("metadataStats_"):
            total += value["receiverStats"].get("nOverruns", 0)
    return total


def consumer_command(variant: str, size: int, n_consumers: int) -> list[str]:
    common = ["-ic", SOURCE, "-sc", STATUS, "-oc", OUTPUT, "-ao", "10", "-rqs", "0", "-sqs", SERVER_QUEUE[size],
              "-rp", "1", "-dc"]  # pvaPy refreshes its status channel with each report (else every 10 s)
    if n_consumers > 1:
        common += ["-nc", str(n_consumers), "-du", "1"]
    if variant != "plain":
        common += ["-mc", METADATA]
    if variant.startswith("pvapy"):
        args = '{"nonBlockingGet": true}' if variant == "pvapy-get" else "{}"
        return [pvapy_tool("pvapy-hpc-consumer"), *common, "-pf", str(PVAPY_PROCESSOR), "-pc", "HpcAdMetadataProcessor",
                "-pa", args]
    return [sys.executable, "-m", "pvaflow", "consumer", *common, "-pc", "AdMetadataProcessor"]


def wait_until_monitoring(n_consumers: int) -> None:
    """Every consumer's status answers and its input delivered the initial value."""
    deadline = time.monotonic() + READY_SECONDS
    for consumer in range(1, n_consumers + 1):
        wait_for(STATUS.replace("*", str(consumer)), READY_SECONDS)
        while status(consumer)["receiverStats"]["nReceived"] < 1:
            if time.monotonic() > deadline:
                raise RuntimeError(f"consumer {consumer} never received the initial value")
            time.sleep(0.1)


def processed_total(n_consumers: int) -> int:
    """Frames processed by every consumer; -1 while a status channel does not answer (an overloaded machine)."""
    try:
        return sum(status(consumer)["processorStats"]["nProcessed"] for consumer in range(1, n_consumers + 1))
    except pva.PvaException:
        return -1


def measure(variant: str, size: int, n_consumers: int, rate: float, runtime: float) -> Run:
    sent = int(rate * runtime)
    sim = start([sys.executable, "-m", "pvaflow", "sim-server", "-cn", SOURCE, "-nx", str(size), "-ny", str(size),
                 "-dt", "uint8", "-fps", str(rate), "-nf", str(sent), "-cs", "100", "-mpv", METADATA, "-sos",
                 "-std", "60", "-shd", "1", "-rp", "0", "-dc"])
    if variant.startswith("floor"):
        return measure_floor(variant, sim, sent, runtime, size, n_consumers)
    consumers = None
    try:
        wait_for(SOURCE)
        consumers = start(consumer_command(variant, size, n_consumers))
        wait_until_monitoring(n_consumers)
        sim.send_signal(signal.SIGUSR1)
        published_by = time.monotonic() + runtime
        # the source publishes for ``runtime`` s; then each consumer has DRAIN_SECONDS to finish
        while processed_total(n_consumers) < sent and time.monotonic() < published_by + DRAIN_SECONDS + 2.0:
            time.sleep(0.2)
        drain = max(0.0, time.monotonic() - published_by)
        try:
            stats = [status(consumer) for consumer in range(1, n_consumers + 1)]
        except pva.PvaException as ex:  # the run fails: nothing known
            print(f"status channel did not answer: {ex}", flush=True)
            return Run(variant, sent, processed=0, missed=sent, overruns=0, missing_metadata=0, drain=drain)
    finally:
        for process in (consumers, sim):
            if process is not None:
                stop(process)
    return Run(
        variant, sent,
        processed=sum(s["processorStats"]["nProcessed"] for s in stats),
        missed=sum(s["processorStats"]["nMissed"] for s in stats),
        overruns=sum(overruns(s) for s in stats),
        missing_metadata=sum(s["userStats"].get("nFramesMissingMetadata", 0) for s in stats),
        drain=drain,
    )


def measure_floor(variant: str, sim: subprocess.Popen, sent: int, runtime: float, size: int,
                  n_consumers: int) -> Run:
    """The ``floor`` variants: this file run with ``--floor-client`` reads the stream, reports in JSON; with more
    than one client the frames are split among them by the distributor, as the consumers' (``-du 1``)."""
    clients: list[subprocess.Popen] = []
    try:
        wait_for(SOURCE)
        for _ in range(n_consumers):
            clients.append(subprocess.Popen(
                [sys.executable, __file__, "--floor-client", str(sent), str(runtime), str(size), variant,
                 str(n_consumers)], env=server_env(dict(os.environ)), stdout=subprocess.PIPE, text=True))
        for client in clients:
            if client.stdout is None or client.stdout.readline().strip() != "ready":
                raise RuntimeError("a floor client did not start")
        sim.send_signal(signal.SIGUSR1)
        results = [json.loads(client.stdout.readline()) for client in clients if client.stdout is not None]
    finally:
        for process in (*clients, sim):
            stop(process)
    frames = sum(result["frames"] for result in results)
    complete = all(result["metadata"] >= 6 * result["frames"] for result in results)  # six updates a frame taken
    return Run(variant, sent, processed=frames, missed=sent - frames,
               overruns=sum(result["overruns"] for result in results),
               missing_metadata=0 if complete else frames, drain=max(result["drain"] for result in results))


def floor_client(expected: int, runtime: float, size: int, attach: bool, n_clients: int) -> None:
    """Monitor the frames and the six channels into pvaccess queues; take everything out (with ``attach``: add
    the latest values to each frame as attributes and publish it); print the counts. With ``n_clients`` > 1
    this client gets its share of the frames (the distributor's ``updates:1``, as ``-du 1``) and every update,
    and is done once its frames stop coming after the source's last."""
    server = pva.PvaServer() if attach else None
    latest: dict[str, object] = {}
    frames = pva.PvObjectQueue()
    image = pva.Channel(SOURCE)
    share = "_[pydistributor=updates:1]" if n_clients > 1 else ""
    image.qMonitor(frames, f"record[queueSize={SERVER_QUEUE[size]}]field({share})")
    metadata = {name: (pva.Channel(name.removeprefix("pva://")), pva.PvObjectQueue()) for name in METADATA.split(",")}
    for channel, queue in metadata.values():
        channel.qMonitor(queue, f"record[queueSize={SERVER_QUEUE[size]}]field()")
    frames.get(READY_SECONDS)  # the initial value
    for _, queue in metadata.values():
        queue.get(READY_SECONDS)
    print("ready", flush=True)
    n_frames = n_metadata = 0
    published_by = last_frame = None
    while n_frames < expected and (published_by is None or time.monotonic() < published_by + DRAIN_SECONDS + 2.0):
        try:
            frame = frames.get(0.5)
        except pva.QueueEmpty:
            if n_clients > 1 and last_frame is not None and time.monotonic() > max(published_by, last_frame) + 1.0:
                break  # the share of this client has come
            continue
        last_frame = time.monotonic()
        if published_by is None:
            published_by = last_frame + runtime
        n_frames += 1
        for name, (_, queue) in metadata.items():
            for _ in range(len(queue)):  # (a get on an empty queue costs 0.2 ms and more)
                update = queue.get()
                n_metadata += 1
                if attach:
                    latest[name] = update.toDict()["value"]
        if server is not None:
            kept = [{"name": attribute["name"], "value": attribute["value"]} for attribute in frame["attribute"]]
            frame["attribute"] = kept + [{"name": name, "value": ({"value": value}, {"value": pva.DOUBLE})}
                                         for name, value in latest.items()]
            if n_frames == 1:
                server.addRecord(FLOOR_OUTPUT, frame.copy(), None)
            server.update(FLOOR_OUTPUT, frame)
    drain = max(0.0, last_frame - published_by) if published_by is not None and last_frame else float("inf")
    overruns = sum(channel.getMonitorCounters().get("nOverruns", 0) for channel in
                   [image, *(channel for channel, _ in metadata.values())])
    print(json.dumps({"frames": n_frames, "metadata": n_metadata, "overruns": overruns, "drain": drain}), flush=True)


def main() -> int:
    if len(sys.argv) == 7 and sys.argv[1] == "--floor-client":  # the parent's loopback environment is inherited
        signal.signal(signal.SIGINT, signal.SIG_DFL)  # stopped by the parent once it has the counts
        floor_client(int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), sys.argv[5] == "floor-attach",
                     int(sys.argv[6]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="512,2048", help="frame sizes (NxN)")
    parser.add_argument("--consumers", default="1,2", help="numbers of consumers")
    parser.add_argument("--rates-512", default=RATES[512], help="rates to try at 512x512, upward")
    parser.add_argument("--rates-2048", default=RATES[2048], help="rates to try at 2048x2048, upward")
    parser.add_argument("--runtime", type=float, default=5.0, help="seconds of frames per run")
    parser.add_argument("--rounds", type=int, default=2, help="times the whole ladder is climbed")
    parser.add_argument("--variants", default=",".join(VARIANTS), help="variants to run")
    args = parser.parse_args()
    os.environ.update(loopback_env())
    variants = [v for v in args.variants.split(",") if not v.startswith("pvapy") or pvapy_tool("pvapy-hpc-consumer")]
    rates = {512: args.rates_512, 2048: args.rates_2048}
    print(f"six metadata channels, -ao 10, {args.runtime:g} s of frames per run, {args.rounds} rounds")
    for size in (int(s) for s in args.sizes.split(",")):
        for n_consumers in (int(n) for n in args.consumers.split(",")):
            best: dict[str, list[float]] = {variant: [] for variant in variants}
            for round_number in range(1, args.rounds + 1):
                climbing = set(variants)
                passed: dict[str, float] = dict.fromkeys(variants, 0.0)
                for rate in (float(r) for r in rates[size].split(",")):
                    for variant in [v for v in variants if v in climbing]:  # variants take turns at each rate
                        run = measure(variant, size, n_consumers, rate, args.runtime)
                        print(f"{size}x{size} {n_consumers} consumer(s) round {round_number} {variant:8} "
                              f"{rate:6g} fps: sent {run.sent} processed {run.processed} missed {run.missed} "
                              f"overruns {run.overruns} missing metadata {run.missing_metadata} "
                              f"drain {run.drain:.1f} s -> {'pass' if run.passed else 'FAIL'}", flush=True)
                        if run.passed:
                            passed[variant] = rate
                        else:
                            climbing.discard(variant)
                    if not climbing:
                        break
                for variant in variants:
                    best[variant].append(passed[variant])
            summary = ", ".join(f"{variant} {statistics.median(best[variant]):g} fps (rounds: "
                                f"{', '.join(f'{r:g}' for r in best[variant])})" for variant in variants)
            print(f"== {size}x{size}, {n_consumers} consumer(s), highest loss-free rate: {summary}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
