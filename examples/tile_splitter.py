"""Example processor: split every frame into tiles, one output object per tile.

Run it in a consumer; the tiles can then be spread over several consumers
and put back together by ``TileStitcher`` in a collector:

    pvaflow consumer -ic pvapy:image -pf examples/tile_splitter.py -pc TileSplitter \\
        -pa '{"tilesX": 2, "tilesY": 2}' -oc split:tiles

Each tile is an NTNDArray with the attributes the stitcher needs:
``FrameId`` (the frame's uniqueId), ``TileIndex`` (row-major, from 0),
``TileCount``, ``TileOffsetX``/``TileOffsetY`` (pixels) and
``FrameSizeX``/``FrameSizeY``. Tile ids stay unique and in order over the
whole stream: ``uniqueId = FrameId * TileCount + TileIndex``. Downstream
consumers and collectors order and account by that id; set their
``--oid-offset`` accordingly if they see only some tiles. The tiles keep
the frame's timestamps and attributes, so consumers that share the tiles
through the distributor must trigger on the id (``-dt uniqueId``): the
distributor's default trigger, the timestamp, sees all tiles of a frame as
one update.

    pvaflow consumer -ic split:tiles -oc tiles:*:out -nc 4 -du 1 -dt uniqueId -sqs 20
"""

import numpy as np
import pvaccess as pva

from pvaflow import AdImageProcessor, ntnd


def tile_bounds(size: int, n_tiles: int) -> list[tuple[int, int]]:
    """(start, stop) of ``n_tiles`` nearly equal pieces of ``size`` pixels."""
    edges = np.linspace(0, size, n_tiles + 1).astype(int)
    return list(zip(edges[:-1].tolist(), edges[1:].tolist(), strict=True))


class TileSplitter(AdImageProcessor):
    def __init__(self, configDict={}):  # noqa: B006, N803 (the processor API's signature)
        super().__init__(configDict)
        self.tilesX = 2
        self.tilesY = 2
        self.configure(configDict)
        self.nFrames = 0
        self.nTiles = 0

    def configure(self, configDict):  # noqa: N803
        tiles_x = int(configDict.get("tilesX", self.tilesX))
        tiles_y = int(configDict.get("tilesY", self.tilesY))
        if tiles_x < 1 or tiles_y < 1:
            raise ValueError(f"tilesX and tilesY must be >= 1, not {tiles_x} and {tiles_y}")
        self.tilesX, self.tilesY = tiles_x, tiles_y

    def process(self, pvObject):  # noqa: N803
        frame_id, image, nx, ny, nz, color_mode, field_key = self.reshapeNtNdArray(pvObject)
        if image is None:
            return None
        tile_count = self.tilesX * self.tilesY
        frame_attributes = [a for a in pvObject["attribute"] if a["name"] != ntnd.COLOR_ATTRIBUTE]
        time_stamps = {"timeStamp": pvObject["timeStamp"], "dataTimeStamp": pvObject["dataTimeStamp"]}
        tile_index = 0
        for y0, y1 in tile_bounds(ny, self.tilesY):
            for x0, x1 in tile_bounds(nx, self.tilesX):
                tile = ntnd.generate(frame_id * tile_count + tile_index, image[y0:y1, x0:x1], color_mode)
                tile["attribute"] = list(tile["attribute"]) + frame_attributes
                ntnd.set_attributes(tile, {
                    "FrameId": frame_id, "TileIndex": tile_index, "TileCount": tile_count,
                    "TileOffsetX": x0, "TileOffsetY": y0, "FrameSizeX": nx, "FrameSizeY": ny,
                })
                tile.set(time_stamps)
                self.updateOutputChannel(tile)
                tile_index += 1
        self.nFrames += 1
        self.nTiles += tile_count
        return None

    def getOutputPvObjectType(self, pvObject=None):  # noqa: N802, N803
        return pva.NtNdArray()

    def resetStats(self):  # noqa: N802
        self.nFrames = 0
        self.nTiles = 0

    def getStats(self):  # noqa: N802
        return {"nFrames": self.nFrames, "nTiles": self.nTiles}

    def getStatsPvaTypes(self):  # noqa: N802
        return {"nFrames": pva.UINT, "nTiles": pva.UINT}
