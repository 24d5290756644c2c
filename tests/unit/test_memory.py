"""Freed frame buffers are reused: a frame-sized loop page-faults far less with the malloc thresholds raised."""

from __future__ import annotations

import subprocess
import sys

import pytest

from pvaflow.memory import reuse_freed_buffers

pytestmark = pytest.mark.timeout(60)

# encrypt-like work per frame: read a received 4 MB frame, write a new 4 MB buffer, copy it into a new PvObject
LOOP = """
import resource, sys, numpy as np, pvaccess as pva
from pvaflow.memory import reuse_freed_buffers
if sys.argv[1] == "reuse":
    assert reuse_freed_buffers()
frames = [pva.PvObject({"data": [pva.UBYTE]}, {"data": np.full(4 << 20, i, dtype=np.uint8)}) for i in range(4)]
template = pva.PvObject({"data": [pva.UBYTE], "id": pva.INT}, {})
for i in range(40):
    if i == 10:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    output = np.bitwise_xor(frames[i % 4].toDict()["data"], 0x5A)
    published = template.copy()
    published.set({"data": output, "id": i})
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 30)
"""


def faults_per_frame(mode: str) -> float:
    result = subprocess.run([sys.executable, "-c", LOOP, mode], capture_output=True, text=True, timeout=50, check=True)
    return float(result.stdout)


def test_raising_the_thresholds_works_here() -> None:
    assert reuse_freed_buffers() is True  # glibc, as on every supported system


def test_a_frame_loop_page_faults_far_less_with_reuse() -> None:
    default, reuse = faults_per_frame("default"), faults_per_frame("reuse")
    assert reuse < default / 4, f"{reuse:.0f} vs {default:.0f} page faults per 4 MB frame"
