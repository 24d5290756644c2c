"""NTNDArray toolkit: dtype and union-field tables, reshape, generate, replace.

Image layout follows areaDetector: ``dimension[0]`` varies fastest. Mono
images are numpy arrays of shape ``(ny, nx)``; colour images of shape
``(ny, nx, 3)`` whatever the colour mode, which only decides how the
pixels are ordered in the flat ``value`` array:

==========  ================  =======================
colour mode  dimension sizes   flat order (slowest first)
==========  ================  =======================
MONO (0)    [nx, ny]          y, x
RGB1 (2)    [3, nx, ny]       y, x, colour
RGB2 (3)    [nx, 3, ny]       y, colour, x
RGB3 (4)    [nx, ny, 3]       colour, y, x
==========  ================  =======================
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np
import pvaccess as pva

from . import codecs
from .errors import FrameFormatError

logger = logging.getLogger(__name__)

COLOR_MODE_MONO = 0
COLOR_MODE_RGB1 = 2
COLOR_MODE_RGB2 = 3
COLOR_MODE_RGB3 = 4
COLOR_MODE_NAMES = {
    COLOR_MODE_MONO: "MONO",
    COLOR_MODE_RGB1: "RGB1",
    COLOR_MODE_RGB2: "RGB2",
    COLOR_MODE_RGB3: "RGB3",
}
COLOR_ATTRIBUTE = "ColorMode"
RGB_COMPONENTS = 3

# numpy dtype -> (NTNDArray value union field, pvData scalar type code)
DTYPE_FIELDS: dict[np.dtype, tuple[str, int]] = {
    np.dtype("int8"): ("byteValue", 1),
    np.dtype("int16"): ("shortValue", 2),
    np.dtype("int32"): ("intValue", 3),
    np.dtype("int64"): ("longValue", 4),
    np.dtype("uint8"): ("ubyteValue", 5),
    np.dtype("uint16"): ("ushortValue", 6),
    np.dtype("uint32"): ("uintValue", 7),
    np.dtype("uint64"): ("ulongValue", 8),
    np.dtype("float32"): ("floatValue", 9),
    np.dtype("float64"): ("doubleValue", 10),
}
FIELD_DTYPES: dict[str, np.dtype] = {field: dt for dt, (field, _) in DTYPE_FIELDS.items()}
SCALAR_TYPE_DTYPES: dict[int, np.dtype] = {code: dt for dt, (_, code) in DTYPE_FIELDS.items()}
DATATYPE_NAMES = tuple(str(dt) for dt in DTYPE_FIELDS)


class Image(NamedTuple):
    """What :func:`reshape` returns, in the order of the processor API tuple."""

    image_id: int
    image: np.ndarray | None
    nx: int | None
    ny: int | None
    nz: int | None
    color_mode: int | None
    field_key: str | None


def frame_bytes(nt: pva.PvObject) -> int:
    """The bytes of an NTNDArray's image as sent (``compressedSize``); 0 for another kind of object."""
    try:
        return int(nt["compressedSize"]) if nt.hasField("compressedSize") else 0
    except Exception:  # noqa: BLE001 (pvaccess raises its own types; not an NTNDArray's field)
        return 0


def field_key(image: np.ndarray) -> str | None:
    """The value union field for ``image``'s dtype, or None if NTNDArray has none."""
    entry = DTYPE_FIELDS.get(image.dtype)
    return entry[0] if entry else None


def _dtype_entry(dtype: np.dtype) -> tuple[str, int]:
    entry = DTYPE_FIELDS.get(np.dtype(dtype))
    if entry is None:
        raise FrameFormatError(f"dtype {dtype} has no NTNDArray value field (use one of {DATATYPE_NAMES})")
    return entry


def color_mode(nt: pva.PvObject) -> int | None:
    """The ColorMode attribute's value, or None when the array has none."""
    for attribute in nt["attribute"]:
        if attribute["name"] == COLOR_ATTRIBUTE:
            values = attribute["value"][0]
            if not values:
                raise FrameFormatError("ColorMode attribute has no value")
            return int(next(iter(values.values())))
    return None


def dimensions(nx: int, ny: int, mode: int = COLOR_MODE_MONO) -> list[pva.PvDimension]:
    """The ``dimension`` structures for an image of ``nx`` x ``ny`` in ``mode``."""
    sizes = {
        COLOR_MODE_MONO: (nx, ny),
        COLOR_MODE_RGB1: (RGB_COMPONENTS, nx, ny),
        COLOR_MODE_RGB2: (nx, RGB_COMPONENTS, ny),
        COLOR_MODE_RGB3: (nx, ny, RGB_COMPONENTS),
    }.get(mode)
    if sizes is None:
        raise FrameFormatError(f"unsupported colour mode {mode} (supported: {sorted(COLOR_MODE_NAMES)})")
    return [pva.PvDimension(size, 0, size, 1, False) for size in sizes]


def _image_geometry(sizes: list[int], mode: int) -> tuple[int, int, int | None]:
    """(nx, ny, nz) from dimension sizes, checking they fit the colour mode."""
    if len(sizes) == 2 and mode == COLOR_MODE_MONO:
        return sizes[0], sizes[1], None
    if len(sizes) == 3:
        if mode == COLOR_MODE_RGB1:
            return sizes[1], sizes[2], sizes[0]
        if mode == COLOR_MODE_RGB2:
            return sizes[0], sizes[2], sizes[1]
        if mode == COLOR_MODE_RGB3:
            return sizes[0], sizes[1], sizes[2]
    raise FrameFormatError(f"dimension sizes {sizes} do not fit colour mode {mode}")


def _shape_image(flat: np.ndarray, nx: int, ny: int, nz: int | None, mode: int) -> np.ndarray:
    """View the flat value array as (ny, nx) or (ny, nx, nz)."""
    if mode == COLOR_MODE_MONO:
        return flat.reshape(ny, nx)
    if mode == COLOR_MODE_RGB1:
        return flat.reshape(ny, nx, nz)
    if mode == COLOR_MODE_RGB2:
        return flat.reshape(ny, nz, nx).transpose(0, 2, 1)
    return flat.reshape(nz, ny, nx).transpose(1, 2, 0)


def _flatten_image(image: np.ndarray, mode: int) -> np.ndarray:
    """The flat value array for ``image`` (the inverse of :func:`_shape_image`)."""
    if mode == COLOR_MODE_MONO:
        if image.ndim != 2:
            raise FrameFormatError(f"a mono image must be 2-D (ny, nx), not {image.shape}")
        return image.ravel()
    if mode not in COLOR_MODE_NAMES:
        raise FrameFormatError(f"unsupported colour mode {mode} (supported: {sorted(COLOR_MODE_NAMES)})")
    if image.ndim != 3 or image.shape[2] != RGB_COMPONENTS:
        raise FrameFormatError(f"an RGB image must have shape (ny, nx, 3), not {image.shape}")
    if mode == COLOR_MODE_RGB1:
        return image.ravel()
    if mode == COLOR_MODE_RGB2:
        return image.transpose(0, 2, 1).ravel()
    return image.transpose(2, 0, 1).ravel()


def _decompressed_value(nt: pva.PvObject, codec_name: str, payload: np.ndarray) -> np.ndarray:
    parameters = nt["codec.parameters"][0]
    if not parameters:
        raise FrameFormatError(f"codec '{codec_name}' has no data type parameter")
    scalar_type = int(next(iter(parameters.values())))
    dtype = SCALAR_TYPE_DTYPES.get(scalar_type)
    if dtype is None:
        raise FrameFormatError(f"codec parameter {scalar_type} is not a numeric pvData type")
    return codecs.decompress(codec_name, payload, dtype, int(nt["uncompressedSize"]))


def reshape(nt: pva.PvObject) -> Image:
    """Decode an NTNDArray into its image id, numpy image, geometry and field key.

    An array with no dimensions (a record that never received an image)
    gives ``image`` None. Compressed arrays are decompressed.
    """
    image_id = nt["uniqueId"]
    sizes = [dimension["size"] for dimension in nt["dimension"]]
    if not sizes:
        return Image(image_id, None, None, None, None, None, None)
    mode = color_mode(nt)
    if mode is None:
        if len(sizes) != 2:
            raise FrameFormatError(f"{len(sizes)}-D NTNDArray has no ColorMode attribute")
        mode = COLOR_MODE_MONO
    nx, ny, nz = _image_geometry(sizes, mode)
    key = nt.getSelectedUnionFieldName()
    if not key:
        raise FrameFormatError("NTNDArray value union is empty")
    flat = nt.getUnion()[key]
    codec_name = nt["codec.name"]
    if codec_name:
        flat = _decompressed_value(nt, codec_name, flat)
    expected = nx * ny * (nz or 1)
    if flat.size != expected:
        raise FrameFormatError(
            f"dimension sizes {sizes} need {expected} values, value has {flat.size}"
        )
    return Image(image_id, _shape_image(flat, nx, ny, nz, mode), nx, ny, nz, mode, key)


def _fill(
    nt: pva.PvObject,
    image_id: int,
    key: str,
    flat: np.ndarray,
    dims: list[pva.PvDimension],
    mode: int,
) -> None:
    stamp = pva.PvTimeStamp(time.time())
    nt["uniqueId"] = int(image_id)
    nt["dimension"] = dims
    nt["timeStamp"] = stamp
    nt["dataTimeStamp"] = stamp
    nt["value"] = {key: flat}
    nt["attribute"] = [pva.NtAttribute(COLOR_ATTRIBUTE, pva.PvInt(mode))]


def _new(extra: pva.PvObject | None) -> pva.PvObject:
    return pva.NtNdArray() if extra is None else pva.NtNdArray(extra.getStructureDict())


def generate(
    image_id: int,
    image: np.ndarray,
    mode: int = COLOR_MODE_MONO,
    extra: pva.PvObject | None = None,
) -> pva.PvObject:
    """A new NTNDArray holding ``image`` ((ny, nx) mono or (ny, nx, 3) colour).

    ``extra`` adds fields to the structure and sets their values.
    """
    key, _ = _dtype_entry(image.dtype)
    flat = _flatten_image(image, mode)
    ny, nx = image.shape[:2]
    nt = _new(extra)
    _fill(nt, image_id, key, flat, dimensions(nx, ny, mode), mode)
    nt["compressedSize"] = flat.nbytes
    nt["uncompressedSize"] = flat.nbytes
    if extra is not None:
        nt.set(extra)
    return nt


def generate_compressed(
    image_id: int,
    payload: np.ndarray,
    codec_name: str,
    dtype: np.dtype,
    nx: int,
    ny: int,
    mode: int = COLOR_MODE_MONO,
    extra: pva.PvObject | None = None,
) -> pva.PvObject:
    """A new NTNDArray whose value is ``payload`` compressed with ``codec_name``."""
    dtype = np.dtype(dtype)
    _, scalar_type = _dtype_entry(dtype)
    payload = np.ascontiguousarray(payload, dtype=np.uint8).ravel()
    nt = _new(extra)
    _fill(nt, image_id, "ubyteValue", payload, dimensions(nx, ny, mode), mode)
    nt["codec"] = pva.PvCodec(codec_name, pva.PvInt(scalar_type))
    nt["compressedSize"] = payload.nbytes
    nt["uncompressedSize"] = nx * ny * (1 if mode == COLOR_MODE_MONO else RGB_COMPONENTS) * dtype.itemsize
    if extra is not None:
        nt.set(extra)
    return nt


def replace_image_2d(
    nt: pva.PvObject, image_id: int, image: np.ndarray, extra: pva.PvObject | None = None
) -> pva.PvObject:
    """Put a mono ``image`` into an existing NTNDArray, reusing its structure."""
    key, _ = _dtype_entry(image.dtype)
    flat = _flatten_image(image, COLOR_MODE_MONO)
    ny, nx = image.shape
    sizes = [dimension["size"] for dimension in nt["dimension"]]
    if sizes != [nx, ny]:
        nt["dimension"] = dimensions(nx, ny)
    stamp = pva.PvTimeStamp(time.time())
    nt["uniqueId"] = int(image_id)
    nt["timeStamp"] = stamp
    nt["dataTimeStamp"] = stamp
    nt["compressedSize"] = flat.nbytes
    nt["uncompressedSize"] = flat.nbytes
    nt["value"] = {key: flat}
    if nt["codec.name"]:
        nt["codec.name"] = ""  # the new image is not compressed
    if extra is not None:
        nt.set(extra)
    return nt


# Python type of an attribute value -> the pvData scalar type that holds it (bool before int: bool is an int)
ATTRIBUTE_SCALARS: tuple[tuple[type, Any], ...] = (
    (bool, pva.BOOLEAN),
    (int, pva.LONG),
    (float, pva.DOUBLE),
    (str, pva.STRING),
)
EXACT_ATTRIBUTE_SCALARS: dict[type, Any] = dict(ATTRIBUTE_SCALARS)  # one lookup for the common case
# What an NTAttribute's other fields hold when nothing set them: an attribute written back without them gets
# them anyway, and writing one with all its fields costs pvaccess about 3x as much as with name and value only.
ATTRIBUTE_DEFAULTS: dict[str, Any] = {
    "tags": [], "descriptor": "", "alarm": {"severity": 0, "status": 0, "message": ""},
    "timeStamp": {"secondsPastEpoch": 0, "nanoseconds": 0, "userTag": 0}, "sourceType": 0, "source": "",
}
_NO_DEFAULT = object()


def attribute_values(nt: pva.PvObject) -> dict[str, Any]:
    """The NTNDArray's attributes as ``{name: value}`` (None for an attribute with an empty value)."""
    values: dict[str, Any] = {}
    for attribute in nt["attribute"]:
        content = attribute["value"]
        values[attribute["name"]] = content[0].get("value") if content and content[0] else None
    return values


def _scalar_type(name: str, value: Any) -> Any:
    scalar = EXACT_ATTRIBUTE_SCALARS.get(type(value))
    if scalar is None:  # a subclass (numpy.float64, an IntEnum, ...)
        scalar = next((pv_type for py_type, pv_type in ATTRIBUTE_SCALARS if isinstance(value, py_type)), None)
        if scalar is None:
            raise TypeError(f"attribute {name!r}: {type(value).__name__} values are not supported")
    return scalar


def set_attributes(nt: pva.PvObject, values: Mapping[str, bool | int | float | str]) -> None:
    """Add attributes to the NTNDArray, replacing those with the same names.

    The attributes kept are written back without the fields that hold their defaults (ATTRIBUTE_DEFAULTS), and
    new ones are given as dictionaries with their union value as ``(value, type)``: pvaccess builds the
    NTAttribute structures in C++. (``pva.NtAttribute`` objects cost 40 us each here; six metadata values on a
    512x512 frame now cost about 40 us in all, reading and keeping its other attributes included.)
    """
    new_attributes = [{"name": name, "value": ({"value": value}, {"value": _scalar_type(name, value)})}
                      for name, value in values.items()]
    defaults = ATTRIBUTE_DEFAULTS
    kept = [{field: content for field, content in attribute.items() if defaults.get(field, _NO_DEFAULT) != content}
            for attribute in nt["attribute"] if attribute["name"] not in values]
    nt["attribute"] = kept + new_attributes


def time_stamp(seconds: float) -> dict[str, int]:
    """A ``time_t`` structure value for ``seconds`` since the epoch."""
    whole = int(seconds)
    return {"secondsPastEpoch": whole, "nanoseconds": int((seconds - whole) * 1e9)}


def seconds(stamp: Mapping[str, int]) -> float:
    """A ``time_t`` structure value (secondsPastEpoch, nanoseconds) as seconds since the epoch."""
    return stamp["secondsPastEpoch"] + stamp["nanoseconds"] * 1e-9


def stamp(nt: pva.PvObject, image_id: int, seconds: float) -> None:
    """Set ``uniqueId``, ``timeStamp`` and ``dataTimeStamp`` in one call (hot path)."""
    stamp_value = time_stamp(seconds)
    nt.set({"uniqueId": image_id, "timeStamp": stamp_value, "dataTimeStamp": stamp_value})
