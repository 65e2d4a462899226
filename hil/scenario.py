"""Scenario files: the YAML format of docs/scenarios.md, read into typed
objects, with every error reported as ``file:line: what is wrong``.

Loading is strict: unknown keys, wrong types, unknown alarms, commands,
faults, sensor channels or anchors, steps out of order and missing
required fields are all errors, and nothing runs until the whole file is
valid. Line numbers come from the YAML node marks, so an error points at
the key or value that is wrong, not at the start of the file.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from hil import frames

C = frames.C

# -- errors --------------------------------------------------------------------


class ScenarioError(ValueError):
    """A scenario file that cannot be used.

    Attributes:
        path: the file (as given).
        line: 1-based line of the offending node (0 if unknown).
        reason: what is wrong.
    """

    def __init__(self, path: str, line: int, reason: str) -> None:
        self.path = path
        self.line = line
        self.reason = reason
        where = f"{path}:{line}" if line else path
        super().__init__(f"{where}: {reason}")


# -- located YAML values ---------------------------------------------------------


@dataclass
class Y:
    """A YAML value with the line it came from (1-based)."""

    value: Any          # dict[str, Y] | list[Y] | scalar
    line: int
    key_lines: dict[str, int] = field(default_factory=dict)


_SCALARS = yaml.constructor.SafeConstructor()


def _located(node: yaml.Node, path: str) -> Y:
    line = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Y] = {}
        lines: dict[str, int] = {}
        for k, v in node.value:
            if not isinstance(k, yaml.ScalarNode):
                raise ScenarioError(path, k.start_mark.line + 1, "a key must be a plain name")
            key = str(k.value)
            if key in out:
                raise ScenarioError(path, k.start_mark.line + 1, f"key '{key}' appears twice")
            out[key] = _located(v, path)
            lines[key] = k.start_mark.line + 1
        return Y(out, line, lines)
    if isinstance(node, yaml.SequenceNode):
        return Y([_located(v, path) for v in node.value], line)
    return Y(_SCALARS.construct_object(node, deep=True), line)


def parse_yaml(text: str, path: str) -> Y:
    """Parse YAML text into located values; syntax errors name the line."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark is not None else 0
        raise ScenarioError(path, line, f"not valid YAML: {e.problem or e}") from None
    if node is None:
        raise ScenarioError(path, 1, "the file is empty")
    return _located(node, path)


# -- durations and times ---------------------------------------------------------

_UNITS = {"ms": 0.001, "s": 1.0, "sec": 1.0, "min": 60.0, "h": 3600.0, "d": 86400.0}
_DUR = re.compile(r"^\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*([a-z]+)?\s*$")


def parse_duration(value: Any) -> float | None:
    """``90``, ``"90 s"``, ``"1.5 min"``, ``"2 h"``, ``"100 ms"`` -> seconds, or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) if value >= 0 else None
    if isinstance(value, str):
        m = _DUR.match(value)
        if m and (m.group(2) is None or m.group(2) in _UNITS):
            return float(m.group(1)) * _UNITS[m.group(2) or "s"]
    return None


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

# -- the reader -------------------------------------------------------------------


class _Reader:
    """Validates located YAML against the schema, raising ScenarioError."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.step_ids: set[str] = set()

    def err(self, line: int, reason: str) -> ScenarioError:
        return ScenarioError(self.path, line, reason)

    def mapping(self, y: Y, what: str, allowed: tuple[str, ...] | dict[str, Any],
                required: tuple[str, ...] = ()) -> dict[str, Y]:
        if not isinstance(y.value, dict):
            raise self.err(y.line, f"{what} must be a mapping of keys to values, not {_kind(y.value)}")
        for k in y.value:
            if k not in allowed:
                raise self.err(y.key_lines[k], f"unknown key '{k}' in {what}; "
                               f"known: {', '.join(sorted(allowed))}")
        for k in required:
            if k not in y.value:
                raise self.err(y.line, f"{what} is missing the required key '{k}'")
        return y.value

    def number(self, y: Y, what: str, lo: float | None = None, hi: float | None = None,
               integer: bool = False) -> float:
        v = y.value
        if isinstance(v, bool) or not isinstance(v, (int, float)) or (integer and not isinstance(v, int)):
            raise self.err(y.line, f"{what} must be {'an integer' if integer else 'a number'}, "
                           f"not {_show(v)}")
        if lo is not None and v < lo or hi is not None and v > hi:
            rng = f"{lo:g}..{hi:g}" if lo is not None and hi is not None else (
                f">= {lo:g}" if lo is not None else f"<= {hi:g}")
            raise self.err(y.line, f"{what} must be {rng}, not {v:g}")
        return v

    def text(self, y: Y, what: str, choices: tuple[str, ...] | None = None) -> str:
        v = y.value
        if not isinstance(v, str):
            raise self.err(y.line, f"{what} must be text, not {_show(v)}")
        if choices is not None and v not in choices:
            raise self.err(y.line, f"unknown {what} '{v}'; known: {', '.join(choices)}")
        return v

    def flag(self, y: Y, what: str) -> bool:
        if not isinstance(y.value, bool):
            raise self.err(y.line, f"{what} must be true or false, not {_show(y.value)}")
        return y.value

    def duration(self, y: Y, what: str) -> float:
        d = parse_duration(y.value)
        if d is None:
            raise self.err(y.line, f"{what} must be a duration such as 30, '30 s', '5 min' "
                           f"or '2 h', not {_show(y.value)}")
        return d

    # -- anchors and times --------------------------------------------------------

    def anchor(self, y: Y, what: str, nth: int = 1) -> Anchor:
        name = self.text(y, what)
        if "#" in name:
            name, _, n = name.partition("#")
            if not n.isdigit() or int(n) < 1:
                raise self.err(y.line, f"{what}: '#{n}' must be a count from 1")
            nth = int(n)
        if name in ("start", "end"):
            return Anchor(name)
        if name in STATE_NAMES:
            return Anchor("state", name, nth)
        kind, sep, rest = name.partition(":")
        if sep and kind == "alarm":
            if rest not in ALARM_NAMES:
                raise self.err(y.line, f"unknown alarm '{rest}' in {what}; known: {', '.join(ALARM_NAMES)}")
            return Anchor("alarm", rest, nth)
        if sep and kind == "state":
            if rest not in STATE_NAMES:
                raise self.err(y.line, f"unknown state '{rest}' in {what}; known: {', '.join(STATE_NAMES)}")
            return Anchor("state", rest, nth)
        if sep and kind == "step":
            if rest not in self.step_ids:
                raise self.err(y.line, f"{what} refers to step '{rest}', which no earlier step has as id")
            return Anchor("step", rest, nth)
        if sep and kind == "event":
            if rest not in EVENT_TYPES:
                raise self.err(y.line, f"unknown event '{rest}' in {what}; known: {', '.join(EVENT_TYPES)}")
            return Anchor("event", rest, nth)
        if name in EVENT_TYPES or name in ALARM_NAMES:
            hint = "event" if name in EVENT_TYPES else "alarm"
            raise self.err(y.line, f"unknown anchor '{name}' in {what}; did you mean '{hint}:{name}'?")
        raise self.err(y.line, f"unknown anchor '{name}' in {what}: use start, end, a state "
                       f"({', '.join(STATE_NAMES)}), alarm:<id>, step:<id> or event:<type>")

    def when(self, y: Y, what: str) -> When:
        """A time: a duration (from the start), an anchor name, or
        ``{after: anchor, plus: duration, nth: n}``."""
        if isinstance(y.value, dict):
            m = self.mapping(y, what, ("after", "plus", "nth", "t"))
            if "t" in m:
                if len(m) > 1:
                    raise self.err(y.line, f"{what}: 't' (an absolute time) cannot be combined with "
                                   "'after', 'plus' or 'nth'")
                return When(Anchor("start"), self.duration(m["t"], f"{what}: t"))
            if "after" not in m:
                raise self.err(y.line, f"{what} is missing the required key 'after'")
            nth = int(self.number(m["nth"], f"{what}: nth", 1, integer=True)) if "nth" in m else 1
            a = self.anchor(m["after"], f"{what}: after", nth)
            plus = self.duration(m["plus"], f"{what}: plus") if "plus" in m else 0.0
            return When(a, plus)
        if isinstance(y.value, str) and parse_duration(y.value) is None:
            return When(self.anchor(y, what))
        return When(Anchor("start"), self.duration(y, what))

    # -- sections ----------------------------------------------------------------

    def patient(self, y: Y) -> Patient:
        m = self.mapping(y, "patient", ("weight_kg", "severity", "cytokine_gain", "hours_since_diagnosis"))
        kw: dict[str, Any] = {}
        if "weight_kg" in m:
            kw["weight_kg"] = float(self.number(m["weight_kg"], "patient weight_kg", 30, 250))
        if "severity" in m:
            s = m["severity"]
            if isinstance(s.value, str):
                kw["k_pg"] = SEVERITIES[self.text(s, "severity", tuple(SEVERITIES))]
            else:
                kw["k_pg"] = float(self.number(s, "patient severity (pathogen growth per hour)", 0.05, 1.5))
        if "cytokine_gain" in m:
            kw["cytokine_gain"] = float(self.number(m["cytokine_gain"], "patient cytokine_gain", 0.05, 20))
        if "hours_since_diagnosis" in m:
            kw["hours_since_onset"] = float(self.number(m["hours_since_diagnosis"],
                                                        "patient hours_since_diagnosis", 0, 240))
        return Patient(**kw)

    def device(self, y: Y) -> Device:
        from host.cartridge import PRESETS

        m = self.mapping(y, "device", ("cartridge", "flow_ml_min", "anticoagulation"))
        kw: dict[str, Any] = {}
        if "cartridge" in m:
            kw["cartridge"] = self.text(m["cartridge"], "cartridge", tuple(sorted(PRESETS)))
        if "flow_ml_min" in m:
            kw["flow_ml_min"] = int(self.number(m["flow_ml_min"], "device flow_ml_min", 150, 500, integer=True))
        if "anticoagulation" in m:
            kw["anticoagulation"] = self.text(m["anticoagulation"], "anticoagulation table",
                                              tuple(_tables()))
        return Device(**kw)

    def board(self, y: Y) -> BoardSpec:
        m = self.mapping(y, "board", ("config", "port", "timeout_s"))
        kw: dict[str, Any] = {}
        if "config" in m:
            kw["config"] = self.text(m["config"], "board config")
        if "port" in m:
            kw["port"] = self.text(m["port"], "board port")
        if "timeout_s" in m:
            kw["timeout_s"] = float(self.number(m["timeout_s"], "board timeout_s", 0.05, 60))
        return BoardSpec(**kw)

    def operator(self, y: Y) -> dict[str, Any]:
        m = self.mapping(y, "operator", OPERATOR_FIELDS)
        out: dict[str, Any] = {}
        for k, v in m.items():
            t = OPERATOR_FIELDS[k]
            if t is bool:
                out[k] = self.flag(v, f"operator {k}")
            elif t is int:
                out[k] = int(self.number(v, f"operator {k}", 0, integer=True))
            else:
                out[k] = float(self.number(v, f"operator {k}", 0))
        if "weight_kg" in out and not 30 <= out["weight_kg"] <= 250:
            raise self.err(m["weight_kg"].line, "operator weight_kg must be 30..250")
        if out.get("scripted") is False and len(out) > 1:
            other = next(k for k in m if k != "scripted")
            raise self.err(m[other].line, f"operator {other} has no effect: 'scripted: false' turns "
                           "the scripted operator off (the steps act instead)")
        return out

    def step(self, y: Y, index: int) -> Step:
        m = self.mapping(y, f"step {index}", ("at", "id", "expect_result") + STEP_ACTIONS, ("at",))
        actions = [k for k in m if k in STEP_ACTIONS]
        if len(actions) != 1:
            raise self.err(y.line, f"step {index} must have exactly one action "
                           f"({', '.join(STEP_ACTIONS)}), it has {len(actions) or 'none'}"
                           + (f": {', '.join(actions)}" if actions else ""))
        action = actions[0]
        at = self.when(m["at"], f"step {index} 'at'")
        sid = self.text(m["id"], "step id") if "id" in m else f"{action}{index}"
        if sid in self.step_ids:
            raise self.err(m["id"].line if "id" in m else y.line, f"step id '{sid}' is used twice")
        args = self.step_args(action, m[action], m)
        expect_result = None
        if "expect_result" in m:
            if action not in OPERATOR_ACTIONS and action != "hang":
                raise self.err(m["expect_result"].line, "expect_result applies to operator commands only")
            expect_result = self.text(m["expect_result"], "command result", RESULTS)
        self.step_ids.add(sid)
        return Step(at=at, action=action, args=args, id=sid, line=y.line, expect_result=expect_result)

    def step_args(self, action: str, v: Y, m: dict[str, Y]) -> dict[str, Any]:
        w = f"step '{action}'"
        if action == "clotting":
            return {"value": float(self.number(v, f"{w} (extra clot growth factor)", 0, 10000))}
        if action == "access_occlusion":
            return {"value": float(self.number(v, f"{w} (fraction of the line blocked)", 0, 1))}
        if action == "air":
            return {"value": self.duration(v, f"{w} (seconds of air at the detector)")}
        if action == "sensor":
            s = self.mapping(v, w, ("channel", "clear") + SENSOR_KINDS, ("channel",))
            ch = self.text(s["channel"], "sensor channel", SENSOR_CHANNELS)
            kinds = [k for k in s if k in SENSOR_KINDS or k == "clear"]
            if len(kinds) != 1:
                raise self.err(v.line, f"{w} needs exactly one of {', '.join(SENSOR_KINDS)} or clear")
            kind = kinds[0]
            if kind == "clear":
                self.flag(s["clear"], f"{w} clear")
                return {"channel": ch, "kind": "clear"}
            if kind == "range":
                side = self.text(s["range"], f"{w} range", ("high", "low"))
                return {"channel": ch, "kind": "range", "value": 1.0 if side == "high" else -1.0}
            what = {"stuck": "held reading", "drift": "drift per second", "noise": "extra noise SD"}[kind]
            return {"channel": ch, "kind": kind, "value": float(self.number(s[kind], f"{w} {kind} ({what})"))}
        if action == "clear_faults":
            self.flag(v, w)
            return {}
        if action == "link":
            s = self.mapping(v, w, ("corrupt", "drop", "delay", "noise", "frames", "direction"))
            kinds = [k for k in s if k in ("corrupt", "drop", "delay", "noise")]
            if len(kinds) != 1:
                raise self.err(v.line, f"{w} needs exactly one of corrupt, drop, delay or noise")
            kind = kinds[0]
            direction = self.text(s["direction"], "link direction", DIRECTIONS) if "direction" in s else "both"
            if kind == "delay":
                d = self.duration(s["delay"], f"{w} delay")
                n = int(self.number(s["frames"], f"{w} frames", 1, 1000, integer=True)) if "frames" in s else 1
                return {"fault": "delay", "delay_s": d, "frames": n, "direction": direction}
            if "frames" in s:
                raise self.err(s["frames"].line, f"{w}: give the number of frames as the value of '{kind}'")
            what = "number of bytes" if kind == "noise" else "number of frames"
            n = int(self.number(s[kind], f"{w} {kind} ({what})", 1, 1000, integer=True))
            return {"fault": kind, "frames": n, "direction": direction}
        if action == "disconnect":
            return {"value": self.duration(v, f"{w} (virtual seconds without the link)")}
        if action == "power_cut":
            return {"value": self.duration(v, f"{w} (virtual seconds without power)")}
        if action == "hang":
            return {"value": self.duration(v, f"{w} (virtual seconds the control task stalls)")}
        if action == "aptt":
            return {"value": float(self.number(v, f"{w} (seconds)", 10, 200))}
        if action == "set_flow":
            return {"value": int(self.number(v, f"{w} (mL/min)", integer=True))}
        if action == "command":
            s = self.mapping(v, w, ("name", "arg"), ("name",))
            name = self.text(s["name"], "command", COMMANDS)
            arg = int(self.number(s["arg"], f"{w} arg", integer=True)) if "arg" in s else 0
            return {"name": name, "arg": arg}
        # acknowledge, audio_pause, pause, resume, start, stop, confirm_exchange
        if not self.flag(v, w):
            raise self.err(v.line, f"{w}: write 'true' to do it, or leave the step out")
        return {}

    def expectation(self, y: Y, index: int) -> Expectation:
        kinds = ("alarm", "state", "pump_stopped", "no_alarm", "final_state")
        m = self.mapping(y, f"expectation {index}", kinds + ("priority", "within", "after", "from", "to", "name"))
        present = [k for k in m if k in kinds]
        if len(present) != 1:
            raise self.err(y.line, f"expectation {index} must have exactly one of {', '.join(kinds)}")
        kind = present[0]
        w = f"expectation {index} ({kind})"
        kw: dict[str, Any] = {"kind": kind, "line": y.line}
        if "name" in m:
            kw["name"] = self.text(m["name"], "expectation name")
        allowed: dict[str, tuple[str, ...]] = {
            "alarm": ("priority", "within", "after"), "state": ("within", "after"),
            "pump_stopped": ("within", "after"), "no_alarm": ("priority", "from", "to"),
            "final_state": (),
        }
        for k in ("priority", "within", "after", "from", "to"):
            if k in m and k not in allowed[kind]:
                raise self.err(m[k].line, f"'{k}' does not apply to a '{kind}' expectation")
        if kind == "alarm":
            kw["target"] = self.text(m["alarm"], "alarm", ALARM_NAMES)
        elif kind in ("state", "final_state"):
            kw["target"] = self.text(m[kind], "state", STATE_NAMES)
        elif kind == "pump_stopped":
            self.flag(m["pump_stopped"], w)
            kw["target"] = "stopped"
        else:
            kw["target"] = self.text(m["no_alarm"], "alarm", ALARM_NAMES + ("any",))
        if kind in ("alarm", "state", "pump_stopped"):
            if "within" not in m:
                raise self.err(y.line, f"{w} is missing the required key 'within'")
            kw["within_s"] = self.duration(m["within"], f"{w} within")
            if "after" in m:
                kw["after"] = self.when(m["after"], f"{w} after")
        if "priority" in m:
            kw["priority"] = self.text(m["priority"], "priority", PRIORITY_NAMES)
        if "from" in m:
            kw["after"] = self.when(m["from"], f"{w} from")
        if "to" in m:
            kw["until"] = self.when(m["to"], f"{w} to")
        return Expectation(**kw)

    def measurement(self, y: Y, index: int) -> Measurement:
        m = self.mapping(y, f"measurement {index}",
                         ("name", "quantity", "unit", "stat", "from", "to", "limits", "marginal", "filter"),
                         ("name", "quantity", "limits"))
        name = self.text(m["name"], "measurement name")
        w = f"measurement '{name}'"
        q = self.text(m["quantity"], "quantity", tuple(TRACE_UNITS) + tuple(DERIVED))
        unit = TRACE_UNITS.get(q) or DERIVED[q][0]
        if "unit" in m:
            given = self.text(m["unit"], f"{w} unit")
            if given != unit:
                raise self.err(m["unit"].line, f"{w}: quantity {q} is in {unit}, not {given}")
        kw: dict[str, Any] = {"name": name, "quantity": q, "unit": unit, "line": y.line}
        if "stat" in m:
            if q not in TRACE_UNITS:
                raise self.err(m["stat"].line, f"{w}: 'stat' applies to plant quantities only")
            kw["stat"] = self.text(m["stat"], "statistic", STATS)
        if "from" in m:
            kw["after"] = self.when(m["from"], f"{w} from")
        if "to" in m:
            kw["until"] = self.when(m["to"], f"{w} to")
        needs = DERIVED[q][1] if q in DERIVED else None
        if "filter" in m:
            if needs is None:
                raise self.err(m["filter"].line, f"{w}: quantity {q} takes no filter")
            if needs == "alarm":
                kw["filter"] = self.text(m["filter"], "alarm", ALARM_NAMES)
            elif needs == "state":
                kw["filter"] = self.text(m["filter"], "state", STATE_NAMES)
            else:
                kw["filter"] = self.anchor(m["filter"], f"{w} filter")
        elif needs in ("state", "anchor"):
            raise self.err(y.line, f"{w}: quantity {q} needs a 'filter' ({needs})")
        kw["low"], kw["high"] = self.limits(m["limits"], f"{w} limits")
        if "marginal" in m:
            kw["marginal_low"], kw["marginal_high"] = self.limits(m["marginal"], f"{w} marginal")
            lo, hi = kw["low"], kw["high"]
            ml, mh = kw["marginal_low"], kw["marginal_high"]
            if (lo is not None and ml is not None and ml < lo) or (hi is not None and mh is not None and mh > hi):
                raise self.err(m["marginal"].line, f"{w}: the marginal band must lie inside the limits")
        return Measurement(**kw)

    def limits(self, y: Y, what: str) -> tuple[float | None, float | None]:
        if isinstance(y.value, list):
            if len(y.value) != 2:
                raise self.err(y.line, f"{what} must be [low, high]")
            lo_y, hi_y = y.value
        elif isinstance(y.value, dict):
            m = self.mapping(y, what, ("low", "high"))
            if not m:
                raise self.err(y.line, f"{what} needs 'low', 'high' or both")
            lo_y, hi_y = m.get("low"), m.get("high")
        else:
            raise self.err(y.line, f"{what} must be [low, high] or {{low: .., high: ..}}, not {_show(y.value)}")
        lo = None if lo_y is None or lo_y.value is None else float(self.number(lo_y, f"{what} low"))
        hi = None if hi_y is None or hi_y.value is None else float(self.number(hi_y, f"{what} high"))
        if lo is not None and hi is not None and lo > hi:
            raise self.err(y.line, f"{what}: low {lo:g} is above high {hi:g}")
        return lo, hi

    def scenario(self, root: Y, text: str) -> Scenario:
        top = ("name", "description", "seed", "duration", "tags", "patient", "device", "board",
               "operator", "steps", "expect", "measure")
        m = self.mapping(root, "the scenario", top, ("duration",))
        sc = Scenario(name=Path(self.path).stem, path=self.path, text=text)
        sc.line_of = dict(root.key_lines)
        if "name" in m:
            sc.name = self.text(m["name"], "name")
            if not re.match(r"^[A-Za-z0-9_.-]+$", sc.name):
                raise self.err(m["name"].line, "name may use letters, digits, '_', '.' and '-' only")
        if "description" in m:
            sc.description = self.text(m["description"], "description").strip()
        if "seed" in m:
            sc.seed = int(self.number(m["seed"], "seed", 0, 2**31 - 1, integer=True))
        sc.duration_s = self.duration(m["duration"], "duration")
        if sc.duration_s <= 0:
            raise self.err(m["duration"].line, "duration must be more than 0")
        if "tags" in m:
            if not isinstance(m["tags"].value, list):
                raise self.err(m["tags"].line, "tags must be a list")
            sc.tags = tuple(self.text(t, "tag") for t in m["tags"].value)
        if "patient" in m:
            sc.patient = self.patient(m["patient"])
        if "device" in m:
            sc.device = self.device(m["device"])
        if "board" in m:
            sc.board = self.board(m["board"])
        if "operator" in m:
            sc.operator = self.operator(m["operator"])
        for key, fn, dest in (("steps", self.step, sc.steps), ("expect", self.expectation, sc.expectations),
                              ("measure", self.measurement, sc.measurements)):
            if key in m:
                if not isinstance(m[key].value, list):
                    raise self.err(m[key].line, f"'{key}' must be a list")
                for i, item in enumerate(m[key].value, 1):
                    dest.append(fn(item, i))
        self.check_order(sc)
        return sc

    def check_order(self, sc: Scenario) -> None:
        """Steps that count from the same anchor must come in time order,
        and absolute times must fall inside the run."""
        last: dict[Anchor, tuple[float, int]] = {}
        for s in sc.steps:
            if s.at.absolute and s.at.plus_s > sc.duration_s:
                raise self.err(s.line, f"step at t={s.at.plus_s:g} s is after the end of the run "
                               f"({sc.duration_s:g} s)")
            if s.at.anchor.kind == "end":
                raise self.err(s.line, "a step cannot be timed from the end of the run")
            prev = last.get(s.at.anchor)
            if prev is not None and s.at.plus_s < prev[0]:
                raise self.err(s.line, f"steps out of order: this step at {s.at} comes after one at "
                               f"{When(s.at.anchor, prev[0])} (line {prev[1]})")
            last[s.at.anchor] = (s.at.plus_s, s.line)


def _tables() -> list[str]:
    from hil.fw import firmware_module

    return sorted(firmware_module("heparin").TABLES)


def _kind(v: Any) -> str:
    return "a list" if isinstance(v, list) else "a mapping" if isinstance(v, dict) else _show(v)


def _show(v: Any) -> str:
    if v is None:
        return "nothing"
    if isinstance(v, bool):
        return f"{str(v).lower()}"
    if isinstance(v, list):
        return "a list"
    if isinstance(v, dict):
        return "a mapping"
    return repr(v) if isinstance(v, str) else str(v)


def loads(text: str, path: str = "<scenario>") -> Scenario:
    """Parse and validate scenario text.

    Raises:
        ScenarioError: naming ``path``, the line and what is wrong.
    """
    root = parse_yaml(text, path)
    return _Reader(path).scenario(root, text)


def load(path: str | Path) -> Scenario:
    """Read and validate a scenario file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise ScenarioError(str(path), 0, f"cannot read the file: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise ScenarioError(str(path), 0, "the file is not UTF-8 text") from None
    return loads(text, str(path))


def discover(paths: list[str | Path] | None = None, root: Path | None = None) -> list[Path]:
    """Scenario files: the given files, the YAML files in the given folders,
    bare names looked up in the library; by default the whole library."""
    lib = (root / "scenarios") if root is not None else Path("scenarios")
    out: list[Path] = []
    for p in paths or [lib]:
        q = Path(p)
        if q.is_dir():
            out += sorted(x for x in q.iterdir() if x.suffix in (".yaml", ".yml"))
        elif q.exists():
            out.append(q)
        elif (lib / f"{p}.yaml").exists():
            out.append(lib / f"{p}.yaml")
        else:
            raise ScenarioError(str(p), 0, "no such scenario file, folder or library scenario")
    return out

