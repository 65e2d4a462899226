"""The scenario's typed objects: time anchors, steps, expectations,
measurements, the scenario, and the names and units the schema knows."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from hil.transport import frames

C = frames.C

STATE_NAMES: tuple[str, ...] = tuple(C.STATE_NAMES)
ALARM_NAMES: tuple[str, ...] = tuple(n for n in C.ALARM_NAMES if n)

PRIORITY_NAMES = ("low", "medium", "high")
# Event types of the run's time line (firmware events as report entries,
# and what the harness and the operator did).
EVENT_TYPES = ("state", "alarm", "alarm_clear", "alarm_ack", "cartridge_exchange_due",
               "cartridge_installed", "heparin", "aptt_entered", "primed", "audio_pause",
               "override", "restored", "boot", "command", "patient_connected", "aptt_drawn",
               "cartridge_exchange", "fault", "step", "aptt_not_entered")


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
SENSOR_CHANNELS = ("p_access", "p_pre", "p_return", "q_blood", "flags")
SENSOR_KINDS = ("stuck", "drift", "noise", "range")
DIRECTIONS = ("to_board", "to_host", "both")
OPERATOR_FIELDS: dict[str, type] = {
    "weight_kg": float, "aptt_every_h": float, "lab_turnaround_min": float,
    "start_delay_min": float, "exchange_delay_min": float, "ack_delay_min": float,
    "resume_after_ack": bool, "pre_start_draw_min": float, "redraw_min": float,
    "override_after": int, "trips_before_change": int, "confirms_exchange": bool,
    "enters_routine_aptt": bool, "acknowledges_alarms": bool, "scripted": bool,
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


@dataclass(frozen=True)
class Step:
    """One timed action.

    ``action`` is one of :data:`STEP_ACTIONS`; ``args`` its parameters.
    """

    at: When
    action: str
    args: dict[str, Any]
    id: str
    line: int
    expect_result: str | None = None

    def describe(self) -> str:
        a = self.args
        if self.action in ("sensor",):
            return f"sensor {a['channel']} {a['kind']}" + (f" {a['value']:g}" if "value" in a else "")
        if self.action == "link":
            size = {"delay": f"{a.get('delay_s', 0):g} s x{a['frames']} frame(s)",
                    "noise": f"{a['frames']} byte(s)"}.get(a["fault"], f"{a['frames']} frame(s)")
            return f"link {a['fault']} {size} {a['direction']}"
        if self.action == "command":
            return f"command {a['name']}" + (f" {a['arg']}" if a.get("arg") else "")
        v = a.get("value")
        if not isinstance(v, (int, float)) or isinstance(v, bool):
            return self.action
        unit = {"air": " s", "disconnect": " s", "power_cut": " s off", "hang": " s", "aptt": " s",
                "set_flow": " mL/min", "clotting": "x clot growth", "access_occlusion": " occluded"}
        return f"{self.action} {v:g}{unit.get(self.action, '')}"


@dataclass(frozen=True)
class Expectation:
    """A check decided on the run's virtual time line."""

    kind: str                 # alarm | state | pump_stopped | no_alarm | final_state | result
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
        out: set[str] = set()
        for s in self.steps:
            if s.action in PLANT_ACTIONS or s.action == "disconnect":
                out.add("plant")
            if s.action == "power_cut":
                out.add("power")
        return out


# -- the quantities a measurement may name ---------------------------------------

TRACE_UNITS = {
    "IL-6": "pg/mL", "TNF-a": "pg/mL", "IL-1b": "pg/mL", "IL-10": "pg/mL",
    "heparin_u_ml": "U/mL", "aptt_s": "s", "q_blood_ml_min": "mL/min",
    "p_access_mmhg": "mmHg", "p_pre_mmhg": "mmHg", "p_return_mmhg": "mmHg",
    "clot_fraction": "1", "extraction_il6": "1", "cartridge_index": "1",
    "cartridge_age_h": "h", "plasma_processed_l": "L", "pump_ml_min": "mL/min",
    "heparin_u_h": "U/h", "connected": "1", "endotoxin_eu_ml": "EU/mL",
}
# Derived quantities: name -> (unit, what the filter names, description)
DERIVED = {
    "alarm_count": ("1", "alarm", "alarms raised in the window (filter: an alarm id)"),
    "exchange_count": ("1", None, "cartridge exchanges confirmed in the window"),
    "cartridges_used": ("1", None, "the board's cartridge number at the end of the window"),
    "exchange_flow_time_h": ("h", None, "blood-flow time on the cartridge when its exchange fell due"),
    "delay_s": ("s", "anchor", "time from the window start to the first 'filter' anchor"),
    "state_time_h": ("h", "state", "time spent in a state within the window"),
    "heparin_rate_u_h": ("U/h", None, "the infusion rate the board prescribes"),
    "bolus_total_u": ("U", None, "heparin given as boluses since the last boot"),
    "last_aptt_s": ("s", None, "the last aPTT entered on the board"),
    "board_resets": ("1", None, "restarts of the board (power cuts, watchdog)"),
    "link_resends": ("1", None, "frames the host had to send again"),
    "pump_ml_min_fw": ("mL/min", None, "the pump rate the board commands"),
}
STATS = ("last", "first", "min", "max", "mean", "change_pct")

# -- steps -----------------------------------------------------------------------

PLANT_ACTIONS = ("clotting", "access_occlusion", "air", "sensor", "clear_faults")
LINK_ACTIONS = ("link", "disconnect")
BOARD_ACTIONS = ("power_cut", "hang")
OPERATOR_ACTIONS = ("aptt", "confirm_exchange", "acknowledge", "audio_pause", "pause",
                    "resume", "start", "stop", "set_flow", "command")
STEP_ACTIONS = PLANT_ACTIONS + LINK_ACTIONS + BOARD_ACTIONS + OPERATOR_ACTIONS
COMMANDS = tuple(n for n in C.CMD_NAMES if n)
RESULTS = tuple(C.RESULT_NAMES)


__all__ = [
    "STATE_NAMES", "ALARM_NAMES", "PRIORITY_NAMES", "EVENT_TYPES", "Anchor", "When", "START", "END",
    "SEVERITIES", "SENSOR_CHANNELS", "SENSOR_KINDS", "DIRECTIONS", "OPERATOR_FIELDS", "Patient",
    "Device", "BoardSpec", "Step", "Expectation", "Measurement", "Scenario", "TRACE_UNITS",
    "DERIVED", "STATS", "PLANT_ACTIONS", "LINK_ACTIONS", "BOARD_ACTIONS", "OPERATOR_ACTIONS",
    "STEP_ACTIONS", "COMMANDS", "RESULTS"]
