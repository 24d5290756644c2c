"""pvAccess's connection threads under the default scheduling policy, not real time.

EPICS starts its threads under ``SCHED_FIFO`` (real time) wherever the process may do so: as root, in a
container run as root, with ``CAP_SYS_NICE`` or a real-time limit. pvAccess gives every connection a
receiving thread (``TCP-rx``) and a sending thread (``TCP-tx``); in real time, each wakes and takes the CPU
from the host thread at once, for every piece of a frame that arrives and every update published, and
keeps it as long as it has work. A stage that processes frames in Python is then preempted several times a
frame. Back under ``SCHED_OTHER`` (what every thread of a process run by an ordinary user has anyway) they
share the CPU with the host thread. Measured as root on two cores (docs/performance.md): one consumer
attaching six metadata channels to 512x512 frames at 4,500 fps, its receiving thread 89-128 us of CPU a
frame against 150-201 in real time.

The host does this only where it processes on a thread of its own (a receiver queue: ``-rqs``, ``-ao``; the
collector). In callback mode (a consumer's default) the receiving thread is the one that processes, and in
real time it hands each frame on sooner: as root, a passthrough consumer at 1,000 fps added 0.26-0.27 ms
(p50) and 0.30-0.34 ms (p99) with its threads in real time, 0.34-0.40 and 0.49-0.82 ms without.

Only threads under a real-time policy are changed (``SCHED_BATCH`` or ``SCHED_IDLE`` set by a user stay).
New connections bring new threads: the host looks again at every status refresh. Not Linux, or not
allowed: nothing changes (logged once).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

logger = logging.getLogger(__name__)

IO_THREAD_NAMES = frozenset({"TCP-rx", "TCP-tx"})  # pvAccess's names for a connection's threads
REAL_TIME = frozenset({getattr(os, "SCHED_FIFO", None), getattr(os, "SCHED_RR", None)}) - {None}
TASKS = Path("/proc/self/task")


class IoThreadPolicy:
    """Puts this process's pvAccess connection threads under ``SCHED_OTHER``; :meth:`apply` looks again."""

    def __init__(self) -> None:
        self.supported = hasattr(os, "sched_setscheduler") and TASKS.is_dir()
        self.n_changed = 0

    def apply(self) -> int:
        """Change the connection threads under a real-time policy; how many were changed now."""
        if not self.supported:
            return 0
        changed = 0
        for task in TASKS.iterdir():
            try:
                if (task / "comm").read_text().strip() not in IO_THREAD_NAMES:
                    continue
                thread_id = int(task.name)
                if os.sched_getscheduler(thread_id) in REAL_TIME:
                    os.sched_setscheduler(thread_id, os.SCHED_OTHER, os.sched_param(0))
                    changed += 1
            except (ProcessLookupError, FileNotFoundError):  # the thread ended meanwhile
                continue
            except OSError as ex:  # not allowed here
                logger.info("pvAccess's connection threads keep their scheduling policy: %s", ex)
                self.supported = False
                break
        self.n_changed += changed
        return changed
