"""Decompression of compressed NTNDArray payloads (areaDetector codecs).

areaDetector's NDPluginCodec publishes ``codec.name`` ``blosc``, ``lz4`` or
``bslz4``; the payload is a ubyte array and ``codec.parameters`` holds the
pvData scalar type of the uncompressed data. The codec packages are
optional and imported only when a compressed frame arrives, so a missing
package is reported by name instead of failing at import time.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from types import ModuleType

import numpy as np

from .errors import CodecUnavailableError, FrameFormatError

logger = logging.getLogger(__name__)

# codec name -> (module to import, pip package that provides it)
CODEC_PACKAGES: dict[str, tuple[str, str]] = {
    "blosc": ("blosc", "blosc"),
    "lz4": ("lz4.block", "lz4"),
    "bslz4": ("bitshuffle", "bitshuffle"),
}


def _import_codec(codec: str) -> ModuleType:
    module_name, package = CODEC_PACKAGES[codec]
    try:
        return importlib.import_module(module_name)
    except ImportError as ex:
        raise CodecUnavailableError(codec, package) from ex


def _blosc(payload: np.ndarray, dtype: np.dtype, size: int) -> np.ndarray:
    blosc = _import_codec("blosc")
    out = np.empty(size // dtype.itemsize, dtype=dtype)
    written = blosc.decompress_ptr(payload, out.ctypes.data)
    if written != size:
        raise FrameFormatError(f"blosc payload gave {written} bytes, expected {size}")
    return out


def _lz4(payload: np.ndarray, dtype: np.dtype, size: int) -> np.ndarray:
    block = _import_codec("lz4")
    raw = block.decompress(payload, uncompressed_size=size, return_bytearray=True)
    if len(raw) != size:
        raise FrameFormatError(f"lz4 payload gave {len(raw)} bytes, expected {size}")
    return np.frombuffer(raw, dtype=dtype)


def _bslz4(payload: np.ndarray, dtype: np.dtype, size: int) -> np.ndarray:
    bitshuffle = _import_codec("bslz4")
    return bitshuffle.decompress_lz4(payload, (size // dtype.itemsize,), dtype, 0)


DECOMPRESSORS: dict[str, Callable[[np.ndarray, np.dtype, int], np.ndarray]] = {
    "blosc": _blosc,
    "lz4": _lz4,
    "bslz4": _bslz4,
}


def compress(codec: str, data: np.ndarray) -> np.ndarray:
    """Compress ``data`` into the payload areaDetector's codec of that name sends."""
    if codec not in DECOMPRESSORS:
        raise FrameFormatError(f"unknown codec '{codec}' (supported: {', '.join(sorted(DECOMPRESSORS))})")
    module = _import_codec(codec)
    data = np.ascontiguousarray(data)
    if codec == "blosc":
        raw = module.compress(data.tobytes(), typesize=data.itemsize)
    elif codec == "lz4":
        raw = module.compress(data.tobytes(), store_size=False)
    else:
        return module.compress_lz4(data.ravel(), 0).view(np.uint8)
    return np.frombuffer(raw, dtype=np.uint8)


def decompress(codec: str, payload: np.ndarray, dtype: np.dtype, uncompressed_size: int) -> np.ndarray:
    """Return the 1-D array of ``dtype`` held compressed in ``payload``.

    Raises :class:`CodecUnavailableError` when the codec's package is missing
    and :class:`FrameFormatError` for an unknown codec or a corrupt payload.
    """
    decompressor = DECOMPRESSORS.get(codec)
    if decompressor is None:
        raise FrameFormatError(
            f"unknown codec '{codec}' (supported: {', '.join(sorted(DECOMPRESSORS))})"
        )
    if uncompressed_size <= 0 or uncompressed_size % dtype.itemsize:
        raise FrameFormatError(
            f"{codec}: uncompressedSize {uncompressed_size} is not a multiple of {dtype} items"
        )
    payload = np.ascontiguousarray(payload, dtype=np.uint8)
    try:
        return decompressor(payload, dtype, uncompressed_size)
    except (CodecUnavailableError, FrameFormatError):
        raise
    except Exception as ex:  # the codec libraries raise their own types
        raise FrameFormatError(f"{codec} payload cannot be decompressed: {ex}") from ex
