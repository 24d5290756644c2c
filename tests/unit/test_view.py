"""The viewer's pure parts: rendering a frame for the browser, its settings, the channel kinds, rates, the
page address; and a viewer that cannot listen."""

from __future__ import annotations

import argparse
import io
import re
import socket
import subprocess
import sys

import numpy as np
import pvaccess as pva
import pytest
from PIL import Image

from pvaflow import codecs, ntnd
from pvaflow.cli.view import parse_bind
from pvaflow.errors import ConfigError, FrameFormatError
from pvaflow.view.render import (
    COLORMAPS,
    HISTOGRAM_BINS,
    LOOKUP_TABLES,
    SAMPLE,
    Display,
    display_settings,
    render,
    scaled,
)
from pvaflow.view.server import ViewServer, control_channel
from pvaflow.view.session import picture
from pvaflow.view.settings import ViewSettings
from pvaflow.view.stages import RateHistory
from pvaflow.view.watch import IMAGE, OTHER, STATUS, ChannelWatch, RateMeter, kind_of


def decoded(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)))


def test_fixed_contrast_0_to_255_draws_uint8_levels_as_they_are() -> None:
    image = np.arange(256, dtype=np.uint8).reshape(16, 16)
    shown = render(image, Display(contrast="fixed", low=0, high=255))
    np.testing.assert_array_equal(decoded(shown.data), image)
    assert (shown.width, shown.height, shown.step, shown.low, shown.high) == (16, 16, 1, 0, 255)


def test_contrast_maps_low_to_black_and_high_to_white_and_clips() -> None:
    values = np.array([[-5.0, 10.0, 15.0, 20.0, 99.0]])
    np.testing.assert_array_equal(scaled(values, 10, 20), [[0, 0, 128, 255, 255]])


def test_automatic_contrast_is_between_the_percentiles() -> None:
    image = np.arange(10_000, dtype=np.uint16).reshape(100, 100)
    shown = render(image, Display(low_percentile=1, high_percentile=99))
    assert shown.low == pytest.approx(99.99) and shown.high == pytest.approx(9899.01)
    flat = render(np.full((4, 4), 7, dtype=np.int32), Display())  # one value: not a division by zero
    assert (flat.low, flat.high) == (7, 8)


def test_the_histogram_of_a_big_frame_is_of_a_sample_over_the_whole_range() -> None:
    image = np.zeros((1024, 1024), dtype=np.uint16)
    image[5, 5] = 60_000  # one hot pixel, off the sample's grid: still the top of the range
    shown = render(image, Display())
    assert shown.histogram_range == (0, 60_000) and sum(shown.histogram) == pytest.approx(SAMPLE, rel=0.01)


def test_wide_frames_are_downscaled_to_the_canvas() -> None:
    image = np.zeros((300, 2048), dtype=np.uint8)
    shown = render(image, Display(width=1000))
    assert (shown.step, shown.width, shown.height) == (3, 683, 100)
    assert decoded(shown.data).shape == (100, 683)


@pytest.mark.parametrize("colormap", COLORMAPS)
def test_colour_maps(colormap: str) -> None:
    image = np.array([[0, 255]], dtype=np.uint8)
    pixels = decoded(render(image, Display(colormap=colormap, contrast="fixed", low=0, high=255)).data)
    if colormap == "gray":
        np.testing.assert_array_equal(pixels, image)
    else:
        np.testing.assert_array_equal(pixels[0], LOOKUP_TABLES[colormap][[0, 255]])
    assert LOOKUP_TABLES["viridis"][0].tolist() == [0x44, 0x01, 0x54]


@pytest.mark.parametrize("dtype", list(ntnd.DTYPE_FIELDS))
def test_every_ntndarray_dtype_renders_with_its_histogram(dtype: np.dtype) -> None:
    image = (np.arange(64 * 32) % 100).astype(dtype).reshape(32, 64)
    shown = render(image, Display(contrast="fixed", low=0, high=99))
    assert decoded(shown.data)[0, :3].tolist() == [0, 3, 5]
    assert len(shown.histogram) == HISTOGRAM_BINS and sum(shown.histogram) == image.size  # under SAMPLE values
    assert shown.histogram_range == (0, 99)


@pytest.mark.parametrize("image_format", ["jpeg", "webp"])
def test_lossy_formats(image_format: str) -> None:
    shown = render(np.zeros((8, 8), dtype=np.uint8), Display(format=image_format))
    assert shown.mime == f"image/{image_format}" and decoded(shown.data).shape[:2] == (8, 8)


@pytest.mark.parametrize("mode", [ntnd.COLOR_MODE_RGB1, ntnd.COLOR_MODE_RGB2, ntnd.COLOR_MODE_RGB3])
def test_colour_frames_are_drawn_in_their_colours(mode: int) -> None:
    image = np.zeros((4, 6, 3), dtype=np.uint8)
    image[..., 0], image[1, 2] = 200, (10, 20, 30)
    shot = picture(ntnd.generate(5, image, mode), Display(contrast="fixed", low=0, high=255))
    np.testing.assert_array_equal(decoded(shot.rendered.data), image)
    assert shot.image_id == 5 and shot.geometry["colorMode"] == ntnd.COLOR_MODE_NAMES[mode]
    assert (shot.geometry["nx"], shot.geometry["ny"], shot.geometry["nz"]) == (6, 4, 3)


def test_a_record_without_an_image_has_nothing_to_draw_and_a_bad_frame_is_named() -> None:
    assert picture(pva.NtNdArray(), Display()) is None
    frame = ntnd.generate(3, np.zeros((4, 4), dtype=np.uint8))
    frame["dimension"] = ntnd.dimensions(5, 4)
    with pytest.raises(FrameFormatError, match=re.escape("dimension sizes [5, 4] need 20 values, value has 16")):
        picture(frame, Display())


def test_compressed_frames_are_drawn_decompressed() -> None:
    image = (np.arange(40 * 30) % 256).astype(np.uint16).reshape(30, 40)
    payload = codecs.compress("lz4", image)
    frame = ntnd.generate_compressed(9, payload, "lz4", image.dtype, 40, 30)
    shot = picture(frame, Display(contrast="fixed", low=0, high=255))
    np.testing.assert_array_equal(decoded(shot.rendered.data), image)
    assert shot.geometry["compressed"] == "lz4" and shot.geometry["dtype"] == "uint16"


@pytest.mark.parametrize(("values", "message"), [
    ({"colormap": "rainbow"}, "colormap 'rainbow' is not one of"),
    ({"contrast": "fixed", "low": 5, "high": 5}, "fixed contrast needs low < high"),
    ({"low_percentile": 50, "high_percentile": 10}, "percentiles 50 and 10"),
    ({"width": True}, "width must be a whole number"),
    ({"width": 0}, "width must be a whole number"),
    ({"low": "0"}, "low must be a number"),
    ({"low": float("nan")}, "low must be a number"),
    ({"zoom": 2}, "unknown display setting(s) ['zoom']"),
])
def test_bad_display_settings_are_named(values: dict, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        display_settings(values)


def test_display_settings_change_only_what_is_given() -> None:
    base = Display(colormap="hot", width=500)
    assert display_settings({"contrast": "fixed", "low": 1, "high": 2}, base) == Display(
        colormap="hot", width=500, contrast="fixed", low=1.0, high=2.0)


def test_channel_kinds() -> None:
    assert kind_of(ntnd.generate(1, np.zeros((2, 2), dtype=np.uint8))) == IMAGE
    assert kind_of(pva.PvObject({"processorStats": {"nProcessed": pva.UINT}})) == STATUS
    assert kind_of(pva.PvObject({"value": pva.DOUBLE})) == OTHER


def test_rate_meter_counts_over_the_last_two_seconds() -> None:
    meter = RateMeter()
    assert meter.rate(0.0, 0) == 0.0
    assert meter.rate(1.0, 10) == 10.0
    assert meter.rate(2.0, 30) == 15.0
    assert meter.rate(4.0, 30) == 0.0  # nothing for two seconds


def test_every_frame_counts_gaps_in_ids_as_missed() -> None:
    watch = ChannelWatch("unit:ids", every_frame=True)
    for image_id in (5, 6, 9, 10, 3, 4):  # 7 and 8 lost; then the source started again
        watch.on_id(pva.PvObject({"uniqueId": pva.INT}, {"uniqueId": image_id}))
    counts = watch.counts()
    assert (counts.received, counts.missed, counts.skipped) == (6, 2, 0)


def test_rate_history_keeps_ten_minutes_of_stages_with_a_rate() -> None:
    history = RateHistory()
    history.add(0.0, [{"name": "a", "rate": 1.0}, {"name": "source", "rate": None}])
    history.add(300.0, [{"name": "a", "rate": 2.0}])
    history.add(601.0, [{"name": "a", "rate": 3.0}])
    assert history.series(601.0) == {"a": [(-301.0, 2.0), (0.0, 3.0)]}


@pytest.mark.parametrize(("text", "address"), [
    ("127.0.0.1:8800", ("127.0.0.1", 8800)), ("0.0.0.0", ("0.0.0.0", 8800)), (":0", ("127.0.0.1", 0)),
    ("[::1]:9000", ("::1", 9000)), ("[::1]", ("::1", 8800)), ("::1", ("::1", 8800)), ("localhost:1", ("localhost", 1)),
])
def test_bind_addresses(text: str, address: tuple[str, int]) -> None:
    assert parse_bind(text) == address


@pytest.mark.parametrize("text", ["host:port", "127.0.0.1:70000", "[::1]x"])
def test_bad_bind_addresses_are_named(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match=re.escape(f"'{text}' is not HOST")):
        parse_bind(text)


def test_control_channel_beside_a_status_channel() -> None:
    assert control_channel("pvapy:consumer:1:status") == "pvapy:consumer:1:control"
    assert control_channel("statuschannel") is None and control_channel("x:stats") is None


def test_a_viewer_that_cannot_listen_says_where() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = ViewServer(ViewSettings([], port=port))
        with pytest.raises(ConfigError, match=f"--bind 127.0.0.1:{port}: cannot listen there"):
            server.start()


def test_without_the_view_extra_the_viewer_names_what_to_install() -> None:
    blocked = """
import sys
class Block:
    def find_spec(self, name, path, target=None):
        if name.split('.')[0] in ('aiohttp', 'PIL'):
            raise ImportError(name=name.split('.')[0])
sys.meta_path.insert(0, Block())
from pvaflow.cli.main import main
sys.exit(main(['view', 'unit:image']))
"""
    result = subprocess.run([sys.executable, "-c", blocked], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip() == ("pvaflow view: error: the web view needs aiohttp, which is not installed: "
                                     "pip install 'pvaflow[view]'")
