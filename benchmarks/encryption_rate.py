"""Encryption throughput through consumers: pvaflow's AdImageDataEncryptor/Decryptor vs pvaPy's, side by side.

For each tool and frame size the sim-server publishes uint8 frames; an
encryptor consumer publishes encrypted objects and a decryptor consumer
(``--oid-field objectId``) turns them back. After a warm-up (the first
frames fill the servers' monitor queues with new buffers) both consumers'
statistics are reset; then each processor reports its processing rate
(objects per second of time spent in ``process()``, publishing included,
as pvaPy measures it). The table gives that as MB/s of image data, plus
each consumer's whole CPU time per frame after the warm-up (receive,
process, publish). pvaPy's processors need the ``rsa`` and
``pycryptodome`` packages (``pip install -e '.[peer]'``); without them its
rows are skipped. Loopback only.

    .venv/bin/python benchmarks/encryption_rate.py                 # 2048x2048 and 512x512, both tools
    .venv/bin/python benchmarks/encryption_rate.py --repeats 3 --sign
    .venv/bin/python benchmarks/encryption_rate.py --in-process       # the processors alone, no consumers
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pvaccess as pva
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from harness import processed_count, pvapy_tool, start, stop, tree_cpu, wait_for

from pvaflow.loopback import loopback_env
from pvaflow.memory import reuse_freed_buffers

SOURCE = "bench:image"
ENCRYPTED = "bench:encrypted"
STATUS = {"encrypt": "bench:status:1", "decrypt": "bench:status:2"}
CONTROL = {"encrypt": "bench:control:1", "decrypt": "bench:control:2"}
BYTES_IN_MEGABYTE = 1000000
# size -> (frames per second, frames, warm-up frames): pvaPy's encryptor needs ~50 ms for a 4 MB frame;
# 512x512 frames come faster than it can take them (about 400 fps), so that both tools work on a full
# queue: with frames 10 ms apart this VM's short per-frame work takes 3-6x longer (docs/performance.md)
SIZES = {2048: (10, 200, 80), 512: (1000, 10000, 2000)}
PROCESSORS = {
    "pvaflow": ("AdImageDataEncryptor", "AdImageDataDecryptor"),
    "pvapy": ("pvapy.hpc.adImageDataEncryptor.AdImageDataEncryptor",
              "pvapy.hpc.adImageDataDecryptor.AdImageDataDecryptor"),
}


@dataclass
class Result:
    processed: dict[str, int]
    mbps: dict[str, float]
    cpu_ms: dict[str, float]


def write_key(directory: Path) -> Path:
    """A 2048-bit RSA key in PKCS#1 PEM, the format both tools read."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = directory / "bench-key.pem"
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                       serialization.NoEncryption()))
    return path


def consumer(tool: str, role: str, key: Path, sign: bool) -> list[str]:
    encryptor, decryptor = PROCESSORS[tool]
    config = {"privateKeyFilePath": str(key), ("sign" if role == "encrypt" else "verify"): sign}
    if role == "encrypt":
        args = ["-ic", SOURCE, "-oc", ENCRYPTED, "-pc", encryptor]
    else:
        args = ["-ic", ENCRYPTED, "-of", "objectId", "-oc", "bench:decrypted", "-pc", decryptor]
    args += ["-pa", json.dumps(config), "-sc", STATUS[role], "-cc", CONTROL[role], "-sqs", "50", "-rqs", "500", "-dc"]
    if tool == "pvaflow":
        return [sys.executable, "-m", "pvaflow", "consumer", *args]
    return [pvapy_tool("pvapy-hpc-consumer"), *args]


def user_stats(status_channel: str, attempts: int = 4) -> dict:
    """The processor's statistics; a saturated consumer (pvaPy's at 512x512) may answer late."""
    channel = pva.Channel(status_channel)
    channel.setTimeout(5)
    for attempt in range(attempts):
        try:
            return channel.get("field(userStats)")["userStats"]
        except pva.PvaException:
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


def processed_or_zero(status_channel: str) -> int:
    try:
        return processed_count(status_channel)
    except pva.PvaException:  # busy: ask again later
        return 0


def reset_stats(control_channel: str) -> None:
    channel = pva.Channel(control_channel)
    channel.setTimeout(5)
    channel.put(pva.PvObject({"command": pva.STRING, "args": pva.STRING}, {"command": "reset_stats", "args": ""}),
                "field(command,args)")


def measure(tool: str, size: int, key: Path, sign: bool, reset: bool = True, fps: float | None = None) -> Result:
    """``fps`` replaces the size's own rate; the run keeps its length in seconds (frames scaled)."""
    default_fps, n_frames, warm_up = SIZES[size]
    if fps is not None:
        n_frames, warm_up = round(n_frames * fps / default_fps), round(warm_up * fps / default_fps)
    else:
        fps = default_fps
    if not reset:
        n_frames, warm_up = n_frames - warm_up, 0
    sim = start([sys.executable, "-m", "pvaflow", "sim-server", "-cn", SOURCE, "-nx", str(size), "-ny", str(size),
                 "-dt", "uint8", "-fps", str(fps), "-nf", str(n_frames), "-cs", "20", "-std", "8", "-shd", "3",
                 "-rp", "0", "-dc"])
    consumers: dict[str, object] = {}
    try:
        wait_for(SOURCE)
        for role in ("decrypt", "encrypt"):
            consumers[role] = start(consumer(tool, role, key, sign))
            wait_for(STATUS[role])
        # steady state only: the first frames fill the server's monitor queues (new buffers each frame)
        while processed_or_zero(STATUS["encrypt"]) < warm_up and sim.poll() is None:
            time.sleep(0.2)
        for role in consumers if reset else ():
            reset_stats(CONTROL[role])
        cpu_before = {role: tree_cpu(process.pid) for role, process in consumers.items()}
        sim.wait()
        deadline = time.monotonic() + 60
        while processed_or_zero(STATUS["decrypt"]) < n_frames and time.monotonic() < deadline:
            time.sleep(0.5)
        time.sleep(1.5)  # the status refreshes every second
        stats = {role: user_stats(STATUS[role]) for role in consumers}  # since the reset
        processed = {"encrypt": stats["encrypt"]["nEncrypted"], "decrypt": stats["decrypt"]["nDecrypted"]}
        frame_mb = size * size / BYTES_IN_MEGABYTE
        mbps = {role: stats[role]["processingRate"] * frame_mb for role in consumers}
        cpu_ms = {role: (tree_cpu(process.pid) - cpu_before[role]) * 1000 / max(1, processed[role])
                  for role, process in consumers.items()}
        return Result(processed, mbps, cpu_ms)
    finally:
        for process in [*consumers.values(), sim]:
            stop(process)


def in_process(tool: str, size: int, key: Path, sign: bool) -> tuple[float, float]:
    """MB/s of encrypting and decrypting back to back in this process, no PVA: the processors alone."""
    import numpy as np

    if tool == "pvaflow":
        from pvaflow.processors.encryption import AdImageDataDecryptor, AdImageDataEncryptor
    else:  # pvaPy as the peer under comparison (never imported by pvaflow itself)
        from pvapy.hpc.adImageDataDecryptor import AdImageDataDecryptor
        from pvapy.hpc.adImageDataEncryptor import AdImageDataEncryptor
    encryptor = AdImageDataEncryptor({"privateKeyFilePath": str(key), "sign": sign})
    decryptor = AdImageDataDecryptor({"privateKeyFilePath": str(key), "verify": sign})
    encryptor.objectIdField, decryptor.objectIdField = "uniqueId", "objectId"  # what the consumers set
    frames = []
    for image_id in range(1, 5):
        frame = pva.NtNdArray()
        frame["value"] = {"ubyteValue": np.random.default_rng(image_id).integers(0, 255, size * size, np.uint8)}
        frame["uniqueId"] = image_id
        frames.append(frame)
    n_frames = max(8, int(2e8 // (size * size)) if tool == "pvaflow" else int(2e7 // (size * size)))
    encrypted = [encryptor.process(frames[index % 4]) for index in range(4)]  # warm-up
    started = time.perf_counter()
    for index in range(n_frames):
        encrypted[index % 4] = encryptor.process(frames[index % 4])
    encrypting = time.perf_counter() - started
    started = time.perf_counter()
    for index in range(n_frames):
        decryptor.process(encrypted[index % 4])
    decrypting = time.perf_counter() - started
    megabytes = n_frames * size * size / BYTES_IN_MEGABYTE
    return megabytes / encrypting, megabytes / decrypting


def pvapy_available() -> bool:
    return bool(pvapy_tool("pvapy-hpc-consumer")) and all(
        importlib.util.find_spec(module) for module in ("rsa", "Crypto"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="2048,512", help="frame sizes (square, uint8)")
    parser.add_argument("--repeats", type=int, default=1, help="runs per tool and size (the table shows each)")
    parser.add_argument("--sign", action="store_true", help="sign every object and verify it")
    parser.add_argument("--tools", default="pvaflow,pvapy")
    parser.add_argument("--no-reset", action="store_true",
                        help="no warm-up: statistics of the whole run (pvaPy stalled in warm-up runs at 512x512)")
    parser.add_argument("--fps", type=float,
                        help="frames per second for every size, the run as long (default: 10 at 2048, 1000 at 512)")
    parser.add_argument("--in-process", action="store_true",
                        help="only the processors, back to back in this process (no consumers)")
    args = parser.parse_args()
    os.environ.update(loopback_env())
    tools = [tool for tool in args.tools.split(",") if tool != "pvapy" or pvapy_available()]
    if "pvapy" in args.tools and "pvapy" not in tools:
        print("pvaPy rows skipped: pvapy-hpc-consumer, rsa or pycryptodome missing (pip install -e '.[peer]')")
    with tempfile.TemporaryDirectory() as directory:
        key = write_key(Path(directory))
        if args.in_process:
            reuse_freed_buffers()  # as the consumers do (pvaflow.memory); for both tools alike
            print(f"in process, uint8 frames, sign/verify {'on' if args.sign else 'off'}")
            for size in [int(size) for size in args.sizes.split(",")]:
                for tool in tools:
                    encrypting, decrypting = in_process(tool, size, key, args.sign)
                    print(f"{tool:8} {size:4d}x{size:<4d} encrypt {encrypting:6.0f} MB/s  "
                          f"decrypt {decrypting:6.0f} MB/s", flush=True)
            return 0
        print(f"uint8 frames, sign/verify {'on' if args.sign else 'off'}; MB/s of image data in process()")
        print(f"{'tool':8} {'size':>9} {'encrypted':>9} {'decrypted':>9} {'encrypt MB/s':>12} {'decrypt MB/s':>12} "
              f"{'enc CPU ms/frame':>16} {'dec CPU ms/frame':>16}")
        medians: dict[tuple[str, int], tuple[float, float]] = {}
        for size in [int(size) for size in args.sizes.split(",")]:
            for tool in tools:
                results = []
                for _ in range(args.repeats):
                    result = measure(tool, size, key, args.sign, reset=not args.no_reset, fps=args.fps)
                    results.append(result)
                    print(f"{tool:8} {size:4d}x{size:<4d} {result.processed['encrypt']:9d} "
                          f"{result.processed['decrypt']:9d} {result.mbps['encrypt']:12.0f} "
                          f"{result.mbps['decrypt']:12.0f} {result.cpu_ms['encrypt']:16.2f} "
                          f"{result.cpu_ms['decrypt']:16.2f}", flush=True)
                medians[tool, size] = (statistics.median(r.mbps["encrypt"] for r in results),
                                       statistics.median(r.mbps["decrypt"] for r in results))
        for size in {size for _, size in medians}:
            if ("pvaflow", size) in medians and ("pvapy", size) in medians:
                ours, theirs = medians["pvaflow", size], medians["pvapy", size]
                if not all(theirs):  # pvaPy processed nothing after the reset (seen at 512x512: use --no-reset)
                    print(f"{size}x{size}: no ratio, pvaPy reported no processing (try --no-reset)")
                    continue
                print(f"{size}x{size}: pvaflow / pvaPy = {ours[0] / theirs[0]:.1f}x encrypting, "
                      f"{ours[1] / theirs[1]:.1f}x decrypting")
    return 0


if __name__ == "__main__":
    sys.exit(main())
