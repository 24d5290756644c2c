"""Test processor that misbehaves from one object id on: {"fromId": 3, "do": "exit" | "interrupt" | "hang" |
"restructure" | "crash"}. Before that id it passes objects through."""

import os
import sys
import time

import pvaccess as pva

from pvaflow import UserDataProcessor


class Hostile(UserDataProcessor):
    def __init__(self, configDict={}):  # noqa: B006, N803
        super().__init__(configDict)
        self.from_id = int(configDict.get("fromId", 3))
        self.action = configDict.get("do", "exit")

    def process(self, pvObject):  # noqa: N803
        if pvObject["uniqueId"] < self.from_id:
            self.updateOutputChannel(pvObject)
            return pvObject
        if self.action == "exit":
            sys.exit(3)
        if self.action == "interrupt":
            raise KeyboardInterrupt
        if self.action == "crash":  # the process dies at once, no clean-up (as a segfault would)
            os._exit(9)
        if self.action == "hang":
            while True:  # a call that never returns, whatever it is told
                try:
                    time.sleep(1)
                except BaseException:  # noqa: BLE001, S110
                    pass
        if self.action == "restructure":  # another structure than the first publish
            other = pva.PvObject({"value": pva.INT}, {"value": pvObject["uniqueId"]})
            self.updateOutputChannel(other)
            return other
        raise ValueError(f"unknown action {self.action}")
