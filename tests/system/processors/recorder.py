"""Test processor: passes frames through and reports what it saw in its own stats."""

import time

import pvaccess as pva

from pvaflow import AdImageProcessor


class Recorder(AdImageProcessor):
    def __init__(self, configDict={}):  # noqa: B006, N803
        super().__init__(configDict)
        self.offset = int(configDict.get("offset", 0))
        self.sleep = float(configDict.get("sleep", 0))
        self.raise_every = int(configDict.get("raiseEvery", 0))
        self.raise_on_start = bool(configDict.get("raiseOnStart", False))
        self.stop_seconds = float(configDict.get("stopSeconds", 0))
        self.resetStats()

    def start(self):
        if self.raise_on_start:
            raise RuntimeError("detector not armed")

    def stop(self):
        time.sleep(self.stop_seconds)  # a processor that hangs in stop()

    def configure(self, configDict):  # noqa: N803
        self.offset = int(configDict.get("offset", self.offset))
        self.sleep = float(configDict.get("sleep", self.sleep))

    def process(self, pvObject):  # noqa: N803
        object_id = pvObject["uniqueId"]
        now = time.monotonic()
        if now - self.last_time > 0.15:
            self.nBursts += 1
        self.last_time = now
        if self.sleep:
            time.sleep(self.sleep)
        if self.raise_every and object_id % self.raise_every == 0:
            raise ValueError(f"refusing object {object_id}")
        self.nSeen += 1
        self.lastId = object_id
        self.updateOutputChannel(pvObject)
        return pvObject

    def resetStats(self):
        self.nSeen = 0
        self.nBursts = 0
        self.lastId = 0
        self.last_time = 0.0

    def getStats(self):
        return {"nSeen": self.nSeen, "nBursts": self.nBursts, "lastId": self.lastId, "offset": self.offset}

    def getStatsPvaTypes(self):
        return {"nSeen": pva.UINT, "nBursts": pva.UINT, "lastId": pva.UINT, "offset": pva.INT}
