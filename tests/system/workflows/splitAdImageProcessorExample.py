"""Our stand-in for pvaPy's split image processor (examples/splitAdImageProcessorExample.py): splits each
frame into tiles of nx by ny pixels, published one by one with the frame's uniqueId and tile attributes.

Each tile is a new NTNDArray (generateNtNdArray2D gives it its own time stamp, so the distributor's default
trigger sees every tile as an update of its own).
"""

import pvaccess as pva
from pvapy.hpc.adImageProcessor import AdImageProcessor


class SplitAdImageProcessor(AdImageProcessor):

    def __init__(self, configDict={}):  # noqa: B006, N803
        AdImageProcessor.__init__(self, configDict)
        self.nx = int(configDict.get("nx", 0))
        self.ny = int(configDict.get("ny", 0))
        self.nTilesPublished = 0

    def process(self, pvObject):  # noqa: N803
        (imageId, image, nx, ny, nz, colorMode, fieldKey) = self.reshapeNtNdArray(pvObject)
        if image is None:
            return pvObject
        tileNx, tileNy = self.nx or nx, self.ny or ny
        nTilesX, nTilesY = nx // tileNx, ny // tileNy
        for tileY in range(nTilesY):
            for tileX in range(nTilesX):
                tile = image[tileY * tileNy:(tileY + 1) * tileNy, tileX * tileNx:(tileX + 1) * tileNx].copy()
                tileObject = self.generateNtNdArray2D(imageId, tile)
                attributes = tileObject["attribute"]
                for name, value in (("tileX", tileX), ("tileY", tileY), ("nTilesX", nTilesX), ("nTilesY", nTilesY)):
                    attributes.append(pva.NtAttribute(name, pva.PvInt(value)))
                tileObject["attribute"] = attributes
                self.updateOutputChannel(tileObject)
                self.nTilesPublished += 1
        self.logger.debug("Split frame %s into %s tiles", imageId, nTilesX * nTilesY)
        return pvObject

    def resetStats(self):
        self.nTilesPublished = 0

    def getStats(self):
        return {"nTilesPublished": self.nTilesPublished}

    def getStatsPvaTypes(self):
        return {"nTilesPublished": pva.UINT}
