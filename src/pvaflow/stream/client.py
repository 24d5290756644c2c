"""Client side of a stage's status and control channels (``pvaflow status``, ``pvaflow control``, the runner)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

import pvaccess as pva

from ..errors import ChannelError
from .watchdog import call_with_timeout

PROVIDERS = {"pva": pva.PVA, "ca": pva.CA}  # the input providers a monitor may use, by name
REQUEST_TYPE = {"command": pva.STRING, "args": pva.STRING}
POLL_SECONDS = 0.02
# how long past its own timeout a get or put is waited for: one whose server goes away during it can hang for
# good (pvaccess; docs/reliability.md)
HUNG_SECONDS = 5.0

logger = logging.getLogger(__name__)
T = TypeVar("T")


def channel(name: str, timeout: float) -> pva.Channel:
    client = pva.Channel(name)
    client.setTimeout(timeout)
    return client


def within(call: Callable[[], T], timeout: float, what: str) -> T:
    """``call()``, a pvaccess get or put made with ``timeout``, on a thread of its own, waited for at most
    ``timeout`` + HUNG_SECONDS: ``pva.PvaException`` (as for no answer) if it has not returned by then, the
    thread left behind; what it raised is raised here."""
    result: list[T] = []
    if not call_with_timeout(lambda: result.append(call()), timeout + HUNG_SECONDS, what):
        raise pva.PvaException(f"{what}: pvaccess had not returned {timeout + HUNG_SECONDS:g} s later")
    return result[0]


def get_within(client: pva.Channel, request: str, timeout: float) -> pva.PvObject:
    """``client.get(request)`` (``client`` set to ``timeout``), see within()."""
    return within(lambda: client.get(request), timeout, f"get {request} of {client.getName()}")


def stop_monitor(channel: pva.Channel) -> None:
    """Stop a channel's monitor; one that is gone or never connected is only logged (debug)."""
    try:
        channel.stopMonitor()
    except pva.PvaException as ex:
        logger.debug("stopping the monitor of %s: %s", channel.getName(), ex)


def read_status(name: str, timeout: float = 5.0) -> dict[str, Any]:
    """A status channel's value as a dict; ChannelError when it does not answer."""
    try:
        return get_within(channel(name, timeout), "field()", timeout).toDict()
    except pva.PvaException as ex:
        raise ChannelError(f"status channel {name} does not answer: {ex}") from ex


def send_command(name: str, command: str, args: str = "", timeout: float = 10.0) -> str:
    """Put ``command`` (and ``args``) into a control channel and return the stage's answer.

    The stage answers between two objects by writing ``statusMessage`` with a
    new ``objectTime``; this waits for that change.
    """
    client = channel(name, timeout)
    try:
        before = get_within(client, "field(objectTime)", timeout)["objectTime"]
        request = pva.PvObject(REQUEST_TYPE, {"command": command, "args": args})
        within(lambda: client.put(request, "field(command,args)"), timeout, f"put {command} into {name}")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = get_within(client, "field(statusMessage,objectTime)", timeout)
            if value["objectTime"] != before:
                return value["statusMessage"]
            time.sleep(POLL_SECONDS)
    except pva.PvaException as ex:
        raise ChannelError(f"control channel {name} does not answer: {ex}") from ex
    raise ChannelError(f"no reply to {command} on {name} within {timeout:g} s")
