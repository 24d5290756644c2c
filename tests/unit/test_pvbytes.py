"""PvObject <-> bytes: every field kind round-trips with its type ids; malformed bytes are refused with one line."""

from __future__ import annotations

import json
import pickle
import struct

import numpy as np
import pvaccess as pva
import pytest

from pvaflow import ntnd
from pvaflow.errors import SerializationError
from pvaflow.pvbytes import MAGIC, Deserializer, Serializer

from ..pv_compare import assert_same

pytestmark = pytest.mark.timeout(30)


def round_trip(pv: pva.PvObject) -> pva.PvObject:
    return Deserializer().deserialize(Serializer().serialize(pv).to_bytes())


@pytest.mark.parametrize("dtype", [str(dtype) for dtype in ntnd.DTYPE_FIELDS])
def test_ntndarray_round_trips_with_every_image_dtype(dtype) -> None:
    image = (np.arange(48 * 32) % 120).astype(dtype).reshape(32, 48)
    nt = ntnd.generate(7, image)
    ntnd.stamp(nt, 7, 1700000000.25)
    ntnd.set_attributes(nt, {"Exposure": 0.5, "Frame": 3, "Motor": "m1\nfake_t line", "On": True})
    copy = round_trip(nt)
    assert_same(nt, copy)
    assert str(copy).splitlines()[0].strip() == "epics:nt/NTNDArray:1.0"
    assert "dimension_t[] dimension" in str(copy) and "time_t dataTimeStamp" in str(copy)
    np.testing.assert_array_equal(ntnd.reshape(copy).image, image)


def test_generic_structure_with_unions_arrays_and_nested_type_ids_round_trips() -> None:
    inner = pva.PvObject({"z": pva.ULONG, "deep": pva.PvObject({"w": pva.STRING}, {}, "deep_t")}, {}, "inner_t")
    element = pva.PvObject({"q": pva.FLOAT, "tags": [pva.STRING]}, {}, "element_t")
    pv = pva.PvObject({
        "choice": ({"a": pva.INT, "b": pva.STRING, "c": [pva.DOUBLE]},),
        "anything": (),
        "anythings": [()],
        "choices": [({"x": pva.INT},)],
        "flags": [pva.BOOLEAN],
        "nested": {"inner": inner},
        "elements": [element],
        "empty": [pva.SHORT],
        "nan": pva.DOUBLE,
        "big": pva.ULONG,
        "text": pva.STRING,
        "byte": pva.BYTE,
    }, {"flags": [True, False, True], "nested": {"inner": {"z": 2**64 - 1, "deep": {"w": "ü\n"}}},
        "elements": [{"q": 1.5, "tags": ["a", "b"]}, {"q": -2.0}], "nan": float("nan"), "big": 2**63,
        "text": "line one\n    structure fake", "byte": "A"}, "generic_t")
    pv["choice"] = {"c": [1.0, 2.5]}
    pv["anything"] = pva.PvObject({"value": [pva.UINT]}, {"value": [1, 2, 3]})
    pv["anythings"] = [pva.PvInt(3), pva.PvString("s")]
    copy = round_trip(pv)
    assert_same(pv, copy)
    assert str(copy) == str(pv)


def test_empty_unions_and_arrays_round_trip() -> None:
    pv = pva.PvObject({"u": ({"a": pva.INT},), "v": (), "a": [pva.INT], "s": [{"x": pva.INT}]}, {})
    assert_same(pv, round_trip(pv))


def test_arrays_are_aligned_and_follow_the_header() -> None:
    nt = ntnd.generate(1, np.ones((4, 4), dtype=np.uint16))
    serialized = Serializer().serialize(nt)
    assert len(serialized.header) % 8 == 0
    assert serialized.size == len(serialized.to_bytes())
    assert serialized.type_id == "epics:nt/NTNDArray:1.0"


def test_the_structure_is_described_once_per_structure() -> None:
    serializer = Serializer()
    first = serializer.serialize(ntnd.generate(1, np.ones((4, 4), dtype=np.uint8)))
    second = serializer.serialize(ntnd.generate(2, np.ones((8, 8), dtype=np.uint8)))
    assert len(serializer._descriptions) == 1  # noqa: SLF001
    assert first.header[12:60] == second.header[12:60]


def encoded(nt: pva.PvObject | None = None) -> bytes:
    return Serializer().serialize(nt or ntnd.generate(5, np.arange(16, dtype=np.uint8).reshape(4, 4))).to_bytes()


def with_values(data: bytes, change) -> bytes:
    _, structure_length, values_length = struct.unpack_from("<4sII", data)
    start = 12 + structure_length
    values = json.loads(data[start:start + values_length])
    new_values = json.dumps(change(values)).encode()
    header = struct.pack("<4sII", MAGIC, structure_length, len(new_values)) + data[12:start] + new_values
    padded = header + bytes(-len(header) % 8)
    arrays_start = start + values_length + (-(start + values_length) % 8)
    return padded + data[arrays_start:]


def changed(values: dict, **fields) -> dict:
    return {**values, **fields}


@pytest.mark.parametrize("make_bad, message", [
    (lambda data: data[:6], "shorter than its header"),
    (lambda data: b"XXXX" + data[4:], "unknown format marker"),
    (lambda data: data[:40], "header is truncated"),
    (lambda data: data[:-3], "truncated"),
    (lambda data: data + bytes(8), "trailing or missing bytes"),
    (lambda data: pickle.dumps({"a": 1}), "unknown format marker"),
    (lambda data: with_values(data, lambda values: {k: v for k, v in values.items() if k != "display"}),
     "do not match its fields"),
    (lambda data: with_values(data, lambda values: changed(values, value="x")), "union value is not a pair"),
    (lambda data: with_values(data, lambda values: changed(values, uniqueId="not an int")), "do not fit"),
    (lambda data: with_values(data, lambda values: changed(values, alarm={"severity": [1], "status": 0,
                                                                          "message": ""})), "do not fit"),
    (lambda data: with_values(data, lambda values: changed(values, value=[{"nope": 1}, {}])), "union has no field"),
    (lambda data: with_values(data, lambda values: changed(values, value=[{"ubyteValue": {"o": -8, "n": 4}}, {}])),
     "malformed array reference"),
    (lambda data: with_values(data, lambda values: changed(values, value=[{"ubyteValue": {"o": 0, "n": 10**9}}, {}])),
     "array data is truncated"),
    (lambda data: with_values(data, lambda values: changed(values, uniqueId=2**40)), "do not fit"),
    (lambda data: with_values(data, lambda values: changed(values, codec={"name": "", "parameters": [{}, 1]})),
     "variant union content is not a structure"),
])
def test_malformed_bytes_are_refused_with_one_line(make_bad, message) -> None:
    with pytest.raises(SerializationError, match=message) as caught:
        Deserializer().deserialize(make_bad(encoded()))
    assert "\n" not in str(caught.value)


def test_unknown_types_in_the_structure_are_refused() -> None:
    data = encoded()
    _, structure_length, values_length = struct.unpack_from("<4sII", data)
    structure = data[12:12 + structure_length].replace(b'"long"', b'"evil"')
    bad = struct.pack("<4sII", MAGIC, len(structure), values_length) + structure + data[12 + structure_length:]
    with pytest.raises(SerializationError, match="unknown scalar type 'evil'"):
        Deserializer().deserialize(bad)


def test_a_variant_union_inside_a_union_is_refused_when_serializing() -> None:
    pv = pva.PvObject({"u": ({"inner": {"any": ()}, "n": pva.INT},)}, {})
    with pytest.raises(SerializationError, match="variant union inside a union"):
        Serializer().serialize(pv)
