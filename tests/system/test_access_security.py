"""EPICS access security on a consumer's records (--access-security-file): who may put to control and
to a pvas input is decided by the file; an unauthorised put is refused and changes nothing."""

from __future__ import annotations

import getpass
from pathlib import Path

import numpy as np
import pvaccess as pva
import pytest

from pvaflow import ChannelError, ntnd
from pvaflow.stream.client import send_command

from .helpers import get

pytestmark = [pytest.mark.system, pytest.mark.timeout(90)]

ACF = """
UAG(operators) {{{operators}}}
ASG(DEFAULT) {{ RULE(1, READ) }}
ASG(CONTROL) {{ RULE(1, READ) RULE(1, WRITE) {{ UAG(operators) }} }}
ASG(INPUT)   {{ RULE(1, READ) RULE(1, WRITE) {{ UAG(operators) }} }}
"""


def start_consumer(start_process, wait_for_channel, tmp_path: Path, operators: str, prefix: str):
    acf = tmp_path / f"{prefix}.acf"
    acf.write_text(ACF.format(operators=operators))
    consumer = start_process("consumer", "-ic", f"{prefix}:in", "-im", "pvas", "-pc", "AdImageProcessor",
                             "-oc", f"{prefix}:out", "-sc", f"{prefix}:status", "-cc", f"{prefix}:control",
                             "-asf", str(acf), "-dc")
    wait_for_channel(f"{prefix}:status", consumer)
    return consumer


def put_frame(channel_name: str) -> None:
    channel = pva.Channel(channel_name)
    channel.setTimeout(5)
    channel.put(ntnd.generate(1, np.zeros((4, 4), dtype=np.uint8)), "")


def test_unauthorised_puts_are_refused(start_process, wait_for_channel, tmp_path: Path) -> None:
    start_consumer(start_process, wait_for_channel, tmp_path, "someone_else", "denied")
    with pytest.raises(ChannelError, match="not allowed"):
        send_command("denied:control", "stop", timeout=5)
    with pytest.raises(pva.PvaException, match="not allowed"):
        put_frame("denied:in")
    status = get("denied:status")  # reading stays open (DEFAULT: READ)
    assert status["receiverStats"]["nReceived"] == 0
    status_channel = pva.Channel("denied:status")
    status_channel.setTimeout(5)
    with pytest.raises(pva.PvaException, match="not allowed"):  # nor may anyone overwrite the status record
        status_channel.put(pva.PvObject({"objectId": pva.UINT}, {"objectId": 99}), "field(objectId)")


def test_authorised_user_may_put(start_process, wait_for_channel, tmp_path: Path) -> None:
    consumer = start_consumer(start_process, wait_for_channel, tmp_path, getpass.getuser(), "allowed")
    put_frame("allowed:in")
    assert send_command("allowed:control", "get_stats", timeout=5) == "Stats update successful"
    assert get("allowed:status")["receiverStats"]["nReceived"] == 1
    assert send_command("allowed:control", "stop", timeout=5) == "Stop flag set"
    assert consumer.wait(20) == 0
