"""Keep freed frame buffers in the process, so the next frame does not page-fault fresh memory.

glibc hands blocks of 128 kB and more (its threshold rises to a block's size
once one is freed) straight back to the kernel with munmap, and trims free
heap memory above 128 kB. A stream allocates and frees several frame-sized
buffers per frame (received array, processor output, published copy), so
every one of them comes back as fresh pages: on the development VM a
4 MB buffer costs about 1,000 page faults, 2-4 ms, more than encrypting it.
Raising both thresholds lets malloc reuse freed frames: the process keeps up
to ``TRIM_THRESHOLD`` bytes of free memory instead.

Users who set glibc's own MALLOC_MMAP_THRESHOLD_ / MALLOC_TRIM_THRESHOLD_
keep their values. Elsewhere than glibc this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os

logger = logging.getLogger(__name__)

M_TRIM_THRESHOLD = -1  # from glibc's malloc.h
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 * 1024 * 1024  # glibc's largest: blocks up to 32 MB come from the heap
TRIM_THRESHOLD = 512 * 1024 * 1024
_ENVIRONMENT = {"MALLOC_MMAP_THRESHOLD_": M_MMAP_THRESHOLD, "MALLOC_TRIM_THRESHOLD_": M_TRIM_THRESHOLD}


def reuse_freed_buffers() -> bool:
    """Raise glibc's mmap and trim thresholds (unless set in the environment); True if applied."""
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):  # not glibc
        return False
    settings = {M_MMAP_THRESHOLD: MMAP_THRESHOLD, M_TRIM_THRESHOLD: TRIM_THRESHOLD}
    for variable, parameter in _ENVIRONMENT.items():
        if variable in os.environ:
            del settings[parameter]
    applied = all(mallopt(parameter, value) == 1 for parameter, value in settings.items())
    logger.debug("malloc thresholds %s: %s", "raised" if applied else "not raised", settings)
    return applied


def physical_memory() -> int:
    """This machine's memory in bytes (0 where the system does not say)."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 0
