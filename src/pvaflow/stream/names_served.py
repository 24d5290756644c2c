"""Which of our channel names another server serves already.

A stage must not serve a name that another process serves (clients would get
either, at random). The names are asked with pvAccess gets, all at once, when
a stage's set-up begins; the answers are read just before its server starts,
so the wait mostly overlaps the set-up. A server that answers later than
ANSWER_SECONDS after the question (or ``PVAFLOW_NAME_CHECK_SECONDS``) is not
noticed: on a machine loaded enough to answer a loopback search that slowly,
raise the variable.

The gets are asked by a short-lived process of their own (ASKER), not by the
stage: pvaccess keeps a get to a name nobody serves pending, and with it the
client channel, which then connects to the stage's own server once it serves
the name and stays (a stage's search traffic for its own names, and "More
than one channel" warnings in its log); dropping such a channel blocks for
seconds, and once aborted the process (epicsMutex::invalidMutex). The asking
process ends without waiting for them.

With ``EPICS_PVA_NAME_SERVERS`` set nothing is asked: a look-up of a name
that no server has, through a name server, kept the process's pvAccess from
finding any channel through the name servers afterwards (a consumer of
pvaPy's firewall example never connected to its source).
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys

from ..errors import ChannelError

logger = logging.getLogger(__name__)

ANSWER_SECONDS = 0.25  # how long a server that has one of our names may take to answer (loopback: under 0.1 s)
ANSWER_VARIABLE = "PVAFLOW_NAME_CHECK_SECONDS"  # another wait, in seconds
ASKER_START_SECONDS = 10.0  # more than the asking process takes to start on a loaded machine (0.1-0.2 s unloaded)

# argv: seconds to wait for answers, then the names; prints each name answered, one per line, and ends at the
# first answer or after the wait, leaving the other gets pending (os._exit: nothing waits for them)
ASKER = """
import os, signal, sys, time, pvaccess as pva
signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C at a terminal is the stage's to handle; this ends anyway
seconds, names = float(sys.argv[1]), sys.argv[2:]
served = []
deadline = time.monotonic() + seconds
channels = [pva.Channel(name) for name in names]
for name, channel in zip(names, channels):
    channel.setTimeout(seconds)
    channel.asyncGet(lambda _pv, name=name: served.append(name), lambda _error: None, 'field()')
while not served and time.monotonic() < deadline:
    time.sleep(0.01)
print('\\n'.join(served), flush=True)
os._exit(0)
"""


def answer_seconds() -> float:
    """How long to wait for answers: ANSWER_SECONDS, or the number ``PVAFLOW_NAME_CHECK_SECONDS`` holds."""
    text = os.environ.get(ANSWER_VARIABLE, "")
    try:
        return max(0.0, float(text)) if text else ANSWER_SECONDS
    except ValueError:
        logger.warning("%s=%r is not a number of seconds: using %s", ANSWER_VARIABLE, text, ANSWER_SECONDS)
        return ANSWER_SECONDS


class NameCheck:
    """Asks for ``names`` at once (in a process of its own); :meth:`raise_if_served` waits for the answers."""

    def __init__(self, names: list[str], who: str) -> None:
        self.who = who
        self.names = list(dict.fromkeys(names))
        if os.environ.get("EPICS_PVA_NAME_SERVERS"):
            logger.debug("EPICS_PVA_NAME_SERVERS is set: not checking whether %s are served already", self.names)
            self.names = []
        self.seconds = answer_seconds()
        self.asker = None
        if self.names:
            self.asker = subprocess.Popen([sys.executable, "-c", ASKER, str(self.seconds), *self.names],
                                          stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                          stderr=subprocess.PIPE, text=True)

    def raise_if_served(self) -> None:
        """ChannelError naming the first of our names another process serves; a server that did not answer
        within answer_seconds() of the question is not noticed. The first answer decides: no waiting for
        the names nobody serves. An asking process that fails is logged, and the names are taken as free."""
        if self.asker is None:
            return
        try:
            answered, errors = self.asker.communicate(timeout=self.seconds + ASKER_START_SECONDS)
        except subprocess.TimeoutExpired:
            self.asker.kill()
            self.asker.communicate()
            logger.warning("%s: the look-up of %s did not end in %.0f s: not checked whether another process "
                           "serves them", self.who, ", ".join(self.names), self.seconds + ASKER_START_SECONDS)
            return
        if self.asker.returncode != 0:
            logger.warning("%s: the look-up of %s failed (exit code %d: %s): not checked whether another "
                           "process serves them", self.who, ", ".join(self.names), self.asker.returncode,
                           (errors.strip().splitlines() or ["no message"])[-1])
            return
        served = answered.split()
        if served:
            raise ChannelError(f"{self.who}: channel {served[0]} is served already by another process; "
                               "refusing to serve it twice (choose another name)")
