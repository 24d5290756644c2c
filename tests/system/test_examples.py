"""Every example runs: the demo streams frames and reports that all arrived in order."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

pytestmark = [pytest.mark.system, pytest.mark.timeout(90)]


def test_demo_streams_every_frame() -> None:
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "demo.py"), "--runtime", "2", "--fps", "50", "--size", "64"],
        capture_output=True, text=True, timeout=80,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "every frame arrived in order" in result.stdout
