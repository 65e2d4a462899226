"""A scenario's moving parts during a run: the listener that writes the
run's :class:`~hil.scenario.expect.Timeline`, and the timed steps (faults, link and
board actions, operator commands) carried out at their virtual times."""

from __future__ import annotations

import heapq
from typing import Any

from hil.transport import frames
from hil.scenario.timeline import Timeline
from hil.run.observers import fw_event_record
from hil.scenario import Scenario, Step

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
        tl.add_event(tick, {"type": "boot", "cause": cause, "last_tick": notice.get("last_tick")})
        # The state the board comes back in is a state entered at its boot.
        state = notice.get("state")
        if isinstance(state, int) and 0 <= state < len(C.STATE_NAMES):
            rec: dict[str, Any] = {"type": "state", "to": C.STATE_NAMES[state]}
            was = tl.status_at(tick)
            if was is not None:
                rec["from"] = was.state_name
            rec["cause"] = "boot"
            tl.add_event(tick, rec)

    def on_trace(self, columns: tuple[str, ...], rows: list[tuple[float, ...]]) -> None:
        self.tl.trace_columns = tuple(columns)
        self.tl.trace_rows = rows


class StepRunner:
    """Carries out a scenario's steps when their anchors have happened.

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
        self.period = tl.period_s
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
        d = self.done[id(s)]
        d.tick = now = self.loop.tick
        act = s.action
        if act in _PLANT:
            self._plant_fault(act, s.args)
        elif act in ("link", "disconnect", "power_cut"):
            d.note = getattr(self, "_" + act)(s.args, now) or ""
        else:
            d.result = self._operator(act, s.args)
        if self.session.free and d.result is not None:
            # The board acted on it at the tick its reply names.
            d.tick = now = self.loop.tick
        rec: dict[str, Any] = {"type": "step", "id": s.id, "action": act, "detail": s.describe()}
        if d.result is not None:
            rec["result"] = d.result
        self.session.observers.note(now, rec)

    # -- kinds of action ------------------------------------------------------------

    def _plant_fault(self, act: str, a: dict[str, Any]) -> None:
        from host.sensors import SensorFault

        f = self.plant.faults
        if act == "clotting":
            f.clot_boost = a["value"]
        elif act == "access_occlusion":
            f.access_occlusion = a["value"]
        elif act == "air":
            f.air_ticks_remaining = max(1, round(a["value"] / self.period))
        elif act == "sensor":
            if a["kind"] == "clear":
                f.sensor.pop(a["channel"], None)
            else:
                f.sensor[a["channel"]] = SensorFault(a["kind"], a["value"])
        elif act == "clear_faults":
            f.access_occlusion = 0.0
            f.clot_boost = 0.0
            f.air_ticks_remaining = 0
            f.sensor.clear()

    def _link(self, a: dict[str, Any], now: int) -> None:
        self.session.link.arm(a)

    def _disconnect(self, a: dict[str, Any], now: int) -> str:
        self.session.link.reconnect()
        n = max(1, round(a["value"] / self.period))
        self.loop.add_outage(now + 1, now + 1 + n)
        return f"link down for ticks {now + 1}..{now + n}"

    def _power_cut(self, a: dict[str, Any], now: int) -> str:
        # Without power the board drives nothing until it has booted.
        self.tl.power_off(now, now + round(a["value"] / self.period))
        notice = self.loop.power_cycle(self.session.board.power, a["value"])
        return f"board back after {a['value']:g} s off; boot notice {notice}"

    def _operator(self, act: str, a: dict[str, Any]) -> str | None:
        if act == "hang":
            return self.command(C.CMD_TEST_HANG, max(1, round(a["value"] / self.period)))
        if act == "aptt":
            return self.command(C.CMD_APTT, round(a["value"] * 10))
        if act == "confirm_exchange":
            if self.plant is not None:
                return C.RESULT_NAMES[self.op.exchange()]
            # No plant cartridge to change: the bench's is changed by hand.
            return self.command(C.CMD_CONFIRM_EXCHANGE)
        if act == "start":
            result = self.command(C.CMD_START)
            if result == "ok" and not self.op.connected and self.plant is not None:
                self.plant.connect_patient()
                self.op.connected = True
            return result
        if act in ("set_flow", "command"):
            code = C.CMD_SET_FLOW if act == "set_flow" else C.CMD_NAMES.index(a["name"])
            return self.command(code, a["value"] if act == "set_flow" else a["arg"])
        if act in _SIMPLE:
            return self.command(_SIMPLE[act])
        return None


_PLANT = ("clotting", "access_occlusion", "air", "sensor", "clear_faults")
_SIMPLE = {"acknowledge": C.CMD_ACK_ALARMS, "audio_pause": C.CMD_AUDIO_PAUSE, "pause": C.CMD_PAUSE,
           "resume": C.CMD_RESUME, "stop": C.CMD_STOP}
