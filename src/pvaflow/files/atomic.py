"""Atomic file creation: write under a temporary name in the same directory, then rename.

A process killed while writing leaves at most a ``.<name>.<random>.partial``
file, never a half-written file under the final name.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

PARTIAL_SUFFIX = ".partial"


def partial_path(path: Path) -> Path:
    """A new, empty temporary file beside ``path`` (the directory is created if missing).

    Created with mode 0666 less the umask, like any new file (``tempfile.mkstemp`` would make it 0600).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        partial = path.with_name(f".{path.name}.{secrets.token_hex(4)}{PARTIAL_SUFFIX}")
        try:
            os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            return partial
        except FileExistsError:
            continue


def discard(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


@contextlib.contextmanager
def atomic_file(path: Path) -> Iterator[BinaryIO]:
    """An open binary file that appears as ``path`` only when the block ends without an exception."""
    temporary = partial_path(path)
    try:
        with open(temporary, "wb") as file:
            yield file
        os.replace(temporary, path)
    except BaseException:
        discard(temporary)
        raise
