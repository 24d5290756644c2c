"""pvaflow demo: start the AD simulation server and watch its frames arrive.

Run with ``make demo`` (or ``python examples/demo.py --runtime 20``). All
EPICS traffic stays on 127.0.0.1: the loopback variables are set below for
this process and the server it starts.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time

import pvaccess as pva
from rich.console import Console
from rich.live import Live
from rich.table import Table

from pvaflow import AdImageProcessor
from pvaflow.loopback import loopback_env, server_env


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runtime", type=float, default=15.0, help="seconds of streaming (default: 15)")
    parser.add_argument("--fps", type=float, default=100.0, help="frame rate (default: 100)")
    parser.add_argument("--size", type=int, default=512, help="frame width and height (default: 512)")
    args = parser.parse_args()

    os.environ.update(loopback_env())  # before the first pvaccess context
    channel_name = "demo:image"
    server = subprocess.Popen(
        [sys.executable, "-m", "pvaflow", "sim-server", "-cn", channel_name, "-nx", str(args.size),
         "-ny", str(args.size), "-dt", "uint16", "-fps", str(args.fps), "-rt", str(args.runtime),
         "-std", "2", "-shd", "1", "-rp", "0", "-dc"],
        env=server_env(dict(os.environ)),
    )
    received: list[int] = []
    lock = threading.Lock()
    last_mean = [0.0]
    arrival = {"first": 0.0, "last": 0.0}  # monotonic times of the first and latest frame

    def on_frame(pv: pva.PvObject) -> None:
        image_id, image, *_ = AdImageProcessor.reshapeNtNdArray(pv)
        if image is not None:
            with lock:
                arrival["last"] = time.monotonic()
                if not received:
                    arrival["first"] = arrival["last"]
                received.append(image_id)
                last_mean[0] = float(image.mean())

    channel = pva.Channel(channel_name)
    channel.subscribe("demo", on_frame)
    channel.startMonitor("record[queueSize=1000]field()")
    console = Console()

    def view() -> Table:
        with lock:
            count = len(received)
            first, last = (received[0], received[-1]) if received else (0, 0)
            elapsed = arrival["last"] - arrival["first"]
        table = Table(title=f"frames received on {channel_name}")
        for column in ("received", "first id", "last id", "missed", "rate (fps)", "mean pixel"):
            table.add_column(column, justify="right")
        rate = (count - 1) / elapsed if elapsed > 0 else 0.0
        missed = (last - first + 1 - count) if count else 0
        table.add_row(str(count), str(first), str(last), str(missed), f"{rate:.1f}",
                      f"{last_mean[0]:.1f}")
        return table

    try:
        with Live(view(), console=console, refresh_per_second=4) as live:
            while server.poll() is None:
                live.update(view())
                time.sleep(0.25)
            live.update(view())
    except KeyboardInterrupt:
        server.terminate()
    finally:
        channel.stopMonitor()
        server.wait(30)
    with lock:
        ok = bool(received) and received == list(range(received[0], received[-1] + 1))
    console.print()
    console.print("demo done: every frame arrived in order" if ok else "demo done: frames were missed")
    return 0 if ok and server.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
