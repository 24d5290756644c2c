"""Compressed NTNDArrays: blosc, lz4 and bslz4 decode pixel-exact; missing packages are named."""

from __future__ import annotations

import sys

import bitshuffle
import blosc
import lz4.block
import numpy as np
import pytest

from pvaflow import AdImageProcessor, CodecUnavailableError, FrameFormatError, codecs, ntnd

IMAGE = (np.arange(64 * 48, dtype=np.uint16) % 1000).reshape(48, 64)

COMPRESS = {
    "blosc": lambda a: np.frombuffer(blosc.compress(a.tobytes(), typesize=a.itemsize), np.uint8),
    "lz4": lambda a: np.frombuffer(lz4.block.compress(a.tobytes(), store_size=False), np.uint8),
    "bslz4": lambda a: bitshuffle.compress_lz4(a.ravel(), 0).view(np.uint8),
}


def compressed_ntndarray(codec: str, image: np.ndarray = IMAGE):
    ny, nx = image.shape
    payload = COMPRESS[codec](image)
    return AdImageProcessor.generateNtNdArray2D(
        3, payload, nx=nx, ny=ny, dtype=image.dtype, compressorName=codec
    )


@pytest.mark.parametrize("codec", sorted(COMPRESS))
def test_compressed_frames_decode_pixel_exact(codec: str) -> None:
    nt = compressed_ntndarray(codec)
    assert nt["codec"]["name"] == codec
    assert nt["compressedSize"] < nt["uncompressedSize"] == IMAGE.nbytes
    image_id, image, nx, ny, _, _, _ = AdImageProcessor.reshapeNtNdArray(nt)
    assert (image_id, nx, ny) == (3, 64, 48)
    assert image.dtype == IMAGE.dtype
    np.testing.assert_array_equal(image, IMAGE)


@pytest.mark.parametrize(("codec", "module", "package"), [
    ("blosc", "blosc", "blosc"),
    ("lz4", "lz4.block", "lz4"),
    ("bslz4", "bitshuffle", "bitshuffle"),
])
def test_missing_codec_package_is_named(monkeypatch, codec: str, module: str, package: str) -> None:
    nt = compressed_ntndarray(codec)
    monkeypatch.setitem(sys.modules, module, None)  # makes the import fail as if not installed
    with pytest.raises(CodecUnavailableError, match=f"needs the Python package '{package}'") as info:
        AdImageProcessor.reshapeNtNdArray(nt)
    assert info.value.package == package


def test_unknown_codec_is_refused() -> None:
    with pytest.raises(FrameFormatError, match="unknown codec 'zstd'"):
        codecs.decompress("zstd", np.zeros(4, np.uint8), np.dtype("uint8"), 4)


@pytest.mark.parametrize("codec", sorted(COMPRESS))
def test_corrupt_payload_is_a_frame_format_error(codec: str) -> None:
    garbage = np.full(40, 0xFF, np.uint8)
    with pytest.raises(FrameFormatError) as info:
        codecs.decompress(codec, garbage, np.dtype("uint16"), IMAGE.nbytes)
    assert not isinstance(info.value, CodecUnavailableError)


def test_wrong_uncompressed_size_is_refused() -> None:
    nt = compressed_ntndarray("lz4")
    nt["uncompressedSize"] = IMAGE.nbytes + 2
    with pytest.raises(FrameFormatError):
        ntnd.reshape(nt)
