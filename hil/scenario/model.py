"""The scenario's typed objects: time anchors, steps, expectations,
measurements, the scenario, and the names the schema knows (the step
actions and the quantities have registries of their own:
:mod:`hil.scenario.actions`, :mod:`hil.scenario.quantities`)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from hil.transport import frames
from hil.scenario.actions import ACTIONS

C = frames.C

STATE_NAMES: tuple[str, ...] = tuple(C.STATE_NAMES)
ALARM_NAMES: tuple[str, ...] = tuple(n for n in C.ALARM_NAMES if n)

PRIORITY_NAMES = ("low", "medium", "high")
# Event types of the run's time line (firmware events as report entries,
# and what the harness and the operator did).
EVENT_TYPES = ("state", "alarm", "alarm_clear", "alarm_ack", "cartridge_exchange_due",
               "cartridge_installed", "heparin", "aptt_entered", "primed", "audio_pause",
               "override", "restored", "boot", "command", "patient_connected", "aptt_drawn",
               "cartridge_exchange", "fault", "step", "aptt_not_entered", "alarm_log",
               "diag")


@dataclass(frozen=True)
class Anchor:
    """A point on the run's time line that other times refer to.

    ``kind`` is ``start``, ``end``, ``state`` (entry into ``name``), ``alarm``
    (``name`` raised), ``step`` (the step with id ``name`` done) or ``event``
    (an event of type ``name``); ``nth`` counts occurrences from 1.
    """

    kind: str
    name: str = ""
    nth: int = 1

    def __str__(self) -> str:
        base = self.kind if self.kind in ("start", "end") else (
            self.name if self.kind == "state" else f"{self.kind}:{self.name}")
        return base if self.nth == 1 else f"{base}#{self.nth}"


@dataclass(frozen=True)
class When:
    """A virtual time: ``plus_s`` after an anchor (``start`` for absolute times)."""

    anchor: Anchor
    plus_s: float = 0.0

    @property
    def absolute(self) -> bool:
        return self.anchor.kind == "start"

    def __str__(self) -> str:
        if self.absolute:
            return f"t={self.plus_s:g} s"
        return f"{self.anchor}" + (f" + {self.plus_s:g} s" if self.plus_s else "")


START = When(Anchor("start"))
END = When(Anchor("end"))

# -- the scenario ---------------------------------------------------------------

SEVERITIES = {"mild": 0.25, "moderate": 0.45, "severe": 0.55, "septic_shock": 0.6}
OPERATOR_FIELDS: dict[str, type] = {
    "weight_kg": float, "aptt_every_h": float, "lab_turnaround_min": float,
    "start_delay_min": float, "exchange_delay_min": float, "ack_delay_min": float,
    "resume_after_ack": bool, "pre_start_draw_min": float, "redraw_min": float,
    "override_after": int, "trips_before_change": int, "confirms_exchange": bool,
    "enters_routine_aptt": bool, "acknowledges_alarms": bool, "scripted": bool,
    "loading_bolus_u_kg": float, "pre_start_turnaround_min": float,
}


@dataclass(frozen=True)
class Patient:
    weight_kg: float = 70.0
    k_pg: float | None = None              # sepsis severity (pathogen growth, 1/h)
    cytokine_gain: float | None = None     # individual cytokine production multiplier
    hours_since_onset: float | None = None


@dataclass(frozen=True)
class Device:
    cartridge: str = "cytosorb"
    flow_ml_min: int = 200
    anticoagulation: str | None = None     # None: the board config's own table


@dataclass(frozen=True)
class BoardSpec:
    config: str = "virtual"
    port: str | None = None
    timeout_s: float | None = None         # None: chosen by the runner
    heapsize: str | None = None            # the virtual board's heap ("64K"); None: the run's


@dataclass(frozen=True)
class Step:
    """One timed action.

    ``action`` is a name in :data:`~hil.scenario.actions.ACTIONS`; ``args``
    its arguments, as that action declares them.
    """

    at: When
    action: str
    args: dict[str, Any]
    id: str
    line: int
    expect_result: str | None = None

    def describe(self) -> str:
        return ACTIONS[self.action].describe(self.args)


@dataclass(frozen=True)
class Expectation:
    """A check decided on the run's virtual time line."""

    kind: str                 # alarm | state | pump_stopped | no_alarm | final_state | alarm_on |
                              # alarm_off | alarm_log | result
    target: str               # alarm id, state name, 'any', ...
    after: When = START
    within_s: float | None = None
    until: When = END
    priority: str | None = None
    line: int = 0
    name: str = ""

    def describe(self) -> str:
        if self.name:
            return self.name
        if self.kind == "alarm":
            p = f" ({self.priority})" if self.priority else ""
            return f"alarm {self.target}{p} within {self.within_s:g} s after {self.after}"
        if self.kind == "state":
            return f"state {self.target} within {self.within_s:g} s after {self.after}"
        if self.kind == "pump_stopped":
            return f"pump stopped and clamp closed within {self.within_s:g} s after {self.after}"
        if self.kind == "no_alarm":
            p = f" of priority {self.priority} or above" if self.priority else ""
            return f"no alarm {self.target}{p} from {self.after} to {self.until}"
        if self.kind == "final_state":
            return f"final state {self.target}"
        if self.kind == "alarm_on":
            return f"alarm {self.target} on from {self.after} to {self.until}"
        if self.kind == "alarm_off":
            return f"alarm {self.target} off within {self.within_s:g} s after {self.after}"
        if self.kind == "alarm_log":
            return f"alarm log read at step:{self.target} holds the run's alarms"
        return f"{self.kind} {self.target}"


@dataclass(frozen=True)
class Measurement:
    """A declared measurement with limits and units (OpenHTF style)."""

    name: str
    quantity: str
    unit: str
    stat: str = "last"
    after: When = START
    until: When = END
    low: float | None = None
    high: float | None = None
    marginal_low: float | None = None
    marginal_high: float | None = None
    filter: Any = None            # alarm id for counts, state for durations, Anchor for delays
    line: int = 0


@dataclass
class Scenario:
    """A parsed, valid scenario file."""

    name: str
    path: str
    text: str
    description: str = ""
    seed: int = 1
    duration_s: float = 3600.0
    tags: tuple[str, ...] = ()
    verifies: tuple[str, ...] = ()         # requirement ids (requirements/*.yaml)
    patient: Patient = field(default_factory=Patient)
    device: Device = field(default_factory=Device)
    board: BoardSpec = field(default_factory=BoardSpec)
    operator: dict[str, Any] = field(default_factory=dict)
    steps: list[Step] = field(default_factory=list)
    expectations: list[Expectation] = field(default_factory=list)
    measurements: list[Measurement] = field(default_factory=list)
    line_of: dict[str, int] = field(default_factory=dict)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()

    def needs(self) -> set[str]:
        """What the scenario needs of the board: ``plant`` (sensor samples
        from the host), ``power`` (power control: a virtual board)."""
        return {need for s in self.steps for need in ACTIONS[s.action].needs}


__all__ = [
    "STATE_NAMES", "ALARM_NAMES", "PRIORITY_NAMES", "EVENT_TYPES", "Anchor", "When", "START", "END",
    "SEVERITIES", "OPERATOR_FIELDS", "Patient", "Device", "BoardSpec", "Step", "Expectation", "Measurement",
    "Scenario"]
