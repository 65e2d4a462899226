"""A run's time line: what happened, indexed by virtual tick.

The firmware's events and the harness's own (steps, operator actions, the
state a board boots into) with their virtual ticks, every change of the
board's status block, the windows in which the board had no power (it
drives nothing then: pump 0, clamp closed, heparin 0), and the plant's
trace. It is written during the run by a listener on the run's bus
(:class:`hil.run.steps.TimelineWriter`) and read by the checks
(:mod:`hil.scenario.expect`). Nothing here reads the wall clock.
"""

from __future__ import annotations

import bisect
from dataclasses import replace
from typing import Any

from hil.transport import frames
from hil.scenario import Anchor, When

C = frames.C


class Timeline:
    """What happened in a run, indexed by virtual tick.

    Args:
        period_s: the board's control period.
    """

    def __init__(self, period_s: float) -> None:
        self.period_s = period_s
        self.events: list[dict[str, Any]] = []
        self.status_ticks: list[int] = []
        self.statuses: list[frames.Status] = []
        self.trace_columns: tuple[str, ...] = ()
        self.trace_rows: list[tuple[float, ...]] = []
        self.end_tick = 0
        self.counters: dict[str, int] = {}
        # [cut, boot) tick windows in which the board had no power.
        self.off_windows: list[tuple[int, int]] = []

    # -- recording --------------------------------------------------------------

    def add_event(self, tick: int, rec: dict[str, Any]) -> dict[str, Any]:
        e = {"t_s": round(tick * self.period_s, 3), "tick": tick, **{k: v for k, v in rec.items()
                                                                   if k not in ("t_s", "tick")}}
        self.events.append(e)
        return e

    def add_status(self, tick: int, status: frames.Status) -> None:
        if self.statuses and self.status_ticks[-1] == tick:
            self.statuses[-1] = status
        elif not self.statuses or status != self.statuses[-1]:
            self.status_ticks.append(tick)
            self.statuses.append(status)

    def power_off(self, tick: int, until: int) -> None:
        """The board loses power after ``tick`` and boots at ``until``.

        An unpowered board drives nothing: from ``tick`` on, the status in
        effect has the pump at 0, the clamp closed, no heparin and no alarm
        sound, until the board's first status after it booted.
        """
        self.off_windows.append((tick, until))
        last = self.status_at(tick)
        if last is not None:
            self.add_status(tick, replace(last, pump=0, heparin=0,
                                          flags=last.flags & ~(frames.P.F_CLAMP_OPEN | frames.P.F_AUDIBLE)))

    def unpowered(self, tick: int) -> bool:
        """Whether the board had no power after ``tick``."""
        return any(a <= tick < b for a, b in self.off_windows)

    def state_name_at(self, tick: int) -> str:
        """The board's state after ``tick``: ``off`` without power, ``""`` before any status."""
        if self.unpowered(tick):
            return "off"
        s = self.status_at(tick)
        return s.state_name if s is not None else ""

    # -- queries ----------------------------------------------------------------

    def t(self, tick: int) -> float:
        return round(tick * self.period_s, 3)

    def ticks(self, seconds: float) -> int:
        return round(seconds / self.period_s)

    def matches(self, e: dict[str, Any], a: Anchor) -> bool:
        if a.kind == "state":
            return e["type"] == "state" and e["to"] == a.name
        if a.kind == "alarm":
            return e["type"] == "alarm" and e["alarm"] == a.name
        if a.kind == "step":
            return e["type"] == "step" and e["id"] == a.name
        if a.kind == "event":
            return e["type"] == a.name
        return False

    def anchor_tick(self, a: Anchor) -> int | None:
        """Tick of the nth occurrence of an anchor in the whole run, or None.

        This is the one meaning of ``#n`` (``nth``) everywhere: as an anchor
        of a time and as the filter of a measurement alike, counted from
        the start of the run, never from the start of a window.
        """
        if a.kind == "start":
            return 0
        if a.kind == "end":
            return self.end_tick
        ticks = sorted(e["tick"] for e in self.events if self.matches(e, a))
        return ticks[a.nth - 1] if len(ticks) >= a.nth else None

    def when_tick(self, w: When) -> int | None:
        base = self.anchor_tick(w.anchor)
        return None if base is None else base + self.ticks(w.plus_s)

    def status_at(self, tick: int) -> frames.Status | None:
        """The board's status block in effect after ``tick``."""
        i = bisect.bisect_right(self.status_ticks, tick) - 1
        return self.statuses[i] if i >= 0 else None

    def describe_state(self, tick: int) -> str:
        if self.unpowered(tick):
            return "board unpowered (pump 0 mL/min, clamp closed, heparin 0 U/h)"
        s = self.status_at(tick)
        if s is None:
            return "no status"
        alarms = [C.ALARM_NAMES[i] for i in range(1, C.N_ALARMS) if (s.active | s.latched) >> i & 1]
        return (f"state {s.state_name}, pump {s.pump / 10:g} mL/min, clamp "
                f"{'open' if s.clamp_open else 'closed'}, alarms {', '.join(alarms) or 'none'}")
