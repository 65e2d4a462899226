"""Pacing: keep virtual time from running ahead of the wall clock.

By default the harness runs as fast as the board answers. A test rig with
external instruments, or a person watching, may want virtual time locked
to real time (``speed=1``) or to real time times N. The pacer sleeps so
that virtual time never runs ahead of wall time x speed; it never makes
anything faster, and nothing is decided by the wall clock.
"""

from __future__ import annotations

import time


class Pacer:
    """Sleep to hold virtual time to ``speed`` x wall time.

    Args:
        speed: virtual seconds per wall second; None runs unpaced.
        frame_wall_s: most wall time one STEP frame may stand for.
        sleep: False to size the frames as for ``speed`` but never wait
            (a replay of a paced run).
    """

    def __init__(self, speed: float | None = None, frame_wall_s: float = 0.5, sleep: bool = True) -> None:
        if speed is not None and speed <= 0:
            raise ValueError("speed must be more than 0")
        self.speed = speed
        self.frame_wall_s = frame_wall_s
        self.t0: float | None = None
        self.v0 = 0.0
        self.slept_s = 0.0
        self.sleep = sleep

    @property
    def paced(self) -> bool:
        return self.speed is not None

    def max_batch(self, period_s: float, limit: int) -> int:
        """Control periods per STEP frame so that one frame stands for at most
        ``frame_wall_s`` of wall time."""
        if self.speed is None:
            return limit
        return max(1, min(limit, int(self.frame_wall_s * self.speed / period_s)))

    def start(self, virtual_s: float = 0.0) -> None:
        self.t0 = time.monotonic()
        self.v0 = virtual_s

    def wait(self, virtual_s: float) -> None:
        """Sleep until wall time has caught up with ``virtual_s``."""
        if self.speed is None or not self.sleep:
            return
        if self.t0 is None:
            self.start(virtual_s)
            return
        due = self.t0 + (virtual_s - self.v0) / self.speed
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
            self.slept_s += delay
