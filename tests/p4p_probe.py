"""Whether a channel answers, asked with p4p rather than pvaccess.

A pvaccess get whose server goes away during it can hang for good or end its process with a segmentation
fault (docs/reliability.md); the servers the tests wait for may be starting, failing or at the end of a
short run, and the test process must outlive them. p4p (PVXS) is an independent client with neither fault.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any


@functools.cache
def context() -> Any:
    """This test process's p4p client context (one for every question)."""
    from p4p.client.thread import Context

    return Context("pva", nt=False)


# search, connection and get in one attempt: the first ones short (a new channel searches at once, a long
# attempt waits for its later, rarer searches), then longer. With 0.5 s only, a test beside two busy loops got
# no answer from a server that served for about 5 s (once; not reproduced in 3 loaded reruns of its file).
ATTEMPT_SECONDS = 0.5
LONG_ATTEMPT_SECONDS = 2.0
LONG_AFTER_SECONDS = 2.0


def answers(channel_name: str, timeout: float = ATTEMPT_SECONDS) -> bool:
    """Whether ``channel_name`` answers a get within ``timeout`` seconds. After no answer the channel is
    dropped, so the next question searches at once (a channel whose searches went unanswered searches ever
    more rarely). Unloaded, a server that comes up while this is asked answers 0.1-0.4 s later."""
    try:
        context().get(channel_name, timeout=timeout)
        return True
    except Exception:  # noqa: BLE001 (p4p: TimeoutError, Disconnected, RemoteError)
        context().disconnect(channel_name)
        return False


def wait_answers(channel_name: str, deadline: float, still_worth_it: Callable[[], object] = lambda: None) -> bool:
    """Ask until ``channel_name`` answers (True) or time.monotonic() passes ``deadline`` (False);
    ``still_worth_it()`` is called between attempts (it may raise to give up, as when the server exited)."""
    started = time.monotonic()
    while True:
        long_wait = time.monotonic() - started >= LONG_AFTER_SECONDS
        if answers(channel_name, LONG_ATTEMPT_SECONDS if long_wait else ATTEMPT_SECONDS):
            return True
        still_worth_it()
        if time.monotonic() > deadline:
            return False
