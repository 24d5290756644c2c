"""NTNDArray toolkit: round trips for every dtype and colour mode, and malformed arrays."""

from __future__ import annotations

import numpy as np
import pvaccess as pva
import pytest

from pvaflow import AdImageProcessor, FrameFormatError, ntnd

DTYPES = [np.dtype(name) for name in ntnd.DATATYPE_NAMES]
COLOR_MODES = sorted(ntnd.COLOR_MODE_NAMES)


def sample_image(dtype: np.dtype, mode: int, nx: int = 7, ny: int = 5) -> np.ndarray:
    shape = (ny, nx) if mode == ntnd.COLOR_MODE_MONO else (ny, nx, 3)
    image = (np.arange(np.prod(shape)).reshape(shape) % 100).astype(dtype)
    info = np.finfo(dtype) if dtype.kind == "f" else np.iinfo(dtype)
    image.flat[0], image.flat[-1] = info.min, info.max  # the extremes survive too
    return image


@pytest.mark.parametrize("mode", COLOR_MODES)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_generate_reshape_round_trip(dtype: np.dtype, mode: int) -> None:
    image = sample_image(dtype, mode)
    nt = ntnd.generate(42, image, mode)
    image_id, out, nx, ny, nz, color_mode, key = AdImageProcessor.reshapeNtNdArray(nt)
    assert (image_id, nx, ny, color_mode) == (42, 7, 5, mode)
    assert nz == (None if mode == ntnd.COLOR_MODE_MONO else 3)
    assert key == ntnd.DTYPE_FIELDS[dtype][0] == AdImageProcessor.getNtNdArrayDataFieldKey(image)
    assert out.dtype == dtype
    np.testing.assert_array_equal(out, image)


def test_dimension_order_follows_area_detector() -> None:
    # RGB1 keeps the colour fastest: dimension sizes [3, nx, ny] and pixel (0,0) first.
    image = sample_image(np.dtype("uint16"), ntnd.COLOR_MODE_RGB1)
    nt = ntnd.generate(1, image, ntnd.COLOR_MODE_RGB1)
    assert [d["size"] for d in nt["dimension"]] == [3, 7, 5]
    np.testing.assert_array_equal(nt["value"][0]["ushortValue"][:3], image[0, 0, :])
    rgb3 = ntnd.generate(1, image, ntnd.COLOR_MODE_RGB3)
    assert [d["size"] for d in rgb3["dimension"]] == [7, 5, 3]
    np.testing.assert_array_equal(rgb3["value"][0]["ushortValue"][:7], image[0, :, 0])


def test_generate_2d_sets_header_fields_and_extra_fields() -> None:
    extra = pva.PvObject({"exposure": pva.DOUBLE}, {"exposure": 0.5})
    image = np.arange(12, dtype=np.int32).reshape(3, 4)
    nt = AdImageProcessor.generateNtNdArray2D(9, image, extra)
    assert nt["uniqueId"] == 9
    assert nt["exposure"] == 0.5
    assert nt["compressedSize"] == nt["uncompressedSize"] == image.nbytes
    assert nt["timeStamp"]["secondsPastEpoch"] > 0
    assert nt["timeStamp"] == nt["dataTimeStamp"]
    np.testing.assert_array_equal(AdImageProcessor.reshapeNtNdArray(nt)[1], image)


def test_generate_2d_takes_pvapy_56s_positional_form_too() -> None:
    extra = pva.PvObject({"exposure": pva.DOUBLE}, {"exposure": 0.25})
    image = np.arange(12, dtype=np.uint16).reshape(3, 4)
    nt = AdImageProcessor.generateNtNdArray2D(4, image, 4, 3, None, None, extra)  # nx, ny, dtype, codec, extra
    assert nt["uniqueId"] == 4 and nt["exposure"] == 0.25
    np.testing.assert_array_equal(AdImageProcessor.reshapeNtNdArray(nt)[1], image)
    plain = AdImageProcessor.generateNtNdArray2D(5, image, 4, 3)
    np.testing.assert_array_equal(AdImageProcessor.reshapeNtNdArray(plain)[1], image)
    with pytest.raises(TypeError, match="at most 7 positional arguments"):
        AdImageProcessor.generateNtNdArray2D(6, image, 4, 3, None, None, extra, "more")


def test_replace_image_2d_reuses_object_and_changes_geometry() -> None:
    nt = AdImageProcessor.generateNtNdArray2D(1, np.zeros((4, 4), np.uint8))
    new = np.arange(6, dtype=np.uint8).reshape(2, 3)
    same = AdImageProcessor.replaceNtNdArrayImage2D(nt, 2, new)
    assert same is nt
    image_id, image, nx, ny, *_ = AdImageProcessor.reshapeNtNdArray(nt)
    assert (image_id, nx, ny) == (2, 3, 2)
    np.testing.assert_array_equal(image, new)


def test_empty_array_reshapes_to_none() -> None:
    assert AdImageProcessor.reshapeNtNdArray(pva.NtNdArray())[1:] == (None,) * 6


def test_unknown_dtype_has_no_field_key() -> None:
    assert AdImageProcessor.getNtNdArrayDataFieldKey(np.zeros(2, np.complex64)) is None
    with pytest.raises(FrameFormatError, match="complex64"):
        ntnd.generate(1, np.zeros((2, 2), np.complex64))


def malformed(change: str) -> pva.PvObject:
    nt = ntnd.generate(5, np.zeros((4, 6), np.uint8))
    if change == "size":
        nt["dimension"] = ntnd.dimensions(6, 5)
    elif change == "colour":
        nt["attribute"] = [pva.NtAttribute("ColorMode", pva.PvInt(7))]
    elif change == "3d-no-colour":
        nt["dimension"] = ntnd.dimensions(2, 4, ntnd.COLOR_MODE_RGB1)
        nt["attribute"] = []
    elif change == "empty-union":
        empty = pva.NtNdArray()
        empty["dimension"] = ntnd.dimensions(6, 4)
        return empty
    return nt


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("size", "need 30 values, value has 24"),
        ("colour", "do not fit colour mode 7"),
        ("3d-no-colour", "no ColorMode attribute"),
        ("empty-union", "union is empty"),
    ],
)
def test_malformed_arrays_raise_one_line_errors(change: str, message: str) -> None:
    with pytest.raises(FrameFormatError, match=message) as info:
        AdImageProcessor.reshapeNtNdArray(malformed(change))
    assert "\n" not in str(info.value)


def test_stamp_sets_id_and_both_time_stamps() -> None:
    nt = ntnd.generate(0, np.zeros((2, 2), np.uint8))
    ntnd.stamp(nt, 77, 1700000000.25)
    assert nt["uniqueId"] == 77
    assert nt["timeStamp"]["secondsPastEpoch"] == 1700000000
    assert nt["dataTimeStamp"]["nanoseconds"] == 250000000


def test_attributes_are_added_replaced_and_read_back() -> None:
    nt = ntnd.generate(1, np.zeros((2, 3), dtype=np.uint8))
    ntnd.set_attributes(nt, {"FrameId": 7, "Motor": 1.5, "Name": "x", "Open": True})
    ntnd.set_attributes(nt, {"FrameId": 8})
    assert ntnd.attribute_values(nt) == {"ColorMode": 0, "Motor": 1.5, "Name": "x", "Open": True, "FrameId": 8}
    assert ntnd.reshape(nt).color_mode == ntnd.COLOR_MODE_MONO
    with pytest.raises(TypeError, match="'Bad': list values are not supported"):
        ntnd.set_attributes(nt, {"Bad": [1]})


def test_attributes_kept_keep_every_field_they_had() -> None:
    """Kept attributes are written back without the fields holding defaults: what is read back is unchanged."""
    nt = ntnd.generate(1, np.zeros((2, 3), dtype=np.uint8))
    detector_attribute = {"name": "Gain", "value": ({"value": 2.5}, {"value": pva.DOUBLE}), "tags": ["t"],
                          "descriptor": "gain of the amplifier", "alarm": {"severity": 1, "status": 2, "message": "m"},
                          "timeStamp": {"secondsPastEpoch": 5, "nanoseconds": 6, "userTag": 7}, "sourceType": 1,
                          "source": "DET:Gain"}
    nt["attribute"] = nt["attribute"] + [detector_attribute]
    before = nt["attribute"]
    ntnd.set_attributes(nt, {"Motor": np.float64(1.5), "Count": np.int32(3).item(), "Flag": np.bool_(True).item()})
    after = nt["attribute"]
    assert after[:2] == before
    assert ntnd.attribute_values(nt) == {"ColorMode": 0, "Gain": 2.5, "Motor": 1.5, "Count": 3, "Flag": True}
