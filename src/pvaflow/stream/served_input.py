"""Inputs the consumer serves itself, for clients that can only connect towards it.

- ``pvas``: a record on the consumer's PvaServer, typed by the processor's
  ``getInputPvObjectType()``; every put into it is one input object
  (``--output-mode pva`` of an upstream consumer, or ``pvput``).
- ``rpc``: an RPC service on a pvaccess ``RpcServer``; every request is one
  input object and gets a reply ``{status, errorMessage}`` (0: accepted).

An RPC request returns only after the object was processed (no receiver
queue) or queued, so the sender's order is kept and a full queue is reported
back to the sender instead of being lost in silence.

A put into the ``pvas`` record is different: pvaccess answers the put, then
calls the record's callback later, on its own thread, with the record itself
(not a copy), so a put that lands before the call is read in place of the
one before it. The callback therefore only copies the object into a queue
(unbounded without ``--receiver-queue-size``: processing on the callback
thread delays the reads of the puts behind it). An object read twice (the same uniqueId as the one
read before it) means the put before that one was overwritten unread: counted in ``nOverruns``, never
processed twice. A put that lands while the callback copies the record would leave a torn copy (one put's id,
the next one's pixels; seen under load): the uniqueId is read before and after the copy, and a copy it
changed in is dropped and counted as an overrun (``steady_copy``; the put that landed is read by its own
callback). One window stays open (a put held up between writing its pixels and its id for the whole copy),
and a read while a put writes the record can crash pvaccess (as pvaPy's pvas receiver, which reads it the same
way): use ``rpc`` where every object must arrive whole or senders are fast.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pvaccess as pva

from ..errors import ConfigError
from .callback_thread import keeping_thread_state
from .receiver import QueuedInput

logger = logging.getLogger(__name__)

REPLY_TYPE = {"status": pva.INT, "errorMessage": pva.STRING}
STATUS_OK = 0
STATUS_ERROR = -1
UNBOUNDED = 0  # queue size


def identity(pv: pva.PvObject) -> Any:
    """The uniqueId of an object that has one, else None: tells a re-read object from a new one. Not the time
    stamp as well: pvaccess writes a put into the record while the callback may be copying it, so a copy can
    hold one put's id and the next put's time stamp (seen under load: the same id processed twice)."""
    return pv["uniqueId"] if pv.hasField("uniqueId") else None


def steady_copy(record: pva.PvObject) -> pva.PvObject | None:
    """A copy of the pvas record, or None when a put landed in it while it was made.

    A put writes the fields in the order a copy reads them (value first, uniqueId after it): a put that
    overtakes the copy between the two leaves the record's id changed from the one read before the copy; a
    put that wrote the value before the copy read it and its id after, leaves the record's id read after the
    copy differing from the copy's. A put held up between its value and its id for the whole copy is not seen.
    Not copied again: a read of the record while a put writes it can crash pvaccess (docs/reference/consumer.md),
    and copying again reads exactly then (tried: it crashed more often).
    """
    before = identity(record)
    pv = record.copy()
    return pv if before == identity(pv) == identity(record) else None


class ServedInput(QueuedInput):
    """Counts and routes objects that clients send to us: to the host directly or through the queue."""

    def __init__(self, channel_name: str, queue_size: int | None) -> None:
        super().__init__(channel_name, queue_size)
        self.n_received = 0
        self.n_rejected = 0
        self.n_overruns = 0  # objects overwritten before they were read (pvas)
        self.on_object: Callable[[pva.PvObject], None] | None = None

    def accept(self, pv: pva.PvObject, copied: bool = False) -> str:
        """Take one sent object; an error message, or "" when it was processed or queued."""
        self.n_received += 1
        if self.on_object is None:  # not started yet, or stopped
            self.n_rejected += 1
            return f"{self.channel_name} is not accepting objects"
        if self.queue is None:
            self.on_object(pv)  # the host counts and logs what the processor does with it
            return ""
        try:
            self.queue.put(pv if copied else pv.copy())  # pvaccess may reuse the object after the call
        except pva.QueueFull:
            self.n_rejected += 1
            return f"receiver queue of {self.channel_name} is full"
        return ""

    def counts(self) -> dict[str, int]:
        return {"nReceived": self.n_received, "nRejected": self.n_rejected, "nErrors": self.n_errors,
                "nOverruns": self.n_overruns, "nReconnects": 0, "nStaleChannels": 0}

    def reset_stats(self) -> None:
        self.n_received = self.n_rejected = self.n_overruns = 0
        self.reset_queue_stats()


class PvasReceiver(ServedInput):
    """The input channel as a record on the consumer's own PvaServer; clients put objects into it."""

    def __init__(self, channel_name: str, queue_size: int | None, server: pva.PvaServer, input_type: Any) -> None:
        super().__init__(channel_name, UNBOUNDED if queue_size is None else queue_size)
        if input_type is None:
            raise ConfigError(
                "input mode pvas needs the processor's getInputPvObjectType() to return the input structure "
                "(AdImageProcessor returns an NTNDArray)"
            )
        self.server = server
        self.input_type = input_type
        self.last_read: Any = None
        # the record exists from the start, so senders can connect before processing starts
        server.addRecord(channel_name, input_type.copy(), keeping_thread_state(self._on_put))

    def _on_put(self, record: pva.PvObject) -> None:
        pv = steady_copy(record)  # first: the record may change under us
        if pv is None:  # the put that landed has a callback of its own and is read there
            self.n_received += 1
            self.n_overruns += 1
            logger.debug("a put into %s landed while the one before it was read: that one is lost, counted as "
                         "an overrun", self.channel_name)
            return
        read = identity(pv)
        if read is not None and read == self.last_read:
            self.n_received += 1
            self.n_overruns += 1
            return
        self.last_read = read
        message = self.accept(pv, copied=True)
        if message:
            logger.debug("put into %s refused: %s", self.channel_name, message)

    def start(self, on_object: Callable[[pva.PvObject], None]) -> None:
        self.on_object = on_object

    def stop(self) -> None:
        self.on_object = None

    def sample(self) -> pva.PvObject | None:
        return self.input_type


class RpcReceiver(ServedInput):
    """The input channel as an RPC service; each request carries one object."""

    def __init__(self, channel_name: str, queue_size: int | None, input_type: Any = None) -> None:
        super().__init__(channel_name, queue_size)
        self.input_type = input_type  # optional here: only types the output channel before the first request
        self.server = pva.RpcServer()
        self.server.registerService(channel_name, keeping_thread_state(self._on_request))
        self.listening = False

    def _on_request(self, pv: pva.PvObject) -> pva.PvObject:
        message = self.accept(pv)
        if message:
            logger.debug("request to %s refused: %s", self.channel_name, message)
            return pva.PvObject(REPLY_TYPE, {"status": STATUS_ERROR, "errorMessage": message})
        return pva.PvObject(REPLY_TYPE, {"status": STATUS_OK})

    def start(self, on_object: Callable[[pva.PvObject], None]) -> None:
        self.on_object = on_object
        self.server.startListener()
        self.listening = True

    def sample(self) -> pva.PvObject | None:
        return self.input_type

    def stop(self) -> None:
        self.on_object = None
        if self.listening:
            self.server.stopListener()
            self.listening = False
