"""Frame sources: random frames, .npy/.npz, TIFF, HDF5 (plain and raw chunks), raw binary."""

from __future__ import annotations

import json

import h5py
import hdf5plugin
import numpy as np
import pytest
import tifffile

from pvaflow import ConfigError, codecs
from pvaflow.sim.sources import (
    FileOptions,
    FrameSpec,
    RandomFrames,
    check_datatype,
    input_paths,
    load_raw_layout,
    open_file,
    open_files,
)

STACK = (np.arange(4 * 6 * 5, dtype=np.uint16) * 7).reshape(4, 6, 5)


@pytest.mark.parametrize("name", ["int8", "uint16", "int64", "uint64", "float32", "float64"])
def test_random_frames_respect_dtype_and_range(name: str) -> None:
    spec = FrameSpec(nx=16, ny=8, dtype=np.dtype(name))
    source = RandomFrames(spec, n_frames=3, minimum=-5, maximum=20, seed=1)
    frame = source.frame(1)
    assert frame.shape == (8, 16) and frame.dtype == np.dtype(name)
    low = 0 if name.startswith("u") else -5
    assert frame.min() >= low and frame.max() <= 20


def test_random_rgb_frames_have_three_components() -> None:
    spec = FrameSpec(nx=4, ny=3, dtype=np.dtype("uint8"), color_mode=4)
    assert RandomFrames(spec, 2).frame(0).shape == (3, 4, 3)


def test_random_ring_is_bounded_for_large_frames() -> None:
    spec = FrameSpec(nx=1024, ny=1024, dtype=np.dtype("uint16"))
    source = RandomFrames(spec, n_frames=1000, ring_bytes=8 * 1024 * 1024)
    assert source.n_frames == len(source.ring) == 4  # 8 MiB / 2 MiB frames, not 1000
    np.testing.assert_array_equal(source.frame(5), source.frame(1))


def test_bad_random_options_are_refused() -> None:
    with pytest.raises(ConfigError, match="unknown datatype 'uint128'"):
        check_datatype("uint128")
    with pytest.raises(ConfigError, match="unknown colour mode 1"):
        RandomFrames(FrameSpec(4, 4, np.dtype("uint8"), color_mode=1), 1)
    with pytest.raises(ConfigError, match="is above -mx"):
        RandomFrames(FrameSpec(4, 4, np.dtype("uint8")), 1, minimum=9, maximum=2)


@pytest.mark.parametrize("mmap", [False, True])
def test_npy_stack(tmp_path, mmap: bool) -> None:
    path = tmp_path / "stack.npy"
    np.save(path, STACK)
    source = open_file(str(path), FileOptions(mmap=mmap))
    assert (source.n_frames, source.spec.nx, source.spec.ny) == (4, 5, 6)
    np.testing.assert_array_equal(source.frame(2), STACK[2])


def test_tiff_and_directory_concatenation(tmp_path) -> None:
    tifffile.imwrite(tmp_path / "a.tif", STACK[:2])
    np.save(tmp_path / "b.npy", STACK[2:])
    source = open_files(input_paths(None, str(tmp_path)), FileOptions())
    assert source.n_frames == 4
    for index in range(4):
        np.testing.assert_array_equal(source.frame(index), STACK[index])


def test_hdf5_dataset(tmp_path) -> None:
    path = tmp_path / "data.h5"
    with h5py.File(path, "w") as file:
        file["/entry/data"] = STACK
    source = open_file(str(path), FileOptions(hdf_dataset="/entry/data"))
    np.testing.assert_array_equal(source.frame(3), STACK[3])
    with pytest.raises(ConfigError, match="needs the dataset path"):
        open_file(str(path), FileOptions())


@pytest.mark.parametrize(
    ("codec", "compression"),
    [
        ("blosc", hdf5plugin.Blosc(cname="lz4")),
        ("lz4", hdf5plugin.LZ4()),
        ("bslz4", hdf5plugin.Bitshuffle(cname="lz4")),
    ],
)
@pytest.mark.parametrize("content", ["smooth", "noise"])
def test_hdf5_raw_chunks_decode_like_area_detector_payloads(tmp_path, codec, compression, content):
    # smooth frames are stored compressed; HDF5 stores noise chunks raw, which must still work
    shape = (3, 64, 48)
    stack = (np.arange(np.prod(shape)) // 7).reshape(shape).astype(np.uint16)
    if content == "noise":
        stack = np.random.default_rng(3).integers(0, 65535, shape, dtype=np.uint16)
    path = tmp_path / "compressed.h5"
    with h5py.File(path, "w") as file:
        file.create_dataset("data", data=stack, chunks=(1, 64, 48), **compression)
    source = open_file(str(path), FileOptions(hdf_dataset="data", hdf_compressed=True))
    assert source.spec.codec == codec
    for index in range(3):
        payload = source.frame(index)
        decoded = codecs.decompress(codec, payload, np.dtype("uint16"), stack[index].nbytes)
        np.testing.assert_array_equal(decoded.reshape(64, 48), stack[index])


def test_raw_binary_with_layout(tmp_path) -> None:
    path = tmp_path / "frames.bin"
    path.write_bytes(b"HEADER!!" + STACK.astype(">u2").tobytes())
    layout_path = tmp_path / "layout.json"
    layout = {"file_info": {"header_offset": 8, "width": 5, "height": 6, "datatype": "uint16",
                            "endian": ">"}}
    layout_path.write_text(json.dumps(layout))
    source = open_file(str(path), FileOptions(raw_layout=load_raw_layout(str(layout_path))))
    assert source.n_frames == 4 and source.spec.dtype == np.dtype("uint16")
    np.testing.assert_array_equal(source.frame(3), STACK[3])


def test_unknown_file_type_and_missing_paths(tmp_path) -> None:
    (tmp_path / "x.png").write_bytes(b"")
    with pytest.raises(ConfigError, match="unknown input file type '.png'"):
        open_file(str(tmp_path / "x.png"), FileOptions())
    with pytest.raises(ConfigError, match="does not exist"):
        input_paths(str(tmp_path / "missing.npy"), None)
