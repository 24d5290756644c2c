"""Our stand-in for pvaPy's stitch image processor (examples/stitchAdImageProcessorExample.py): puts the
tiles of one uniqueId (from SplitAdImageProcessor) back into an nx by ny frame and publishes it once every
tile is in.
"""

import numpy as np
import pvaccess as pva
from pvapy.hpc.adImageProcessor import AdImageProcessor


def attribute(pvObject, name):
    for item in pvObject["attribute"]:
        if item["name"] == name:
            return item["value"][0]["value"]
    raise KeyError(name)


class StitchAdImageProcessor(AdImageProcessor):

    def __init__(self, configDict={}):  # noqa: B006, N803
        AdImageProcessor.__init__(self, configDict)
        self.nx = int(configDict.get("nx", 0))
        self.ny = int(configDict.get("ny", 0))
        self.frames = {}  # uniqueId -> [image, number of tiles in]
        self.nFramesStitched = 0

    def process(self, pvObject):  # noqa: N803
        (imageId, tile, tileNx, tileNy, nz, colorMode, fieldKey) = self.reshapeNtNdArray(pvObject)
        if tile is None:
            return None
        tileX, tileY = attribute(pvObject, "tileX"), attribute(pvObject, "tileY")
        nTiles = attribute(pvObject, "nTilesX") * attribute(pvObject, "nTilesY")
        frame = self.frames.setdefault(imageId, [np.zeros((self.ny, self.nx), tile.dtype), 0])
        frame[0][tileY * tileNy:(tileY + 1) * tileNy, tileX * tileNx:(tileX + 1) * tileNx] = tile
        frame[1] += 1
        if frame[1] < nTiles:
            return None
        del self.frames[imageId]
        outputObject = self.generateNtNdArray2D(imageId, frame[0])
        self.updateOutputChannel(outputObject)
        self.nFramesStitched += 1
        self.logger.debug("Stitched frame %s", imageId)
        return outputObject

    def resetStats(self):
        self.nFramesStitched = 0

    def getStats(self):
        return {"nFramesStitched": self.nFramesStitched}

    def getStatsPvaTypes(self):
        return {"nFramesStitched": pva.UINT}
