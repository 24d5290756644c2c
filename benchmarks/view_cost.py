"""What watching costs the pipeline: CPU per frame of a consumer (and of its source) with and without a
pvaflow view open on the consumer's output and status channels, with a real browser drawing the frames.

One source and one consumer run for the whole benchmark; each round has a window with no viewer, one with
a viewer of another channel (the control: the same viewer and browser work on the same two cores, reading
a separate 20 fps source of the same frame size, not the pipeline), one with a viewer of the consumer's
output (frames fetched at the display rate) and one with a viewer started with --every-frame (a monitor of
every frame's id besides). Each viewer has headless Chromium showing its image channel (started before its
window, stopped after it); all conditions share the same processes. What reading the pipeline costs it is
a viewer's row minus the control's; the source, which no viewer reads, shows what the shared cores add.
Medians over rounds.

    .venv/bin/python benchmarks/view_cost.py                          # 512x512 uint8 at 1,000 fps, 5 rounds
    .venv/bin/python benchmarks/view_cost.py --size 2048 --rate 100
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pvaccess as pva
from harness import start, stop, tree_cpu, wait_for

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' browser launcher
from tests.system.browser import page_value, start_chromium, url_from  # noqa: E402

from pvaflow.loopback import loopback_env, server_env  # noqa: E402

os.environ.update(loopback_env())

SOURCE, OUTPUT, STATUS, OTHER = "viewbench:image", "viewbench:output", "viewbench:status", "viewbench:other"
WARM_SECONDS = 4.0  # after the viewer is up and drawing, before the window


# condition -> the viewer's channels and options (None: no viewer)
CONDITIONS = {
    "none": None,
    "control: pvaflow view of another channel + Chromium": [OTHER],
    "pvaflow view + Chromium": [OUTPUT, STATUS],
    "pvaflow view --every-frame + Chromium": [OUTPUT, STATUS, "--every-frame"],
}


@dataclass
class Window:
    condition: str
    seconds: float
    frames: int  # processed by the consumer in the window
    consumer_cpu: float  # seconds
    source_cpu: float
    viewer_cpu: float
    browser_cpu: float
    drawn: int  # frames the browser drew in the window

    def per_frame(self, cpu: float) -> float:
        return cpu / self.frames * 1e6 if self.frames else float("nan")


def measure(condition: str, seconds: float, pids: dict[str, int], drawn) -> Window:
    """CPU of each process and frames over ``seconds``: frames published by the source in the window (its
    record's id, read live; the consumer's status is up to a second old), which the consumer processes as
    they come (it misses none: printed at the end)."""
    cpu_before = {name: tree_cpu(pid) for name, pid in pids.items()}
    frames_before, drawn_before, started = source_id(), drawn(), time.monotonic()
    time.sleep(seconds)
    frames = source_id() - frames_before
    cpu = {name: tree_cpu(pid) - cpu_before[name] for name, pid in pids.items()}
    elapsed = time.monotonic() - started
    return Window(condition, elapsed, frames, cpu["consumer"], cpu["source"], cpu.get("viewer", 0.0),
                  cpu.get("browser", 0.0), drawn() - drawn_before)


def source_id() -> int:
    channel = pva.Channel(SOURCE)
    channel.setTimeout(5)
    return channel.get("field(uniqueId)")["uniqueId"]


def viewer_window(condition: str, seconds: float, pids: dict[str, int], work: Path) -> Window:
    log = work / "view.log"
    command = [sys.executable, "-m", "pvaflow", "view", "--bind", "127.0.0.1:0", *CONDITIONS[condition]]
    viewer = subprocess.Popen(command, env=server_env(dict(os.environ)), stdout=log.open("w"),
                              stderr=subprocess.STDOUT)
    driver = None
    try:
        url = url_from(log.read_text)
        profile = Path(tempfile.mkdtemp(dir=work))  # a new profile: the last Chromium may still hold its own
        driver = start_chromium(profile, work / "chromedriver.log")
        driver.get(url)
        image = CONDITIONS[condition][0]

        def drawn() -> int:
            return driver.execute_script(f"return (window.pvaflowView.frames['{image}'] || {{drawn: 0}}).drawn")

        page_value(driver, f"(window.pvaflowView.frames['{image}'] || {{drawn: 0}}).drawn", lambda n: n >= 3)
        time.sleep(WARM_SECONDS)
        return measure(condition, seconds, pids | {"viewer": viewer.pid, "browser": driver.service.process.pid},
                       drawn)
    finally:
        if driver is not None:
            driver.quit()
        stop(viewer)


def row(name: str, windows: list[Window]) -> str:
    median = statistics.median
    return (f"| {name} | {len(windows)} | {median([w.frames for w in windows]):.0f} | "
            f"{median([w.per_frame(w.consumer_cpu) for w in windows]):.1f} | "
            f"{median([w.per_frame(w.source_cpu) for w in windows]):.1f} | "
            f"{median([w.viewer_cpu / w.seconds for w in windows]):.0%} | "
            f"{median([w.browser_cpu / w.seconds for w in windows]):.0%} | "
            f"{median([w.drawn / w.seconds for w in windows]):.1f} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each window")
    args = parser.parse_args()
    runtime = args.rounds * len(CONDITIONS) * (args.seconds + 20) + 60
    source = start([sys.executable, "-m", "pvaflow", "sim-server", "-cn", SOURCE, "-nx", str(args.size),
                    "-ny", str(args.size), "-fps", str(args.rate), "-rt", str(runtime), "-cs", "10", "-std", "0",
                    "-rp", "0", "-dc"])
    other = start([sys.executable, "-m", "pvaflow", "sim-server", "-cn", OTHER, "-nx", str(args.size),
                   "-ny", str(args.size), "-fps", "20", "-rt", str(runtime), "-cs", "10", "-std", "0", "-rp", "0",
                   "-dc"])
    consumer = None
    windows: list[Window] = []
    try:
        wait_for(SOURCE)
        wait_for(OTHER)
        consumer = start([sys.executable, "-m", "pvaflow", "consumer", "-ic", SOURCE, "-oc", OUTPUT, "-sc", STATUS,
                          "-sqs", "100", "-dc"])
        wait_for(STATUS)
        time.sleep(3)
        pids = {"source": source.pid, "consumer": consumer.pid}
        with tempfile.TemporaryDirectory() as folder:
            for round_number in range(1, args.rounds + 1):
                for condition, options in CONDITIONS.items():
                    window = (measure(condition, args.seconds, pids, lambda: 0) if options is None
                              else viewer_window(condition, args.seconds, pids, Path(folder)))
                    windows.append(window)
                    print(f"round {round_number} {condition}: {window.frames} frames, "
                          f"consumer {window.per_frame(window.consumer_cpu):.1f} us/frame, "
                          f"source {window.per_frame(window.source_cpu):.1f} us/frame, "
                          f"viewer {window.viewer_cpu / window.seconds:.0%}, "
                          f"browser {window.browser_cpu / window.seconds:.0%}, drawn {window.drawn}", flush=True)
        missed = processor_stats("nMissed")
    finally:
        if consumer is not None:
            stop(consumer)
        stop(source)
        stop(other)
    print(f"\n{args.size}x{args.size} uint8 at {args.rate:g} fps, {args.rounds} rounds of {args.seconds:g} s "
          f"windows (consumer missed: {missed})\n")
    print("| viewer | rounds | frames per window | consumer us/frame | source us/frame | viewer CPU | "
          "browser CPU | frames drawn /s |")
    print("|---|---|---|---|---|---|---|---|")
    for condition in CONDITIONS:
        print(row(condition, [window for window in windows if window.condition == condition]))
    return 0


def processor_stats(key: str) -> int:
    channel = pva.Channel(STATUS)
    channel.setTimeout(5)
    return channel.get("field(processorStats)")["processorStats"][key]


if __name__ == "__main__":
    sys.exit(main())
