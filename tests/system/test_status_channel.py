"""A status channel's monitors see whole snapshots: each update as it was published, never fields of two."""

from __future__ import annotations

import threading
import time

import pvaccess as pva
import pytest

from pvaflow.stream.status import StatusChannel

from .helpers import wait_until

pytestmark = [pytest.mark.system, pytest.mark.timeout(60)]

SNAPSHOTS = 200


def snapshot(number: int) -> dict:
    """A status value whose every section carries ``number``: a torn one mixes two numbers."""
    return {"objectId": number, "objectTime": float(number), "receiverStats": {"nReceived": number},
            "publisherStats": {"nPublished": number}, "queueStats": {"nDelivered": number},
            "processorStats": {"nProcessed": number, "runtime": float(number)}}


def numbers(status: dict) -> set:
    return {status["objectId"], status["objectTime"], status["receiverStats"]["nReceived"],
            status["publisherStats"]["nPublished"], status["queueStats"]["nDelivered"],
            status["processorStats"]["nProcessed"], status["processorStats"]["runtime"]}


def test_monitors_of_a_status_channel_see_whole_snapshots() -> None:
    server = pva.PvaServer()
    name = f"statuschannel:{time.monotonic_ns()}:status"
    status = StatusChannel(server, name, "consumer", 1, {}, {})
    seen: list[dict] = []
    client = pva.Channel(name)
    client.monitor(lambda pv: seen.append(pv.toDict()), "field()")
    try:
        wait_until(lambda: seen, 20, "the monitor's first value")
        stop = threading.Event()
        for number in range(1, SNAPSHOTS + 1):
            status.publish(snapshot(number))
            stop.wait(0.002)
        wait_until(lambda: seen[-1]["objectId"] == SNAPSHOTS, 20, "the last snapshot seen")
    finally:
        client.stopMonitor()
    torn = [status for status in seen[1:] if len(numbers(status)) != 1]
    assert not torn, f"{len(torn)} of {len(seen) - 1} updates mixed two snapshots, e.g. {torn[0]}"
    assert len(seen) > 10
