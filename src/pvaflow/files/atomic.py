"""Atomic file creation: write under a temporary name in the same directory, then rename.

A process killed while writing leaves at most a ``.<name>.<random>.partial``
file, never a half-written file under the final name.

Temporary files are created with O_EXCL and then opened without
truncation: ext4 (``auto_da_alloc``)
flushes a file that was truncated and rewritten when it is closed, which
would make every file cost a disk write instead of a page-cache copy.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

PARTIAL_SUFFIX = ".partial"


def partial_name(path: Path) -> Path:
    """A name beside ``path`` for its temporary file, not used yet (the directory is created if missing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        partial = path.with_name(f".{path.name}.{secrets.token_hex(4)}{PARTIAL_SUFFIX}")
        if not partial.exists():
            return partial


def discard(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


@contextlib.contextmanager
def atomic_file(path: Path) -> Iterator[BinaryIO]:
    """An open binary file that appears as ``path`` only when the block ends without an exception.

    Created with mode 0666 less the umask, like any new file.
    """
    while True:
        temporary = partial_name(path)
        try:
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            break
        except FileExistsError:
            continue
    os.close(descriptor)
    try:
        with open(temporary, "r+b") as file:  # the empty new file, opened without O_TRUNC; named (for tifffile)
            yield file
        os.replace(temporary, path)
    except BaseException:
        discard(temporary)
        raise
