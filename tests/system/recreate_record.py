"""Test helper run as a child process: a server that removes its NTNDArray record and adds it again while
it publishes (as pvaccess's PvaMirrorServer does when its source restarts).

    python recreate_record.py CHANNEL N_RECREATE

On a line on standard input it publishes ids 1, 2, ... every 20 ms, re-creating the record with every
10th id until it has done so N_RECREATE times, and goes on publishing until the next line; then it prints
``last <id>`` and exits at end of input.
"""

import sys
import threading
import time

import pvaccess as pva
from publish_ids import frame

INTERVAL = 0.02
IDS_BETWEEN = 10


def main() -> None:
    channel, n_recreate = sys.argv[1], int(sys.argv[2])
    server = pva.PvaServer()
    server.addRecord(channel, pva.NtNdArray(), None)
    server.start()
    print("serving", flush=True)
    sys.stdin.readline()
    told = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.readline(), told.set()), daemon=True).start()
    object_id = 0
    while not told.is_set():
        object_id += 1
        if object_id % IDS_BETWEEN == 0 and object_id // IDS_BETWEEN <= n_recreate:
            server.removeRecord(channel)
            server.addRecord(channel, frame(object_id), None)  # a client reconnecting gets it as a new frame
        else:
            server.update(channel, frame(object_id))
        time.sleep(INTERVAL)
    print("last", object_id, flush=True)
    sys.stdin.read()
    server.stop()


if __name__ == "__main__":
    main()
