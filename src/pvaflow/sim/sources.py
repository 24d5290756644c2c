"""Frame sources for the AD simulation server: random frames and input files.

A source offers ``n_frames`` distinct frames by index and describes them
with a :class:`FrameSpec`. ``frame(i)`` returns an image of shape (ny, nx)
or (ny, nx, 3), or, for a compressed source, the compressed payload bytes.
Files are read lazily where the format allows (memory-mapped ``.npy``,
HDF5, raw binary), so large inputs do not stall start-up.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from .. import codecs
from ..errors import ConfigError
from ..memory import physical_memory
from ..ntnd import COLOR_MODE_MONO, COLOR_MODE_NAMES, DATATYPE_NAMES, RGB_COMPONENTS

logger = logging.getLogger(__name__)

# Memory the random generator may fill with distinct frames; frames beyond
# it repeat the ring (ids and timestamps still change with every frame).
RANDOM_RING_BYTES = 64 * 1024 * 1024

# HDF5 filter ids of the compression filters areaDetector codecs match.
HDF5_FILTER_CODECS = {32001: "blosc", 32004: "lz4", 32008: "bslz4"}


@dataclass(frozen=True)
class FrameSpec:
    """Geometry and encoding shared by all frames of a source."""

    nx: int
    ny: int
    dtype: np.dtype
    color_mode: int = COLOR_MODE_MONO
    codec: str = ""  # '' = uncompressed; else frame() gives compressed bytes

    @property
    def frame_bytes(self) -> int:
        """Uncompressed size of one frame in bytes."""
        components = 1 if self.color_mode == COLOR_MODE_MONO else RGB_COMPONENTS
        return self.nx * self.ny * components * self.dtype.itemsize


class FrameSource(Protocol):
    """What the simulation server needs from a source of frames."""

    spec: FrameSpec
    n_frames: int

    def frame(self, index: int) -> np.ndarray: ...


def _spec_from_stack(shape: Sequence[int], dtype: np.dtype, path: str) -> tuple[int, FrameSpec]:
    """(frame count, spec) of a (n, ny, nx[, 3]) or (ny, nx) array."""
    if len(shape) == 2:
        return 1, FrameSpec(nx=shape[1], ny=shape[0], dtype=np.dtype(dtype))
    if len(shape) == 3:
        return shape[0], FrameSpec(nx=shape[2], ny=shape[1], dtype=np.dtype(dtype))
    if len(shape) == 4 and shape[3] == RGB_COMPONENTS:
        return shape[0], FrameSpec(nx=shape[2], ny=shape[1], dtype=np.dtype(dtype), color_mode=2)
    raise ConfigError(f"{path}: array of shape {tuple(shape)} is not (n, ny, nx) or (n, ny, nx, 3)")

FRAME_COPIES = 4  # a random frame in memory: the ring, the published copy, pvAccess's and a client's


class RandomFrames:
    """Random frames in a value range, pre-generated once into a small ring."""

    def __init__(
        self,
        spec: FrameSpec,
        n_frames: int,
        minimum: float | None = None,
        maximum: float | None = None,
        ring_bytes: int = RANDOM_RING_BYTES,
        seed: int | None = None,
    ) -> None:
        if spec.nx <= 0 or spec.ny <= 0:
            raise ConfigError(f"frame size must be positive, not {spec.nx}x{spec.ny}")
        if spec.color_mode not in COLOR_MODE_NAMES:
            raise ConfigError(
                f"unknown colour mode {spec.color_mode} (choose from {sorted(COLOR_MODE_NAMES)})"
            )
        memory = physical_memory()
        if memory and spec.frame_bytes * FRAME_COPIES > memory:
            raise ConfigError(f"a {spec.nx}x{spec.ny} {spec.dtype} frame takes {spec.frame_bytes / 1e9:.1f} GB; "
                              f"with the copies publishing makes, more than this machine's {memory / 1e9:.1f} GB")
        self.spec = spec
        # distinct frames: as requested, but no more than fit in ring_bytes
        self.n_frames = min(max(1, n_frames), max(1, ring_bytes // spec.frame_bytes))
        shape = (self.n_frames, spec.ny, spec.nx)
        if spec.color_mode != COLOR_MODE_MONO:
            shape += (RGB_COMPONENTS,)
        self.low, self.high = value_range(spec.dtype, minimum, maximum)
        rng = np.random.default_rng(seed)
        if spec.dtype.kind == "f":
            self.ring = rng.uniform(self.low, self.high, size=shape).astype(spec.dtype)
        else:
            self.ring = rng.integers(self.low, self.high, size=shape, dtype=spec.dtype, endpoint=True)

    def frame(self, index: int) -> np.ndarray:
        return self.ring[index % self.n_frames]


def value_range(dtype: np.dtype, minimum: float | None, maximum: float | None) -> tuple[Any, Any]:
    """Clip the requested [minimum, maximum] to what ``dtype`` holds."""
    if dtype.kind == "f":
        info = np.finfo(np.float32)  # float32 bounds keep float64 sums finite
        low = float(info.min) if minimum is None else max(float(info.min), minimum)
        high = float(info.max) if maximum is None else min(float(info.max), maximum)
    else:
        iinfo = np.iinfo(dtype)
        low = iinfo.min if minimum is None else int(max(iinfo.min, minimum))
        high = iinfo.max if maximum is None else int(min(iinfo.max, maximum))
    if low > high:
        if minimum is not None and maximum is not None and minimum > maximum:
            raise ConfigError(f"-mn {minimum:g} is above -mx {maximum:g}")
        if minimum is not None and low == minimum:
            raise ConfigError(f"-mn {minimum:g} is above the largest {dtype} value ({high:g})")
        raise ConfigError(f"-mx {maximum:g} is below the smallest {dtype} value ({low:g})")
    return low, high


class ArrayFrames:
    """Frames from an in-memory or memory-mapped array stack (.npy, .tif)."""

    def __init__(self, stack: np.ndarray, path: str) -> None:
        self.n_frames, self.spec = _spec_from_stack(stack.shape, stack.dtype, path)
        self.stack = stack if stack.ndim > 2 else stack[np.newaxis]

    def frame(self, index: int) -> np.ndarray:
        return self.stack[index]


def open_npy(path: str, mmap: bool) -> ArrayFrames:
    try:
        stack = np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except (OSError, ValueError) as ex:
        raise ConfigError(f"{path}: cannot load NumPy file: {ex}") from ex
    if isinstance(stack, np.lib.npyio.NpzFile):
        names = stack.files
        if not names:
            raise ConfigError(f"{path}: .npz archive holds no arrays")
        stack = stack[names[0]]
    return ArrayFrames(stack, path)


def open_tiff(path: str) -> ArrayFrames:
    try:
        import tifffile
    except ImportError as ex:
        raise ConfigError(f"{path}: reading TIFF needs 'tifffile' (pip install 'pvaflow[files]')") from ex
    return ArrayFrames(tifffile.imread(path), path)


class Hdf5Frames:
    """Frames from an HDF5 dataset; with ``compressed`` the raw chunks are streamed."""

    def __init__(self, path: str, dataset_path: str | None, compressed: bool) -> None:
        if not dataset_path:
            raise ConfigError(f"{path}: HDF5 input needs the dataset path (-hds/--hdf-dataset)")
        try:
            import h5py
        except ImportError as ex:
            raise ConfigError(f"{path}: reading HDF5 needs 'h5py' (pip install 'pvaflow[files]')") from ex
        try:
            import hdf5plugin  # noqa: F401  (registers blosc/lz4/bslz4 filters)
        except ImportError:
            logger.debug("hdf5plugin not installed; only built-in HDF5 filters can be read")
        try:
            self.file = h5py.File(path, "r")
            self.dataset = self.file[dataset_path]
        except (OSError, KeyError) as ex:
            raise ConfigError(f"{path}: cannot open dataset '{dataset_path}': {ex}") from ex
        self.n_frames, spec = _spec_from_stack(self.dataset.shape, self.dataset.dtype, path)
        codec = self._chunk_codec(path) if compressed else ""
        self.spec = FrameSpec(spec.nx, spec.ny, spec.dtype, spec.color_mode, codec)
        self.read: Callable[[int], np.ndarray] = self._chunk if codec else self._frame

    def _chunk_codec(self, path: str) -> str:
        filters = self.dataset.id.get_create_plist()
        codecs = [
            HDF5_FILTER_CODECS[filters.get_filter(i)[0]]
            for i in range(filters.get_nfilters())
            if filters.get_filter(i)[0] in HDF5_FILTER_CODECS
        ]
        if len(codecs) != 1 or filters.get_nfilters() != 1:
            raise ConfigError(f"{path}: -hcm needs exactly one blosc, lz4 or bslz4 filter on the dataset")
        chunks = self.dataset.chunks
        if chunks is None or chunks[0] != 1 or tuple(chunks[1:]) != self.dataset.shape[1:]:
            raise ConfigError(f"{path}: -hcm needs one frame per chunk, chunks are {chunks}")
        return codecs[0]

    def _frame(self, index: int) -> np.ndarray:
        return self.dataset[index]

    def _chunk(self, index: int) -> np.ndarray:
        offset = (index,) + (0,) * (self.dataset.ndim - 1)
        filter_mask, chunk = self.dataset.id.read_direct_chunk(offset)
        payload = None if filter_mask else hdf5_chunk_payload(self.spec.codec, chunk)
        if payload is None:  # HDF5 stored this chunk uncompressed: compress it ourselves
            payload = codecs.compress(self.spec.codec, self.dataset[index])
        return payload

    def frame(self, index: int) -> np.ndarray:
        return self.read(index)


def hdf5_chunk_payload(codec: str, chunk: bytes) -> np.ndarray | None:
    """Strip the HDF5 filter framing so the payload is what areaDetector's codec sends.

    The HDF5 lz4 filter writes an 8-byte total size, a 4-byte block size and
    a 4-byte compressed size before a single lz4 block (a block that did not
    shrink is stored raw: None is returned); the bitshuffle filter writes the
    8-byte size and 4-byte block size. blosc chunks are plain blosc.
    """
    data = np.frombuffer(chunk, dtype=np.uint8)
    if codec == "lz4":
        total = int.from_bytes(chunk[0:8], "big")
        block = int.from_bytes(chunk[8:12], "big")
        if block < total:
            raise ConfigError("-hcm: lz4 chunk holds several lz4 blocks; write it with one block per chunk")
        stored = int.from_bytes(chunk[12:16], "big")
        return None if stored == total else data[16:]
    if codec == "bslz4":
        return data[12:]
    return data


class RawFrames:
    """Frames in a raw binary file described by a layout file (-cfg)."""

    def __init__(self, path: str, layout: dict[str, Any]) -> None:
        try:
            dtype = np.dtype(layout["datatype"]).newbyteorder(layout.get("endian", "<"))
            width, height = int(layout["width"]), int(layout["height"])
            offset = int(layout.get("header_offset", 0))
        except (KeyError, TypeError, ValueError) as ex:
            raise ConfigError(f"{path}: raw layout needs datatype, width, height ({ex})") from ex
        frame_bytes = width * height * dtype.itemsize
        n_frames = (os.path.getsize(path) - offset) // frame_bytes
        if n_frames < 1:
            raise ConfigError(f"{path}: smaller than one {width}x{height} {dtype} frame")
        self.stack = np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=(n_frames, height, width))
        self.n_frames = n_frames
        self.spec = FrameSpec(nx=width, ny=height, dtype=np.dtype(dtype.newbyteorder("=")))

    def frame(self, index: int) -> np.ndarray:
        return self.stack[index].astype(self.spec.dtype, copy=False)


def load_raw_layout(path: str) -> dict[str, Any]:
    """Read a raw-binary layout file (YAML or JSON) with a ``file_info`` section."""
    text = Path(path).read_text()
    try:
        if path.endswith(".json"):
            document = json.loads(text)
        else:
            import yaml

            document = yaml.safe_load(text)
    except ImportError as ex:
        raise ConfigError(f"{path}: YAML layout needs 'PyYAML' (or write it as .json)") from ex
    except Exception as ex:
        raise ConfigError(f"{path}: cannot parse layout file: {ex}") from ex
    if not isinstance(document, dict) or not isinstance(document.get("file_info"), dict):
        raise ConfigError(f"{path}: layout file needs a 'file_info' mapping")
    return document["file_info"]


class ConcatenatedFrames:
    """Several sources of the same geometry, one after the other."""

    def __init__(self, sources: list[FrameSource]) -> None:
        self.spec = sources[0].spec
        for source in sources[1:]:
            if source.spec != self.spec:
                raise ConfigError(f"input files differ in geometry: {self.spec} vs {source.spec}")
        self.sources = sources
        self.starts = np.cumsum([0] + [s.n_frames for s in sources])
        self.n_frames = int(self.starts[-1])

    def frame(self, index: int) -> np.ndarray:
        which = int(np.searchsorted(self.starts, index, side="right")) - 1
        return self.sources[which].frame(index - int(self.starts[which]))


@dataclass(frozen=True)
class FileOptions:
    """How to read input files (the -mm, -hds, -hcm and -cfg options)."""

    mmap: bool = False
    hdf_dataset: str | None = None
    hdf_compressed: bool = False
    raw_layout: dict[str, Any] | None = None


def open_file(path: str, options: FileOptions) -> FrameSource:
    """Open one input file, choosing the reader from its extension."""
    suffix = Path(path).suffix.lower()
    if options.raw_layout is not None and suffix not in FILE_READERS:
        return RawFrames(path, options.raw_layout)
    reader = FILE_READERS.get(suffix)
    if reader is None:
        known = ", ".join(sorted(FILE_READERS))
        raise ConfigError(f"{path}: unknown input file type '{suffix}' ({known}, or raw with -cfg)")
    return reader(path, options)


FILE_READERS: dict[str, Callable[[str, FileOptions], FrameSource]] = {
    ".npy": lambda path, o: open_npy(path, o.mmap),
    ".npz": lambda path, o: open_npy(path, False),
    ".h5": lambda path, o: Hdf5Frames(path, o.hdf_dataset, o.hdf_compressed),
    ".hdf": lambda path, o: Hdf5Frames(path, o.hdf_dataset, o.hdf_compressed),
    ".hdf5": lambda path, o: Hdf5Frames(path, o.hdf_dataset, o.hdf_compressed),
    ".tif": lambda path, o: open_tiff(path),
    ".tiff": lambda path, o: open_tiff(path),
}


def open_files(paths: Sequence[str], options: FileOptions) -> FrameSource:
    """One source streaming ``paths`` in order."""
    sources = [open_file(path, options) for path in paths]
    return sources[0] if len(sources) == 1 else ConcatenatedFrames(sources)


def input_paths(input_file: str | None, input_directory: str | None) -> list[str]:
    """Input files from -if and -id (directory files sorted by name)."""
    paths: list[str] = []
    if input_directory:
        if not os.path.isdir(input_directory):
            raise ConfigError(f"input directory {input_directory} does not exist")
        paths += sorted(
            str(p) for p in Path(input_directory).iterdir() if p.is_file() and not p.name.startswith(".")
        )
        if not paths:
            raise ConfigError(f"input directory {input_directory} holds no files")
    if input_file:
        if not os.path.isfile(input_file):
            raise ConfigError(f"input file {input_file} does not exist")
        paths.append(input_file)
    return paths


def check_datatype(name: str) -> np.dtype:
    """The numpy dtype for a -dt name, refusing types NTNDArray cannot carry."""
    if name not in DATATYPE_NAMES:
        raise ConfigError(f"unknown datatype '{name}' (choose from {', '.join(DATATYPE_NAMES)})")
    return np.dtype(name)
