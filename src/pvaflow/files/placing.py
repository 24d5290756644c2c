"""Giving a complete file its final name without ever replacing an existing file silently.

``ifFileExists`` (a config key of every file writer) says what happens when
the name a frame gets is taken already (a restarted source numbering from 1
again, a restarted writer, a constant name):

- ``suffix`` (default): the file is written as ``NAME_002.EXT``, then
  ``NAME_003.EXT``, ...; these sort right after ``NAME.EXT`` and in the order
  they were written (up to 999 copies of one name);
- ``error``: the frame is not written, and counted as an error;
- ``overwrite``: the existing file is replaced (counted in ``nFilesReplaced``).

The final name is taken with ``link()``, which fails if the name exists, so
no other process can slip a file in between a check and the rename. On a
file system without hard links the name is checked, then renamed into place.
"""

from __future__ import annotations

import errno
import os
from collections import OrderedDict
from pathlib import Path

from ..errors import ConfigError

IF_FILE_EXISTS = ("suffix", "error", "overwrite")
DEFAULT_IF_FILE_EXISTS = "suffix"
REMEMBERED_NAMES = 1024  # names whose next free suffix is remembered (a constant name costs one link per file)
NO_HARD_LINKS = (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK)


def check_if_file_exists(value: object) -> str:
    if value not in IF_FILE_EXISTS:
        raise ConfigError(f"ifFileExists must be one of {', '.join(IF_FILE_EXISTS)}, not {value!r}")
    return str(value)


def suffixed(path: Path, number: int) -> Path:
    """``NAME_002.EXT`` for ``NAME.EXT`` and 2."""
    return path.with_name(f"{path.stem}_{number:03d}{path.suffix}")


class FileExistsRefused(FileExistsError):
    """The name is taken and ``ifFileExists`` is ``error``."""


class Placer:
    """Renames complete temporary files to their final names by the ``ifFileExists`` policy."""

    def __init__(self, if_exists: str = DEFAULT_IF_FILE_EXISTS) -> None:
        self.if_exists = check_if_file_exists(if_exists)
        self.next_number: OrderedDict[Path, int] = OrderedDict()  # name -> the first suffix not yet tried

    def check(self, path: Path) -> None:
        """Before writing: FileExistsRefused if ``path`` is taken and the policy is ``error``."""
        if self.if_exists == "error" and os.path.lexists(path):
            raise FileExistsRefused(f"{path} exists and ifFileExists is 'error': not replaced")

    def place(self, temporary: Path, path: Path) -> tuple[Path, bool]:
        """Move ``temporary`` to ``path`` (or a suffixed name); the name used, and whether a file was replaced.

        Raises FileExistsRefused (policy ``error``) and leaves ``temporary`` to the caller then.
        """
        if self.if_exists == "overwrite":
            replaced = os.path.lexists(path)
            os.replace(temporary, path)
            return path, replaced
        number = self.next_number.get(path)  # None: the name itself first
        while True:
            candidate = path if number is None else suffixed(path, number)
            if self._take(temporary, candidate):
                break
            if self.if_exists == "error":
                raise FileExistsRefused(f"{path} exists and ifFileExists is 'error': not replaced")
            number = 2 if number is None else number + 1
        if number is not None:
            self._remember(path, number + 1)
        return candidate, False

    def _remember(self, path: Path, number: int) -> None:
        self.next_number[path] = number
        self.next_number.move_to_end(path)
        if len(self.next_number) > REMEMBERED_NAMES:
            self.next_number.popitem(last=False)

    @staticmethod
    def _take(temporary: Path, candidate: Path) -> bool:
        """Give ``temporary`` the name ``candidate`` if it is free; False if it is taken."""
        try:
            os.link(temporary, candidate)
        except FileExistsError:
            return False
        except OSError as ex:
            if ex.errno not in NO_HARD_LINKS:
                raise
            if os.path.lexists(candidate):
                return False
            os.rename(temporary, candidate)
            return True
        os.unlink(temporary)
        return True


def leftover_partials(directory: Path) -> list[Path]:
    """Temporary files (``.NAME.RANDOM.partial``) in ``directory``: left by a writer that was killed."""
    try:
        return sorted(path for path in directory.glob(".*.partial") if path.is_file())
    except OSError:
        return []
