"""Example processor: publish a binary mask of the pixels above a level.

    pvaflow consumer -ic pvapy:image -pf examples/threshold_processor.py -pc Threshold \\
        -pa '{"level": 100}' -oc threshold:out -cc _ -sc _

Change the level while it runs:

    pvput pvapy:consumer:1:control command=configure args='{"level": 50}'
"""

import numpy as np
import pvaccess as pva

from pvaflow import AdImageProcessor


class Threshold(AdImageProcessor):
    def __init__(self, configDict={}):  # noqa: B006, N803 (the processor API's signature)
        super().__init__(configDict)
        self.level = int(configDict.get("level", 100))
        self.nAbove = 0

    def configure(self, configDict):  # noqa: N803
        if "level" in configDict:
            self.level = int(configDict["level"])

    def process(self, pvObject):  # noqa: N803
        imageId, image, nx, ny, nz, colorMode, fieldKey = self.reshapeNtNdArray(pvObject)
        if image is None:
            return None
        mask = (image > self.level).astype(np.uint8)
        self.nAbove = int(mask.sum())
        output = self.generateNtNdArray2D(imageId, mask)
        self.updateOutputChannel(output)
        return output

    def resetStats(self):
        self.nAbove = 0

    def getStats(self):
        return {"level": self.level, "nAbove": self.nAbove}

    def getStatsPvaTypes(self):
        return {"level": pva.INT, "nAbove": pva.UINT}
