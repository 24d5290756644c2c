"""The mirror server: serve copies of other servers' channels, so that many clients load the mirror, not the IOC.

Built on pvaccess's ``PvaMirrorServer`` (its C++ monitor-to-record path;
the Python relay it replaces measured slower, see docs/performance.md). A
mirror channel is an ordinary record of a PVA server, so consumers can use
the distributor plugin on it. The source is monitored with the given server
queue size and, for the distributor on the source side, several monitors
with a request descriptor.

Channel map, as pvapy-mirror-server:
``(mirror,source[,pva|ca][,queueSize[,nMonitors[,request]]])``, several
tuples in one string, e.g. ``"(m:image,det:image,pva,100),(m:x,x,ca)"``.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from typing import Any

import pvaccess as pva

from .errors import ChannelError, ConfigError
from .limits import MAX_PROCESSES, MAX_SERVER_QUEUE
from .stream.client import PROVIDERS
from .stream.names_served import NameCheck
from .stream.stale_channel import StaleChannelCheck

logger = logging.getLogger(__name__)

MAX_FIELDS = 6
TUPLE = re.compile(r"\(((?:[^()]|\([^()]*\))*)\)")  # one tuple; its request may hold field(...)


@dataclass(frozen=True)
class MirrorEntry:
    """One mirrored channel."""

    mirror: str
    source: str
    provider: str = "pva"
    queue_size: int = 0
    n_monitors: int = 1
    request: str = ""


def _count(entry: str, name: str, text: str, minimum: int, maximum: int) -> int:
    try:
        value = int(text)
    except ValueError as ex:
        raise ConfigError(f"channel map entry ({entry}): {name} must be an integer, not '{text}'") from ex
    if not minimum <= value <= maximum:
        raise ConfigError(f"channel map entry ({entry}): {name} must be {minimum} to {maximum}, not {value}")
    return value


def parse_entry(text: str) -> MirrorEntry:
    """``mirror,source[,provider[,queueSize[,nMonitors[,request]]]]`` (the inside of one tuple)."""
    fields = [field.strip() for field in text.split(",", MAX_FIELDS - 1)]  # the request may hold commas
    if len(fields) < 2:
        raise ConfigError(f"channel map entry ({text}): expected mirror,source[,pva|ca][,queueSize[,nMonitors"
                          "[,request]]]")
    mirror, source = fields[0], fields[1]
    if not mirror or not source:
        raise ConfigError(f"channel map entry ({text}): mirror and source names must not be empty")
    provider = (fields[2] if len(fields) > 2 else "pva").lower() or "pva"
    if provider not in PROVIDERS:
        raise ConfigError(f"channel map entry ({text}): source provider must be pva or ca, not '{provider}'")
    queue_size = _count(text, "queue size", fields[3], 0, MAX_SERVER_QUEUE) if len(fields) > 3 else 0
    n_monitors = _count(text, "number of monitors", fields[4], 1, MAX_PROCESSES) if len(fields) > 4 else 1
    request = fields[5] if len(fields) > 5 else ""
    return MirrorEntry(mirror, source, provider, queue_size, n_monitors, request)


def parse_channel_map(text: str | None) -> tuple[MirrorEntry, ...]:
    """Every ``(...)`` tuple of the channel map; anything else between them is an error."""
    if not text or not text.strip():
        raise ConfigError("--channel-map is required, e.g. '(mirror:image,source:image,pva,100)'")
    leftover = ",".join(part.strip() for part in TUPLE.sub(",", text).split(",") if part.strip())
    if leftover:
        raise ConfigError(f"channel map: '{leftover}' is outside any (mirror,source,...) tuple")
    entries = tuple(parse_entry(body) for body in TUPLE.findall(text))
    names = [entry.mirror for entry in entries]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ConfigError(f"channel map: mirror channel {duplicates[0]} is given twice")
    return entries


class NotReached:
    """What the stale-channel check reads of the source channel of a mirror record that has no value yet
    (pvaccess does not show the mirror's own channel): not connected."""

    def isConnected(self) -> bool:  # noqa: N802 (pvaccess's name)
        return False


class MirrorServer:
    """A PvaMirrorServer with one record per entry, and per-channel rates between reports.

    A record whose source channel never delivers while a new channel finds the source is added again
    (``watch``): pvAccess's channel may search in vain for good (seen once in a loaded test run: a mirror
    started after its source got nothing in 20 s), as StaleChannelCheck says of an input that never connected.
    Watched until the record gets its first value (PVA sources; the question asks for ``uniqueId``).
    """

    def __init__(self, entries: tuple[MirrorEntry, ...]) -> None:
        self.entries = entries
        self.server = pva.PvaMirrorServer()
        self.last_counts: dict[str, tuple[float, int]] = {}
        self.unreached = {entry.mirror: StaleChannelCheck(entry.source, PROVIDERS[entry.provider],
                                                          f"{entry.source} (mirrored as {entry.mirror})", "uniqueId")
                          for entry in entries if entry.provider == "pva"}

    def start(self) -> None:
        NameCheck([entry.mirror for entry in self.entries], "mirror").raise_if_served()
        self.server.start()
        for entry in self.entries:
            logger.info("mirroring %s as %s (%s, queue %d, %d monitor(s), request '%s')", entry.source,
                        entry.mirror, entry.provider, entry.queue_size, entry.n_monitors, entry.request)
            self._add(entry)
        now = time.monotonic()
        self.last_counts = {entry.mirror: (now, 0) for entry in self.entries}

    def _add(self, entry: MirrorEntry) -> None:
        try:
            self.server.addMirrorRecord(entry.mirror, entry.source, PROVIDERS[entry.provider],
                                        entry.queue_size, entry.n_monitors, entry.request)
        except Exception as ex:  # pvaccess raises its own types (InvalidRequest, PvaException)
            raise ChannelError(f"cannot mirror {entry.source} as {entry.mirror}: {ex}") from ex

    def watch(self) -> None:
        """Called often by the owner's loop: a record whose source never delivered, while a new channel finds
        the source, is removed and added again (a new channel to the source)."""
        for entry in self.entries:
            check = self.unreached.get(entry.mirror)
            if check is None:
                continue
            received = int(self.server.getMirrorRecordCounters(entry.mirror).get("nReceived", 0))
            if received:
                check.close()  # reached: reconnects are the mirror's own business from here on
                del self.unreached[entry.mirror]
            elif check.dead(NotReached(), 0, False):
                self.server.removeMirrorRecord(entry.mirror)
                self._add(entry)
                check.renewed(0)

    def stats(self) -> dict[str, dict[str, Any]]:
        """Per mirror channel: source, updates received, overruns, and the update rate since the last call."""
        now = time.monotonic()
        result: dict[str, dict[str, Any]] = {}
        for entry in self.entries:
            counters = self.server.getMirrorRecordCounters(entry.mirror)
            received = int(counters.get("nReceived", 0))
            then, before = self.last_counts.get(entry.mirror, (now, received))
            rate = (received - before) / (now - then) if now > then else 0.0
            self.last_counts[entry.mirror] = (now, received)
            result[entry.mirror] = {
                "source": entry.source,
                "nReceived": received,
                "nOverruns": int(counters.get("nOverruns", 0)),
                "receivedRate": rate,
            }
        return result

    def stop(self) -> None:
        for check in self.unreached.values():
            check.close()
        self.server.stop()
