"""Control channel commands: parsing and validation (no I/O here).

The control channel holds ``command``, ``args`` and ``statusMessage``
(pvaPy's structure). Commands: ``configure`` (args: a JSON object),
``reset_stats``, ``get_stats``, ``stop``. System keys in a configure
dictionary are handled by the host and checked here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import pvaccess as pva

from .. import ntnd
from ..config_values import json_object
from ..errors import ConfigError
from ..limits import MAX_ID, MAX_RECEIVER_QUEUE

CONFIGURE = "configure"
RESET_STATS = "reset_stats"
GET_STATS = "get_stats"
STOP = "stop"
COMMANDS = (CONFIGURE, RESET_STATS, GET_STATS, STOP)
# statusMessage texts, pvaPy's for the same outcomes (scripts written for pvaPy check them)
CONFIGURED = "Configuration successful"
CONFIGURE_FAILED = "Configuration failed: "
STATS_RESET = "Stats reset successful"
STATS_RESET_FAILED = "Stats reset failed: "
STATS_PUBLISHED = "Stats update successful"
STOPPING = "Stop flag set"
INVALID_REQUEST = "Ignoring invalid request "
FAILURES = (CONFIGURE_FAILED, STATS_RESET_FAILED, INVALID_REQUEST)


def failed(status_message: str) -> bool:
    """The answer says the command was not carried out."""
    return status_message.startswith(FAILURES)
MAX_ARGS_LENGTH = 65536

# system key -> (smallest, largest) allowed value (all are integers)
SYSTEM_KEYS = {"receiverQueueSize": (0, MAX_RECEIVER_QUEUE), "skipInitialUpdates": (0, MAX_ID),
               "objectIdOffset": (1, MAX_ID), "nSequentialUpdates": (1, MAX_ID)}


def control_types(role: str) -> dict[str, Any]:
    return {
        f"{role}Id": pva.UINT,
        "objectTime": pva.DOUBLE,
        "objectTimestamp": pva.PvTimeStamp(),
        "command": pva.STRING,
        "args": pva.STRING,
        "statusMessage": pva.STRING,
    }


class ControlError(ValueError):
    """A control request that cannot be run; the message goes to statusMessage."""


@dataclass(frozen=True)
class Command:
    name: str
    config: dict[str, Any] = field(default_factory=dict)


def _shorten(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def check_system_keys(config: dict[str, Any]) -> None:
    """Check the system keys; one given as a string of digits (pvaPy takes ``int(value)``) becomes an int."""
    for key, (minimum, maximum) in SYSTEM_KEYS.items():
        if key in config:
            value = config[key]
            if isinstance(value, str) and value.strip().lstrip("+-").isdigit():
                value = config[key] = int(value)
            if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
                raise ControlError(f"{key} must be an integer from {minimum} to {maximum}, not {value!r}")


def parse_command(command: str, args: str) -> Command:
    """A validated command, or ControlError with a one-line reason."""
    name = (command or "").strip()
    if name not in COMMANDS:
        raise ControlError(f"{INVALID_REQUEST}(unrecognized command specified): '{_shorten(name)}' "
                           f"(commands: {', '.join(COMMANDS)})")
    if name != CONFIGURE:
        return Command(name)
    if len(args) > MAX_ARGS_LENGTH:
        raise ControlError(f"{CONFIGURE_FAILED}configure args are {len(args)} characters, more than {MAX_ARGS_LENGTH}")
    if not args.strip():
        return Command(name, {})
    try:
        config = json_object("configure args", args)
    except ConfigError as ex:
        raise ControlError(f"{CONFIGURE_FAILED}{ex}") from ex
    try:
        check_system_keys(config)
    except ControlError as ex:
        raise ControlError(f"{CONFIGURE_FAILED}{ex}") from None
    return Command(name, config)


REFUSED = "refused"  # internal: a request that did not parse; never accepted from clients


class CommandTarget(Protocol):
    """What the commands act on (the host, on its own thread)."""

    def configure(self, config: dict[str, Any]) -> str: ...
    def reset_stats(self) -> bool: ...
    def publish_stats(self) -> None: ...
    def request_stop(self) -> None: ...
    def stuck(self) -> str: ...


def execute(command: Command, target: CommandTarget) -> str:
    """The command table: carry ``command`` out on ``target``; the answer for statusMessage."""
    if command.name == CONFIGURE:
        return target.configure(command.config)
    if command.name == RESET_STATS:
        return STATS_RESET if target.reset_stats() else f"{STATS_RESET_FAILED}busy: {target.stuck()}"
    if command.name == GET_STATS:
        target.publish_stats()
        return STATS_PUBLISHED
    if command.name == STOP:
        target.request_stop()
        return STOPPING
    if command.name == REFUSED:
        return command.config["message"]
    raise ValueError(f"no such command {command.name}")  # parse_command lets none other through


class ControlChannel:
    """The control record: each put is parsed and queued for the host thread, which answers.

    The put callback (a pvaccess thread) only parses and queues; the host
    thread runs the command and writes the outcome to ``statusMessage`` with a
    new ``objectTime``, so the record has a single writer. Clients wait for
    that change.
    """

    def __init__(self, server: pva.PvaServer, channel_name: str, role: str, host_id: int, submit) -> None:
        self.server = server
        self.channel_name = channel_name
        self.submit = submit
        self.value = pva.PvObject(control_types(role), {f"{role}Id": host_id})
        server.addRecord(channel_name, self.value, self._on_put)

    def _on_put(self, request: pva.PvObject) -> None:
        """pvaccess thread: must return quickly and leave the record alone."""
        try:
            command = parse_command(request["command"], request["args"])
        except ControlError as ex:
            command = Command(REFUSED, {"message": str(ex)})
        except Exception as ex:  # noqa: BLE001 (a malformed put must never take the host down)
            command = Command(REFUSED, {"message": f"{INVALID_REQUEST}({type(ex).__name__}: {ex})"})
        self.submit(command, self.reply)

    def reply(self, message: str) -> None:
        """Host thread: write the outcome of a command into the record.

        The record serves ``self.value`` itself, so ``set`` is what gets read.
        ``server.update`` is not used here: called while a put on this record
        waits for the GIL in its callback, it would deadlock (the update holds
        the GIL and waits for the record's lock).
        """
        now = time.time()
        self.value.set({"statusMessage": message, "objectTime": now, "objectTimestamp": ntnd.time_stamp(now)})
