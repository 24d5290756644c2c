"""A status channel's monitors see whole snapshots: each update as it was published, never fields of two."""

from __future__ import annotations

from pathlib import Path

import pvaccess as pva
import pytest

from .helpers import wait_until

pytestmark = [pytest.mark.system, pytest.mark.timeout(60)]

PUBLISH_STATUS = str(Path(__file__).with_name("publish_status.py"))
CHANNEL = "statuschannel:status"
SNAPSHOTS = 200


def numbers(status: dict) -> set:
    """The numbers a status value's sections carry: one, unless it mixes snapshots."""
    return {status["objectId"], status["objectTime"], status["receiverStats"]["nReceived"],
            status["publisherStats"]["nPublished"], status["queueStats"]["nDelivered"],
            status["processorStats"]["nProcessed"], status["processorStats"]["runtime"]}


def test_monitors_of_a_status_channel_see_whole_snapshots(start_process, wait_for_channel) -> None:
    publisher = start_process(CHANNEL, str(SNAPSHOTS), script=PUBLISH_STATUS)
    wait_for_channel(CHANNEL, publisher)
    seen: list[dict] = []
    client = pva.Channel(CHANNEL)
    client.monitor(lambda pv: seen.append(pv.toDict()), "field()")
    try:
        wait_until(lambda: seen, 20, "the monitor's first value")
        publisher.send_line()
        wait_until(lambda: seen[-1]["objectId"] == SNAPSHOTS, 20, "the last snapshot seen")
    finally:
        client.stopMonitor()
    torn = [status for status in seen[1:] if len(numbers(status)) != 1]
    assert not torn, f"{len(torn)} of {len(seen) - 1} updates mixed two snapshots, e.g. {torn[0]}"
    assert len(seen) > 10
