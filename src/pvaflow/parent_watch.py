"""A child process that stops when its parent dies, even by ``kill -9`` (Linux ``PR_SET_PDEATHSIG``).

The parent starts the child with :func:`with_parent_watch`'s environment; the child calls
:func:`stop_with_parent` at its start.
"""

from __future__ import annotations

import ctypes
import os
import signal

PR_SET_PDEATHSIG = 1
PARENT_VARIABLE = "PVAFLOW_STOP_WITH_PARENT"  # the pid of the parent a child stops with


def with_parent_watch() -> dict[str, str]:
    """The environment for a child that must stop when this process dies: the child reads it at start
    (:func:`stop_with_parent`). No ``preexec_fn``: code run between fork and exec can deadlock the child, and
    the ``Popen`` waiting for it, in a process with other threads (pvaccess's), as the Python docs warn."""
    return dict(os.environ) | {PARENT_VARIABLE: str(os.getpid())}


def stop_with_parent() -> None:
    """In a child started with :func:`with_parent_watch`: get SIGTERM (a clean stop) when that parent dies
    (Linux ``PR_SET_PDEATHSIG``; elsewhere nothing). The variable is taken out of the environment, so this
    process's own children do not inherit a parent that is not theirs."""
    parent = os.environ.pop(PARENT_VARIABLE, None)
    if parent is None:
        return
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):  # not Linux
        return
    if str(os.getppid()) != parent:  # the parent died before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)
