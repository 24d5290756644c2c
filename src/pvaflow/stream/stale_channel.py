"""Tells a channel that went stale for good from a quiet input, so that the receiver makes a new one.

A pvaccess fault (pvapy 5.6, seen here): when a live server removes a record and adds it again (pvaccess's
own ``PvaMirrorServer`` does when its source restarts), a client's channel to it may go stale for good, in
one of three ways: its monitor stops delivering while the channel says it is connected and the monitor
active (p4p sees that monitor end); the channel stays bound to the removed record (gets answer its last
value); or it never connects again. A new Channel to the same name reaches the new record at once.

Silence alone proves nothing (a paused source is silent too). So once the input delivered nothing for
``quiet_seconds``, a new Channel is asked for the record's id at every look (every ``quiet_seconds``): the
receiver's channel is dead when an answer shows the id changed and the input still delivered nothing
``quiet_seconds`` after that answer, or when two answers came while the receiver's channel stayed
disconnected (asked from the first look that saw it gone: two looks more at least, 4 s).

A monitor can also hold back an update (seen here at 10 kHz with overruns, in 1 run of 10 to 20 with a busy
loop beside it: the last frame of a stream stayed undelivered while the server kept serving it). Where the
receiver can say which id it delivered last and since when its owner has been idle (``Delivered``; not with
a server-side filter such as the distributor, which picks the updates by design), the channel is
also dead when an answer asked after the owner went idle shows a greater id, and nothing came ``quiet_seconds``
after that answer: the new monitor's first value is the record's current one, which the owner processes
unless it repeats the last id.

A channel can also connect and its monitor deliver nothing, not even the record's current value (which a
PVA monitor sends first, also through the distributor). The likeliest reading of one loaded test run, where
a distributed consumer's output (typed by that first value) did not appear in 20 s while the source served a
record; not confirmed. Such a channel is dead when an answer is ``quiet_seconds`` old and its monitor has still
delivered nothing.

An input that never connected has nothing to lose, and a reason of its own to be renewed: pvAccess backs off
the searches of a channel whose record did not exist yet, so a reader started before its source may connect
many seconds after the record appears (on loopback a server's beacon reaches one client process only, so the
new server does not cut the back-off short). Its channel is looked at every NEVER_CONNECTED_LOOK_SECONDS, once
it had ``quiet_seconds`` to connect, and renewed when a new channel's answer is NEVER_CONNECTED_WAIT_SECONDS
old and it still has not connected. Whether the input ever connected is the receiver's to say (its connection
watch sees every change; the looks here are seconds apart).

The questions are plain gets with a new Channel each, asked from the check's own thread (the owner never waits
on the network) and made by a child process (stream/asker.py, started at the first question, killed when it
hangs, replaced when it dies): a pvaccess get whose server goes away during it can hang for good or end its
process with a segmentation fault (scripts/pvaccess_get_faults.py), and the check asks exactly when a server
may be going away. Not asynchronous gets: dropping a pvaccess Channel that made an asyncGet holds the GIL for
0.8 s (measured here). Not monitors: creating and dropping monitored Channels over and over once ended a
consumer with "PyThreadState_Get: ... the GIL is released" in a pvaccess thread.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import pvaccess as pva

from .asker import Asker

logger = logging.getLogger(__name__)

QUIET_SECONDS = 2.0
GET_SECONDS = 1.0  # how long one question may take
NEVER_CONNECTED_LOOK_SECONDS = 0.25
NEVER_CONNECTED_WAIT_SECONDS = 0.25


class Delivered(NamedTuple):
    """What the receiver's owner last handled: the object id, and since when (the check's clock) it is idle."""

    last_id: Any
    idle_since: float


class QueueOrder:
    """Whether the last object a receiver queue handed on was the newest it was offered, from the queue's
    counters looked at now and then. A full queue refuses the newest update, so every object queued at a
    refusal is older than the refused one; an update accepted after it (FIFO: handed on after those) is newer.
    Between two looks the order is not known: refusals make the answer False, until a look that saw updates
    accepted and none refused. Only then may the stale-channel check take the last id handed on for the
    newest the monitor had (else a refused update looks held back by the monitor)."""

    def __init__(self) -> None:
        self.accepted = 0
        self.refused = 0
        self.newest_handed_on = True

    def look(self, counters: Mapping[str, int]) -> bool:
        """The queue's counters now (``PvObjectQueue.getCounters()``); True when, with the queue empty, its last
        object is the newest offered."""
        accepted, refused = counters["nReceived"], counters["nRejected"]
        if refused != self.refused:
            self.newest_handed_on = False
        elif accepted != self.accepted:
            self.newest_handed_on = True
        self.accepted, self.refused = accepted, refused
        return self.newest_handed_on

    def counters_reset(self) -> None:
        """The queue's counters went back to 0."""
        self.accepted = self.refused = 0


def ahead(record_id: Any, last_id: Any) -> bool:
    """Whether the record's id is past the last one delivered (ids that do not compare never are)."""
    try:
        return bool(record_id > last_id)
    except TypeError:
        return False


class StaleChannelCheck:
    """Watches one input channel by name; ``dead(channel, received)`` is called often by the thread that
    owns the receiver, which replaces its channel when it returns True, and ``close()`` at the end."""

    def __init__(self, channel_name: str, provider: Any, what: str, id_field: str,
                 quiet_seconds: float = QUIET_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self.channel_name = channel_name
        self.provider = provider
        self.what = what  # names the channel in the log
        self.request = f"field({id_field})"
        self.id_field = id_field
        self.quiet_seconds = quiet_seconds
        self.clock = clock
        self.next_look = clock() + quiet_seconds  # a new channel is given this long to connect
        self.n_received: int | None = None  # the input's count when it was last seen to change
        self.was_connected = False  # the input channel's state at the last look
        self.connected_once = False  # the input, as its receiver said at the last look
        self.lock = threading.Lock()  # answers come from the check's thread
        self.episode = 0  # answers asked in an older episode (before the input last delivered) are dropped
        self.answers: list[tuple[Any, float, float]] = []  # (object id, asked, answered) in this episode
        self.asked = threading.Event()
        self.closed = threading.Event()
        self.thread: threading.Thread | None = None
        self.asker = Asker(f"{what} for the stale-channel check")  # used by the check's thread only
        self.n_renewals = 0  # channels renewed of an input that had connected (one that never did is not stale)
        self.held_back = False  # the last True of dead() was for a monitor holding back an update
        self.received_at_start = 0  # the count dead() is given before the channel's monitor delivers anything
        self.silent = True  # the channel's monitor has delivered nothing yet

    def dead(self, channel: pva.Channel, received: int, connected_once: bool,
             delivered: Delivered | None = None) -> bool:
        """True (once) when ``channel``, whose monitor has delivered ``received`` updates, must be replaced;
        ``connected_once``: whether the input was ever connected (by this channel or one before it);
        ``delivered``: the last id handled, while the owner is idle (None: busy, or ids not comparable)."""
        if received != self.received_at_start:
            self.silent = False
        now = self.clock()
        if now < self.next_look:
            return False
        self.held_back = False
        connected = channel.isConnected()
        self.connected_once = connected_once or connected
        self.next_look = now + (self.quiet_seconds if self.connected_once else NEVER_CONNECTED_LOOK_SECONDS)
        if connected != self.was_connected or (connected and received != self.n_received):
            self.was_connected = connected  # answers count only for the state they were asked in
            self.n_received = received
            self._new_episode()
            if not connected:
                self._ask()
            return False
        with self.lock:
            answers = list(self.answers)
        changed = [answered for object_id, _, answered in answers if object_id != answers[0][0]]
        held_back = [] if delivered is None else [
            (object_id, answered) for object_id, asked, answered in answers
            if asked >= delivered.idle_since and ahead(object_id, delivered.last_id)]
        if connected and changed and now - changed[0] >= self.quiet_seconds:
            reason = f"delivered nothing while its {self.id_field} changed from {answers[0][0]}"
        elif connected and held_back and now - held_back[0][1] >= self.quiet_seconds:
            logger.warning("the channel to %s delivered nothing for %g s while the record's %s is %s, the last "
                           "delivered %s (a pvaccess monitor can hold back an update, or go stale when the server "
                           "re-creates the record): connecting again; its current value is processed, objects "
                           "published before it are counted missed", self.what, self.quiet_seconds, self.id_field,
                           held_back[0][0], delivered.last_id)
            self.held_back = True
            return True
        elif connected and self.silent and answers and now - answers[0][2] >= self.quiet_seconds:
            reason = "delivered nothing, not even the record's current value, while a new channel to it had the record"
        elif not self.connected_once:
            if not answers or now - answers[0][2] < NEVER_CONNECTED_WAIT_SECONDS:
                self._ask()
                return False
            logger.info("the channel to %s has not connected while a new channel to it found the record "
                        "(pvAccess backs off the searches of a channel it did not find): connecting again",
                        self.what)
            return True
        elif not connected and len(answers) >= 2:
            reason = "stayed disconnected while a new channel to it had the record"
        else:
            self._ask()
            return False
        logger.warning("the channel to %s %s (a pvaccess channel can go stale when the server re-creates the "
                       "record): connecting again; objects published meanwhile are lost", self.what, reason)
        return True

    def renewed(self, received: int) -> None:
        """The caller made a new channel and monitor; ``received``: the count dead() gets until it delivers."""
        if self.connected_once:
            self.n_renewals += 1
        self.n_received = None
        self.received_at_start = received
        self.silent = True
        self.next_look = self.clock() + self.quiet_seconds
        self._new_episode()

    def counts_reset(self, received: int) -> None:
        """The owner's counts start again from 0 (a statistics reset); ``received``: its count just before."""
        if received != self.received_at_start:
            self.silent = False
        self.received_at_start = 0
        self.n_renewals = 0

    def close(self) -> None:
        self.closed.set()
        self.asked.set()
        if self.thread is not None:
            self.thread.join(GET_SECONDS + 1.0)

    def _new_episode(self) -> None:
        with self.lock:
            self.episode += 1
            self.answers = []

    def _ask(self) -> None:
        if self.thread is None:
            self.thread = threading.Thread(target=self._answer, name=f"stale-check {self.channel_name}",
                                           daemon=True)
            self.thread.start()
        self.asked.set()

    def _answer(self) -> None:
        """The check's thread: one question per ``asked``, until closed (then the asking process ends)."""
        while not self.closed.is_set():
            self.asked.wait()
            self.asked.clear()
            if self.closed.is_set():
                break
            with self.lock:
                episode = self.episode
            asked = self.clock()
            try:
                object_id = self.asker.ask(self.channel_name, self.provider, self.request, self.id_field,
                                           GET_SECONDS)
            except Exception as ex:  # noqa: BLE001 (pvaccess raises its own types; no record, no such field)
                logger.debug("asking %s for its %s: %s", self.what, self.id_field, ex)
                continue
            with self.lock:
                if episode == self.episode:
                    self.answers.append((object_id, asked, self.clock()))
        self.asker.close()
