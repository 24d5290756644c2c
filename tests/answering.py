"""Whether a channel answers now, and its value, asked by a child process (pvaflow's asking process,
stream/asker.py).

A pvaccess get whose server goes away during it can hang for good or end its process with a segmentation
fault (docs/reliability.md), and the servers the tests wait for may be starting, failing or at the end of a
short run: the test process must outlive them. So the get, a new Channel each time as before (one Channel
whose searches went unanswered searches again ever more rarely), is made by a child that is replaced when it
dies and killed when it hangs. (p4p instead, tried for a day: twice in one unloaded full run it got no answer
in 20 s from a stage that was serving.)
"""

from __future__ import annotations

import functools

import pvaccess as pva

from pvaflow.stream.asker import Asker

ATTEMPT_SECONDS = 0.5


@functools.cache
def _asker() -> Asker:
    return Asker("a channel for the tests")


def value(channel_name: str, request: str = "field()", timeout: float = ATTEMPT_SECONDS) -> dict:
    """The channel's value as a dict (``toDict()``, arrays as lists); ``pva.PvaException`` if it does not answer
    within ``timeout`` seconds."""
    return _asker().ask(channel_name, pva.PVA, request, None, timeout)


def answers(channel_name: str, timeout: float = ATTEMPT_SECONDS) -> bool:
    """Whether ``channel_name`` answers a get within ``timeout`` seconds."""
    try:
        _asker().ask(channel_name, pva.PVA, "field()", "", timeout)
        return True
    except pva.PvaException:
        return False
