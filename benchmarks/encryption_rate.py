"""Encryption throughput through consumers: pvaflow's AdImageDataEncryptor/Decryptor vs pvaPy's, side by side.

For each tool and frame size the sim-server publishes uint8 frames; an
encryptor consumer publishes encrypted objects and a decryptor consumer
(``--oid-field objectId``) turns them back. Each processor reports its
processing rate (objects per second of time spent in ``process()``,
publishing included, as pvaPy measures it); the table gives that as MB/s
of image data, plus each consumer's whole CPU time per frame (receive,
process, publish). pvaPy's processors need the ``rsa`` and
``pycryptodome`` packages (``pip install -e '.[peer]'``); without them its
rows are skipped. Loopback only.

    .venv/bin/python benchmarks/encryption_rate.py                 # 2048x2048 and 512x512, both tools
    .venv/bin/python benchmarks/encryption_rate.py --repeats 3 --sign
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

SOURCE = "bench:image"
ENCRYPTED = "bench:encrypted"
STATUS = {"encrypt": "bench:status:1", "decrypt": "bench:status:2"}
BYTES_IN_MEGABYTE = 1000000
# size -> (frames per second, frames): pvaPy's encryptor needs ~50 ms for a 4 MB frame
SIZES = {2048: (10, 60), 512: (100, 400)}
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
    args += ["-pa", json.dumps(config), "-sc", STATUS[role], "-sqs", "50", "-rqs", "500", "-dc"]
    if tool == "pvaflow":
        return [sys.executable, "-m", "pvaflow", "consumer", *args]
    return [pvapy_tool("pvapy-hpc-consumer"), *args]


def processing_rate(status_channel: str) -> float:
    channel = pva.Channel(status_channel)
    channel.setTimeout(5)
    return float(channel.get("field(userStats)")["userStats"]["processingRate"])


def measure(tool: str, size: int, key: Path, sign: bool) -> Result:
    fps, n_frames = SIZES[size]
    sim = start([sys.executable, "-m", "pvaflow", "sim-server", "-cn", SOURCE, "-nx", str(size), "-ny", str(size),
                 "-dt", "uint8", "-fps", str(fps), "-nf", str(n_frames), "-cs", "20", "-std", "8", "-shd", "3",
                 "-rp", "0", "-dc"])
    consumers: dict[str, object] = {}
    try:
        wait_for(SOURCE)
        for role in ("decrypt", "encrypt"):
            consumers[role] = start(consumer(tool, role, key, sign))
            wait_for(STATUS[role])
        cpu_before = {role: tree_cpu(process.pid) for role, process in consumers.items()}
        sim.wait()
        deadline = time.monotonic() + 60
        while processed_count(STATUS["decrypt"]) < n_frames and time.monotonic() < deadline:
            time.sleep(0.5)
        time.sleep(1.5)  # the status refreshes every second
        processed = {role: processed_count(STATUS[role]) for role in consumers}
        frame_mb = size * size / BYTES_IN_MEGABYTE
        mbps = {role: processing_rate(STATUS[role]) * frame_mb for role in consumers}
        cpu_ms = {role: (tree_cpu(process.pid) - cpu_before[role]) * 1000 / max(1, processed[role])
                  for role, process in consumers.items()}
        return Result(processed, mbps, cpu_ms)
    finally:
        for process in [*consumers.values(), sim]:
            stop(process)


def pvapy_available() -> bool:
    return bool(pvapy_tool("pvapy-hpc-consumer")) and all(
        importlib.util.find_spec(module) for module in ("rsa", "Crypto"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="2048,512", help="frame sizes (square, uint8)")
    parser.add_argument("--repeats", type=int, default=1, help="runs per tool and size (the table shows each)")
    parser.add_argument("--sign", action="store_true", help="sign every object and verify it")
    parser.add_argument("--tools", default="pvaflow,pvapy")
    args = parser.parse_args()
    os.environ.update(loopback_env())
    tools = [tool for tool in args.tools.split(",") if tool != "pvapy" or pvapy_available()]
    if "pvapy" in args.tools and "pvapy" not in tools:
        print("pvaPy rows skipped: pvapy-hpc-consumer, rsa or pycryptodome missing (pip install -e '.[peer]')")
    with tempfile.TemporaryDirectory() as directory:
        key = write_key(Path(directory))
        print(f"uint8 frames, sign/verify {'on' if args.sign else 'off'}; MB/s of image data in process()")
        print(f"{'tool':8} {'size':>9} {'encrypted':>9} {'decrypted':>9} {'encrypt MB/s':>12} {'decrypt MB/s':>12} "
              f"{'enc CPU ms/frame':>16} {'dec CPU ms/frame':>16}")
        medians: dict[tuple[str, int], tuple[float, float]] = {}
        for size in [int(size) for size in args.sizes.split(",")]:
            for tool in tools:
                results = []
                for _ in range(args.repeats):
                    result = measure(tool, size, key, args.sign)
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
                print(f"{size}x{size}: pvaflow / pvaPy = {ours[0] / theirs[0]:.1f}x encrypting, "
                      f"{ours[1] / theirs[1]:.1f}x decrypting")
    return 0


if __name__ == "__main__":
    sys.exit(main())
