"""pvaflow demo: run a whole pipeline (source -> threshold -> TIFF files) with one command.

``make demo`` runs this: ``pvaflow run examples/pipelines/chain_to_files.toml``
in ``demo-output/`` with all EPICS traffic on 127.0.0.1 (the loopback
variables are set here for the runner and every stage it starts). It leaves
the frames in ``demo-output/pipeline-output/frames/`` and the figures in
``demo-output/summary.json``, and exits 0 when every frame reached the files.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from pvaflow.loopback import loopback_env

PIPELINE = Path(__file__).resolve().parent / "pipelines" / "chain_to_files.toml"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=Path("demo-output"), help="directory (default: demo-output)")
    args = parser.parse_args()
    args.output.mkdir(parents=True, exist_ok=True)
    summary_path = args.output / "summary.json"
    summary_path.unlink(missing_ok=True)
    for old in (args.output / "pipeline-output" / "frames").glob("frame_*.tiff"):
        old.unlink()
    env = dict(os.environ, **loopback_env())
    code = subprocess.run([sys.executable, "-m", "pvaflow", "run", str(PIPELINE), "--summary", "summary.json"],
                          cwd=args.output, env=env).returncode
    if code != 0 or not summary_path.exists():
        print(f"demo failed: pvaflow run exited with {code}")
        return 1
    summary = json.loads(summary_path.read_text())
    files = sorted((args.output / "pipeline-output" / "frames").glob("frame_*.tiff"))
    ok = summary["sourceFrames"] == summary["lastStageFrames"] == len(files) > 0
    print(f"source frames: {summary['sourceFrames']}, frames written: {len(files)} "
          f"(in {files[0].parent if files else args.output}), summary: {summary_path}")
    print("demo done: every frame reached the files" if ok else "demo done: frames were missed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
