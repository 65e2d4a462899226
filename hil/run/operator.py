"""A scripted operator: the nurse or perfusionist at the bedside, as a
deterministic agenda in virtual time. It sets the device up, draws blood
for aPTT and enters the lab's result when it comes back, changes the
cartridge when the device asks for it, and acknowledges alarms.

Anticoagulation before blood flow: the device's syringe feeds the blood
line, so nothing it gives reaches the patient before blood flows. The
nurse therefore gives the loading dose straight into a vein
(``plant.give_heparin_iv``) when the device's protocol starts, checks it
with a bedside (point-of-care) aPTT once the bolus has mixed and fallen
from its peak, and starts blood flow on that result. A protocol that gives
no heparin at all (a zero table) gets no loading dose either."""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Any, Callable

from hil.transport import frames
from hil.transport.frames import Event
from hil.scenario.actions import ACTIONS

C = frames.C


@dataclass
class OperatorPlan:
    """What the operator does and how quickly (all times virtual)."""

    weight_kg: float = 70.0
    flow_ml_min: int = 200
    aptt_every_h: float = 6.0
    lab_turnaround_min: float = 45.0
    start_delay_min: float = 2.0       # primed -> connect patient and start
    # exchange due -> new cartridge confirmed: just inside the board's 10
    # minutes, after which an unconfirmed exchange escalates to a high alarm
    exchange_delay_min: float = 9.9
    ack_delay_min: float = 2.0         # safe state -> alarms acknowledged
    resume_after_ack: bool = True
    # Loading dose the nurse gives IV when the protocol starts (U/kg of the
    # entered weight). Assumption: sized with the plant's plasma volume
    # (0.04 L/kg, host/heparin.py) so that the aPTT 15 min after it is
    # near 70 s, the middle of the cartridge's 60-80 s target; 0: none.
    loading_bolus_u_kg: float = 17.0
    # Loading dose -> pre-start sample: after the bolus has mixed and come
    # down from its peak (assumption: the circuit is started within minutes
    # of a bedside result, so the sample stands for the start).
    pre_start_draw_min: float = 15.0
    # Pre-start sample -> result: a bedside (point-of-care) aPTT, not the
    # central lab (assumption: a few minutes, as for bedside clotting tests).
    pre_start_turnaround_min: float = 5.0
    redraw_min: float = 30.0           # start refused on aPTT -> draw again after
    override_after: int = 2            # refused starts before the override is confirmed
    trips_before_change: int = 3       # safe-state trips on one cartridge before changing it
    # Deliberate omissions, to test how the device copes with them:
    confirms_exchange: bool = True     # False: an exchange that falls due is never confirmed
    enters_routine_aptt: bool = True   # False: routine aPTT results are drawn but never entered
    acknowledges_alarms: bool = True   # False: the safe state is left alone


@dataclass(frozen=True)
class FaultStep:
    """A fault the plant suffers at a virtual time.

    Attributes:
        t_s: when, in virtual seconds from the start of the run.
        fault: a plant fault step of one value (:data:`FAULTS`), as in a
            scenario: ``access_occlusion`` (value 0..1), ``air`` (value:
            seconds of air at the detector), ``clotting`` (value: extra clot
            growth factor; also by its old name ``clot_boost``).
        value: the fault's size.
    """

    t_s: float
    fault: str
    value: float

    def __post_init__(self) -> None:
        if self.fault not in FAULTS:
            raise ValueError(f"unknown fault {self.fault!r}; known: {', '.join(FAULTS)}")
        if self.t_s < 0:
            raise ValueError(f"fault time {self.t_s} s is negative")


# The plant fault steps that take one value (hil/scenario/actions.py), and an old name.
FAULTS = (*(a.name for a in ACTIONS.values() if a.group == "plant" and a.value and a.value.type != "flag"),
          "clot_boost")


@dataclass(order=True)
class _Item:
    tick: int
    order: int
    action: str = field(compare=False)
    arg: Any = field(compare=False, default=None)


class ScriptedOperator:
    """Acts on the loop at planned ticks and in reaction to firmware events.

    Args:
        plan: timings and settings.
        period_s: control period.
        record: called with each operator event (a dict with ``t_s``, ``type``).
    """

    def __init__(self, plan: OperatorPlan, period_s: float,
                 record: Callable[[dict[str, Any]], None]) -> None:
        self.plan = plan
        self.period_s = period_s
        self.record = record
        self.agenda: list[_Item] = []
        self._order = 0
        self.connected = False
        self.loop: Any = None
        self.waiting_to_start = False
        self.refused_starts = 0
        self.trips = 0             # safe-state trips on the current cartridge
        self.routine_draws = False
        self.heparin_started = False   # the device's protocol was started
        self._loading_due = False      # waiting for its heparin event

    def ticks(self, minutes: float) -> int:
        return max(1, round(minutes * 60.0 / self.period_s))

    def schedule(self, tick: int, action: str, arg: Any = None) -> None:
        self._order += 1
        heapq.heappush(self.agenda, _Item(tick, self._order, action, arg))

    def next_tick(self) -> int:
        """Tick of the next planned action (a large number if none)."""
        return self.agenda[0].tick if self.agenda else 1 << 62

    def begin(self, loop: Any, faults: tuple[FaultStep, ...] = ()) -> None:
        """Set the device up at the current tick and start priming; plan the
        faults the plant will suffer."""
        self.loop = loop
        self.schedule(loop.tick, "setup")
        for f in faults:
            self.schedule(loop.tick + round(f.t_s / self.period_s), "fault", f)

    def on_event(self, e: Event) -> None:
        """React to a firmware event (called by the loop as events arrive)."""
        if self.loop is None:
            return
        now = self.loop.tick
        if e.kind == C.EV_HEPARIN and self._loading_due:
            self._loading_due = False
            self._give_loading_dose(e.a > 0 or e.b > 0)
        elif e.kind == C.EV_PRIMED:
            self.waiting_to_start = True
            self.refused_starts = 0
            self.schedule(now + self.ticks(self.plan.start_delay_min), "start")
        elif e.kind == C.EV_EXCHANGE_DUE and self.plan.confirms_exchange:
            # The board asks for an exchange only while another cartridge is
            # allowed (its therapy.max_cartridges): it is the authority.
            self.schedule(now + self.ticks(self.plan.exchange_delay_min), "exchange")
        elif e.kind == C.EV_STATE and e.code == C.SAFE:
            self.trips += 1
            if self.plan.acknowledges_alarms:
                self.schedule(now + self.ticks(self.plan.ack_delay_min), "acknowledge")
        elif e.kind == C.EV_RESTORED and e.a == C.SAFE:
            # The board restarted mid-therapy and came back in the safe
            # state with an alarm to acknowledge (no state event for that).
            if self.plan.acknowledges_alarms:
                self.schedule(now + self.ticks(self.plan.ack_delay_min), "acknowledge")

    def run_due(self) -> None:
        """Carry out every action planned for the current tick or earlier."""
        loop = self.loop
        while self.agenda and self.agenda[0].tick <= loop.tick:
            item = heapq.heappop(self.agenda)
            getattr(self, "_do_" + item.action)(item.arg)

    # -- actions ---------------------------------------------------------------

    def _cmd(self, code: int, arg: int = 0) -> int:
        reply = self.loop.command(code, arg)
        self.record({"type": "command", "command": C.CMD_NAMES[code], "arg": arg,
                     "result": C.RESULT_NAMES[reply.result]})
        return reply.result

    def _do_setup(self, _: Any) -> None:
        self._cmd(C.CMD_SET_WEIGHT, round(self.plan.weight_kg * 10))
        self._cmd(C.CMD_SET_FLOW, self.plan.flow_ml_min)
        self._cmd(C.CMD_PRIME)

    def _do_start(self, _: Any) -> None:
        """Start blood flow; first anticoagulate, and wait for an aPTT in range."""
        if not self.waiting_to_start:
            return
        status = self.loop.status
        if status.state != C.READY:
            return
        if not self.heparin_started:
            # The dose is given on the device's heparin event, which may come
            # with the command's own reply.
            self._loading_due = True
            result = self._cmd(C.CMD_HEPARIN_START)
            if result != C.OK:
                self._loading_due = False
                if result != C.E_STATE:     # E_STATE in ready: started before (a restart)
                    return
            self.heparin_started = True
            self.schedule(self.loop.tick + self.ticks(self.plan.pre_start_draw_min), "draw_aptt", "pre-start")
            return
        result = self._cmd(C.CMD_START)
        if result == C.E_CONDITION:
            self.refused_starts += 1
            if self.refused_starts >= self.plan.override_after:
                # The operator takes responsibility: confirmed and logged.
                self._cmd(C.CMD_OVERRIDE_APTT)
                result = self._cmd(C.CMD_START)
            else:
                self.schedule(self.loop.tick + self.ticks(self.plan.redraw_min), "draw_aptt", "pre-start")
                return
        if result != C.OK:
            return
        self.waiting_to_start = False
        if not self.connected:
            self.loop.plant.connect_patient()
            self.connected = True
            self.record({"type": "patient_connected"})
        if not self.routine_draws:
            self.routine_draws = True
            first_draw = self.loop.tick + self.ticks(self.plan.aptt_every_h * 60)
            self.schedule(first_draw, "draw_aptt", "routine")

    def started_heparin(self) -> bool:
        """The device's anticoagulation protocol was started (by this
        operator): known from the command's answer, not from the doses, so a
        protocol that gives none is not started again and again."""
        return self.heparin_started

    def _give_loading_dose(self, protocol_gives_heparin: bool) -> None:
        """The loading dose, IV by the nurse, for the weight entered on the
        device; none when the device's protocol gives no heparin."""
        units = self.plan.loading_bolus_u_kg * self.plan.weight_kg if protocol_gives_heparin else 0.0
        if units > 0.0:
            self.loop.plant.give_heparin_iv(units)
        self.record({"type": "heparin_iv", "units": round(units, 1), "why": "loading"})

    def _do_draw_aptt(self, why: Any) -> None:
        value = float(self.loop.plant.draw_aptt())
        self.record({"type": "aptt_drawn", "lab_aptt_s": round(value, 1),
                     "true_aptt_s": round(float(self.loop.plant.true_aptt()), 1), "why": why})
        if why == "routine" and not self.plan.enters_routine_aptt:
            self.record({"type": "aptt_not_entered", "lab_aptt_s": round(value, 1)})
        else:
            turnaround = self.plan.pre_start_turnaround_min if why == "pre-start" else self.plan.lab_turnaround_min
            self.schedule(self.loop.tick + self.ticks(turnaround), "enter_aptt", value)
        if why == "routine":
            self.schedule(self.loop.tick + self.ticks(self.plan.aptt_every_h * 60), "draw_aptt", "routine")

    def _do_enter_aptt(self, value: float) -> None:
        arg = max(100, min(2000, round(value * 10)))
        self._cmd(C.CMD_APTT, arg)
        if self.waiting_to_start:
            self.schedule(self.loop.tick, "start")

    def exchange(self) -> int:
        """Change the cartridge now and confirm it on the device; return the
        board's answer."""
        return self._do_exchange(None)

    def _do_exchange(self, _: Any) -> int:
        plant = self.loop.plant
        if self.connected:
            # Blood is returned and the patient taken off the circuit while
            # the cartridge is changed; the new one is connected at start.
            plant.disconnect_patient()
            self.connected = False
        plant.replace_cartridge()
        result = self._cmd(C.CMD_CONFIRM_EXCHANGE)
        if result == C.OK:
            self.trips = 0
            self.record({"type": "cartridge_exchange",
                         "cartridge": self.loop.status.cartridge})
        return result

    @property
    def plant(self) -> Any:
        return self.loop.plant

    def _do_fault(self, f: FaultStep) -> None:
        # Applied as the scenario step of that name is: this is the run it acts on.
        ACTIONS["clotting" if f.fault == "clot_boost" else f.fault].apply(self, {"value": float(f.value)})
        self.record({"type": "fault", "fault": f.fault, "value": f.value})

    def _do_acknowledge(self, _: Any) -> None:
        if self._cmd(C.CMD_ACK_ALARMS) == C.OK and self.plan.resume_after_ack:
            if self.loop.status.state == C.PAUSED:
                if self.trips >= self.plan.trips_before_change:
                    # The same circuit keeps tripping (clotted): change it.
                    if self._cmd(C.CMD_REQUEST_EXCHANGE) == C.OK:
                        return
                self._cmd(C.CMD_RESUME)
        elif self.loop.status.state == C.SAFE:
            # Condition still present: look again later.
            self.schedule(self.loop.tick + self.ticks(self.plan.ack_delay_min), "acknowledge")
