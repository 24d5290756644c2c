"""Pure stream logic, table by table: id lists, channel names, pvRequests, missed objects."""

from __future__ import annotations

import pytest

from pvaflow import ConfigError
from pvaflow.accounting import MissedObjects, default_offset
from pvaflow.stream.naming import channel_name, format_id, parse_id_list
from pvaflow.stream.request import DistributorOptions, field_list, monitor_request


@pytest.mark.parametrize(
    ("spec", "ids"),
    [
        ("1,2,3", [1, 2, 3]),
        ("[4, 6]", [4, 6]),
        ("7", [7]),
        ("range(1,5)", [1, 2, 3, 4]),
        ("range(2, 11, 4)", [2, 6, 10]),
        ("range(3)", [0, 1, 2]),
    ],
)
def test_id_lists(spec: str, ids: list[int]) -> None:
    assert parse_id_list(spec) == ids


@pytest.mark.parametrize(
    "spec", ["", "1,x", "range(1,1)", "range(1,5,0)", "__import__('os')", "1,1", "range(1,2"]
)
def test_bad_id_lists_are_refused(spec: str) -> None:
    with pytest.raises(ConfigError):
        parse_id_list(spec)


@pytest.mark.parametrize(
    ("option", "kind", "spec", "name"),
    [
        (None, "output", None, None),
        ("", "output", None, None),
        ("_", "output", None, "pvapy:consumer:3:output"),
        ("_", "status", "02d", "pvapy:consumer:03:status"),
        ("proc:*:out", "output", None, "proc:3:out"),
        ("proc:*:out", "output", "03d", "proc:003:out"),
        ("plain", "control", None, "plain"),
    ],
)
def test_channel_names(option, kind, spec, name) -> None:
    assert channel_name(option, "consumer", kind, 3, spec) == name


def test_bad_format_spec_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="id format spec 'q'"):
        format_id(1, "q")


@pytest.mark.parametrize(
    ("field_request", "fields"),
    [
        ("", ""),
        ("value", "uniqueId,value"),
        ("field(value,dimension)", "uniqueId,value,dimension"),
        ("uniqueId,value", "uniqueId,value"),
        ("timeStamp.secondsPastEpoch", "uniqueId,timeStamp.secondsPastEpoch"),
    ],
)
def test_field_list_always_has_the_id_field(field_request: str, fields: str) -> None:
    assert field_list(field_request, "uniqueId") == fields


@pytest.mark.parametrize(
    ("queue", "fields", "distributor", "expected"),
    [
        (0, "", None, "field()"),
        (100, "", None, "record[queueSize=100]field()"),
        (0, "value", None, "field(uniqueId,value)"),
        (
            5,
            "value",
            DistributorOptions(group="g", set="s", trigger="uniqueId", updates=3, mode="x"),
            "record[queueSize=5]field(_[pydistributor=group:g;set:s;trigger:uniqueId;updates:3;mode:x])",
        ),
        (0, "", DistributorOptions(updates=1), "field(_[pydistributor=updates:1])"),
        (0, "", DistributorOptions(plugin_name="dist", group="a"), "field(_[dist=group:a])"),
    ],
)
def test_monitor_requests(queue, fields, distributor, expected) -> None:
    assert monitor_request(queue, fields, "uniqueId", distributor) == expected


@pytest.mark.parametrize(
    ("n_consumers", "updates", "n_sets", "in_set", "offset"),
    [(1, None, 1, False, 1), (2, 1, 1, False, 2), (4, 3, 1, False, 10), (4, 3, 2, True, 4), (4, 3, 2, False, 10)],
)
def test_default_offsets(n_consumers, updates, n_sets, in_set, offset) -> None:
    assert default_offset(n_consumers, updates, n_sets, in_set) == offset


def run(ids: list[int], offset: int = 1, updates: int = 1) -> tuple[list[int], int]:
    accounting = MissedObjects(offset, updates)
    per_object = [accounting.observe(object_id) for object_id in ids]
    return per_object, accounting.missed


@pytest.mark.parametrize(
    ("ids", "offset", "updates", "per_object", "total"),
    [
        ([1, 2, 3, 4], 1, 1, [0, 0, 0, 0], 0),
        ([1, 2, 5, 6], 1, 1, [0, 0, 2, 0], 2),
        ([7, 8, 9, 11, 12, 12, 13], 1, 1, [0, 0, 0, 1, 0, 0, 0], 1),  # the next id (quick path) between gaps, a repeat
        ([1, 3, 5, 9], 2, 1, [0, 0, 0, 1], 1),  # consumer 1 of 2: missed 7
        ([2, 6, 14], 4, 1, [0, 0, 1], 1),  # consumer 2 of 4: missed 10
        # 4 consumers x 3 updates (offset 10): consumer 1 expects 1,2,3,13,14,15,25,...
        ([1, 2, 3, 13, 14, 15, 25], 10, 3, [0] * 7, 0),
        ([1, 2, 14, 15], 10, 3, [0, 0, 2, 0], 2),  # missed 3 and 13
        ([1, 2, 3, 27], 10, 3, [0, 0, 0, 5], 5),  # missed 13,14,15,25,26
        ([10, 11, 3, 4], 1, 1, [0, 0, 2, 0], 2),  # ids restarted from 1: 1 and 2 missed
        ([10, 11, 1, 2], 1, 1, [0, 0, 0, 0], 0),  # ids restarted from 1, none missed
        ([21, 23, 5, 7], 2, 1, [0, 0, 2, 0], 2),  # consumer 1 of 2 restarted at 5: 1 and 3 missed
        ([40, 41, 42, 14, 15], 10, 3, [0, 0, 0, 3, 0], 3),  # 4 x 3: restarted at 14: grid ids 2..4 missed
        ([1, 3, 5, 6, 8], 2, 1, [0, 0, 0, 0, 0], 0),  # rebalanced onto even ids
    ],
)
def test_missed_objects(ids, offset, updates, per_object, total) -> None:
    assert run(ids, offset, updates) == (per_object, total)


def test_ids_going_back_are_counted_as_restarts_not_missed() -> None:
    accounting = MissedObjects()
    for object_id in (10, 11, 11, 3, 4, 6):  # a repeat of 11 (reconnect), restart at 3 (1, 2 missed), 5 missed
        accounting.observe(object_id)
    assert (accounting.restarts, accounting.missed) == (1, 3)
    accounting.reset()
    assert accounting.restarts == 0


def test_reset_and_reconfigure() -> None:
    accounting = MissedObjects()
    accounting.observe(1)
    accounting.observe(5)
    assert accounting.missed == 3
    accounting.reset()
    assert accounting.missed == 0 and accounting.observe(100) == 0
    accounting.configure(offset=2)
    accounting.observe(10)
    assert accounting.observe(14) == 1
    with pytest.raises(ValueError):
        accounting.configure(0)
