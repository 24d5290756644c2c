"""Publishers: send processed objects out. ``pvas``: a record on the host's PvaServer."""

from __future__ import annotations

import inspect
import logging
from typing import Any

import pvaccess as pva

logger = logging.getLogger(__name__)


def output_type(processor: Any, first_object: pva.PvObject) -> pva.PvObject | None:
    """``processor.getOutputPvObjectType`` with the first input object, as pvaPy calls it.

    Processors written against the spec's no-argument form are called without it.
    """
    method = processor.getOutputPvObjectType
    try:
        takes_object = bool(inspect.signature(method).parameters)
    except (TypeError, ValueError):  # builtins without a signature
        takes_object = True
    return method(first_object) if takes_object else method()


class PvasPublisher:
    """Hosts the output channel on a PvaServer; the record is typed by the first output type."""

    def __init__(self, server: pva.PvaServer | None, channel_name: str | None) -> None:
        self.server = server
        self.channel_name = channel_name
        self.ready = False  # prepare() has run (record created, or there is none to create)
        self.n_published = 0
        self.n_errors = 0
        self.error_kinds: set[str] = set()

    def prepare_at_start(self, processor: Any) -> None:
        """Create the output record at once if the processor defines its type without an input object.

        Clients can then connect to the output before the first object; other
        processors (the base class passes the input type through) wait for it.
        """
        if self.ready or not self.channel_name or self.server is None:
            return
        try:
            record = output_type(processor, None)
        except Exception:  # noqa: BLE001 (the type needs an input object: wait for the first one)
            return
        if record is not None:
            self.prepare(processor, None, record)

    def prepare(self, processor: Any, first_object: pva.PvObject | None, record: pva.PvObject | None = None) -> None:
        """Create the output record from the processor's output type (once; then ``ready``).

        If the output type raises (say, a decryptor cannot decrypt the first
        object), the next object tries again.
        """
        if self.ready:
            return
        if not self.channel_name or self.server is None:
            self.ready = True  # no output channel: nothing left to prepare per object
            return
        if record is None:
            record = output_type(processor, first_object)
        self.ready = True
        if record is None:
            logger.info("processor defines no output type: %s is not created", self.channel_name)
            self.channel_name = None
            return
        self.server.addRecord(self.channel_name, record.copy(), None)
        logger.debug("output channel %s created", self.channel_name)

    def updateOutputChannel(self, pvObject: pva.PvObject) -> None:  # noqa: N802, N803 (processor API)
        if not self.ready or self.channel_name is None:
            return
        try:
            # the first update checks the structure, later ones skip the check (as pvaPy does)
            if self.n_published:
                self.server.updateUnchecked(self.channel_name, pvObject)
            else:
                self.server.update(self.channel_name, pvObject)
            self.n_published += 1
        except Exception as ex:  # pvaccess raises its own types, e.g. for a structure mismatch
            self.n_errors += 1
            kind = type(ex).__name__
            if kind not in self.error_kinds:
                self.error_kinds.add(kind)
                logger.error("cannot publish on %s (%s, counted from now on): %s", self.channel_name, kind, ex)

    def counts(self) -> dict[str, int]:
        return {"nPublished": self.n_published, "nErrors": self.n_errors}

    def reset_stats(self) -> None:
        self.n_published = 0
        self.n_errors = 0
