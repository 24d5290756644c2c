"""File output speed: pvaflow's TIFF and HDF5 writers vs pvaPy's AdOutputFileProcessor, beside raw disk speed.

The sim-server publishes 2048x2048 uint16 frames; a consumer with a
receiver queue (so no frame is lost while a file is written) saves them
with each writer in turn, into a directory on the disk under test. For each
writer the table gives the files and bytes saved and the storage rate the
writer reports (bytes / time spent writing, as ``dataStorageRateMBps``).
The same script measures raw disk speed by writing the same byte count in
frame-sized blocks to one file (dd-style, no fsync, like the writers), just
before each writer runs, twice: back to back (as dd does) and paced at the
stream's frame rate (timing only the writes). On the development VM a write
that follows an idle gap is slower than one that follows another write, so
the paced figure is the raw speed a streaming writer can reach. The
"raw (consumer)" row appends the frames to one file from inside a consumer
(`raw_frame_writer.py`), under the same stream as the writers. Dirty pages are flushed (sync) before every
measurement: otherwise the kernel's writeback throttling, which depends on
what ran before, decides the figures. Loopback only.

    .venv/bin/python benchmarks/file_write.py                     # 100 frames per writer, in a temp dir
    .venv/bin/python benchmarks/file_write.py --frames 200 --directory /data/bench
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pvaccess as pva
from harness import processed_count, pvapy_tool, start, stop, wait_for

from pvaflow.loopback import loopback_env

SOURCE = "bench:image"
STATUS = "bench:1:status"
SIZE = 2048
DTYPE = "uint16"
FRAME_BYTES = SIZE * SIZE * 2
DEFAULT_FPS = 40
BYTES_IN_MEGABYTE = 1000000

WRITERS = {
    "pvaflow TIFF": ("pvaflow", "AdOutputFileProcessor", {"outputFileNameFormat": "{uniqueId:06}.tiff"}),
    "pvaflow HDF5": ("pvaflow", "Hdf5AdImageWriter", {"nImagesPerFile": 1000}),
    "pvapy TIFF": ("pvapy", "pvapy.hpc.adOutputFileProcessor.AdOutputFileProcessor",
                   {"outputFileNameFormat": "{uniqueId:06}.tiff"}),
    # frames appended to one file, dd-style, inside the consumer: raw disk speed under the same stream
    "raw (consumer)": ("pvaflow", "RawFrameWriter", {}),
}
RAW_WRITER_FILE = Path(__file__).with_name("raw_frame_writer.py")


def raw_disk_mbps(directory: Path, n_frames: int, fps: float | None = None) -> float:
    """Write n_frames x FRAME_BYTES in frame-sized blocks to one file, as dd would; MB/s of the writes.

    With ``fps`` the blocks are written at that rate and only the writes are timed.
    """
    os.sync()
    block = os.urandom(FRAME_BYTES)
    path = directory / "raw.bin"
    writing = 0.0
    period = 1 / fps if fps else 0.0
    with open(path, "wb", buffering=0) as file:
        for _ in range(n_frames):
            started = time.perf_counter()
            file.write(block)
            elapsed = time.perf_counter() - started
            writing += elapsed
            time.sleep(max(0.0, period - elapsed))
    path.unlink()
    return n_frames * FRAME_BYTES / writing / BYTES_IN_MEGABYTE


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
    tool, processor, config = WRITERS[name]
    os.sync()
    output = directory / name.replace(" ", "_")
    config = dict(config, outputDirectory=str(output))
    cache_size = max(1, min(20, n_frames - 1))  # fewer than n_frames: the server stops after sending each once
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=100, help="frames per writer")
    parser.add_argument("--repeats", type=int, default=3, help="rounds over the writers")
    parser.add_argument("--fps", type=float, default=DEFAULT_FPS, help="frame rate of the sim-server")
    parser.add_argument("--directory", default=None, help="directory on the disk under test (default: a temp dir)")
    args = parser.parse_args()
    os.environ.update(loopback_env())
    base = Path(args.directory) if args.directory else Path(tempfile.mkdtemp(prefix="pvaflow-bench-"))
    base.mkdir(parents=True, exist_ok=True)
    names = [name for name in WRITERS if WRITERS[name][0] == "pvaflow" or pvapy_tool("pvapy-hpc-consumer")]
    megabytes = FRAME_BYTES / BYTES_IN_MEGABYTE
    print(f"{args.frames} frames of {SIZE}x{SIZE} {DTYPE} ({megabytes:.1f} MB) at {args.fps:g} fps into {base}")
    print(f"{'writer':14} {'files':>6} {'MB saved':>9} {'storage rate MB/s':>18} {'raw back to back':>17} "
          f"{'raw paced':>10}")
    for round_number in range(args.repeats):
        shift = round_number % len(names)  # each round starts with another writer: order effects even out
        for name in names[shift:] + names[:shift]:
            raw = raw_disk_mbps(base, args.frames)
            paced = raw_disk_mbps(base, args.frames, args.fps)
            result = measure(name, base, args.frames, args.fps)
            print(f"{name:14} {result['files']:6d} {result['bytes'] / BYTES_IN_MEGABYTE:9.0f} "
                  f"{result['mbps']:18.0f} {raw:17.0f} {paced:10.0f}", flush=True)
    if not args.directory:
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
