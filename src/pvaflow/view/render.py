"""A frame as the browser shows it: downscaled, contrast set, colour-mapped, encoded; with its histogram.

Pure: numpy and Pillow only, no PVA and no thread. The viewer calls :func:`render` at the display rate,
never per received frame.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

HISTOGRAM_BINS = 64
SAMPLE = 65_536  # values the automatic contrast and the histogram look at (a strided sample of bigger frames)
MAX_WIDTH = 4096  # pixels across the browser may ask for
FORMATS = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}
CONTRASTS = ("auto", "fixed")

# colour maps: evenly spaced anchor colours, interpolated to 256 entries (matplotlib's viridis and inferno
# at ten points each; hot as black-red-yellow-white)
_ANCHORS = {
    "viridis": ("440154", "482878", "3e4989", "31688e", "26828e", "1f9e89", "35b779", "6ece58", "b5de2b",
                "fde725"),
    "inferno": ("000004", "1b0c41", "4a0c6b", "781c6d", "a52c60", "cf4446", "ed6925", "fb9b06", "f7d13d",
                "fcffa4"),
    "hot": ("000000", "550000", "aa0000", "ff0000", "ff5500", "ffaa00", "ffff00", "ffff55", "ffffaa",
            "ffffff"),
}
COLORMAPS = ("gray", *_ANCHORS)


def _lookup_table(anchors: tuple[str, ...]) -> np.ndarray:
    colours = np.array([[int(code[i:i + 2], 16) for i in (0, 2, 4)] for code in anchors], dtype=np.float64)
    positions = np.linspace(0, 255, len(anchors))
    levels = np.arange(256)
    table = np.stack([np.interp(levels, positions, colours[:, c]) for c in range(3)], axis=1)
    return np.round(table).astype(np.uint8)


LOOKUP_TABLES = {name: _lookup_table(anchors) for name, anchors in _ANCHORS.items()}


@dataclass(frozen=True)
class Display:
    """How one browser wants one channel shown."""

    colormap: str = "gray"
    contrast: str = "auto"  # auto: between two percentiles of the frame; fixed: between low and high
    low_percentile: float = 1.0
    high_percentile: float = 99.0
    low: float = 0.0
    high: float = 255.0
    width: int = 1024  # the canvas's width: frames wider than this are downscaled
    format: str = "png"


_FLOATS = ("low_percentile", "high_percentile", "low", "high")


def display_settings(values: Mapping[str, Any], base: Display = Display()) -> Display:
    """``base`` with the browser's ``values`` (JSON names as the fields); ValueError naming a bad one."""
    unknown = set(values) - set(Display.__dataclass_fields__)
    if unknown:
        raise ValueError(f"unknown display setting(s) {sorted(unknown)}")
    changes: dict[str, Any] = {}
    for key, value in values.items():
        if key in _FLOATS:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"{key} must be a number, not {value!r}")
            changes[key] = float(value)
        elif key == "width":
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_WIDTH:
                raise ValueError(f"width must be a whole number from 1 to {MAX_WIDTH}, not {value!r}")
            changes[key] = value
        else:
            choices = {"colormap": COLORMAPS, "contrast": CONTRASTS, "format": tuple(FORMATS)}[key]
            if value not in choices:
                raise ValueError(f"{key} {value!r} is not one of {', '.join(choices)}")
            changes[key] = value
    display = replace(base, **changes)
    if not 0 <= display.low_percentile < display.high_percentile <= 100:
        raise ValueError(f"percentiles {display.low_percentile:g} and {display.high_percentile:g} must satisfy "
                         "0 <= low < high <= 100")
    if display.contrast == "fixed" and not display.low < display.high:
        raise ValueError(f"fixed contrast needs low < high (got {display.low:g} and {display.high:g})")
    return display


@dataclass(frozen=True)
class Rendered:
    """An encoded picture of a frame and what the page prints beside it."""

    data: bytes
    mime: str
    width: int
    height: int
    step: int  # one shown pixel per step x step frame pixels
    low: float  # the values shown as the colour map's two ends
    high: float
    histogram: list[int]
    histogram_range: tuple[float, float]


def downscaled(image: np.ndarray, width: int) -> tuple[np.ndarray, int]:
    """Every step-th pixel of ``image`` (rows and columns) so that it is at most ``width`` wide, and step."""
    step = max(1, math.ceil(image.shape[1] / width))
    return (image[::step, ::step] if step > 1 else image), step


def sample(values: np.ndarray) -> np.ndarray:
    """About SAMPLE of ``values``, evenly strided (all of them when fewer)."""
    flat = values.ravel()
    return flat[::max(1, flat.size // SAMPLE)]


def contrast_limits(values: np.ndarray, display: Display) -> tuple[float, float]:
    """The values shown black and white: fixed, or the display's percentiles of ``values``."""
    if display.contrast == "fixed":
        return display.low, display.high
    low, high = (float(v) for v in np.percentile(values, (display.low_percentile, display.high_percentile)))
    return (low, high) if high > low else (low, low + 1.0)


def scaled(values: np.ndarray, low: float, high: float) -> np.ndarray:
    """``values`` mapped to 0..255 (low -> 0, high -> 255, clipped), rounded to the nearest level."""
    levels = (values.astype(np.float32) - np.float32(low)) * np.float32(255.0 / (high - low))
    return np.clip(np.rint(levels), 0, 255).astype(np.uint8)


def histogram(values: np.ndarray, value_range: tuple[float, float]) -> list[int]:
    """Counts of ``values`` in HISTOGRAM_BINS equal bins over ``value_range`` (a frame's histogram is drawn
    from a sample of it: its shape, not exact counts; its range is the whole frame's)."""
    low, high = value_range
    counts, _ = np.histogram(values, bins=HISTOGRAM_BINS, range=(low, high if high > low else low + 1.0))
    return counts.tolist()


def coloured(levels: np.ndarray, colormap: str) -> np.ndarray:
    """0..255 levels as the colour map's RGB (a mono image; 'gray' stays one channel)."""
    return levels if colormap == "gray" else LOOKUP_TABLES[colormap][levels]


def encode(pixels: np.ndarray, image_format: str) -> bytes:
    """``pixels`` (uint8, (ny, nx) or (ny, nx, 3)) as a PNG, JPEG or WebP file."""
    from PIL import Image  # the view extra's; imported here so that the options need no Pillow

    buffer = io.BytesIO()
    picture = Image.fromarray(pixels)
    if image_format == "png":
        picture.save(buffer, format="PNG", compress_level=1)  # fast: this runs at the display rate
    else:
        picture.save(buffer, format=image_format.upper(), quality=85)
    return buffer.getvalue()


def render(image: np.ndarray, display: Display) -> Rendered:
    """``image`` ((ny, nx) mono or (ny, nx, 3) RGB, any numeric dtype) as the browser shows it."""
    shown, step = downscaled(image, display.width)
    values = sample(shown)
    low, high = contrast_limits(values, display)
    levels = scaled(shown, low, high)
    pixels = levels if shown.ndim == 3 else coloured(levels, display.colormap)
    value_range = (float(shown.min()), float(shown.max())) if shown.size else (0.0, 0.0)
    counts = histogram(values, value_range)
    return Rendered(encode(np.ascontiguousarray(pixels), display.format), FORMATS[display.format],
                    shown.shape[1], shown.shape[0], step, low, high, counts, value_range)
