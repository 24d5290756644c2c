"""Tells a monitor that went silent for good from a quiet input, so that the receiver subscribes again.

A pvaccess fault (pvapy 5.6, seen here): when a live server removes a record and adds it again (pvaccess's
own ``PvaMirrorServer`` does when its source restarts), a client's monitor on it may stop delivering for
good, while the channel says it is connected and the monitor active (p4p sees that monitor end). Subscribing
again revives it. Silence alone proves nothing (a paused source is silent too), so a monitor that delivered
nothing for ``quiet_seconds`` has its channel asked for the current object id; asked again ``quiet_seconds``
later, an id that changed, and that the monitor still did not deliver ``quiet_seconds`` after that, means
the monitor is dead. The questions are asynchronous gets: nothing here waits on the network.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import pvaccess as pva

from .callback_thread import keeping_thread_state

logger = logging.getLogger(__name__)

QUIET_SECONDS = 2.0


class SilentMonitorCheck:
    """Watches one monitored channel; ``dead()`` is called often by the thread that owns the receiver."""

    def __init__(self, channel: pva.Channel, what: str, id_field: str, quiet_seconds: float = QUIET_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.channel = channel
        self.what = what  # names the channel in the log
        self.request = f"field({id_field})"
        self.id_field = id_field
        self.quiet_seconds = quiet_seconds
        self.clock = clock
        self.next_look = 0.0
        self.n_received = -1  # the monitor's count at the last look
        self.lock = threading.Lock()  # answers come on pvaccess threads
        self.round = 0  # answers of older rounds (before the monitor last delivered) are ignored
        self.answers: list[Any] = []  # object ids the channel answered in this round
        self.n_resubscribes = 0

    def dead(self) -> bool:
        """True (once) when the monitor must be subscribed again; the caller does it and calls ``revived()``."""
        now = self.clock()
        if now < self.next_look:
            return False
        self.next_look = now + self.quiet_seconds
        received = int(self.channel.getMonitorCounters().get("nReceived", 0))
        if received != self.n_received or not self.channel.isConnected():
            self.n_received = received
            self._new_round()
            return False
        with self.lock:
            answers = list(self.answers)
        if len(answers) >= 2 and answers[-1] != answers[0]:
            logger.warning("the monitor of %s delivered nothing while its %s went from %s to %s (a pvaccess "
                           "monitor can go silent when the server re-creates the record): subscribing again; "
                           "objects published meanwhile are lost", self.what, self.id_field, answers[0], answers[-1])
            return True
        self.channel.asyncGet(keeping_thread_state(lambda pv, round_=self.round: self._on_answer(round_, pv)),
                              keeping_thread_state(self._on_error), self.request)
        return False

    def revived(self) -> None:
        """The caller subscribed again."""
        self.n_resubscribes += 1
        self.n_received = -1
        self._new_round()

    def _new_round(self) -> None:
        with self.lock:
            self.round += 1
            self.answers = []

    def _on_answer(self, round_: int, pv: pva.PvObject) -> None:
        with self.lock:
            if round_ == self.round:
                self.answers.append(pv[self.id_field])

    def _on_error(self, error: Any) -> None:
        logger.debug("asking %s for its %s: %s", self.what, self.id_field, error)
