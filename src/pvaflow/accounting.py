"""Missed-object accounting from object ids.

A consumer that shares a stream with others through the distributor plugin
receives groups of ``updates`` consecutive ids; the groups of one consumer
start ``offset + updates - 1`` ids apart (``offset`` is pvaPy's
``objectIdOffset``: 1 for a consumer that gets every object, ``(N-1)*updates+1``
for one of N consumers). The first id processed anchors that grid. An object
missed is an id of the grid that was skipped. An id off the grid (the
distributor rebalanced) re-anchors the grid there. An id below the last one
means the source restarted its numbering: it is counted as an id restart,
re-anchors the grid, and the grid ids from 1 up to it are counted missed (a
restarted source numbers from 1, as areaDetector does after a counter
reset; its first frames may pass before the stream reconnects). Frames the
old source published but never delivered cannot be known from ids; a source
that goes on counting after a restart has its gap counted like any other.

Example, 4 consumers with 3 updates each (offset 10, groups 12 apart):
consumer 1 expects 1,2,3, 13,14,15, 25,26,27; after 2 it receives 14: 3 and
13 were missed.
"""

from __future__ import annotations


def default_offset(n_consumers: int, updates: int | None, n_sets: int = 1, in_set: bool = False) -> int:
    """pvaPy's derived object id offset when --oid-offset is not given."""
    if updates is None:
        return 1
    if n_sets > 1 and in_set:
        return (n_sets - 1) * updates + 1
    return (n_consumers - 1) * updates + 1


class MissedObjects:
    """Counts ids skipped on the expected grid; O(1) per object, plain ints."""

    def __init__(self, offset: int = 1, updates: int = 1) -> None:
        self.configure(offset, updates)
        self.reset()

    def configure(self, offset: int, updates: int = 1) -> None:
        if offset < 1 or updates < 1:
            raise ValueError(f"object id offset ({offset}) and updates ({updates}) must be >= 1")
        self.offset = offset
        self.updates = updates
        self.period = offset + updates - 1
        self.anchor: int | None = None

    def reset(self) -> None:
        self.anchor = None
        self.last_id: int | None = None
        self.missed = 0
        self.restarts = 0

    def _expected_up_to(self, object_id: int) -> int:
        """How many grid ids are <= object_id (grid anchored at self.anchor)."""
        distance = object_id - self.anchor
        if distance < 0:
            return 0
        groups, position = divmod(distance, self.period)
        return groups * self.updates + min(position + 1, self.updates)

    def _grid_ids_below(self, first_id: int) -> int:
        """Grid ids in 1..first_id-1 for a grid whose group starts at first_id (a restarted sequence)."""
        if first_id <= 1:
            return 0
        groups, _ = divmod(first_id - 1, self.period)
        partial_top = first_id - (groups + 1) * self.period + self.updates - 1  # last id of the cut group
        return groups * self.updates + max(0, partial_top)

    def on_grid(self, object_id: int) -> bool:
        return (object_id - self.anchor) % self.period < self.updates

    def observe(self, object_id: int) -> int:
        """Account for ``object_id``; returns how many objects were missed before it."""
        last = self.last_id
        self.last_id = object_id
        if self.period == 1 and last is not None and object_id == last + 1 and self.anchor is not None:
            return 0  # every id expected and this one is the next: the usual case, answered at once
        if last is None or self.anchor is None or object_id <= last:
            self.anchor = object_id  # first object, a repeat, or ids restarted
            if last is None or object_id == last:
                return 0
            self.restarts += 1
            missed = self._grid_ids_below(object_id)
            self.missed += missed
            return missed
        missed = self._expected_up_to(object_id - 1) - self._expected_up_to(last)
        if not self.on_grid(object_id):
            self.anchor = object_id
        self.missed += missed
        return missed
