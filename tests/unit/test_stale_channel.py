"""StaleChannelCheck's decisions, with a channel stand-in, answers given by hand and a clock of our own."""

from __future__ import annotations

import pvaccess as pva

from pvaflow.stream.host import reconnect_value_skip
from pvaflow.stream.stale_channel import (
    NEVER_CONNECTED_LOOK_SECONDS,
    NEVER_CONNECTED_WAIT_SECONDS,
    QUIET_SECONDS,
    Delivered,
    StaleChannelCheck,
)


class FakeChannel:
    """A channel stand-in; ``connected_once`` is what the receiver's connection watch would say."""

    def __init__(self, connected: bool) -> None:
        self.connected_once = False
        self.connected = connected

    @property
    def connected(self) -> bool:
        return self._connected

    @connected.setter
    def connected(self, connected: bool) -> None:
        self._connected = connected
        self.connected_once = self.connected_once or connected

    def isConnected(self) -> bool:  # noqa: N802 (pvaccess's name)
        return self.connected


class AnsweredCheck(StaleChannelCheck):
    """Answers every question at once with ``record_id`` (None: the record does not exist)."""

    def __init__(self, clock) -> None:
        super().__init__("x", pva.PVA, "x", "uniqueId", clock=clock)
        self.record_id: int | None = None

    def _ask(self) -> None:
        if self.record_id is not None:
            with self.lock:
                self.answers.append((self.record_id, self.clock(), self.clock()))


def looks(check: AnsweredCheck, channel: FakeChannel, now: list[float], seconds: float, step: float = 0.1,
          delivered: Delivered | None = None, received: int | None = None) -> bool:
    """Call dead() every ``step`` seconds for ``seconds``; True once it says the channel must be replaced.
    ``received``: the monitor's count; by default 1 once connected (a PVA monitor sends the current value first)."""
    end = now[0] + seconds
    while now[0] < end:
        now[0] += step
        count = received if received is not None else int(channel.connected_once)
        if check.dead(channel, count, channel.connected_once, delivered):
            return True
    return False


def test_a_channel_that_never_connected_is_renewed_soon_after_the_record_appears() -> None:
    now = [0.0]
    check = AnsweredCheck(lambda: now[0])
    channel = FakeChannel(connected=False)  # its searches backed off: the record came later
    assert not looks(check, channel, now, 10.0), "no record: nothing to connect to, no renewal"
    check.record_id = 0
    appeared = now[0]
    assert looks(check, channel, now, 3.0)
    # one look to ask, the answer NEVER_CONNECTED_WAIT_SECONDS old at a later look
    assert now[0] - appeared <= 2 * NEVER_CONNECTED_LOOK_SECONDS + NEVER_CONNECTED_WAIT_SECONDS + 0.1
    check.renewed(0)
    assert check.n_renewals == 0, "a channel that never connected was not stale"


def test_a_channel_that_connects_soon_after_the_record_appears_is_left_alone() -> None:
    now = [0.0]
    check = AnsweredCheck(lambda: now[0])
    channel = FakeChannel(connected=False)
    assert not looks(check, channel, now, 5.0)
    check.record_id = 0
    assert not looks(check, channel, now, NEVER_CONNECTED_WAIT_SECONDS - 0.1)  # the answer is younger than that
    channel.connected = True  # its own search found the record first
    assert not looks(check, channel, now, 10.0)


def test_a_new_channel_gets_time_to_connect_before_it_is_looked_at() -> None:
    now = [0.0]
    check = AnsweredCheck(lambda: now[0])
    check.record_id = 0
    assert not looks(check, FakeChannel(connected=False), now, QUIET_SECONDS - 0.2)


def test_a_channel_that_was_connected_needs_two_answers_while_disconnected() -> None:
    now = [0.0]
    check = AnsweredCheck(lambda: now[0])
    channel = FakeChannel(connected=True)
    check.record_id = 5
    assert not looks(check, channel, now, 5.0), "connected, quiet, the record's id unchanged: a paused source"
    channel.connected = False
    lost = now[0]
    assert looks(check, channel, now, 10.0)
    assert now[0] - lost >= 2 * QUIET_SECONDS  # as before: two answers, looks 2 s apart
    check.renewed(0)
    assert check.n_renewals == 1


def test_a_record_recreated_under_a_connected_channel_is_renewed_once_its_id_moved_on() -> None:
    now = [0.0]
    check = AnsweredCheck(lambda: now[0])
    channel = FakeChannel(connected=True)
    check.record_id = 5
    assert not looks(check, channel, now, 5.0)
    check.record_id = 9  # the new record moves on; this channel delivers nothing
    assert looks(check, channel, now, 10.0)


def test_an_input_that_connected_between_two_looks_is_stale_when_renewed_not_new() -> None:
    now = [0.0]
    check = AnsweredCheck(lambda: now[0])
    check.record_id = 5
    channel = FakeChannel(connected=True)
    channel.connected = False  # connected and gone again before the check looked: the receiver saw it
    assert looks(check, channel, now, 10.0)
    check.renewed(0)
    assert check.n_renewals == 1, "the input had connected: its renewal is a stale channel's, counted"


def test_a_monitor_holding_back_an_update_while_its_owner_is_idle_is_renewed() -> None:
    now = [0.0]
    check = AnsweredCheck(lambda: now[0])
    channel = FakeChannel(connected=True)
    check.record_id = 9961  # the record's last frame; the monitor delivered 9960 and nothing since
    idle = Delivered(9960, now[0])
    assert looks(check, channel, now, 3 * QUIET_SECONDS + 0.5, delivered=idle)
    assert check.held_back
    check.renewed(0)
    assert check.n_renewals == 1


def test_an_owner_busy_or_in_step_with_the_record_is_left_alone() -> None:
    now = [0.0]
    check = AnsweredCheck(lambda: now[0])
    channel = FakeChannel(connected=True)
    check.record_id = 100
    assert not looks(check, channel, now, 10.0), "busy (a slow process() call): no id to compare"
    assert not looks(check, channel, now, 10.0, delivered=Delivered(100, now[0])), "a paused source"
    # idle only since after every answer: what it answered may have been on its way
    assert not looks(check, channel, now, 10.0, delivered=Delivered(99, now[0] + 100.0))
    assert not check.held_back


def test_the_value_a_renewed_monitor_sends_in_place_of_a_held_back_update_is_processed_unless_a_repeat() -> None:
    assert reconnect_value_skip(True, 9961, 9960, skips_initial=1) is None
    assert reconnect_value_skip(True, 9960, 9960, skips_initial=1) == "a repeat of the last one handled"
    assert reconnect_value_skip(False, 9961, 9960, skips_initial=1) is not None, "a reconnect's value, -siu 1"
    assert reconnect_value_skip(False, 9961, 9960, skips_initial=0) is None


def test_a_record_id_below_the_last_delivered_is_no_held_back_update() -> None:
    # a re-created record's placeholder (id 0): not processed in place of a held-back frame
    now = [0.0]
    check = AnsweredCheck(lambda: now[0])
    check.record_id = 0
    assert not looks(check, FakeChannel(connected=True), now, 10.0, delivered=Delivered(385, now[0]))


def test_a_connected_channel_whose_monitor_delivers_nothing_is_renewed() -> None:
    now = [0.0]
    check = AnsweredCheck(lambda: now[0])
    channel = FakeChannel(connected=True)
    check.record_id = 0  # the record exists (a paused source): its current value should have come at once
    assert looks(check, channel, now, 4 * QUIET_SECONDS + 0.5, received=0)
    check.renewed(0)
    assert check.n_renewals == 1


def test_a_renewed_channel_is_silent_until_its_count_moves_past_the_carried_one() -> None:
    now = [0.0]
    check = AnsweredCheck(lambda: now[0])
    channel = FakeChannel(connected=True)
    check.record_id = 7
    assert not looks(check, channel, now, 10.0, received=7), "delivering: a paused source is left alone"
    check.renewed(7)  # the receiver's count goes on from the old channel's
    assert not looks(check, channel, now, 10.0, received=8), "the new monitor delivered the current value"
    check.renewed(8)
    assert looks(check, channel, now, 4 * QUIET_SECONDS + 0.5, received=8), "the new monitor delivered nothing"


def test_a_statistics_reset_after_the_first_value_leaves_a_delivering_channel_alone() -> None:
    now = [0.0]
    check = AnsweredCheck(lambda: now[0])
    channel = FakeChannel(connected=True)
    check.record_id = 3
    check.counts_reset(1)  # reset before any look saw the current value that came on connecting
    assert not looks(check, channel, now, 10.0, received=0), "a paused source, counts reset: left alone"
    assert check.n_renewals == 0


def test_queue_order_trusts_the_last_object_handed_on_only_after_an_update_accepted_since_refusals() -> None:
    from pvaflow.stream.stale_channel import QueueOrder

    order = QueueOrder()
    assert order.look({"nReceived": 0, "nRejected": 0})  # nothing refused: the last object handed on is the newest
    assert order.look({"nReceived": 5, "nRejected": 0})
    assert not order.look({"nReceived": 9, "nRejected": 3})  # refusals and acceptances, order unknown
    assert not order.look({"nReceived": 9, "nRejected": 3})  # nothing since: still the refused ones are the newest
    assert not order.look({"nReceived": 9, "nRejected": 4})
    assert order.look({"nReceived": 10, "nRejected": 4})  # accepted with none refused: after every refusal
    assert order.look({"nReceived": 10, "nRejected": 4})
    order.counters_reset()
    assert order.look({"nReceived": 0, "nRejected": 0})
    assert not order.look({"nReceived": 0, "nRejected": 1})
