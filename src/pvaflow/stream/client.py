"""Client side of a stage's status and control channels (``pvaflow status``, ``pvaflow control``, the runner)."""

from __future__ import annotations

import time
from typing import Any

import pvaccess as pva

from ..errors import ChannelError

REQUEST_TYPE = {"command": pva.STRING, "args": pva.STRING}
POLL_SECONDS = 0.02


def channel(name: str, timeout: float) -> pva.Channel:
    client = pva.Channel(name)
    client.setTimeout(timeout)
    return client


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


NAME_CHECK_SECONDS = 0.5  # how long a server that has one of our names may take to answer


def check_names_free(names: list[str], who: str) -> None:
    """ChannelError if another server already serves one of ``names`` (clients would get either, at random).

    All names are asked at once; a server that does not answer within NAME_CHECK_SECONDS is not noticed.
    """
    served: list[str] = []
    channels = {}
    for name in dict.fromkeys(names):
        client = channels[name] = channel(name, NAME_CHECK_SECONDS)
        client.asyncGet(lambda _pv, name=name: served.append(name), lambda _error: None, "field()")
    deadline = time.monotonic() + NAME_CHECK_SECONDS
    while len(served) < len(channels) and time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
    if served:
        raise ChannelError(f"{who}: channel {served[0]} is served already by another process; refusing to serve it "
                           "twice (choose another name)")
