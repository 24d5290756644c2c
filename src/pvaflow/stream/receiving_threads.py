"""pvAccess's receiving threads under the default scheduling policy, not real time.

EPICS starts its threads under ``SCHED_FIFO`` (real time) wherever the process may do so: as root, in a
container run as root, with ``CAP_SYS_NICE`` or a real-time limit. pvAccess gives every connection a
receiving thread (``TCP-rx``), which also hands each monitor update to pvaccess (into a receiver queue, or to
the Python callback). In real time it takes the CPU from the host thread at once for every piece of a frame
that arrives. Back under ``SCHED_OTHER`` (what every thread of a process run by an ordinary user has anyway)
it shares the CPU with the host thread. Measured as root on two cores (docs/performance.md): one consumer
attaching six metadata channels to 512x512 frames kept up with 4,500 fps in 3 runs of 3 against 1 of 3.

Only the receiving threads, and only where a consumer's host processes on a thread of its own (a receiver
queue: ``-rqs``, ``-ao``). The sending threads (``TCP-tx``) keep real time: a sending thread that the machine
keeps waiting leaves its server's monitor queues to overflow (a full test run lost 2 frames so, at a
decrypting stage behind a queued encrypting one, with both kinds of thread out of real time), while a
receiving thread kept waiting leaves the data in the socket's buffer. In callback mode (a consumer's default)
the receiving thread is the one that processes, and in real time it hands each frame on sooner. The collector
keeps EPICS's scheduling: what preempts its host thread is the sending thread, woken for every update it
publishes; with only its receiving threads out of real time it cost more CPU a frame, not less.

Only threads under a real-time policy are changed (``SCHED_BATCH`` or ``SCHED_IDLE`` set by a user stay).
New connections bring new threads: the host looks again at every status refresh. Not Linux, or not
allowed: nothing changes (logged once).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

logger = logging.getLogger(__name__)

RECEIVING_THREAD = "TCP-rx"  # pvAccess's name for a connection's receiving thread
REAL_TIME = frozenset({getattr(os, "SCHED_FIFO", None), getattr(os, "SCHED_RR", None)}) - {None}
TASKS = Path("/proc/self/task")


class ReceivingThreadPolicy:
    """Puts this process's pvAccess receiving threads under ``SCHED_OTHER``; :meth:`apply` looks again."""

    def __init__(self) -> None:
        self.supported = hasattr(os, "sched_setscheduler") and TASKS.is_dir()

    def apply(self) -> int:
        """Change the receiving threads under a real-time policy; how many were changed now."""
        if not self.supported:
            return 0
        changed = 0
        for task in TASKS.iterdir():
            try:
                if (task / "comm").read_text().strip() != RECEIVING_THREAD:
                    continue
                thread_id = int(task.name)
                if os.sched_getscheduler(thread_id) in REAL_TIME:
                    os.sched_setscheduler(thread_id, os.SCHED_OTHER, os.sched_param(0))
                    changed += 1
            except (ProcessLookupError, FileNotFoundError):  # the thread ended meanwhile
                continue
            except OSError as ex:  # not allowed here
                logger.info("pvAccess's receiving threads keep their scheduling policy: %s", ex)
                self.supported = False
                break
        return changed
