"""Every example runs: the demos (frames arriving in order; a pipeline writing files) and the processors."""

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


def test_make_demo_pipeline_writes_every_frame_to_files(tmp_path: Path) -> None:
    """examples/demo_pipeline.py (make demo) runs examples/pipelines/chain_to_files.toml end to end."""
    import json

    result = subprocess.run([sys.executable, str(EXAMPLES / "demo_pipeline.py"), "--output", str(tmp_path)],
                            capture_output=True, text=True, timeout=80)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "every frame reached the files" in result.stdout
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["sourceFrames"] == summary["lastStageFrames"] == 100
    assert all(stage["nMissed"] == 0 and stage["nErrors"] == 0 for stage in summary["stages"].values())
    assert summary["stages"]["files"]["userStats"]["nFilesSaved"] == 100
    assert len(list((tmp_path / "pipeline-output" / "frames").glob("frame_*.tiff"))) == 100


def test_threshold_example_processor_in_a_consumer(start_process, wait_for_channel, tmp_path) -> None:
    import numpy as np

    from .helpers import Recorder, control, get, start_frames

    stack = np.arange(10 * 4 * 5, dtype=np.uint8).reshape(10, 4, 5)
    np.save(tmp_path / "frames.npy", stack)
    server = start_process("sim-server", "-cn", "ex:image", "-if", str(tmp_path / "frames.npy"), "-cs", "5",
                           "-fps", "20", "-sos", "-std", "60", "-shd", "2", "-rp", "0", "-dc")
    wait_for_channel("ex:image", server)
    consumer = start_process("consumer", "-ic", "ex:image", "-pf", str(EXAMPLES / "threshold_processor.py"),
                             "-pc", "Threshold", "-pa", '{"level": 100}', "-oc", "ex:out", "-cc", "ex:control",
                             "-sc", "ex:status", "-dc")
    wait_for_channel("ex:control", consumer)
    assert control("ex:control", "configure", '{"level": 150}') == "Configuration successful"
    output = Recorder("ex:out")
    start_frames(server, "ex:status")
    assert server.wait(40) == 0
    assert output.wait_for(10) == list(range(1, 11))
    for image_id, mask, _ in output.stop():
        np.testing.assert_array_equal(mask, (stack[image_id - 1] > 150).astype(np.uint8))
    assert get("ex:status")["userStats"]["level"] == 150
