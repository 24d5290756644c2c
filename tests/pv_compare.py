"""Comparing PvObjects in tests: structure with type ids, and every value (arrays and NaN included)."""

from __future__ import annotations

import math

import numpy as np
import pvaccess as pva

from pvaflow.pvbytes import describe


def values_equal(first, second) -> bool:
    if isinstance(first, np.ndarray) or isinstance(second, np.ndarray):
        return np.array_equal(np.asarray(first), np.asarray(second), equal_nan=True)
    if isinstance(first, dict):
        return first.keys() == second.keys() and all(values_equal(first[key], second[key]) for key in first)
    if isinstance(first, (list, tuple)):
        return len(first) == len(second) and all(values_equal(a, b) for a, b in zip(first, second, strict=True))
    if isinstance(first, float) and math.isnan(first):
        return isinstance(second, float) and math.isnan(second)
    return first == second and type(first) is type(second)


def assert_same(original: pva.PvObject, copy: pva.PvObject) -> None:
    assert describe(copy) == describe(original)  # structure and the type id of every structure
    assert values_equal(copy.toDict(), original.toDict())
