"""File names from a Python format and a frame's fields, kept inside the output directory."""

from __future__ import annotations

import os
import string
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import ConfigError

# fields every frame has; NTNDArray attribute names may be used as well
FRAME_FIELDS = frozenset({"uniqueId", "frameId", "objectId", "processorId"})


class _AnyField(dict):
    """Answers every field with 1, to try a format before frames exist."""

    def __missing__(self, key: str) -> int:
        return 1


def field_names(name_format: str) -> set[str]:
    """The names of the fields a format uses (``a`` for ``{a.b}`` or ``{a[0]}``); '' for positional ones."""
    fields = [field for _, field, _, _ in string.Formatter().parse(name_format) if field is not None]
    return {field.split(".")[0].split("[")[0] for field in fields}


def check_name_format(name_format: Any) -> str:
    """The file name a format gives for a sample frame; ConfigError if it is unusable or leaves the directory."""
    if not isinstance(name_format, str) or not name_format.strip():
        raise ConfigError(f"outputFileNameFormat must be a non-empty string, not {name_format!r}")
    try:
        names = field_names(name_format)
    except ValueError as ex:
        raise ConfigError(f"outputFileNameFormat {name_format!r} is not a valid format: {ex}") from None
    if any(not name or name.isdigit() for name in names):
        raise ConfigError(f"outputFileNameFormat {name_format!r}: use named fields such as {{uniqueId:06}}")
    try:
        sample = name_format.format_map(_AnyField())
    except (ValueError, TypeError, IndexError, AttributeError) as ex:  # e.g. {uniqueId:s} for an int
        raise ConfigError(f"outputFileNameFormat {name_format!r} does not fit an integer id: {ex}") from None
    relative_name(sample, name_format)
    return sample


def relative_name(name: str, name_format: str) -> Path:
    """``name`` as a path below the output directory; ConfigError for absolute paths and '..'."""
    path = Path(name)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise ConfigError(f"outputFileNameFormat {name_format!r} gives {name!r}, outside the output directory")
    return path


def file_path(directory: Path, name_format: str, fields: Mapping[str, Any]) -> Path:
    """The path of one frame's file; KeyError names a field the frame does not have.

    A name with directories is refused (ConfigError) if a symbolic link among them leads out of ``directory``.
    """
    name = relative_name(name_format.format_map(fields), name_format)
    path = directory / name
    if len(name.parts) > 1 and not _inside(path.parent, directory):
        raise ConfigError(f"outputFileNameFormat {name_format!r} gives {str(name)!r}, which a symbolic link "
                          f"leads outside {str(directory)!r}: refused")
    return path


def _inside(subdirectory: Path, directory: Path) -> bool:
    """``subdirectory`` (which may not exist yet) is below ``directory`` once every link is followed."""
    return os.path.realpath(subdirectory).startswith(os.path.join(os.path.realpath(directory), ""))
