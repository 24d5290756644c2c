"""Our stand-in for pvaPy's sample AD image processor (examples/hpcAdImageProcessorExample.py), written as a
pvaPy user writes one: it subclasses pvaPy's own base class and logs every frame through its logger.

It rotates every image by 180 degrees and publishes it; configure() takes any keys (the documented
``{"x": 100}`` among them).
"""

import numpy as np
import pvaccess as pva
from pvapy.hpc.adImageProcessor import AdImageProcessor


class HpcAdImageProcessor(AdImageProcessor):

    def __init__(self, configDict={}):  # noqa: B006, N803 (pvaPy's signature)
        AdImageProcessor.__init__(self, configDict)
        self.configure(configDict)
        self.nFramesProcessed = 0

    def configure(self, configDict):  # noqa: N803
        self.logger.debug("Configuration update: %s", configDict)
        self.x = configDict.get("x", getattr(self, "x", 0))

    def process(self, pvObject):  # noqa: N803
        (imageId, image, nx, ny, nz, colorMode, fieldKey) = self.reshapeNtNdArray(pvObject)
        if image is None:
            return pvObject
        rotated = np.ascontiguousarray(np.rot90(image, 2))
        outputObject = self.generateNtNdArray2D(imageId, rotated)
        self.updateOutputChannel(outputObject)
        self.nFramesProcessed += 1
        self.logger.debug("Processed frame %s (%sx%s)", imageId, nx, ny)
        return outputObject

    def resetStats(self):
        self.nFramesProcessed = 0

    def getStats(self):
        return {"nFramesProcessed": self.nFramesProcessed}

    def getStatsPvaTypes(self):
        return {"nFramesProcessed": pva.UINT}
