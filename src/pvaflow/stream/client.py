"""Client side of a stage's status and control channels (``pvaflow status``, ``pvaflow control``, the runner)."""

from __future__ import annotations

import logging
import time
from typing import Any

import pvaccess as pva

from ..errors import ChannelError

PROVIDERS = {"pva": pva.PVA, "ca": pva.CA}  # the input providers a monitor may use, by name
REQUEST_TYPE = {"command": pva.STRING, "args": pva.STRING}
POLL_SECONDS = 0.02

logger = logging.getLogger(__name__)


def channel(name: str, timeout: float) -> pva.Channel:
    client = pva.Channel(name)
    client.setTimeout(timeout)
    return client


def stop_monitor(channel: pva.Channel) -> None:
    """Stop a channel's monitor; one that is gone or never connected is only logged (debug)."""
    try:
        channel.stopMonitor()
    except pva.PvaException as ex:
        logger.debug("stopping the monitor of %s: %s", channel.getName(), ex)


def read_status(name: str, timeout: float = 5.0) -> dict[str, Any]:
    """A status channel's value as a dict; ChannelError when it does not answer."""
    try:
        return channel(name, timeout).get("field()").toDict()
    except pva.PvaException as ex:
        raise ChannelError(f"status channel {name} does not answer: {ex}") from ex


def send_command(name: str, command: str, args: str = "", timeout: float = 10.0) -> str:
    """Put ``command`` (and ``args``) into a control channel and return the stage's answer.

    The stage answers between two objects by writing ``statusMessage`` with a
    new ``objectTime``; this waits for that change.
    """
    client = channel(name, timeout)
    try:
        before = client.get("field(objectTime)")["objectTime"]
        client.put(pva.PvObject(REQUEST_TYPE, {"command": command, "args": args}), "field(command,args)")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = client.get("field(statusMessage,objectTime)")
            if value["objectTime"] != before:
                return value["statusMessage"]
            time.sleep(POLL_SECONDS)
    except pva.PvaException as ex:
        raise ChannelError(f"control channel {name} does not answer: {ex}") from ex
    raise ChannelError(f"no reply to {command} on {name} within {timeout:g} s")
