"""Metadata at stream rate: pvaflow's AdMetadataProcessor against pvaPy's consumer with a metadata processor.

pvaPy's "Metadata Handling Tests", side by side: the sim-server publishes uint8 frames and six PVA metadata
channels updated with every frame (``-mpv``); the consumer(s) take the six channels (``-mc``) and process once
10 frames have accumulated (``-ao 10``, with an unbounded receiver queue, ``-rqs 0``); with 2 consumers the
frames are split (``-du 1``) while each consumer receives every metadata update. Variants:

- ``pvaflow``: ``pvaflow consumer -pc AdMetadataProcessor`` with the six channels;
- ``pvapy``: ``pvapy-hpc-consumer`` with tests/system/workflows/hpcAdMetadataProcessorExample.py, our
  stand-in for pvaPy's sample metadata processor (a subclass of pvaPy's AdImageProcessor);
- ``plain``: pvaflow's consumer and processor without metadata channels (the source still publishes them):
  the rate to compare ``pvaflow`` with.

A run passes when every published frame was processed within DRAIN_SECONDS of the last one, none was missed
or overran a queue, and every frame got all six values (``nFramesMissingMetadata`` 0). Rates are tried
upward; a variant stops climbing at its first failure in a round. Rounds repeat the whole ladder with the
variants taking turns at each rate; reported per variant: the highest rate passed in each round, and the
median over rounds. Loopback only.

    .venv/bin/python benchmarks/metadata_rate.py
    .venv/bin/python benchmarks/metadata_rate.py --sizes 512 --consumers 1 --rates-512 1000,2000 --rounds 3
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pvaccess as pva
from harness import pvapy_tool, start, stop, wait_for

from pvaflow.loopback import loopback_env

SOURCE = "bench:md:image"
METADATA = ",".join(f"pva://bench:md:m{n}" for n in range(1, 7))
STATUS = "bench:md:c:*:status"
OUTPUT = "bench:md:c:*:out"
PVAPY_PROCESSOR = Path(__file__).resolve().parent.parent / "tests/system/workflows/hpcAdMetadataProcessorExample.py"
VARIANTS = ("pvaflow", "pvapy", "plain")
RATES = {512: "500,1000,1500,2000,2500,3000,4000", 2048: "25,50,75,100,150,200"}
SERVER_QUEUE = {512: "2000", 2048: "200"}
DRAIN_SECONDS = 3.0  # still working through its queue this long after the last frame (status: 1 s old at most)
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
    channel = pva.Channel(STATUS.replace("*", str(consumer)))
    channel.setTimeout(5)
    return channel.get().toDict()


def overruns(stats: dict) -> int:
    """Monitor overruns of the input and of every metadata channel."""
    total = stats["receiverStats"].get("nOverruns", 0)
    for key, value in stats.items():
        if key.startswith("metadataStats") and isinstance(value, dict):
            total += value.get("receiverStats", {}).get("nOverruns", 0)
    return total


def consumer_command(variant: str, size: int, n_consumers: int) -> list[str]:
    common = ["-ic", SOURCE, "-sc", STATUS, "-oc", OUTPUT, "-ao", "10", "-rqs", "0", "-sqs", SERVER_QUEUE[size],
              "-rp", "1", "-dc"]  # pvaPy refreshes its status channel with each report (else every 10 s)
    if n_consumers > 1:
        common += ["-nc", str(n_consumers), "-du", "1"]
    if variant != "plain":
        common += ["-mc", METADATA]
    if variant == "pvapy":
        return [pvapy_tool("pvapy-hpc-consumer"), *common, "-pf", str(PVAPY_PROCESSOR), "-pc", "HpcAdMetadataProcessor"]
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
    return sum(status(consumer)["processorStats"]["nProcessed"] for consumer in range(1, n_consumers + 1))


def measure(variant: str, size: int, n_consumers: int, rate: float, runtime: float) -> Run:
    sent = int(rate * runtime)
    sim = start([sys.executable, "-m", "pvaflow", "sim-server", "-cn", SOURCE, "-nx", str(size), "-ny", str(size),
                 "-dt", "uint8", "-fps", str(rate), "-nf", str(sent), "-cs", "100", "-mpv", METADATA, "-sos",
                 "-std", "60", "-shd", "1", "-rp", "0", "-dc"])
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
        stats = [status(consumer) for consumer in range(1, n_consumers + 1)]
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


def main() -> int:
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
    variants = [v for v in args.variants.split(",") if v != "pvapy" or pvapy_tool("pvapy-hpc-consumer")]
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
