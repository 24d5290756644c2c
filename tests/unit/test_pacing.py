"""Deadline pacing: frame n waits for start + n/rate, lateness is caught up."""

from __future__ import annotations

import pytest

from pvaflow.sim.pacing import MIN_SLEEP_SECONDS, Pacer


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_delay_counts_from_start_not_from_previous_frame() -> None:
    clock = FakeClock()
    pacer = Pacer(1000.0, clock)
    assert pacer.delay(1) == pytest.approx(0.001)
    clock.now += 0.0015  # overslept half a period
    assert pacer.delay(1) == 0.0  # late: publish at once
    assert pacer.delay(2) == pytest.approx(0.0005)  # and the next deadline is unchanged


def test_zero_rate_never_waits() -> None:
    assert Pacer(0.0, FakeClock()).delay(10_000) == 0.0


def test_restart_moves_the_origin() -> None:
    clock = FakeClock()
    pacer = Pacer(10.0, clock)
    clock.now += 5
    pacer.restart()
    assert pacer.delay(1) == pytest.approx(0.1)


def test_wait_sleeps_the_delay() -> None:
    clock = FakeClock()
    slept: list[float] = []
    Pacer(4.0, clock).wait(2, slept.append)
    assert slept == [pytest.approx(0.5)]


def test_above_1000_fps_a_frame_due_within_the_least_sleep_goes_out_at_once() -> None:
    clock = FakeClock()
    slept: list[float] = []
    pacer = Pacer(10_000.0, clock)  # 0.1 ms a frame: frames go out in bursts
    pacer.wait(1, slept.append)
    assert slept == []
    pacer.wait(int(MIN_SLEEP_SECONDS * 10_000) + 1, slept.append)
    assert slept == [pytest.approx(MIN_SLEEP_SECONDS + 0.0001)]


def test_at_1000_fps_every_frame_is_slept_for() -> None:
    clock = FakeClock()
    slept: list[float] = []
    pacer = Pacer(1000.0, clock)
    clock.now += 0.0004  # publishing took 0.4 ms: the next frame is due in 0.6 ms
    pacer.wait(1, slept.append)
    assert slept == [pytest.approx(0.0006)]
