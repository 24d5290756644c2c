"""Test helper run as a child process: put frames 1..N into a channel, at RATE puts a second (default: each as
soon as the last put returned).

    python put_ids.py CHANNEL N [RATE]

Prints ``sent N`` at the end. The sender is a process of its own: a pvaccess
put waits for its answer holding the GIL, so a monitor in the same process on
the same server would deadlock it.
"""

import sys
import time

import numpy as np
import pvaccess as pva

from pvaflow import ntnd


def main() -> None:
    channel_name, count = sys.argv[1], int(sys.argv[2])
    period = 1.0 / float(sys.argv[3]) if len(sys.argv) > 3 else 0.0
    channel = pva.Channel(channel_name)
    channel.setTimeout(10)
    started = time.time()
    for object_id in range(1, count + 1):
        frame = ntnd.generate(object_id, np.full((32, 48), object_id % 256, np.uint8))
        ntnd.stamp(frame, object_id, started + object_id * 1e-3)
        channel.put(frame, "")
        if period:
            time.sleep(max(0.0, started + object_id * period - time.time()))
    print("sent", count, flush=True)


if __name__ == "__main__":
    main()
