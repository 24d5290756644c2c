"""Example processor: put the tiles made by ``TileSplitter`` back into whole frames.

Run it in a collector that gathers the consumers which handled the tiles;
the collector hands the tiles over in id order, so the tiles of one frame
arrive together:

    pvaflow collector -pid 1,2,3,4 -ic tiles:*:out -pf examples/tile_stitcher.py -pc TileStitcher \\
        -oc stitched:image

A frame is published (with its original uniqueId, timestamps and
attributes) when all its tiles are in. At most ``maxPendingFrames``
(config, default 4) frames wait for missing tiles; older incomplete frames
are dropped and counted in ``nIncomplete``.
"""

import numpy as np
import pvaccess as pva

from pvaflow import AdImageProcessor, ntnd

TILE_ATTRIBUTES = ("FrameId", "TileIndex", "TileCount", "TileOffsetX", "TileOffsetY", "FrameSizeX", "FrameSizeY")


class PendingFrame:
    """A frame being assembled: its pixels and which tiles are in."""

    def __init__(self, first_tile, tile_image, attributes):
        ny, nx = attributes["FrameSizeY"], attributes["FrameSizeX"]
        self.image = np.empty((ny, nx) + tile_image.shape[2:], dtype=tile_image.dtype)
        self.tile_count = attributes["TileCount"]
        self.tiles_in = set()
        self.time_stamps = {"timeStamp": first_tile["timeStamp"], "dataTimeStamp": first_tile["dataTimeStamp"]}
        self.attributes = [a for a in first_tile["attribute"] if a["name"] not in TILE_ATTRIBUTES]

    def place(self, tile_image, attributes):
        y0, x0 = attributes["TileOffsetY"], attributes["TileOffsetX"]
        self.image[y0:y0 + tile_image.shape[0], x0:x0 + tile_image.shape[1]] = tile_image
        self.tiles_in.add(attributes["TileIndex"])
        return len(self.tiles_in) == self.tile_count


class TileStitcher(AdImageProcessor):
    def __init__(self, configDict={}):  # noqa: B006, N803 (the processor API's signature)
        super().__init__(configDict)
        self.maxPendingFrames = 4
        self.configure(configDict)
        self.pending = {}
        self.resetStats()

    def configure(self, configDict):  # noqa: N803
        self.maxPendingFrames = max(1, int(configDict.get("maxPendingFrames", self.maxPendingFrames)))

    def process(self, pvObject):  # noqa: N803
        _, tile_image, nx, ny, nz, color_mode, field_key = self.reshapeNtNdArray(pvObject)
        attributes = ntnd.attribute_values(pvObject)
        missing = [name for name in TILE_ATTRIBUTES if attributes.get(name) is None]
        if tile_image is None or missing:
            raise ValueError(f"not a tile: no image or no {', '.join(missing)} attribute")
        frame_id = attributes["FrameId"]
        frame = self.pending.get(frame_id)
        if frame is None:
            frame = self.pending[frame_id] = PendingFrame(pvObject, tile_image, attributes)
            while len(self.pending) > self.maxPendingFrames:
                del self.pending[min(self.pending)]
                self.nIncomplete += 1
        if not frame.place(tile_image, attributes):
            return None
        del self.pending[frame_id]
        output = ntnd.generate(frame_id, frame.image, color_mode)
        output["attribute"] = list(output["attribute"]) + frame.attributes
        output.set(frame.time_stamps)
        self.updateOutputChannel(output)
        self.nStitched += 1
        return output

    def getOutputPvObjectType(self, pvObject=None):  # noqa: N802, N803
        return pva.NtNdArray()

    def resetStats(self):  # noqa: N802
        self.nStitched = 0
        self.nIncomplete = 0

    def getStats(self):  # noqa: N802
        return {"nStitched": self.nStitched, "nIncomplete": self.nIncomplete, "nPending": len(self.pending)}

    def getStatsPvaTypes(self):  # noqa: N802
        return {"nStitched": pva.UINT, "nIncomplete": pva.UINT, "nPending": pva.UINT}
