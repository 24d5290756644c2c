"""The screenshots of pvaflow view in docs/images, made again: a pipeline run with --view, and the viewer of
one image channel and one status channel, each shown in headless Chromium (loopback only).

    .venv/bin/python scripts/view_screenshots.py            # writes docs/images/view-*.png
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the tests' browser launcher

from tests.system.browser import page_value, start_chromium, url_from  # noqa: E402

from pvaflow.loopback import loopback_env, server_env  # noqa: E402

os.environ.update(loopback_env())

PIPELINE = """
    [pipeline]
    name = "beamline"

    [stages.detector]
    kind = "sim-server"
    input-file = "rings.npy"
    frame-rate = 20
    runtime = 600

    [stages.workers]
    kind = "consumer"
    reads = "detector"
    n-consumers = 2
    distributor-updates = "1"
    distributor-trigger = "uniqueId"

    [stages.ordered]
    kind = "collector"
    reads = "workers"
"""


def rings(frames: int = 8, size: int = 512) -> np.ndarray:
    """Powder rings and a few Bragg spots on a noisy background, drifting a little from frame to frame."""
    rng = np.random.default_rng(3)
    y, x = np.mgrid[:size, :size].astype(np.float32)
    stack = []
    for index in range(frames):
        cx, cy = size * 0.52 + 2 * index, size * 0.47 - index
        radius = np.hypot(x - cx, y - cy)
        image = 40 + 900 * np.exp(-radius / 60)
        for ring, width, height in ((90, 3.0, 500), (150, 4.0, 350), (205, 3.5, 260), (240, 5.0, 150)):
            image += height * np.exp(-((radius - ring) / width) ** 2)
        for sx, sy in rng.uniform(40, size - 40, (12, 2)):
            image += 2500 * np.exp(-((x - sx) ** 2 + (y - sy) ** 2) / 8)
        stack.append(rng.poisson(image).astype(np.uint16))
    return np.stack(stack)


def start(*args: str, cwd: Path, log: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "pvaflow", *args], cwd=cwd, env=server_env(dict(os.environ)),
                            stdout=log.open("w"), stderr=subprocess.STDOUT)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    parser.add_argument("--history", type=float, default=40, help="seconds of rates in the plot (default 40)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        np.save(work / "rings.npy", rings())
        (work / "beamline.toml").write_text(textwrap.dedent(PIPELINE))
        runner = start("run", "beamline.toml", "--view", "127.0.0.1:0", "--allow-control", "--colormap", "inferno",
                       cwd=work, log=work / "run.log")
        viewer = None
        driver = start_chromium(work / "profile", work / "chromedriver.log", 1400, 1250)
        try:
            driver.get(url_from((work / "run.log").read_text, 60))
            page_value(driver, "window.pvaflowView.pipeline && window.pvaflowView.pipeline.rows[2].counts && "
                       "window.pvaflowView.pipeline.rows[2].counts.processed > 0", bool, 60)
            time.sleep(args.history)  # the rate plot fills
            driver.find_element("css selector", 'button[data-channel="beamline:ordered:output"]').click()
            page_value(driver, "(window.pvaflowView.frames['beamline:ordered:output'] || {drawn: 0}).drawn",
                       lambda drawn: drawn >= 3)
            driver.save_screenshot(str(args.out / "view-pipeline.png"))

            viewer = start("view", "beamline:detector:image", "beamline:workers:1:status", "--bind", "127.0.0.1:0",
                           "--allow-control", "--colormap", "viridis", cwd=work, log=work / "view.log")
            driver.get(url_from((work / "view.log").read_text, 60))
            page_value(driver, "(window.pvaflowView.frames['beamline:detector:image'] || {drawn: 0}).drawn >= 3 && "
                       "!!document.querySelector('table[data-section=processorStats]')", bool)
            time.sleep(2)
            driver.save_screenshot(str(args.out / "view-image.png"))
        finally:
            driver.quit()
            for process in (viewer, runner):
                if process is not None:
                    process.send_signal(2)
                    process.wait(30)
    print(f"wrote {args.out / 'view-pipeline.png'} and {args.out / 'view-image.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
