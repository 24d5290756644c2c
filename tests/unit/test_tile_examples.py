"""The split and stitch example processors, without a stream: tiles out, whole frames back."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from pvaflow import ntnd

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))
from tile_splitter import TileSplitter  # noqa: E402
from tile_stitcher import TileStitcher  # noqa: E402


class Collected:
    """Stands in for the host's publisher: keeps copies of what the processor publishes."""

    def __init__(self) -> None:
        self.objects = []

    def updateOutputChannel(self, pvObject) -> None:  # noqa: N802, N803
        self.objects.append(pvObject.copy())


def hosted(processor):
    processor.outputChannel = "out"
    processor.dataPublisher = Collected()
    return processor


def split(image: np.ndarray, frame_id: int, mode: int, tiles_x: int, tiles_y: int) -> list:
    frame = ntnd.generate(frame_id, image, mode)
    ntnd.set_attributes(frame, {"Motor": 1.25})
    splitter = hosted(TileSplitter({"tilesX": tiles_x, "tilesY": tiles_y}))
    splitter.process(frame)
    return splitter.dataPublisher.objects


@pytest.mark.parametrize(("shape", "mode"), [((7, 11), ntnd.COLOR_MODE_MONO), ((6, 5, 3), ntnd.COLOR_MODE_RGB1)])
def test_split_then_stitch_gives_the_frame_back(shape: tuple, mode: int) -> None:
    image = np.random.default_rng(1).integers(0, 255, shape, dtype=np.uint8)
    tiles = split(image, 9, mode, tiles_x=3, tiles_y=2)
    assert [tile["uniqueId"] for tile in tiles] == list(range(54, 60))  # FrameId * TileCount + TileIndex
    assert ntnd.attribute_values(tiles[4])["TileOffsetX"] == shape[1] // 3  # second row, second column
    stitcher = hosted(TileStitcher())
    for tile in reversed(tiles):  # any order within a frame
        stitcher.process(tile)
    [frame] = stitcher.dataPublisher.objects
    restored = ntnd.reshape(frame)
    assert restored.image_id == 9 and restored.color_mode == mode
    np.testing.assert_array_equal(restored.image, image)
    assert ntnd.attribute_values(frame) == {"ColorMode": mode, "Motor": 1.25}
    assert stitcher.getStats() == {"nStitched": 1, "nIncomplete": 0, "nPending": 0}


def test_incomplete_frames_are_dropped_and_counted() -> None:
    image = np.arange(16, dtype=np.uint16).reshape(4, 4)
    stitcher = hosted(TileStitcher({"maxPendingFrames": 1}))
    stitcher.process(split(image, 1, ntnd.COLOR_MODE_MONO, 2, 2)[0])  # frame 1 loses three tiles
    for tile in split(image, 2, ntnd.COLOR_MODE_MONO, 2, 2):
        stitcher.process(tile)
    assert [ntnd.reshape(frame).image_id for frame in stitcher.dataPublisher.objects] == [2]
    assert stitcher.getStats() == {"nStitched": 1, "nIncomplete": 1, "nPending": 0}


def test_an_object_without_tile_attributes_is_refused() -> None:
    with pytest.raises(ValueError, match="not a tile: no image or no FrameId"):
        hosted(TileStitcher()).process(ntnd.generate(1, np.zeros((2, 2), dtype=np.uint8)))
