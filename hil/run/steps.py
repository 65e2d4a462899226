"""A scenario's moving parts during a run: the listener that writes the
run's :class:`~hil.scenario.expect.Timeline`, and the timed steps (faults, link and
board actions, operator commands) carried out at their virtual times."""

from __future__ import annotations

import heapq
from typing import Any

from hil.transport import frames
from hil.scenario.timeline import Timeline
from hil.run.observers import fw_event_record
from hil.scenario import ACTIONS, Scenario, Step

C = frames.C
NEVER = 1 << 62


class TimelineWriter:
    """Listener that writes what the run publishes onto its time line:
    firmware events, harness notes (operator actions, steps), every status,
    a restart as a ``boot`` event and the state the board came back in, and
    the plant's trace."""

    def __init__(self, tl: Timeline) -> None:
        self.tl = tl

    def on_event(self, e: frames.Event) -> None:
        self.tl.add_event(e.tick, fw_event_record(e, self.tl.period_s))

    def on_note(self, tick: int, rec: dict[str, Any]) -> None:
        self.tl.add_event(tick, rec)

    def on_status(self, tick: int, status: frames.Status) -> None:
        self.tl.add_status(tick, status)

    def on_boot(self, tick: int, notice: dict[str, Any]) -> None:
        tl = self.tl
        cause = notice.get("cause")
        if isinstance(cause, int) and 0 <= cause < len(C.RESET_NAMES):
            cause = C.RESET_NAMES[cause]
        rec: dict[str, Any] = {"type": "boot", "cause": cause, "last_tick": notice.get("last_tick")}
        if "cut" in notice:
            # The board cut its own power inside a storage write
            # (power_cut_in_write): which file, how much of it was written.
            rec["cut_in_write"] = notice["cut"]
        off = round(float(notice.get("off_s") or 0) / tl.period_s)
        if off:
            tl.power_off(tick - off, tick)
        tl.add_event(tick, rec)
        # The state the board comes back in is a state entered at its boot.
        state = notice.get("state")
        if isinstance(state, int) and 0 <= state < len(C.STATE_NAMES):
            rec = {"type": "state", "to": C.STATE_NAMES[state]}
            was = tl.status_at(tick)
            if was is not None:
                rec["from"] = was.state_name
            rec["cause"] = "boot"
            tl.add_event(tick, rec)

    def on_trace(self, columns: tuple[str, ...], rows: list[tuple[float, ...]]) -> None:
        self.tl.trace_columns = tuple(columns)
        self.tl.trace_rows = rows


class StepRunner:
    """Carries out a scenario's steps when their anchors have happened; it is
    the ``run`` an action's ``apply(run, args)`` acts on.

    Args:
        sc: the scenario.
        done: what became of each step (``StepDone`` by ``id(step)``).
        session: the run's :class:`~hil.run.session.Session` (loop, plant, link, power).
        operator: the scripted operator (for exchanges and connecting the patient).
        tl: the run's time line (anchors, power-off windows).
    """

    def __init__(self, sc: Scenario, done: dict[int, Any], session: Any, operator: Any, tl: Timeline) -> None:
        self.sc = sc
        self.done = done
        self.session = session
        self.op = operator
        self.tl = tl
        self.period_s = tl.period_s
        self.pending = list(sc.steps)
        self.queue: list[tuple[int, int, Step]] = []
        self.seen_events = -1

    @property
    def loop(self) -> Any:
        return self.session.loop

    @property
    def plant(self) -> Any:
        return self.session.plant

    def next_tick(self) -> int:
        """Tick of the next step whose anchor has happened (NEVER if none)."""
        if self.pending and len(self.tl.events) != self.seen_events:
            self.seen_events = len(self.tl.events)
            for s in list(self.pending):
                t = self.tl.when_tick(s.at)
                if t is not None:
                    self.pending.remove(s)
                    heapq.heappush(self.queue, (max(t, self.loop.tick), self.sc.steps.index(s), s))
        return self.queue[0][0] if self.queue else NEVER

    def run_next(self) -> None:
        self.execute(heapq.heappop(self.queue)[2])

    def command(self, code: int, arg: int = 0) -> str:
        return C.RESULT_NAMES[self.loop.command(code, arg).result]

    def execute(self, s: Step) -> None:
        """Carry a step out now, as its action declares (:mod:`hil.scenario.actions`)."""
        d = self.done[id(s)]
        d.tick = now = self.loop.tick
        action = ACTIONS[s.action]
        out = action.apply(self, s.args)
        if action.answers:
            d.result = out
        else:
            d.note = out or ""
        if self.session.free and d.result is not None:
            # The board acted on it at the tick its reply names.
            d.tick = now = self.loop.tick
        rec: dict[str, Any] = {"type": "step", "id": s.id, "action": s.action, "detail": s.describe()}
        if d.result is not None:
            rec["result"] = d.result
        self.session.observers.note(now, rec)
