"""Image file formats, chosen by file extension.

=============  =========  ==========================================  =========
extension      library    dtypes                                      colour
=============  =========  ==========================================  =========
.tif, .tiff    tifffile   all ten NTNDArray dtypes                    yes
.png           Pillow     uint8; uint16 mono                          uint8
.jpg, .jpeg    Pillow     uint8 (lossy, quality 95)                   yes
.bmp           Pillow     uint8                                       yes
.npy           numpy      all                                         yes
.bin           numpy      all: raw C-order bytes, native byte order   yes
any other      Pillow     uint8 (every format Pillow writes, chosen   yes
               extension  by extension as pvaPy does: .gif, .webp,
                          .ppm, .tga, .pcx, .jp2, ...)
=============  =========  ==========================================  =========

Colour images are (ny, nx, 3) arrays whatever the NTNDArray colour mode.
"""

from __future__ import annotations

import functools
import importlib
import math
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from ..errors import ConfigError

ALL_DTYPES = frozenset(np.dtype(name) for name in (
    "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64", "float32", "float64",
))
UINT8 = frozenset({np.dtype("uint8")})
JPEG_QUALITY = 95
PILLOW_STUBS = frozenset({"BUFR", "GRIB", "HDF5", "WMF"})  # Pillow formats that save only with a handler added
BIGTIFF_ABOVE = 2**32 - 2**25  # image bytes above which tifffile.imwrite writes a BigTIFF


def _module(name: str, package: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError:
        raise ConfigError(f"writing this format needs the {package} package: pip install 'pvaflow[files]'") from None


@functools.lru_cache(maxsize=8)  # a memo of a pure function: one entry per frame geometry seen
def _tiff_layout(shape: tuple[int, ...], dtype: np.dtype) -> tuple[bytes, bytes]:
    """The bytes tifffile writes before and after the image data of an uncompressed TIFF of this geometry.

    They do not depend on the pixel values (tifffile writes no date unless asked), so every frame of a
    stream reuses them; tested byte for byte against ``tifffile.imwrite``.
    """
    tifffile = _module("tifffile", "tifffile")
    photometric = "rgb" if len(shape) == 3 else "minisblack"
    bigtiff = math.prod(shape) * dtype.itemsize > BIGTIFF_ABOVE  # as tifffile.imwrite decides
    with tempfile.NamedTemporaryFile() as sample:  # the data part stays a hole: no frame-sized buffer
        with tifffile.TiffWriter(sample, bigtiff=bigtiff) as tiff:
            offset, size = tiff.write(shape=shape, dtype=dtype, photometric=photometric, returnoffset=True)
        sample.seek(0)
        head = sample.read(offset)
        sample.seek(offset + size)
        return head, sample.read()


def _write_tiff(file: BinaryIO, image: np.ndarray) -> None:
    """The bytes of ``tifffile.imwrite(file, image)``, written in order, the data by ``file.write()``.

    tifffile itself writes the data with ``ndarray.tofile()``, one system call for the whole frame (see
    :mod:`pvaflow.files.pieces`), and builds its header and directory again for every file.
    """
    head, tail = _tiff_layout(image.shape, image.dtype)
    file.write(head)
    _write_raw(file, image)
    file.write(tail)


def _pillow_writer(pillow_format: str, **options: Any) -> Callable[[BinaryIO, np.ndarray], None]:
    def write(file: BinaryIO, image: np.ndarray) -> None:
        pil_image = _module("PIL.Image", "Pillow")
        pil_image.fromarray(image).save(file, format=pillow_format, **options)

    return write


def _write_npy(file: BinaryIO, image: np.ndarray) -> None:
    """The bytes of ``np.save(file, image)``, the data written by ``file.write()`` (np.save uses ``tofile()``)."""
    image = np.ascontiguousarray(image)
    np.lib.format.write_array_header_1_0(file, np.lib.format.header_data_from_array_1_0(image))
    _write_raw(file, image)


def _write_raw(file: BinaryIO, image: np.ndarray) -> None:
    file.write(memoryview(np.ascontiguousarray(image)).cast("B"))


@dataclass(frozen=True)
class ImageFormat:
    name: str
    write: Callable[[BinaryIO, np.ndarray], None]
    dtypes: frozenset
    colour_dtypes: frozenset
    lossy: bool = False

    def check(self, dtype: np.dtype, colour: bool) -> None:
        """ConfigError when this format cannot hold images of ``dtype`` (colour or mono)."""
        allowed = self.colour_dtypes if colour else self.dtypes
        if np.dtype(dtype) not in allowed:
            kind = "colour" if colour else "mono"
            names = ", ".join(sorted(str(d) for d in allowed)) or "none"
            raise ConfigError(f"{self.name} cannot hold {kind} {np.dtype(dtype)} images (it takes {names})")


TIFF = ImageFormat("TIFF", _write_tiff, ALL_DTYPES, ALL_DTYPES)
JPEG = ImageFormat("JPEG", _pillow_writer("JPEG", quality=JPEG_QUALITY), UINT8, UINT8, lossy=True)
FORMATS: dict[str, ImageFormat] = {
    ".tif": TIFF,
    ".tiff": TIFF,
    ".png": ImageFormat("PNG", _pillow_writer("PNG"), UINT8 | {np.dtype("uint16")}, UINT8),
    ".jpg": JPEG,
    ".jpeg": JPEG,
    ".bmp": ImageFormat("BMP", _pillow_writer("BMP"), UINT8, UINT8),
    ".npy": ImageFormat("NPY", _write_npy, ALL_DTYPES, ALL_DTYPES),
    ".bin": ImageFormat("raw binary", _write_raw, ALL_DTYPES, ALL_DTYPES),
}


def format_for(name: str | Path) -> ImageFormat:
    """The format for a file name's extension (ours, else any Pillow writes); ConfigError for an unknown one."""
    extension = Path(name).suffix.lower()
    if extension in FORMATS:
        return FORMATS[extension]
    pillow_format = _pillow_formats().get(extension)
    if pillow_format is None:
        known = ", ".join(sorted(FORMATS))
        raise ConfigError(f"unknown file extension {extension or '(none)'!r} in {str(name)!r}: use one of {known}, "
                          "or another extension Pillow writes")
    return ImageFormat(pillow_format, _pillow_writer(pillow_format), UINT8, UINT8)


@functools.lru_cache(maxsize=1)  # Pillow's registry does not change while running
def _pillow_formats() -> dict[str, str]:
    """Extension -> Pillow format name, for the formats Pillow can write."""
    try:
        pil_image = importlib.import_module("PIL.Image")
    except ImportError:
        return {}
    pil_image.init()
    return {extension: name for extension, name in pil_image.registered_extensions().items()
            if name in pil_image.SAVE and name not in PILLOW_STUBS}
