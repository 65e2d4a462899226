"""What the command line (:mod:`hil.cli`) checks and shows, apart from the
commands: argument types with ranges and one-line errors, "did you mean"
suggestions (difflib), the port check, and the run's progress bar (rich,
for its wall-time estimate: a dependency so that the estimate is not
hand-written)."""

from __future__ import annotations

import argparse
import difflib
import math
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, NoReturn

MAX_SPEED = 100_000.0   # x real time: far above what a paced run reaches; None runs unpaced


class Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line, exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def number(kind: type, low: float, high: float, *, above: bool = False,
            hint: str = "") -> Callable[[str], Any]:
    """An argparse type: a ``kind`` number in [low, high] (or (low, high]
    with ``above``), finite; anything else is a one-line usage error."""
    def parse(text: str) -> Any:
        try:
            v = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a {'whole ' if kind is int else ''}number") from None
        if not math.isfinite(v) or v > high or (v <= low if above else v < low):
            raise argparse.ArgumentTypeError(f"must be {'>' if above else '>='} {low:g} and <= {high:,g}, "
                                             f"got {text}{hint}")
        return v
    return parse


def suggest(name: str, known: Iterable[str]) -> str:
    """`` (did you mean a, b?)`` for the names of ``known`` closest to ``name``."""
    close = difflib.get_close_matches(name, sorted(set(known)), n=3, cutoff=0.6)
    return f" (did you mean {', '.join(close)}?)" if close else ""


def board_arg(text: str) -> str:
    """An argparse type: a board config name in board-configs/ or a JSON file."""
    from hil.board.firmware import BOARD_CONFIGS

    if Path(text).exists() or (BOARD_CONFIGS / f"{text}.json").exists():
        return text
    names = sorted(p.stem for p in BOARD_CONFIGS.glob("*.json"))
    raise argparse.ArgumentTypeError(f"unknown board config {text!r}{suggest(text, names)}; "
                                     f"known: {', '.join(names)}")


class UsageError(Exception):
    """A request that cannot be carried out; one line, nothing run."""


def check_port(port: str | None) -> None:
    """A device path that does not exist is refused before anything starts
    (pyserial URLs such as ``socket://`` or ``rfc2217://`` pass)."""
    if port is None or "://" in port or ":" in port.split("/")[0]:
        return
    if not Path(port).exists():
        raise UsageError(f"serial port {port} does not exist; 'hil ports' lists the serial ports")


class RunProgress:
    """One progress bar for a whole run (rich): virtual time done of the
    total, wall time so far and an estimate of the wall time left."""

    def __init__(self, label: str, total_s: float) -> None:
        from rich.console import Console
        from rich.progress import (BarColumn, Progress, TextColumn, TimeElapsedColumn,
                                   TimeRemainingColumn)

        self.total_s = total_s
        self.base_s = 0.0
        self.t0 = time.perf_counter()
        self.bar = Progress(TextColumn("{task.description}"), BarColumn(bar_width=20),
                            TextColumn("{task.fields[virtual]}"), TimeElapsedColumn(),
                            TextColumn("left"), TimeRemainingColumn(),
                            console=Console(stderr=True), transient=False)
        self.task = self.bar.add_task(label, total=max(total_s, 1e-9), virtual="")
        self.bar.start()

    def part(self, label: str, duration_s: float) -> Callable[[float, float], None]:
        """The progress callable of the next part (a scenario of
        ``duration_s`` virtual seconds), which starts where the parts before
        it ended; :meth:`close` or the next part counts it as done."""
        self._show(self.base_s, label)
        base = self.base_s
        self.base_s += duration_s
        return lambda done_s, _total_s: self._show(base + min(done_s, duration_s), label)

    def _show(self, now_s: float, label: str | None = None) -> None:
        wall = time.perf_counter() - self.t0
        speed = f" {now_s / wall:,.0f}x" if wall > 0 and now_s > 0 else ""
        self.bar.update(self.task, completed=now_s, **({"description": label} if label else {}),
                        virtual=f"{now_s / 3600:.1f}/{self.total_s / 3600:.1f} h{speed}")

    def close(self) -> None:
        self._show(self.base_s)
        self.bar.stop()


__all__ = ["MAX_SPEED", "Parser", "RunProgress", "UsageError", "board_arg", "check_port", "number", "suggest"]
