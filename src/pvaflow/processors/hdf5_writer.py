"""Hdf5AdImageWriter: many frames per HDF5 file, one frame per chunk.

    pvaflow consumer -ic pvapy:image -pc Hdf5AdImageWriter \\
        -pa '{"outputDirectory": "/data/scan1", "nImagesPerFile": 500, "compression": "lzf"}'

Config keys, beside those of :mod:`pvaflow.processors.file_writer_base` (the
name format may also use ``outputFileId``, the file's number from 1):

- ``nImagesPerFile`` (1000): frames per file; the file is closed and a new
  one started after that many, on a ``configure()`` that changes the
  directory, the name format or a setting of the file's layout (other keys
  leave the open file open), and when the image geometry, dtype or colour
  mode changes;
- ``datasetName`` ("images"); ``compression``: none (default), "gzip" or
  "lzf" (filters h5py ships); ``compressionLevel`` for gzip (0-9, default 4);
- ``flushPeriod`` (5): seconds between flushes of the open file (0: only
  when it is closed). A writer that is killed loses at most the frames it
  wrote since the last flush: the open file's hidden partial file holds
  every frame up to that flush and opens with h5py (its ``nImages``
  attribute and the datasets' length say how many).

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
pipeline, no copy), through h5py's file-object driver onto a file that
writes in 256 kB pieces (:mod:`pvaflow.files.pieces`); the per-frame values
(ids, time stamps, attributes) are kept in memory and written at each flush
and when the file is closed. The file is written under a temporary name and
gets its final name when closed (never replacing an existing file unless
``ifFileExists`` is ``overwrite``): a killed process never leaves a
truncated file under a final name.

Between flushes HDF5 keeps its metadata in memory and only image chunks are
written (past the end of file the last flush recorded), so the file on disk
stays as the last flush left it.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pvaccess as pva

from .. import ntnd
from ..config_values import checked_int, checked_number
from ..errors import ConfigError, FramesLostError
from ..files.atomic import create_exclusive, discard, partial_name
from ..files.naming import FRAME_FIELDS
from ..files.placing import Placer
from .file_writer_base import FileOutputProcessor

COMPRESSIONS = (None, "gzip", "lzf")
FILE_SETTINGS = ("nImagesPerFile", "datasetName", "compression", "compressionLevel")  # a change starts a new file
STAMP_FIELDS = ("timeStamp", "dataTimeStamp")
ATTRIBUTE_GROUP = "attributes"


def _h5py() -> Any:
    try:
        import h5py
    except ImportError:
        raise ConfigError("Hdf5AdImageWriter needs the h5py package: pip install 'pvaflow[files]'") from None
    return h5py


class Column:
    """One value per frame, kept in memory until the file is closed; typed by its first value."""

    def __init__(self, values: np.ndarray, accepts: tuple[type, ...]) -> None:
        self.values = values
        self.accepts = accepts

    @classmethod
    def of(cls, first: Any, capacity: int) -> Column:
        if isinstance(first, str):
            return cls(np.full(capacity, "", dtype=object), (str,))
        if isinstance(first, (bool, int, np.integer)):
            return cls(np.zeros(capacity, dtype=np.int64), (bool, int, np.integer))
        return cls(np.zeros(capacity, dtype=np.float64), (bool, int, float, np.integer, np.floating))

    def set(self, index: int, value: Any) -> None:
        """A value of another type than the first one, or out of int64's range, is left at the fill value
        (0 or "")."""
        if isinstance(value, self.accepts):
            try:
                self.values[index] = value
            except OverflowError:
                pass

    def write(self, group: Any, name: str, start: int, count: int) -> None:
        """Write the values from ``start`` up to ``count`` (all of them into a new dataset)."""
        dataset = group.get(name)
        if dataset is None:
            dtype = _h5py().string_dtype() if self.values.dtype == object else self.values.dtype
            group.create_dataset(name, data=self.values[:count], dtype=dtype, maxshape=(None,))
            return
        start = min(start, dataset.shape[0])
        dataset.resize((count,))
        dataset[start:count] = self.values[start:count]


class OpenFile:
    """One HDF5 file being filled: datasets sized for ``capacity`` frames, shrunk on close."""

    def __init__(self, path: Path, capacity: int, image: np.ndarray, color_mode: int, settings: dict) -> None:
        h5py = _h5py()
        self.path = path
        self.partial = partial_name(path)
        self.capacity = capacity
        self.count = 0
        self.flushed = 0  # frames in the file as the last flush left it
        self.kind = (image.shape, image.dtype, color_mode)
        self.frame_bytes = image.nbytes
        self.direct = settings["compression"] is None
        # created exclusively, never truncated (see files.atomic); HDF5 writes through the handle (h5py's
        # file-object driver), so a frame reaches the kernel in pieces (files.pieces)
        self.handle = create_exclusive(self.partial)
        self.file: Any = None
        try:
            self.file = h5py.File(self.handle, "w")
            options: dict[str, Any] = {}
            if not self.direct:
                options["compression"] = settings["compression"]
                if settings["compression"] == "gzip":
                    options["compression_opts"] = settings["compressionLevel"]
            self.images = self.file.create_dataset(
                settings["datasetName"], shape=(capacity, *image.shape), maxshape=(None, *image.shape),
                dtype=image.dtype, chunks=(1, *image.shape), **options,
            )
            # the per-frame values are kept in memory and written on close: one h5py write per value per
            # frame cost about 0.5 ms per frame (cProfile), a quarter of an 8 MB frame's own write in
            # process; the file only gets its final name on close anyway
            self.columns: dict[str, Column] = {
                "uniqueId": Column.of(0, capacity),
                **{name: Column.of(0.0, capacity) for name in STAMP_FIELDS},
            }
            self.attributes: dict[str, Column] = {}
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
        self.columns["uniqueId"].set(index, frame_id)
        for name in STAMP_FIELDS:
            self.columns[name].set(index, ntnd.seconds(pvObject[name]))
        for name, value in ntnd.attribute_values(pvObject).items():
            if value is None or "/" in name:
                continue
            column = self.attributes.get(name)
            if column is None:
                column = self.attributes[name] = Column.of(value, self.capacity)
            column.set(index, value)
        self.count += 1

    @property
    def full(self) -> bool:
        return self.count >= self.capacity

    def write_values(self) -> None:
        """The image dataset shrunk to the frames written, their per-frame values and ``nImages``."""
        self.images.resize(self.count, axis=0)
        for name, column in self.columns.items():
            column.write(self.file, name, self.flushed, self.count)
        group = self.file.require_group(ATTRIBUTE_GROUP)
        for name, column in self.attributes.items():
            column.write(group, name, self.flushed, self.count)
        self.file.attrs["nImages"] = self.count

    def flush(self) -> None:
        """Bring the file on disk up to date: a crash from now on leaves a file holding these frames."""
        self.write_values()
        self.file.flush()
        self.flushed = self.count
        self.images.resize(self.capacity, axis=0)  # room for the next frames again (in memory until a flush)

    def close(self, placer: Placer) -> tuple[Path, bool]:
        """Shrink to the frames written, close, and give the file its final name (see ``placer``)."""
        try:
            self.write_values()
            self.file.close()
            self.handle.close()
            return placer.place(self.partial, self.path)
        except BaseException:
            self.abandon()
            raise

    def abandon(self) -> None:
        """Close what is open and delete the partial file; the h5py objects are let go of at once (kept alive
        by a traceback until the interpreter exits, they crashed it)."""
        for closable in (self.file, self.handle):
            try:
                if closable is not None:
                    closable.close()
            except Exception:  # noqa: BLE001 (already closed, or the disk is gone)
                pass
        discard(self.partial)


class Hdf5AdImageWriter(FileOutputProcessor):
    """Writes Area Detector frames into HDF5 files of ``nImagesPerFile`` frames each."""

    DEFAULT_OUTPUT_FILE_NAME_FORMAT = "{outputFileId:06}.{processorId}.hdf"  # pvaPy's
    MISSED_STAT = "nMissedFrames"
    NAME_FIELDS = FRAME_FIELDS | {"outputFileId"}

    def __init__(self, configDict: dict[str, Any] | None = None) -> None:  # noqa: N803
        self.settings: dict[str, Any] = {
            "nImagesPerFile": 1000, "datasetName": "images", "compression": None, "compressionLevel": 4,
            "flushPeriod": 5.0,
        }
        self.next_flush = 0.0  # time.monotonic() of the next flush of the open file
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
        settings["flushPeriod"] = checked_number("flushPeriod", settings["flushPeriod"], 0)
        where = (self.outputDirectory, self.outputFileNameFormat)
        super().configure(configDict)
        file_settings_changed = any(settings[key] != self.settings[key] for key in FILE_SETTINGS)
        if file_settings_changed or where != (self.outputDirectory, self.outputFileNameFormat):
            self.close_file()  # a new name, dataset layout or size: a new file; other keys leave it open
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
            self.placer.check(path)
            self.outputFileId += 1
            current = self.open_file = OpenFile(path, self.settings["nImagesPerFile"], image, color_mode,
                                                self.settings)
            self.next_flush = time.monotonic() + self.settings["flushPeriod"]
        try:
            current.append(frame_id, image, pvObject)
        except BaseException as ex:
            self.close_after(ex, pending=0)  # keeps the frames written so far under the final name
            raise
        if current.full:
            self.close_file(pending=1)
        elif self.settings["flushPeriod"] and time.monotonic() >= self.next_flush:
            self.flush_file(current)
        return image.nbytes

    def flush_file(self, current: OpenFile) -> None:
        """Flush the open file; one that cannot be flushed (the disk full) is closed or given up."""
        self.next_flush = time.monotonic() + self.settings["flushPeriod"]
        try:
            current.flush()
        except Exception as ex:  # noqa: BLE001 (closed now; if that works, every frame is kept)
            self.close_after(ex, pending=1)

    def close_after(self, error: BaseException, pending: int) -> None:
        """Close the open file after ``error``, keeping the frames written so far under its final name."""
        try:
            self.close_file(pending)
        except FramesLostError as lost:
            raise FramesLostError(f"{lost} (after {type(error).__name__}: {error})", lost.n_lost) from error

    def close_file(self, pending: int = 0) -> None:
        """Close the open file (if any) under its final name; an empty one is discarded.

        A file that cannot be closed (the disk full) is discarded with its frames: they are counted in
        ``nErrors`` and taken out of ``nBytesSaved``, and FramesLostError tells the host how many it had
        counted processed: all but the last ``pending`` ones, which the caller's ``process()`` has not
        counted yet (it counts them as errors when this raises).
        """
        current, self.open_file = self.open_file, None
        if current is None:
            return
        if current.count == 0:
            current.abandon()
            return
        try:
            _, replaced = current.close(self.placer)
            failure = ""
        except Exception as ex:  # noqa: BLE001 (raised below, outside this block: see OpenFile.abandon)
            failure = f"{type(ex).__name__}: {ex}"
        if failure:
            lost = current.count - pending
            self.nErrors += lost
            self.nBytesSaved -= lost * current.frame_bytes
            raise FramesLostError(f"cannot complete {current.path}, its {lost} earlier frame(s) are lost: "
                                  f"{failure}", lost)
        if replaced:
            self.nFilesReplaced += 1
        else:
            self.nFilesSaved += 1
        self.lastFileProcessedTime = time.time()

    def stop(self) -> None:
        self.close_file()
