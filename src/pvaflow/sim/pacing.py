"""Frame pacing: publish frame n at ``start + n / rate``, whatever the jitter.

Deadlines are computed from the start time, never from the previous frame,
so oversleeping one frame is made up by publishing the next at once and the
average rate holds even when the period is shorter than sleep resolution.

Above 1,000 fps (a period shorter than MIN_SLEEP_SECONDS) a frame due within
MIN_SLEEP_SECONDS is published at once, not slept for: each sleep costs a
timer and a wake-up, and at such rates those were a third of the
sim-server's CPU or more (512x512 at 3,000 fps with one client: 126-156 us a
frame, 86-92 without them). Frames then go out in bursts, each at most 1 ms
early. Up to 1,000 fps every frame is slept for, so a 1 kHz stream stays one
frame a millisecond, as a detector's.
"""

from __future__ import annotations

import time
from collections.abc import Callable

MIN_SLEEP_SECONDS = 0.001


class Pacer:
    """Tells how long to wait before publishing the next frame."""

    def __init__(self, frame_rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.period = 1.0 / frame_rate if frame_rate > 0 else 0.0
        self.least_sleep = MIN_SLEEP_SECONDS if self.period < MIN_SLEEP_SECONDS else 0.0
        self.clock = clock
        self.start = clock()

    def restart(self) -> None:
        """Count deadlines from now (called when the first frame is published)."""
        self.start = self.clock()

    def delay(self, frames_published: int) -> float:
        """Seconds to wait before publishing frame ``frames_published + 1`` (0 if late)."""
        if not self.period:
            return 0.0
        return max(0.0, self.start + frames_published * self.period - self.clock())

    def wait(self, frames_published: int, sleep: Callable[[float], None] = time.sleep) -> None:
        """Sleep until the deadline of the next frame (above 1,000 fps: unless it is due within
        MIN_SLEEP_SECONDS)."""
        seconds = self.delay(frames_published)
        if seconds > self.least_sleep:
            sleep(seconds)
