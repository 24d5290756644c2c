"""A file whose large writes reach the kernel in pieces of 256 kB.

On the development VM, one 8 MB write() per frame into the page cache ran at
350-540 MB/s inside a streaming consumer; in the same interleaved round the
TIFF writer stored 1,450-1,950 MB/s writing 256 kB at a time
(docs/performance.md, file output). We believe the VM is the cause: it
reports freed memory to its host (virtio-balloon free page reporting), so a
fresh page-cache page can cost a host fault, and large writes get large, fresh
folios more often; not proven. The pieces cost one system call per 256 kB;
from an idle process (no stream) raw appends ran about 15% slower with them.
"""

from __future__ import annotations

import io
from typing import Any

PIECE_BYTES = 256 * 1024


class PiecewiseFile(io.FileIO):
    """An unbuffered file (``io.FileIO``) whose ``write()`` hands the kernel at most PIECE_BYTES at a time.

    ``write()`` writes everything or raises: a short write (the disk filling up) is retried, and the retry
    reports the error. h5py's file-object driver ignores the count ``write()`` returns, so a plain short
    write would lose data silently.
    """

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        written = 0
        while written < len(view):
            written += super().write(view[written:written + PIECE_BYTES])
        return written
