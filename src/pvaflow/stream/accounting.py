"""Missed-object accounting from object ids.

A consumer that shares a stream with others through the distributor plugin
receives groups of ``updates`` consecutive ids; the groups of one consumer
start ``offset + updates - 1`` ids apart (``offset`` is pvaPy's
``objectIdOffset``: 1 for a consumer that gets every object, ``(N-1)*updates+1``
for one of N consumers). The first id processed anchors that grid. An object
missed is an id of the grid that was skipped. An id off the grid (the
distributor rebalanced, the source restarted) re-anchors the grid there.

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
        self.updates = updates
        self.period = offset + updates - 1
        self.anchor: int | None = None

    def reset(self) -> None:
        self.anchor = None
        self.last_id: int | None = None
        self.missed = 0

    def _expected_up_to(self, object_id: int) -> int:
        """How many grid ids are <= object_id (grid anchored at self.anchor)."""
        distance = object_id - self.anchor
        if distance < 0:
            return 0
        groups, position = divmod(distance, self.period)
        return groups * self.updates + min(position + 1, self.updates)

    def on_grid(self, object_id: int) -> bool:
        return (object_id - self.anchor) % self.period < self.updates

    def observe(self, object_id: int) -> int:
        """Account for ``object_id``; returns how many objects were missed before it."""
        last = self.last_id
        self.last_id = object_id
        if last is None or self.anchor is None or object_id <= last:
            self.anchor = object_id  # first object, or ids restarted
            return 0
        missed = self._expected_up_to(object_id - 1) - self._expected_up_to(last)
        if not self.on_grid(object_id):
            self.anchor = object_id
        self.missed += missed
        return missed
