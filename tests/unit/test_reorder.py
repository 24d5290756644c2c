"""The collector's reorder cache, table by table."""

from __future__ import annotations

import pytest

from pvaflow.stream.reorder import ReorderCache


def feed(cache: ReorderCache, arrivals: list[tuple[int, float]]) -> list[int]:
    out: list[int] = []
    for object_id, now in arrivals:
        out += cache.add(object_id, object_id, now)
    return out


def test_first_object_waits_for_the_window_then_order_is_perfect() -> None:
    cache = ReorderCache(capacity=4, gap_wait=1.0)
    assert feed(cache, [(3, 0.0), (1, 0.1), (2, 0.2)]) == []  # the start is not known yet
    assert feed(cache, [(5, 0.3)]) == [1, 2, 3]  # full: start at the lowest
    assert feed(cache, [(4, 0.4)]) == [4, 5]
    assert cache.counts()["nOutOfOrder"] == 3 and cache.counts()["nMissing"] == 0  # 1, 2 and 4


def test_start_after_the_gap_wait() -> None:
    cache = ReorderCache(capacity=100, gap_wait=1.0)
    assert feed(cache, [(7, 0.0), (8, 0.5)]) == []
    assert cache.release(1.0) == [7, 8]


def test_a_gap_is_skipped_when_full_and_counted() -> None:
    cache = ReorderCache(capacity=3, gap_wait=10.0)
    cache.next_id = 1
    assert feed(cache, [(1, 0.0), (2, 0.0), (4, 0.0), (5, 0.0)]) == [1, 2]
    assert feed(cache, [(6, 0.0)]) == [4, 5, 6]  # full with 4,5,6: id 3 given up
    counts = cache.counts()
    assert (counts["nGapsSkipped"], counts["nMissing"], counts["nCollected"]) == (1, 1, 5)


def test_a_gap_is_skipped_after_the_wait() -> None:
    cache = ReorderCache(capacity=100, gap_wait=2.0)
    cache.next_id = 10
    assert feed(cache, [(10, 0.0), (13, 0.5), (14, 0.6)]) == [10]
    assert cache.release(2.0) == []
    assert cache.release(2.6) == [13, 14]
    assert cache.counts()["nMissing"] == 2


def test_duplicates_and_late_ids_are_dropped() -> None:
    cache = ReorderCache(capacity=2, gap_wait=10.0)
    cache.next_id = 1
    out = feed(cache, [(1, 0), (1, 0), (3, 0), (3, 0), (4, 0), (2, 0), (4, 0)])
    assert out == [1, 3, 4]
    counts = cache.counts()
    assert counts["nDuplicates"] == 3  # 1 again, 3 while cached, 4 after release
    assert counts["nLate"] == 1  # 2 arrived after its gap was skipped


def test_ids_going_back_after_a_quiet_spell_start_a_new_sequence() -> None:
    """A restarted source numbers from 1 again: after 2 gap waits without a cached object, the collector
    follows it (counted), even where the new ids repeat ones it already released."""
    cache = ReorderCache(capacity=10, gap_wait=1.0)
    cache.next_id = 1
    assert feed(cache, [(1, 0.0), (2, 0.1), (3, 0.2)]) == [1, 2, 3]
    assert feed(cache, [(2, 2.3), (3, 2.4)]) == []  # quiet for 2.1 s: a new sequence, which waits to start
    assert cache.release(3.4) == [2, 3]  # the new sequence's id 1 never came: missing
    assert feed(cache, [(4, 3.5)]) == [4]
    counts = cache.counts()
    assert (counts["nIdRestarts"], counts["nDuplicates"], counts["nLate"], counts["nMissing"]) == (1, 0, 0, 1)


def test_a_late_id_soon_after_the_stream_is_not_a_restart() -> None:
    cache = ReorderCache(capacity=10, gap_wait=1.0)
    cache.next_id = 1
    assert feed(cache, [(1, 0.0), (3, 0.1)]) == [1]
    assert cache.release(1.1) == [3]  # gap at 2 skipped after the wait
    assert feed(cache, [(2, 1.5), (1, 1.6)]) == []  # late, then a duplicate, within 2 gap waits
    assert feed(cache, [(4, 1.7)]) == [4]
    counts = cache.counts()
    assert (counts["nIdRestarts"], counts["nLate"], counts["nDuplicates"]) == (0, 1, 1)


def test_ids_with_a_step() -> None:
    cache = ReorderCache(capacity=3, gap_wait=1.0, step=2)
    cache.next_id = 2
    assert feed(cache, [(4, 0), (2, 0)]) == [2, 4]
    assert feed(cache, [(8, 0), (10, 0), (12, 0)]) == [8, 10, 12]
    assert cache.counts()["nMissing"] == 1  # id 6


@pytest.mark.parametrize(("capacity", "step", "wait"), [(0, 1, 1.0), (1, 0, 1.0), (1, 1, 0.0)])
def test_bad_parameters(capacity: int, step: int, wait: float) -> None:
    with pytest.raises(ValueError):
        ReorderCache(capacity, wait, step)


def test_interleaved_producers_give_a_complete_sequence() -> None:
    # 4 producers with distributor updates 8: each sends blocks of 8, blocks interleave out of order
    cache = ReorderCache(capacity=40, gap_wait=5.0)
    blocks = [list(range(start, start + 8)) for start in range(1, 161, 8)]
    producers = [blocks[p::4] for p in range(4)]
    arrivals = []
    for round_index in range(5):
        for producer in (2, 0, 3, 1):
            arrivals += [(object_id, 0.0) for object_id in producers[producer][round_index]]
    out = feed(cache, arrivals) + cache.release(10.0)
    assert out == list(range(1, 161))


def test_once_ids_come_from_several_sources_an_id_waits_for_a_higher_one() -> None:
    """Issue 19: pvaPy's split processor publishes the tiles of one frame under the frame's id, one per producer."""
    cache = ReorderCache(capacity=20, gap_wait=1.0)
    cache.next_id = 1
    assert cache.add(1, (1, 1), 0.0, 1) == [(1, 1)]  # one object per id so far: it leaves at once
    assert cache.add(1, (1, 2), 0.0, 2) == [] and cache.counts()["nLate"] == 1  # too late, and now grouped
    out = []
    for object_id, source in [(2, 2), (2, 1), (2, 3), (3, 1)]:
        out += cache.add(object_id, (object_id, source), 0.1, source)
    assert out == [(2, 1), (2, 2), (2, 3)]  # id 2 left when id 3 came, all its objects in source order
    assert cache.add(3, (3, 2), 0.2, 2) == []  # id 3 waits for a higher id (or the gap wait)
    assert cache.release(1.2) == [(3, 1), (3, 2)]


def test_objects_of_one_id_leave_together_and_a_repeat_from_the_same_source_is_a_duplicate() -> None:
    cache = ReorderCache(capacity=8, gap_wait=1.0)
    out: list[tuple[int, int]] = []
    for object_id, source in [(1, 2), (1, 1), (1, 3), (2, 1), (1, 1), (2, 3), (2, 2)]:
        out += cache.add(object_id, (object_id, source), 0.0, source)
    assert out == []  # the start is not known until the gap wait
    out += cache.release(1.0)
    assert out == [(1, 1), (1, 2), (1, 3), (2, 1), (2, 2), (2, 3)]
    assert cache.counts()["nDuplicates"] == 1 and cache.counts()["nCollected"] == 6
    out = cache.add(2, (2, 4), 1.1, 4)  # a source whose object of id 2 comes after id 2 left: late
    assert out == [] and cache.counts()["nLate"] == 1
    cache.add(2, (2, 1), 1.2, 1)  # id 2 again from a source that sent it: duplicate
    assert cache.counts()["nDuplicates"] == 2


def test_the_sequence_starts_once_every_source_has_sent_an_object() -> None:
    """Each source sends its ids in increasing order: once all have sent one, the lowest cached is the start
    (no wait for the cache to fill or the gap wait: the first frames of a collector are not held)."""
    cache = ReorderCache(capacity=100, gap_wait=2.0, n_sources=2)
    assert cache.add(2, 2, 0.0, source=2) == []  # source 1 may still send a lower id
    assert cache.add(1, 1, 0.01, source=1) == [1, 2]
    assert cache.add(3, 3, 0.02, source=1) == [3]
    assert cache.counts()["nMissing"] == 0


def test_a_silent_source_leaves_the_start_to_the_gap_wait() -> None:
    cache = ReorderCache(capacity=100, gap_wait=2.0, n_sources=2)
    assert feed(cache, [(1, 0.0), (2, 0.5)]) == []  # only source 0 heard from
    assert cache.release(2.0) == [1, 2]


def test_objects_of_one_id_from_every_source_still_leave_together() -> None:
    cache = ReorderCache(capacity=100, gap_wait=2.0, n_sources=2)
    assert cache.add(1, "1a", 0.0, source=1) == []
    assert cache.add(1, "1b", 0.01, source=2) == ["1a", "1b"]  # every source sent id 1: no more can come
    assert cache.add(2, "2a", 0.02, source=1) == []  # grouped: source 2's object of id 2 may still come
    assert cache.add(2, "2b", 0.03, source=2) == ["2a", "2b"]


def test_the_objects_of_one_id_wait_for_a_source_running_a_frame_behind() -> None:
    """Tiles of one frame come from three producers under the frame's id; producer 1 is two frames ahead of the
    others (a loaded machine): each id still leaves with all three of its objects, none counted late."""
    cache = ReorderCache(capacity=100, gap_wait=2.0, n_sources=3)
    arrivals = [(1, 1), (1, 2), (1, 3), (2, 1), (3, 1), (2, 2), (2, 3), (3, 2), (3, 3)]
    out = []
    for step, (object_id, source) in enumerate(arrivals):
        out += cache.add(object_id, (object_id, source), step * 0.1, source)
    assert out == [(object_id, source) for object_id in (1, 2, 3) for source in (1, 2, 3)]
    assert cache.counts()["nLate"] == 0


def test_a_source_silent_for_the_gap_wait_is_not_waited_for() -> None:
    cache = ReorderCache(capacity=100, gap_wait=2.0, n_sources=2)
    assert cache.add(1, "1a", 0.0, source=1) == []
    assert cache.add(1, "1b", 0.1, source=2) == ["1a", "1b"]
    assert cache.add(2, "2a", 0.2, source=1) == []  # source 2 (last heard at 0.1) may still send id 2
    assert cache.release(2.0) == []
    assert cache.add(3, "3a", 2.2, source=1) == ["2a", "3a"]  # source 2 silent for 2 s: not waited for
    assert cache.add(4, "4b", 2.3, source=2) == []  # heard again: waited for (source 1 may send id 4)
    assert cache.counts()["nLate"] == 0
