"""Channel names and id lists: ``*`` and ``_`` in channel options, ``range()`` id lists.

Pure string logic (no eval): ``1,3,5``, ``[1, 3, 5]`` and
``range(first, last + 1[, step])`` are parsed, never evaluated.
"""

from __future__ import annotations

import re

from ..errors import ConfigError
from ..limits import MAX_PROCESSES

RANGE_PATTERN = re.compile(r"^range\(\s*(-?\d+)\s*(?:,\s*(-?\d+)\s*)?(?:,\s*(-?\d+)\s*)?\)$")
DEFAULT_MARK = "_"
ID_MARK = "*"


def parse_id_list(spec: str) -> list[int]:
    """Ids from ``"1,2,3"``, ``"[1,2,3]"`` or ``"range(1,4[,step])"`` (as Python's range)."""
    text = spec.strip()
    match = RANGE_PATTERN.match(text)
    if match:
        numbers = [int(group) for group in match.groups() if group is not None]
        if len(numbers) == 3 and numbers[2] == 0:
            raise ConfigError(f"id list '{spec}': range step must not be 0")
        ids = range(*numbers)
        if len(ids) > MAX_PROCESSES:
            raise ConfigError(f"id list '{spec}' has {len(ids)} ids, more than {MAX_PROCESSES} (one process each)")
        ids = list(ids)
    else:
        if text.startswith("[") and text.endswith("]"):
            text = text[1:-1]
        try:
            ids = [int(item) for item in text.split(",") if item.strip()]
        except ValueError as ex:
            raise ConfigError(
                f"id list '{spec}' must be comma-separated integers or range(first,last+1[,step])"
            ) from ex
    if not ids:
        raise ConfigError(f"id list '{spec}' is empty")
    if len(ids) > MAX_PROCESSES:
        raise ConfigError(f"id list '{spec}' has {len(ids)} ids, more than {MAX_PROCESSES} (one process each)")
    if len(set(ids)) != len(ids):
        raise ConfigError(f"id list '{spec}' repeats an id")
    return ids


def format_id(object_id: int, spec: str | None) -> str:
    """The id as it appears in channel names, e.g. ``format_id(3, '02d') == '03'``."""
    if not spec:
        return str(object_id)
    try:
        return format(object_id, spec)
    except ValueError as ex:
        raise ConfigError(f"id format spec '{spec}' cannot format id {object_id}: {ex}") from ex


def channel_name(option: str | None, role: str, kind: str, object_id: int, spec: str | None) -> str | None:
    """Resolve a channel option for ``role`` ('consumer', 'collector') and ``kind``.

    None or '' stays None (no channel); ``_`` gives ``pvapy:<role>:<id>:<kind>``
    (pvaPy's default names); ``*`` is replaced by the formatted id.
    """
    if not option:
        return None
    formatted = format_id(object_id, spec)
    if option == DEFAULT_MARK:
        return f"pvapy:{role}:{formatted}:{kind}"
    return option.replace(ID_MARK, formatted)
