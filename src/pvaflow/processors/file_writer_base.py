"""What the file-writing processors share: directory and name configuration, accounting, stats.

Config keys (all changeable at runtime through ``configure()``):

- ``outputDirectory``: where files go (created if missing);
- ``outputFileNameFormat``: a Python format with the fields ``uniqueId``,
  ``frameId``, ``objectId`` (all the frame's id), ``processorId`` and any
  NTNDArray attribute name; the names it gives must stay inside the
  directory (absolute paths and ``..`` are refused);
- ``objectIdOffset``: id step between consecutive frames of this processor,
  for counting missed frames (ids skipped in the input; default 1);
- ``ifFileExists``: what to do when a file's name is taken already:
  ``suffix`` (default: write it as ``NAME_002.EXT``, ``NAME_003.EXT``, ...),
  ``error`` (count the frame as an error) or ``overwrite``
  (:mod:`pvaflow.files.placing`). No existing file is replaced otherwise.

Files being written are hidden ``.NAME.RANDOM.partial`` files until complete.
Such files found in the output directory when the first frame is written
were left by a writer that was killed: they are reported (a warning, and
``nLeftoverPartialFiles``) and kept.

A write that fails (disk full, permission denied, a name field the frame
lacks) is counted in ``nErrors`` and raised as one line for the host to log
and count; the next frame is written as soon as the disk has room again.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pvaccess as pva

from .. import ntnd
from ..accounting import MissedObjects
from ..ad_image_processor import AdImageProcessor
from ..config_values import checked_int
from ..errors import ConfigError
from ..files.naming import FRAME_FIELDS, check_name_format, field_names, file_path
from ..files.placing import DEFAULT_IF_FILE_EXISTS, Placer, check_if_file_exists, leftover_partials
from .counted_stats import CountedStats


class FileOutputProcessor(CountedStats, AdImageProcessor):
    """Base of the file writers; subclasses implement ``save()`` and may check names in ``check_name()``."""

    BYTES_IN_MEGABYTE = 1000000
    DEFAULT_OUTPUT_DIRECTORY = "."
    DEFAULT_OUTPUT_FILE_NAME_FORMAT = "{uniqueId:06}.{processorId}.tiff"
    MISSED_STAT = "nMissedFiles"  # the stats name of frames missed in the input
    NAME_FIELDS = FRAME_FIELDS  # fields the host fills in; other names are NTNDArray attributes
    COUNTERS: ClassVar[dict[str, Any]] = {
        "nFilesSaved": pva.UINT,
        "nFilesReplaced": pva.UINT,
        "nBytesSaved": pva.ULONG,
        "nErrors": pva.UINT,
        "fileProcessingTime": pva.DOUBLE,
        "lastFileProcessedTime": pva.DOUBLE,
        "lastFrameProcessedTime": pva.DOUBLE,
    }

    def __init__(self, configDict: dict[str, Any] | None = None) -> None:  # noqa: N803
        super().__init__(configDict)
        self.outputDirectory = self.DEFAULT_OUTPUT_DIRECTORY
        self.outputFileNameFormat = self.DEFAULT_OUTPUT_FILE_NAME_FORMAT
        self.objectIdOffset = 1
        self.ifFileExists = DEFAULT_IF_FILE_EXISTS
        self.placer = Placer(self.ifFileExists)
        self.directories_checked: set[str] = set()  # output directories looked at for leftover partial files
        self.nLeftoverPartialFiles = 0
        self.needs_attributes = False
        self.missed = MissedObjects()
        self.resetStats()
        self.configure(dict(configDict or {}))

    # --- configuration ------------------------------------------------------
    def configure(self, configDict: dict[str, Any]) -> None:  # noqa: N803
        """Check every given key first, then apply them together (a bad value changes nothing)."""
        directory = configDict.get("outputDirectory", self.outputDirectory)
        if not isinstance(directory, str) or not directory:
            raise ConfigError(f"outputDirectory must be a non-empty string, not {directory!r}")
        name_format = configDict.get("outputFileNameFormat", self.outputFileNameFormat)
        self.check_name(check_name_format(name_format))
        offset = checked_int("objectIdOffset", configDict.get("objectIdOffset", self.objectIdOffset), 1)
        if_exists = check_if_file_exists(configDict.get("ifFileExists", self.ifFileExists))
        if if_exists != self.ifFileExists:
            self.ifFileExists, self.placer = if_exists, Placer(if_exists)
        self.outputDirectory = directory
        self.outputFileNameFormat = name_format
        self.needs_attributes = bool(field_names(name_format) - self.NAME_FIELDS)
        if offset != self.objectIdOffset:
            self.objectIdOffset = offset
            self.missed.configure(offset)

    def check_name(self, sample_name: str) -> None:
        """ConfigError if files named like ``sample_name`` cannot be written (subclasses: the extension)."""

    def path_for(self, frame_id: int, pvObject: pva.PvObject, **fields: Any) -> Path:  # noqa: N803
        """The file for a frame: the name format filled with the frame's id, attributes and ``fields``."""
        values = ntnd.attribute_values(pvObject) if self.needs_attributes else {}
        values.update(uniqueId=frame_id, frameId=frame_id, objectId=frame_id, processorId=self.processorId, **fields)
        try:
            path = file_path(Path(self.outputDirectory), self.outputFileNameFormat, values)
        except KeyError as ex:
            raise ConfigError(f"outputFileNameFormat needs {ex.args[0]!r}, which frame {frame_id} lacks") from None
        if str(path.parent) not in self.directories_checked:
            self.report_leftovers(path.parent)
        return path

    def report_leftovers(self, directory: Path) -> None:
        """Warn once per directory about partial files a killed writer left there; they are kept."""
        self.directories_checked.add(str(directory))
        leftovers = leftover_partials(directory)
        if leftovers:
            self.nLeftoverPartialFiles += len(leftovers)
            self.logger.warning("%d partial file(s) left in %s by a writer that did not end cleanly, kept: %s%s",
                                len(leftovers), directory, ", ".join(path.name for path in leftovers[:5]),
                                " ..." if len(leftovers) > 5 else "")

    # --- processing ---------------------------------------------------------
    def process(self, pvObject: pva.PvObject) -> pva.PvObject:  # noqa: N803
        started = time.perf_counter()
        frame_id, image, _, _, _, color_mode, _ = self.reshapeNtNdArray(pvObject)
        if image is None:
            return pvObject
        self.nMissed += self.missed.observe(frame_id)
        try:
            self.nBytesSaved += self.save(frame_id, image, color_mode, pvObject)
        except Exception:
            self.nErrors += 1  # any frame not written; the host logs the error once per kind
            raise
        finally:
            self.fileProcessingTime += time.perf_counter() - started
            self.lastFrameProcessedTime = time.time()
        self.updateOutputChannel(pvObject)
        return pvObject

    def save(self, frame_id: int, image: np.ndarray, color_mode: int, pvObject: pva.PvObject) -> int:  # noqa: N803
        """Write one frame; the number of bytes that reached files."""
        raise NotImplementedError

    # --- statistics ---------------------------------------------------------
    def reset_derived(self) -> None:
        self.nMissed = 0  # reported as MISSED_STAT
        self.missed.reset()

    def derived_stats(self) -> dict[str, Any]:
        seconds = self.fileProcessingTime
        return {
            "nLeftoverPartialFiles": self.nLeftoverPartialFiles,  # found at start: not reset
            self.MISSED_STAT: self.nMissed,
            "fileProcessingRate": (self.nFilesSaved + self.nFilesReplaced) / seconds if seconds > 0 else 0.0,
            "dataStorageRateMBps": self.nBytesSaved / seconds / self.BYTES_IN_MEGABYTE if seconds > 0 else 0.0,
        }

    def derived_types(self) -> dict[str, Any]:
        return {"nLeftoverPartialFiles": pva.UINT, self.MISSED_STAT: pva.UINT, "fileProcessingRate": pva.DOUBLE,
                "dataStorageRateMBps": pva.DOUBLE}
