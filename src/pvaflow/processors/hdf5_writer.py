"""Hdf5AdImageWriter: many frames per HDF5 file, one frame per chunk.

    pvaflow consumer -ic pvapy:image -pc Hdf5AdImageWriter \\
        -pa '{"outputDirectory": "/data/scan1", "nImagesPerFile": 500, "compression": "lzf"}'

Config keys, beside those of :mod:`pvaflow.processors.file_output` (the
name format may also use ``outputFileId``, the file's number from 1):

- ``nImagesPerFile`` (1000): frames per file; the file is closed and a new
  one started after that many, on ``configure()``, and when the image
  geometry, dtype or colour mode changes;
- ``datasetName`` ("images"); ``compression``: none (default), "gzip" or
  "lzf" (filters h5py ships); ``compressionLevel`` for gzip (0-9, default 4).

``nBytesSaved`` counts image bytes as received (before compression), so
``dataStorageRateMBps`` is the image data rate the writer sustains.

File layout (readable by h5py and h5dump)::

    /<datasetName>      (n, ny, nx) or (n, ny, nx, 3), chunks of one frame
    /uniqueId           (n,) int64
    /timeStamp          (n,) float64, seconds since the epoch
    /dataTimeStamp      (n,) float64
    /attributes/<name>  (n,) one per NTNDArray attribute: int64, float64 or string
    file attributes: colorMode, nImages

Uncompressed frames go to disk with ``write_direct_chunk`` (no HDF5 filter
pipeline, no copy). The file is written under a temporary name and renamed
when closed: a killed process never leaves a truncated file under the
final name.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pvaccess as pva

from .. import ntnd
from ..config_values import checked_int
from ..errors import ConfigError
from ..files.atomic import discard, partial_name
from ..files.naming import FRAME_FIELDS
from .file_output import FileOutputProcessor

COMPRESSIONS = (None, "gzip", "lzf")
ATTRIBUTE_GROUP = "attributes"


def _h5py() -> Any:
    try:
        import h5py
    except ImportError:
        raise ConfigError("Hdf5AdImageWriter needs the h5py package: pip install 'pvaflow[files]'") from None
    return h5py


class OpenFile:
    """One HDF5 file being filled: datasets sized for ``capacity`` frames, shrunk on close."""

    def __init__(self, path: Path, capacity: int, image: np.ndarray, color_mode: int, settings: dict) -> None:
        h5py = _h5py()
        self.path = path
        self.partial = partial_name(path)
        self.capacity = capacity
        self.count = 0
        self.kind = (image.shape, image.dtype, color_mode)
        self.direct = settings["compression"] is None
        self.file = h5py.File(self.partial, "w-")  # created, never truncated (see files.atomic)
        try:
            options: dict[str, Any] = {}
            if not self.direct:
                options["compression"] = settings["compression"]
                if settings["compression"] == "gzip":
                    options["compression_opts"] = settings["compressionLevel"]
            self.images = self.file.create_dataset(
                settings["datasetName"], shape=(capacity, *image.shape), maxshape=(None, *image.shape),
                dtype=image.dtype, chunks=(1, *image.shape), **options,
            )
            self.ids = self.file.create_dataset("uniqueId", shape=(capacity,), maxshape=(None,), dtype="int64")
            self.stamps = {
                name: self.file.create_dataset(name, shape=(capacity,), maxshape=(None,), dtype="float64")
                for name in ("timeStamp", "dataTimeStamp")
            }
            self.attributes = self.file.create_group(ATTRIBUTE_GROUP)
            self.file.attrs["colorMode"] = color_mode
        except BaseException:
            self.abandon()
            raise

    def append(self, frame_id: int, image: np.ndarray, pvObject: pva.PvObject) -> None:  # noqa: N803
        index = self.count
        if self.direct:
            self.images.id.write_direct_chunk((index,) + (0,) * image.ndim, np.ascontiguousarray(image))
        else:
            self.images[index] = image
        self.ids[index] = frame_id
        for name, dataset in self.stamps.items():
            stamp = pvObject[name]
            dataset[index] = ntnd.seconds(stamp)
        for name, value in ntnd.attribute_values(pvObject).items():
            self.store_attribute(name, index, value)
        self.count += 1

    def store_attribute(self, name: str, index: int, value: Any) -> None:
        if value is None or "/" in name:
            return
        dataset = self.attributes.get(name)
        if dataset is None:
            if isinstance(value, str):
                dtype: Any = _h5py().string_dtype()
            elif isinstance(value, (bool, int, np.integer)):
                dtype = "int64"
            else:
                dtype = "float64"
            dataset = self.attributes.create_dataset(name, shape=(self.capacity,), maxshape=(None,), dtype=dtype)
        try:
            dataset[index] = value
        except (TypeError, ValueError):
            pass  # a value of another type than the attribute's first one: left at the fill value

    @property
    def full(self) -> bool:
        return self.count >= self.capacity

    def close(self) -> None:
        """Shrink to the frames written, close, rename to the final name."""
        try:
            for dataset in (self.images, self.ids, *self.stamps.values(), *self.attributes.values()):
                dataset.resize(self.count, axis=0)
            self.file.attrs["nImages"] = self.count
            self.file.close()
            os.replace(self.partial, self.path)
        except BaseException:
            self.abandon()
            raise

    def abandon(self) -> None:
        try:
            self.file.close()
        except Exception:  # noqa: BLE001 (already closed, or the disk is gone)
            pass
        discard(self.partial)


class Hdf5AdImageWriter(FileOutputProcessor):
    """Writes Area Detector frames into HDF5 files of ``nImagesPerFile`` frames each."""

    DEFAULT_OUTPUT_FILE_NAME_FORMAT = "{outputFileId:06}.{processorId}.h5"
    MISSED_STAT = "nMissedFrames"
    NAME_FIELDS = FRAME_FIELDS | {"outputFileId"}

    def __init__(self, configDict: dict[str, Any] | None = None) -> None:  # noqa: N803
        self.settings: dict[str, Any] = {
            "nImagesPerFile": 1000, "datasetName": "images", "compression": None, "compressionLevel": 4,
        }
        self.open_file: OpenFile | None = None
        self.outputFileId = 0
        super().__init__(configDict)

    def configure(self, configDict: dict[str, Any]) -> None:  # noqa: N803
        settings = dict(self.settings)
        settings.update({key: configDict[key] for key in settings if key in configDict})
        checked_int("nImagesPerFile", settings["nImagesPerFile"], 1)
        if not isinstance(settings["datasetName"], str) or settings["datasetName"].strip("/") in (
            "", "uniqueId", "timeStamp", "dataTimeStamp", ATTRIBUTE_GROUP
        ):
            raise ConfigError(f"datasetName {settings['datasetName']!r} is empty or taken by another dataset")
        if settings["compression"] not in COMPRESSIONS:
            raise ConfigError(f"compression must be one of {COMPRESSIONS}, not {settings['compression']!r}")
        checked_int("compressionLevel", settings["compressionLevel"], 0, 9)
        super().configure(configDict)
        self.close_file()  # new settings start a new file
        self.settings = settings

    def check_name(self, sample_name: str) -> None:
        if Path(sample_name).suffix.lower() not in (".h5", ".hdf", ".hdf5", ".nxs"):
            raise ConfigError(f"HDF5 file names end in .h5, .hdf, .hdf5 or .nxs, not {sample_name!r}")

    def save(self, frame_id: int, image: np.ndarray, color_mode: int, pvObject: pva.PvObject) -> int:  # noqa: N803
        current = self.open_file
        if current is not None and current.kind != (image.shape, image.dtype, color_mode):
            self.close_file()  # the geometry, dtype or colour mode changed: a new file
            current = None
        if current is None:
            path = self.path_for(frame_id, pvObject, outputFileId=self.outputFileId + 1)
            self.outputFileId += 1
            current = self.open_file = OpenFile(path, self.settings["nImagesPerFile"], image, color_mode,
                                                self.settings)
        try:
            current.append(frame_id, image, pvObject)
        except BaseException:
            try:
                self.close_file()  # keeps the frames written so far under the final name
            except Exception as ex:  # noqa: BLE001 (the original error is the one to report)
                self.logger.error("cannot keep %s after a write error: %s", current.path, ex)
            raise
        if current.full:
            self.close_file()
        return image.nbytes

    def close_file(self) -> None:
        """Close the open file (if any) under its final name; an empty one is discarded."""
        current, self.open_file = self.open_file, None
        if current is None:
            return
        if current.count == 0:
            current.abandon()
            return
        current.close()
        self.nFilesSaved += 1
        self.lastFileProcessedTime = time.time()

    def stop(self) -> None:
        self.close_file()
