"""A one-line progress bar for long runs, on standard error."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class ProgressBar:
    """Draws ``[#####.....]  12.0/48.0 h  1,234x`` and redraws in place.

    Args:
        label: text in front of the bar.
        stream: where to draw; a non-terminal gets a line every 10%.
    """

    def __init__(self, label: str, stream: TextIO | None = None, width: int = 32) -> None:
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self.t0 = time.perf_counter()
        self.last_draw = 0.0
        self.last_decile = -1
        self.tty = self.stream.isatty()

    def __call__(self, done_s: float, total_s: float) -> None:
        now = time.perf_counter()
        frac = min(1.0, done_s / total_s) if total_s > 0 else 1.0
        wall = now - self.t0
        speed = done_s / wall if wall > 0 else 0.0
        text = (f"{self.label} [{'#' * int(frac * self.width):<{self.width}}] "
                f"{done_s / 3600:6.1f}/{total_s / 3600:.1f} h  {speed:,.0f}x real time")
        if self.tty:
            if now - self.last_draw >= 0.1 or frac >= 1.0:
                self.stream.write("\r" + text)
                if frac >= 1.0:
                    self.stream.write("\n")
                self.stream.flush()
                self.last_draw = now
        else:
            decile = int(frac * 10)
            if decile != self.last_decile:
                self.last_decile = decile
                self.stream.write(text + "\n")
                self.stream.flush()
