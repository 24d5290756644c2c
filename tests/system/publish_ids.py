"""Test helper run as a child process: serve NTNDArray channels and publish chosen ids on cue.

Optional "writable" channels are string records that print every value written to them.

    python publish_ids.py '{"channels": ["p:1:out"], "updates": [["p:1:out", 1], ...], "interval": 0.05}'

"size" (default 2) makes frames of size x size pixels. An update may name a defect as third item
(``["p:1:out", 2, "dims"]``): ``dims`` (sizes that do not match the data), ``colorMode`` (an unknown
colour mode), ``empty`` (an empty value union), ``codec`` (an unknown codec).

It serves the channels at once, publishes the updates when a line arrives on
standard input (with "parts": [n1, n2, ...], the first n1 on the first line, the next n2 on the
next), and exits at end of input. Keeping PVA servers out of the
pytest process leaves that process a plain client.
"""

import json
import sys
import time

import numpy as np
import pvaccess as pva

from pvaflow import ntnd


def report_write(pv: pva.PvObject) -> None:
    print("written", pv["value"], flush=True)


def frame(object_id: int, defect: str | None = None, size: int = 2) -> pva.PvObject:
    nt = ntnd.generate(object_id, np.full((size, size), object_id % 256, np.uint8))
    if defect == "dims":
        nt["dimension"] = ntnd.dimensions(5, 7)
    elif defect == "colorMode":
        ntnd.set_attributes(nt, {"ColorMode": 9})
    elif defect == "empty":
        nt = pva.NtNdArray()
        nt["dimension"] = ntnd.dimensions(2, 2)
        ntnd.stamp(nt, object_id, time.time())
    elif defect == "codec":
        nt.set({"codec": {"name": "nosuchcodec"}})
    return nt


def main() -> None:
    plan = json.loads(sys.argv[1])
    server = pva.PvaServer()
    for channel in plan["channels"]:
        server.addRecord(channel, pva.NtNdArray(), None)
    for channel in plan.get("writable", []):  # string records that print what clients write
        server.addRecord(channel, pva.PvObject({"value": pva.STRING}), report_write)
    server.start()
    print("serving", flush=True)
    updates = plan["updates"]
    for part in plan.get("parts", [len(updates)]):
        sys.stdin.readline()
        for channel, object_id, *defect in updates[:part]:
            server.update(channel, frame(object_id, *defect, size=plan.get("size", 2)))
            time.sleep(plan.get("interval", 0.05))
        updates = updates[part:]
        print("published", flush=True)
    sys.stdin.read()
    server.stop()


if __name__ == "__main__":
    main()
