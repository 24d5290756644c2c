"""Which of our channel names another server serves already.

A stage must not serve a name that another process serves (clients would get
either, at random). The names are asked with pvAccess gets, all at once, when
a stage's set-up begins; the answers are read just before its server starts,
so the wait (ANSWER_SECONDS at most, or ``PVAFLOW_NAME_CHECK_SECONDS``) mostly overlaps the set-up. A
server that answers later is not noticed: on a machine loaded enough to answer a loopback search that
slowly, raise the variable.

With ``EPICS_PVA_NAME_SERVERS`` set nothing is asked: a look-up of a name
that no server has, through a name server, kept this process's pvAccess from
finding any channel through the name servers afterwards (a consumer of
pvaPy's firewall example never connected to its source).
"""

from __future__ import annotations

import logging
import os
import time

import pvaccess as pva

from ..errors import ChannelError

logger = logging.getLogger(__name__)

ANSWER_SECONDS = 0.25  # how long a server that has one of our names may take to answer (loopback: under 0.1 s)
ANSWER_VARIABLE = "PVAFLOW_NAME_CHECK_SECONDS"  # another wait, in seconds


def answer_seconds() -> float:
    """How long to wait for answers: ANSWER_SECONDS, or the number ``PVAFLOW_NAME_CHECK_SECONDS`` holds."""
    text = os.environ.get(ANSWER_VARIABLE, "")
    try:
        return max(0.0, float(text)) if text else ANSWER_SECONDS
    except ValueError:
        logger.warning("%s=%r is not a number of seconds: using %s", ANSWER_VARIABLE, text, ANSWER_SECONDS)
        return ANSWER_SECONDS


class NameCheck:
    """Asks for ``names`` at once; :meth:`raise_if_served` waits for the answers."""

    def __init__(self, names: list[str], who: str) -> None:
        self.who = who
        self.names = list(dict.fromkeys(names))
        if os.environ.get("EPICS_PVA_NAME_SERVERS"):
            logger.debug("EPICS_PVA_NAME_SERVERS is set: not checking whether %s are served already", self.names)
            self.names = []
        self.served: list[str] = []  # appended to by pvaccess threads
        seconds = answer_seconds()
        self.deadline = time.monotonic() + seconds
        self.channels = []
        for name in self.names:
            client = pva.Channel(name)
            client.setTimeout(seconds)
            client.asyncGet(lambda _pv, name=name: self.served.append(name), lambda _error: None, "field()")
            self.channels.append(client)

    def raise_if_served(self) -> None:
        """ChannelError naming the first of our names another process serves; a server that did not answer
        within answer_seconds() of the check's start is not noticed. The first answer decides: no waiting for
        the names nobody serves."""
        while not self.served and time.monotonic() < self.deadline:
            time.sleep(0.01)
        if self.served:
            raise ChannelError(f"{self.who}: channel {self.served[0]} is served already by another process; "
                               "refusing to serve it twice (choose another name)")
