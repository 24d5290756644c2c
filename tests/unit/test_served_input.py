"""The pvas input's reads: a copy a put landed in is refused (steady_copy), a put read twice is counted once."""

from __future__ import annotations

import pvaccess as pva

from pvaflow.stream.served_input import PvasReceiver, steady_copy


class LandingRecord:
    """A record stand-in; ``put_at`` says which read of its uniqueId (0: before the copy, 1: the copy's,
    2: after it) first sees the next put's id."""

    def __init__(self, put_at: int | None) -> None:
        self.put_at = put_at
        self.reads = 0

    def current_id(self) -> int:
        seen = 2 if self.put_at is not None and self.reads >= self.put_at else 1
        self.reads += 1
        return seen

    def hasField(self, name: str) -> bool:  # noqa: N802 (pvaccess's name)
        return name == "uniqueId"

    def __getitem__(self, name: str) -> int:
        return self.current_id()

    def copy(self) -> pva.PvObject:
        return pva.PvObject({"uniqueId": pva.INT}, {"uniqueId": self.current_id()})


def test_a_copy_no_put_landed_in_is_kept() -> None:
    copied = steady_copy(LandingRecord(put_at=None))
    assert copied is not None and copied["uniqueId"] == 1


def test_a_put_that_landed_during_the_copy_makes_it_refused() -> None:
    assert steady_copy(LandingRecord(put_at=1)) is None  # its id was written between the read and the copy
    assert steady_copy(LandingRecord(put_at=2)) is None  # its id was written after the copy read the old one


def test_a_put_done_before_the_copy_is_read_whole() -> None:
    copied = steady_copy(LandingRecord(put_at=0))
    assert copied is not None and copied["uniqueId"] == 2


class RecordingServer:
    """Stands in for the consumer's PvaServer: keeps the record's callback, so puts are replayed by hand."""

    def addRecord(self, name: str, pv: pva.PvObject, callback) -> None:  # noqa: N802 (pvaccess's name)
        self.callback = callback


def test_a_put_read_twice_is_counted_as_an_overrun_and_handed_on_once() -> None:
    server = RecordingServer()
    receiver = PvasReceiver("in", queue_size=None, server=server, input_type=pva.PvObject({"uniqueId": pva.INT}))
    receiver.start(lambda pv: None)  # a pvas input always queues: the host takes objects with get()
    for read in (1, 2, 2, 4):  # put 3 landed before put 2's callback read the record: 2 is read twice
        server.callback(pva.PvObject({"uniqueId": pva.INT}, {"uniqueId": read}))
    assert [receiver.get(0)["uniqueId"] for _ in range(receiver.queued())] == [1, 2, 4]
    counts = receiver.counts()
    assert (counts["nReceived"], counts["nOverruns"]) == (4, 1)
