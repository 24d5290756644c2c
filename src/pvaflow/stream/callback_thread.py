"""Keep a Python thread state alive on the pvAccess threads that call us back.

pvaccess calls Python from its own C++ threads between ``PyGILState_Ensure``
and ``PyGILState_Release``. On a thread that has no Python thread state the
pair creates one and destroys it again, on every monitor update: about 20 us
per call, a quarter of a bare monitor's CPU for a 512x512 frame
(docs/performance.md). One extra ``PyGILState_Ensure`` that is never released,
made from inside the first callback on each thread, keeps that thread's state,
so later callbacks reuse it. The state is freed with the interpreter.
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Callable
from typing import Any


def keeping_thread_state(callback: Callable[..., Any]) -> Callable[..., Any]:
    """``callback`` wrapped so that each calling thread keeps its Python thread state."""
    threads_kept: set[int] = set()
    get_ident = threading.get_ident
    lock = threading.Lock()

    def call(*args: Any) -> Any:
        if get_ident() not in threads_kept:
            with lock:
                if get_ident() not in threads_kept:
                    ctypes.pythonapi.PyGILState_Ensure()  # the GIL is held: only raises the thread's count
                    threads_kept.add(get_ident())
        return callback(*args)

    return call
