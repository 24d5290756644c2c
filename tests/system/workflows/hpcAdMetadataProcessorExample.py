"""Our stand-in for pvaPy's sample AD metadata processor (examples/hpcAdMetadataProcessorExample.py): each
frame gets, as an attribute named after the channel, the value of every metadata channel whose time stamp is
within ``timestampTolerance`` seconds of the frame's. Older values can match no later frame: discarded.
"""

import pvaccess as pva
from pvapy.hpc.adImageProcessor import AdImageProcessor


def seconds(timeStamp):  # noqa: N803
    return timeStamp["secondsPastEpoch"] + timeStamp["nanoseconds"] * 1e-9


class HpcAdMetadataProcessor(AdImageProcessor):

    def __init__(self, configDict={}):  # noqa: B006, N803
        AdImageProcessor.__init__(self, configDict)
        self.timestampTolerance = float(configDict.get("timestampTolerance", 0.001))
        # get(0), as pvaPy's framework reads its own queues; a get(0) on an empty pvaccess queue waits 0.2 ms,
        # so {"nonBlockingGet": true} (get() without a timeout) is the same processor at its quickest
        self.nonBlockingGet = bool(configDict.get("nonBlockingGet", False))
        self.pending = {}  # channel -> [(time, value), ...] not matched yet
        self.resetStats()

    def start(self):
        self.pending = {name: [] for name in self.metadataQueueMap}

    def process(self, pvObject):  # noqa: N803
        frameTime = seconds(pvObject["timeStamp"])
        attributes = pvObject["attribute"]
        nFound = 0
        for name, queue in self.metadataQueueMap.items():
            while True:
                try:
                    update = queue.get() if self.nonBlockingGet else queue.get(0)
                except pva.QueueEmpty:
                    break
                self.pending[name].append((seconds(update["timeStamp"]), update["value"]))
            values = self.pending[name]
            while values and values[0][0] < frameTime - self.timestampTolerance:
                values.pop(0)
                self.nMetadataDiscarded += 1
            if values and abs(values[0][0] - frameTime) <= self.timestampTolerance:
                attributes.append(pva.NtAttribute(name, pva.PvDouble(values.pop(0)[1])))
                self.nMetadataProcessed += 1
                nFound += 1
        if nFound < len(self.metadataQueueMap):
            self.nFramesMissingMetadata += 1  # a value came too late (after its frame) or not at all
        pvObject["attribute"] = attributes
        self.updateOutputChannel(pvObject)
        self.nFramesProcessed += 1
        return pvObject

    def resetStats(self):
        self.nFramesProcessed = 0
        self.nMetadataProcessed = 0
        self.nMetadataDiscarded = 0
        self.nFramesMissingMetadata = 0

    def getStats(self):
        return {"nFramesProcessed": self.nFramesProcessed, "nMetadataProcessed": self.nMetadataProcessed,
                "nMetadataDiscarded": self.nMetadataDiscarded, "nFramesMissingMetadata": self.nFramesMissingMetadata}

    def getStatsPvaTypes(self):
        return {"nFramesProcessed": pva.UINT, "nMetadataProcessed": pva.UINT, "nMetadataDiscarded": pva.UINT,
                "nFramesMissingMetadata": pva.UINT}
