"""File output speed: pvaflow's TIFF and HDF5 writers vs pvaPy's AdOutputFileProcessor, beside raw disk speed.

The sim-server publishes 2048x2048 uint16 frames; a consumer with a
receiver queue (so no frame is lost while a file is written) saves them
with each writer in turn, into a directory on the disk under test. For each
writer the table gives the files and bytes saved and the storage rate the
writer reports (bytes / time spent writing, as ``dataStorageRateMBps``).
The same script measures raw disk speed by writing the same byte count,
frame by frame, to one file (like ``dd bs=256k``: 256 kB per write() call,
as the writers hand frames to the kernel; no fsync, like the writers), just
before each writer runs, twice: back to back (as dd does) and paced at the
stream's frame rate (timing only the writes). On the development VM a write
that follows an idle gap is slower than one that follows another write, so
the paced figure is the raw speed a streaming writer can reach. The
"raw (consumer)" row appends the frames to one file from inside a consumer
(`raw_frame_writer.py`), under the same stream as the writers. Dirty pages are flushed (sync) before every
measurement: otherwise the kernel's writeback throttling, which depends on
what ran before, decides the figures. Loopback only.

``--in-process`` leaves the stream out: each writer's ``process()`` is
called on prebuilt frames back to back in this process, right after the
back-to-back raw write of the same byte count, so writer and raw write run
under the same conditions (an idle machine) and their ratio is the writer's
own overhead over the disk.

    .venv/bin/python benchmarks/file_write.py                     # 100 frames per writer, in a temp dir
    .venv/bin/python benchmarks/file_write.py --frames 200 --directory /data/bench
    .venv/bin/python benchmarks/file_write.py --in-process        # writers alone vs raw writes, no stream
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pvaccess as pva
from harness import processed_count, pvapy_tool, start, stop, wait_for

from pvaflow import ntnd
from pvaflow.files.pieces import PiecewiseFile
from pvaflow.loopback import loopback_env
from pvaflow.memory import reuse_freed_buffers

SOURCE = "bench:image"
STATUS = "bench:1:status"
SIZE = 2048
DTYPE = "uint16"
FRAME_BYTES = SIZE * SIZE * 2
DEFAULT_FPS = 40
BYTES_IN_MEGABYTE = 1000000
DISTINCT_FRAMES = 4  # frames repeat after this many, in the raw writes and the in-process frames alike

WRITERS = {
    "pvaflow TIFF": ("pvaflow", "AdOutputFileProcessor", {"outputFileNameFormat": "{uniqueId:06}.tiff"}),
    "pvaflow HDF5": ("pvaflow", "Hdf5AdImageWriter", {"nImagesPerFile": 1000}),
    "pvapy TIFF": ("pvapy", "pvapy.hpc.adOutputFileProcessor.AdOutputFileProcessor",
                   {"outputFileNameFormat": "{uniqueId:06}.tiff"}),
    # frames appended to one file, dd-style, inside the consumer: raw disk speed under the same stream
    # (with --in-process: the same appends, called like the writers, without a stream)
    "raw (consumer)": ("pvaflow", "RawFrameWriter", {}),
}
RAW_WRITER_FILE = Path(__file__).with_name("raw_frame_writer.py")


def raw_disk_mbps(directory: Path, n_frames: int, fps: float | None = None) -> float:
    """Write n_frames x FRAME_BYTES frame by frame to one file, as dd bs=256k would; MB/s of the writes.

    With ``fps`` the blocks are written at that rate and only the writes are timed.
    """
    os.sync()
    blocks = [os.urandom(FRAME_BYTES) for _ in range(DISTINCT_FRAMES)]  # as many distinct frames as the writers get
    path = directory / "raw.bin"
    writing = 0.0
    period = 1 / fps if fps else 0.0
    with PiecewiseFile(path, "w") as file:  # 256 kB per write() call, as the writers do (dd bs=256k)
        for index in range(n_frames):
            started = time.perf_counter()
            file.write(blocks[index % DISTINCT_FRAMES])
            elapsed = time.perf_counter() - started
            writing += elapsed
            time.sleep(max(0.0, period - elapsed))
    path.unlink()
    return n_frames * FRAME_BYTES / writing / BYTES_IN_MEGABYTE


def writer_config(name: str, directory: Path) -> tuple[Path, dict]:
    """The output directory for a WRITERS entry under ``directory`` and its processor config."""
    output = directory / name.replace(" ", "_")
    return output, dict(WRITERS[name][2], outputDirectory=str(output))


def round_order(names: list[str], round_number: int) -> list[str]:
    """Each round starts with another writer: order effects even out."""
    shift = round_number % len(names)
    return names[shift:] + names[:shift]


def consumer_command(tool: str, processor: str, config: dict) -> list[str]:
    common = ["-ic", SOURCE, "-sc", STATUS, "-sqs", "50", "-rqs", "1000", "-pc", processor,
              "-pa", json.dumps(config), "-dc"]
    if processor == "RawFrameWriter":
        common += ["-pf", str(RAW_WRITER_FILE)]
    if tool == "pvaflow":
        return [sys.executable, "-m", "pvaflow", "consumer", *common]
    return [pvapy_tool("pvapy-hpc-consumer"), *common]


def user_stats() -> dict:
    channel = pva.Channel(STATUS)
    channel.setTimeout(5)
    return channel.get("field(userStats)")["userStats"]


def measure(name: str, directory: Path, n_frames: int, fps: float) -> dict:
    tool, processor, _ = WRITERS[name]
    os.sync()
    output, config = writer_config(name, directory)
    # fewer distinct frames than n_frames: the server stops after sending each once
    cache_size = max(1, min(DISTINCT_FRAMES, n_frames - 1))
    sim = start(
        [sys.executable, "-m", "pvaflow", "sim-server", "-cn", SOURCE, "-nx", str(SIZE), "-ny", str(SIZE),
         "-dt", DTYPE, "-fps", str(fps), "-nf", str(n_frames), "-cs", str(cache_size), "-std", "6", "-shd", "3",
         "-rp", "0", "-dc"])
    consumer = None
    try:
        wait_for(SOURCE)
        consumer = start(consumer_command(tool, processor, config))
        wait_for(STATUS)
        sim.wait()
        deadline = time.monotonic() + 120
        while processed_count(STATUS) < n_frames and time.monotonic() < deadline:
            time.sleep(0.5)
        time.sleep(1.5)  # the status refreshes every second
        stats = user_stats()
        stop(consumer, timeout=60)  # stop(): the HDF5 writer closes its file
        files = [path for path in output.rglob("*") if path.is_file()]
        return {"files": len(files), "bytes": sum(path.stat().st_size for path in files),
                "mbps": stats["dataStorageRateMBps"]}
    finally:
        for process in (consumer, sim):
            if process is not None:
                stop(process)
        shutil.rmtree(output, ignore_errors=True)


def writer_class(name: str) -> type:
    """The processor class behind a WRITERS entry, for --in-process."""
    processor = WRITERS[name][1]
    if processor == "RawFrameWriter":
        from raw_frame_writer import RawFrameWriter
        return RawFrameWriter
    if processor == "Hdf5AdImageWriter":
        from pvaflow.processors.hdf5_writer import Hdf5AdImageWriter
        return Hdf5AdImageWriter
    if WRITERS[name][0] == "pvaflow":
        from pvaflow.processors.ad_output_file import AdOutputFileProcessor
        return AdOutputFileProcessor
    from pvapy.hpc.adOutputFileProcessor import AdOutputFileProcessor  # the peer (never imported by pvaflow)
    return AdOutputFileProcessor


def prebuilt_frames(n_frames: int) -> list:
    """n_frames NTNDArrays (ids 1..n) over DISTINCT_FRAMES random images."""
    rng = np.random.default_rng(1)
    images = [rng.integers(0, 4095, (SIZE, SIZE), dtype=DTYPE) for _ in range(DISTINCT_FRAMES)]
    return [ntnd.generate(frame_id, images[frame_id % DISTINCT_FRAMES]) for frame_id in range(1, n_frames + 1)]


def measure_in_process(name: str, directory: Path, frames: list) -> tuple[float, float]:
    """(storage rate the writer reports, image MB / wall time of process() and stop()) with no stream."""
    output, config = writer_config(name, directory)
    writer = writer_class(name)(config)
    os.sync()
    try:
        started = time.perf_counter()
        for frame in frames:
            writer.process(frame)
        writer.stop()
        wall = time.perf_counter() - started
        return float(writer.getStats()["dataStorageRateMBps"]), len(frames) * FRAME_BYTES / wall / BYTES_IN_MEGABYTE
    finally:
        shutil.rmtree(output, ignore_errors=True)


def run_in_process(names: list[str], base: Path, n_frames: int, repeats: int) -> None:
    """Every writer right after a raw back-to-back write of the same bytes; medians over the rounds."""
    reuse_freed_buffers()  # as the consumers do (pvaflow.memory)
    frames = prebuilt_frames(n_frames)
    print(f"in process, no stream: {n_frames} frames of {SIZE}x{SIZE} {DTYPE} back to back into {base}")
    print(f"{'writer':14} {'storage rate MB/s':>18} {'wall MB/s':>10} {'raw just before':>16}")
    rates: dict[str, list[float]] = {name: [] for name in names}
    raw_rates: dict[str, list[float]] = {"back to back": []}
    for round_number in range(repeats):
        for name in round_order(names, round_number):
            raw = raw_disk_mbps(base, n_frames)
            storage, wall = measure_in_process(name, base, frames)
            rates[name].append(storage)
            raw_rates["back to back"].append(raw)
            print(f"{name:14} {storage:18.0f} {wall:10.0f} {raw:16.0f}", flush=True)
    print_medians(rates, raw_rates, repeats)


def print_medians(rates: dict[str, list[float]], raw_rates: dict[str, list[float]], repeats: int) -> None:
    """Each writer's median storage rate and its share of each kind of raw write's median."""
    raw_medians = {kind: statistics.median(values) for kind, values in raw_rates.items()}
    print(f"medians over {repeats} rounds; raw " + ", ".join(
        f"{kind} {value:.0f} MB/s" for kind, value in raw_medians.items()))
    for name, values in rates.items():
        rate = statistics.median(values)
        print(f"{name:14} {rate:6.0f} MB/s = " + ", ".join(
            f"{rate / value:4.0%} of raw {kind}" for kind, value in raw_medians.items()))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=100, help="frames per writer")
    parser.add_argument("--repeats", type=int, default=3, help="rounds over the writers")
    parser.add_argument("--fps", type=float, default=DEFAULT_FPS, help="frame rate of the sim-server")
    parser.add_argument("--directory", default=None, help="directory on the disk under test (default: a temp dir)")
    parser.add_argument("--writers", help=f"comma-separated subset of: {', '.join(WRITERS)}")
    parser.add_argument("--in-process", action="store_true",
                        help="the writers alone, back to back in this process (no stream), each after a raw write")
    args = parser.parse_args()
    os.environ.update(loopback_env())
    base = Path(args.directory) if args.directory else Path(tempfile.mkdtemp(prefix="pvaflow-bench-"))
    base.mkdir(parents=True, exist_ok=True)
    chosen = args.writers.split(",") if args.writers else list(WRITERS)
    unknown = set(chosen) - set(WRITERS)
    if unknown:
        parser.error(f"unknown writers {sorted(unknown)}; choose from {', '.join(WRITERS)}")
    names = [name for name in chosen if WRITERS[name][0] == "pvaflow" or pvapy_tool("pvapy-hpc-consumer")]
    if args.in_process:
        run_in_process(names, base, args.frames, args.repeats)
        if not args.directory:
            shutil.rmtree(base, ignore_errors=True)
        return 0
    megabytes = FRAME_BYTES / BYTES_IN_MEGABYTE
    print(f"{args.frames} frames of {SIZE}x{SIZE} {DTYPE} ({megabytes:.1f} MB) at {args.fps:g} fps into {base}")
    print(f"{'writer':14} {'files':>6} {'MB saved':>9} {'storage rate MB/s':>18} {'raw back to back':>17} "
          f"{'raw paced':>10}")
    rates: dict[str, list[float]] = {name: [] for name in names}
    raw_rates: dict[str, list[float]] = {"back to back": [], "paced": []}
    for round_number in range(args.repeats):
        for name in round_order(names, round_number):
            raw = raw_disk_mbps(base, args.frames)
            paced = raw_disk_mbps(base, args.frames, args.fps)
            result = measure(name, base, args.frames, args.fps)
            rates[name].append(result["mbps"])
            raw_rates["back to back"].append(raw)
            raw_rates["paced"].append(paced)
            print(f"{name:14} {result['files']:6d} {result['bytes'] / BYTES_IN_MEGABYTE:9.0f} "
                  f"{result['mbps']:18.0f} {raw:17.0f} {paced:10.0f}", flush=True)
    print_medians(rates, raw_rates, args.repeats)
    if not args.directory:
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
