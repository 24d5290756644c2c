"""Test helper run as a child process: a status channel (pvaflow's StatusChannel) that publishes numbered
snapshots on cue, every section of snapshot n carrying n.

    python publish_status.py CHANNEL COUNT

It serves the channel at once, publishes COUNT snapshots (2 ms apart) when a line arrives on standard
input, and exits at end of input (a PVA server kept out of the pytest process, as publish_ids.py does).
"""

import sys
import time

import pvaccess as pva

from pvaflow.stream.status import StatusChannel


def snapshot(number: int) -> dict:
    return {"objectId": number, "objectTime": float(number), "receiverStats": {"nReceived": number},
            "publisherStats": {"nPublished": number}, "queueStats": {"nDelivered": number},
            "processorStats": {"nProcessed": number, "runtime": float(number)}}


def main() -> None:
    channel, count = sys.argv[1], int(sys.argv[2])
    server = pva.PvaServer()
    status = StatusChannel(server, channel, "consumer", 1, {}, {})
    server.start()
    print("serving", flush=True)
    sys.stdin.readline()
    for number in range(1, count + 1):
        status.publish(snapshot(number))
        time.sleep(0.002)
    print("published", flush=True)
    sys.stdin.read()
    server.stop()


if __name__ == "__main__":
    main()
