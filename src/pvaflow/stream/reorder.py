"""The collector's reorder cache: objects in, objects out strictly by id.

Objects wait in the cache until the next expected id is there. A gap (an id
that never arrives) is skipped when the cache is full or when the oldest
cached object has waited ``gap_wait`` seconds; the ids skipped are counted.
Every object of an id that comes from a different source (producer) is kept
and handed on with the others of its id, in source order, as pvaPy's
collector does (a split processor publishes the tiles of one frame under the
frame's id, from several producers). An id that a source already sent (still
cached, or released) is a duplicate; an id below the next expected one that
arrives after its id left the cache (its gap skipped, or released without
this source's object) is late. Both are dropped and counted. Once an id
has come from two sources (the stream carries several objects per id), an
id leaves only when every source heard from has sent it or a higher id (each
sends its ids in increasing order, so none of its objects can still come) or
has been silent for ``gap_wait``, when the cache is full or when it waited
``gap_wait``, so the objects of one id leave together however far one source
runs ahead of another (with ``n_sources`` unknown: when a higher id is cached);
before that (one object per id, the usual stream) an id leaves as soon as it
is next. An id below the next expected
one that arrives when the cache is empty and nothing was cached for twice
``gap_wait`` seconds starts a new sequence: the source restarted its
numbering (counted in ``nIdRestarts``); ids from 1 below the first one of
the new sequence are counted missing. Late objects and duplicates arrive
close to their neighbours, while a restarted source is silent for a while;
the objects of a source that comes back sooner are counted late until then.
A sequence starts (its first id unknown) at the lowest id cached once every
one of ``n_sources`` sources has sent an object (each sends its ids in
increasing order, so no lower one can come), else when the cache is full or
the oldest object waited ``gap_wait``.
Pure logic: no I/O, no threads.
"""

from __future__ import annotations

import heapq
from typing import Any

RESTART_QUIET_WAITS = 2  # gap waits without a cached object before a lower id starts a new sequence


class ReorderCache:
    """Orders objects by integer id; ``step`` is the id increment between objects (1)."""

    def __init__(self, capacity: int, gap_wait: float, step: int = 1, n_sources: int = 0) -> None:
        if capacity < 1 or step < 1 or gap_wait <= 0:
            raise ValueError(f"capacity ({capacity}) and step ({step}) must be >= 1, gap wait > 0")
        self.capacity = capacity
        self.gap_wait = gap_wait
        self.step = step
        self.n_sources = n_sources  # the sources objects come from (0: not known, the start waits)
        self.objects: dict[int, dict[int, Any]] = {}  # id -> {source: object}
        self.heap: list[int] = []
        self.arrival: dict[int, float] = {}
        self.reset()

    def reset(self) -> None:
        """Forget the expected id (the next object starts the sequence) and zero the counters."""
        self.next_id: int | None = None
        self.highest_seen: int | None = None
        self.released_recently: dict[int, set[int]] = {}  # id -> the sources whose objects of it were released
        self.last_cached = float("-inf")  # when an object last went into the cache
        self.restarted = False  # a new sequence (from id 1) waits for its first object
        self.grouped = False  # an id came from two sources: ids wait for the rest of their objects
        self.sources_seen: set[int] = set()  # the sources heard from since the sequence (re)started
        self.highest_from: dict[int, int] = {}  # each source's highest id since the sequence (re)started
        self.heard: dict[int, float] = {}  # when each source last sent an object
        self.reset_counters()

    def reset_counters(self) -> None:
        self.n_released = 0
        self.n_gaps = 0
        self.n_missing = 0
        self.n_duplicates = 0
        self.n_late = 0
        self.n_out_of_order = 0
        self.n_restarts = 0

    def __len__(self) -> int:
        return len(self.objects)

    def add(self, object_id: int, obj: Any, now: float, source: int = 0) -> list[Any]:
        """Cache ``obj`` (from ``source``); the objects that can leave now, in id order (source order within an
        id)."""
        if self.next_id is None:
            self.sources_seen.add(source)
        self.heard[source] = now
        if object_id > self.highest_from.get(source, object_id - 1):
            self.highest_from[source] = object_id
        group = self.objects.get(object_id)
        if group is not None:
            if source in group:
                self.n_duplicates += 1
            else:
                group[source] = obj
                self.grouped = True
            return self.release(now)
        if self.next_id is not None and object_id < self.next_id and self._restarted(now):
            self.n_restarts += 1
            self.restarted = True
            self.next_id = self.highest_seen = None
            self.released_recently.clear()
            self.sources_seen = {source}
            self.highest_from = {source: object_id}
        if self.next_id is not None and object_id < self.next_id:
            released_sources = self.released_recently.get(object_id, ())
            if source in released_sources:
                self.n_duplicates += 1
            else:
                self.n_late += 1
                self.grouped = self.grouped or bool(released_sources)  # another source's object of a released id
            return self.release(now)
        if self.highest_seen is not None and object_id < self.highest_seen:
            self.n_out_of_order += 1
        self.highest_seen = object_id if self.highest_seen is None else max(self.highest_seen, object_id)
        self.objects[object_id] = {source: obj}
        self.arrival[object_id] = now
        self.last_cached = now
        heapq.heappush(self.heap, object_id)
        return self.release(now)

    def _restarted(self, now: float) -> bool:
        """An id went back after the cache emptied and stayed quiet: a new sequence, not a late id."""
        return not self.objects and now - self.last_cached >= RESTART_QUIET_WAITS * self.gap_wait

    def _may_start(self) -> bool:
        """The sequence's first id is the lowest cached: every source has sent one."""
        return self.next_id is None and self.n_sources > 0 and len(self.sources_seen) >= self.n_sources

    def _more_may_come(self, object_id: int, now: float) -> bool:
        """Whether more objects of ``object_id`` (the lowest cached) may still come, once ids come from several
        sources: from a source heard from that has not passed it and has not been silent for the gap wait (with
        the sources not known: while no higher id is cached)."""
        if not self.grouped:
            return False
        if self.n_sources <= 0:
            return len(self.heap) == 1
        wait, heard = self.gap_wait, self.heard
        return any(highest < object_id and now - heard[source] < wait for source, highest in self.highest_from.items())

    def _must_skip(self, now: float) -> bool:
        """Move past a gap (or start the sequence) when full or the oldest waited long enough."""
        if len(self.objects) >= self.capacity:
            return True
        oldest = min(self.arrival.values())
        return now - oldest >= self.gap_wait

    def release(self, now: float) -> list[Any]:
        """Objects that can leave at ``now`` (also call it periodically, for the gap wait)."""
        released: list[Any] = []
        while self.heap:
            lowest = self.heap[0]
            more_may_come = self._more_may_come(lowest, now)
            if self.next_id is None or lowest != self.next_id or more_may_come:
                if not (self._may_start() and not more_may_come) and not self._must_skip(now):
                    break
                expected = 1 if self.restarted else self.next_id
                if expected is not None and lowest > expected:
                    self.n_gaps += 1
                    self.n_missing += (lowest - expected) // self.step
                self.restarted = False
            heapq.heappop(self.heap)
            group = self.objects.pop(lowest)
            released.extend(group[source] for source in sorted(group))
            del self.arrival[lowest]
            self.next_id = lowest + self.step
            self._remember(lowest, set(group))
        self.n_released += len(released)
        return released

    def _remember(self, object_id: int, sources: set[int]) -> None:
        """Keep the last released ids and their sources (between capacity and 2 x capacity of them) to tell
        duplicates from late objects.

        Pruned down to the last ``capacity`` ids when it holds twice that: the cost stays O(1) per id.
        """
        self.released_recently[object_id] = sources
        if len(self.released_recently) > 2 * self.capacity:
            floor = object_id - self.capacity * self.step
            self.released_recently = {i: s for i, s in self.released_recently.items() if i > floor}

    def counts(self) -> dict[str, int]:
        return {
            "nCollected": self.n_released,
            "nCached": len(self.objects),
            "nGapsSkipped": self.n_gaps,
            "nMissing": self.n_missing,
            "nDuplicates": self.n_duplicates,
            "nLate": self.n_late,
            "nOutOfOrder": self.n_out_of_order,
            "nIdRestarts": self.n_restarts,
        }
