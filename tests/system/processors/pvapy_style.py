"""A processor file exactly as written for pvaPy: it imports pvaPy's own base class."""

import numpy as np
import pvaccess as pva
from pvapy.hpc.adImageProcessor import AdImageProcessor


class InvertImage(AdImageProcessor):

    def __init__(self, configDict={}):  # noqa: B006, N803
        AdImageProcessor.__init__(self, configDict)
        self.nProcessed = 0

    def process(self, pvObject):  # noqa: N803
        (imageId, image, nx, ny, nz, colorMode, fieldKey) = self.reshapeNtNdArray(pvObject)
        inverted = (np.iinfo(image.dtype).max - image).astype(image.dtype)
        outputObject = self.generateNtNdArray2D(imageId, inverted)
        self.updateOutputChannel(outputObject)
        self.nProcessed += 1
        self.logger.debug("Inverted image %s", imageId)  # pvaPy's logger (LoggingManager), as its examples log
        return outputObject

    def resetStats(self):
        self.nProcessed = 0

    def getStats(self):
        return {"nProcessed": self.nProcessed}

    def getStatsPvaTypes(self):
        return {"nProcessed": pva.UINT}
