"""A processor for benchmarks/file_write.py: appends every frame's bytes to one file, as dd would.

It runs in the same consumer, under the same stream, as the real writers, so
its ``dataStorageRateMBps`` is the raw disk speed a writer can reach there.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pvaccess as pva

from pvaflow import AdImageProcessor
from pvaflow.files.pieces import PiecewiseFile


class RawFrameWriter(AdImageProcessor):
    def __init__(self, configDict: dict[str, Any] | None = None) -> None:  # noqa: N803
        super().__init__(configDict)
        directory = Path((configDict or {})["outputDirectory"])
        directory.mkdir(parents=True, exist_ok=True)
        self.file = PiecewiseFile(directory / "frames.raw", "w")  # 256 kB per write() call, as the writers do
        self.nBytesSaved = 0
        self.seconds = 0.0

    def process(self, pvObject: pva.PvObject) -> pva.PvObject:  # noqa: N803
        image = self.reshapeNtNdArray(pvObject)[1]
        started = time.perf_counter()
        self.file.write(image.data if image.flags.c_contiguous else image.tobytes())
        self.seconds += time.perf_counter() - started
        self.nBytesSaved += image.nbytes
        return pvObject

    def stop(self) -> None:
        self.file.close()

    def getStats(self) -> dict[str, Any]:  # noqa: N802
        rate = self.nBytesSaved / self.seconds / 1e6 if self.seconds > 0 else 0.0
        return {"nBytesSaved": self.nBytesSaved, "dataStorageRateMBps": rate}

    def getStatsPvaTypes(self) -> dict[str, Any]:  # noqa: N802
        return {"nBytesSaved": pva.ULONG, "dataStorageRateMBps": pva.DOUBLE}
