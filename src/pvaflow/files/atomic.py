"""Atomic file creation: write under a temporary name in the same directory, then take the final name.

A process killed while writing leaves at most a ``.<name>.<random>.partial``
file, never a half-written file under the final name; the final name never
replaces an existing file unless asked to (:mod:`pvaflow.files.placing`).

Temporary files are created with O_EXCL and then opened without O_TRUNC,
so ext4's ``auto_da_alloc`` (which forces out files truncated and rewritten)
never applies. A precaution: it did not change the measured TIFF rate on
this VM's disk (docs/performance.md).
"""

from __future__ import annotations

import contextlib
import io
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from .pieces import PiecewiseFile
from .placing import Placer

PARTIAL_SUFFIX = ".partial"


def partial_name(path: Path) -> Path:
    """A random name beside ``path`` for its temporary file (the directory is created if missing).

    Whoever creates it does so exclusively (O_EXCL, h5py mode ``w-``) and fails on the
    1-in-4-billion name that exists already.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.with_name(f".{path.name}.{secrets.token_hex(4)}{PARTIAL_SUFFIX}")


def create_exclusive(path: Path) -> PiecewiseFile:
    """Create ``path`` (it must not exist; mode 0666 less the umask) and open it for reading and writing,
    unbuffered, large writes in pieces (:mod:`pvaflow.files.pieces`)."""
    return PiecewiseFile(path, "x+")  # O_CREAT | O_EXCL, no O_TRUNC


def discard(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


@dataclass
class AtomicFile:
    """The open file of :func:`atomic_file`; ``path`` and ``replaced`` say where it went once the block ended."""

    file: BinaryIO
    path: Path
    replaced: bool = False


@contextlib.contextmanager
def atomic_file(path: Path, placer: Placer) -> Iterator[AtomicFile]:
    """An open binary file that appears as ``path`` (or the name ``placer`` picks) only when the block ends
    without an exception.

    Created with mode 0666 less the umask, like any new file.
    """
    placer.check(path)
    temporary = partial_name(path)
    raw = create_exclusive(temporary)
    try:
        with io.BufferedRandom(raw) as file:  # buffered for small header writes; named (for tifffile)
            target = AtomicFile(file, path)
            yield target
        target.path, target.replaced = placer.place(temporary, path)
    except BaseException:
        discard(temporary)
        raise
