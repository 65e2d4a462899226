"""The reader: located YAML checked against the schema, section by
section, raising :class:`ScenarioError` with the line of what is wrong.
Steps and checks are read by the mixins of :mod:`hil.scenario.steps` and
:mod:`hil.scenario.checks`."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from hil.scenario.model import (
    EVENT_TYPES, Anchor, When, SEVERITIES, OPERATOR_FIELDS, Patient, Device, BoardSpec, Scenario,
    ALARM_NAMES, STATE_NAMES)
from hil.board.firmware import ConfigError, TherapyLimits
from hil.scenario.source import ScenarioError, Y, _kind, _show, parse_duration
from hil.scenario.checks import _CheckReader
from hil.scenario.steps import _StepReader

# The virtual board's MicroPython heap a scenario may ask for (KB): the
# firmware does not boot in much less; a Pico 2 has 520 KB of RAM in all.
HEAP_RANGE_KB = (32, 1024)
# Anchors "<kind>:<name>" whose names are a fixed list.
_NAMED_ANCHORS = {"alarm": ALARM_NAMES, "state": STATE_NAMES, "event": EVENT_TYPES}


class _Reader(_StepReader, _CheckReader):
    """Validates located YAML against the schema, raising ScenarioError."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.step_ids: set[str] = set()
        self.log_steps: list[str] = []     # ids of the steps that read the alarm log

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

    def exactly_one(self, y: Y, what: str, noun: str, names: tuple[str, ...], m: dict[str, Y]) -> str:
        """The one key of ``m`` among ``names``; an error if there are none or more."""
        present = [k for k in m if k in names]
        if len(present) != 1:
            raise self.err(y.line, f"{what} must have exactly one {noun} ({', '.join(names)}), it has "
                           f"{len(present) or 'none'}" + (f": {', '.join(present)}" if present else ""))
        return present[0]

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
        if sep and kind in _NAMED_ANCHORS:
            known = _NAMED_ANCHORS[kind]
            if rest not in known:
                raise self.err(y.line, f"unknown {kind} '{rest}' in {what}; known: {', '.join(known)}")
            return Anchor(kind, rest, nth)
        if sep and kind == "step":
            if rest not in self.step_ids:
                raise self.err(y.line, f"{what} refers to step '{rest}', which no earlier step has as id")
            return Anchor("step", rest, nth)
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

    def device(self, y: Y, board: BoardSpec, board_line: int) -> Device:
        from host.cartridge import PRESETS

        m = self.mapping(y, "device", ("cartridge", "flow_ml_min", "anticoagulation"))
        kw: dict[str, Any] = {}
        if "cartridge" in m:
            kw["cartridge"] = self.text(m["cartridge"], "cartridge", tuple(sorted(PRESETS)))
        if "flow_ml_min" in m:
            lim = self.therapy_limits(board, board_line)
            kw["flow_ml_min"] = int(self.number(m["flow_ml_min"], f"device flow_ml_min (board config "
                                                f"'{board.config}')", lim.flow_min_ml_min,
                                                lim.flow_max_ml_min, integer=True))
        if "anticoagulation" in m:
            kw["anticoagulation"] = self.text(m["anticoagulation"], "anticoagulation table",
                                              tuple(_tables()))
        return Device(**kw)

    def therapy_limits(self, board: BoardSpec, line: int) -> TherapyLimits:
        """The therapy limits of the scenario's board config (its flow range)."""
        try:
            return TherapyLimits.of(board.config)
        except (ConfigError, OSError) as e:
            raise self.err(line, f"board config '{board.config}' cannot be read: {e}") from None

    def verifies(self, y: Y) -> tuple[str, ...]:
        """``verifies: [SR-..., ...]``: requirement ids, each one known."""
        from hil.trace.registry import check_ids

        if not isinstance(y.value, list) or not y.value:
            raise self.err(y.line, "verifies must be a non-empty list of requirement ids such as [SR-AIR-1]")
        ids = [(self.text(item, "requirement id in verifies"), item.line) for item in y.value]
        return check_ids(ids, self.path)   # RegistryError is a ScenarioError: file and line

    def board(self, y: Y) -> BoardSpec:
        m = self.mapping(y, "board", ("config", "port", "timeout_s", "heapsize"))
        kw: dict[str, Any] = {}
        if "config" in m:
            kw["config"] = self.text(m["config"], "board config")
        if "port" in m:
            kw["port"] = self.text(m["port"], "board port")
        if "timeout_s" in m:
            kw["timeout_s"] = float(self.number(m["timeout_s"], "board timeout_s", 0.05, 60))
        if "heapsize" in m:
            kw["heapsize"] = self.heapsize(m["heapsize"])
            if "port" in m:
                raise self.err(m["heapsize"].line, "board heapsize sets the virtual board's MicroPython "
                               f"heap; the board on port '{kw['port']}' has its own heap: drop one of them")
        return BoardSpec(**kw)

    def heapsize(self, y: Y) -> str:
        """A MicroPython heap size, ``64K`` or ``1M`` (as ``micropython -X heapsize=``),
        within :data:`HEAP_RANGE_KB`."""
        v = y.value
        match = re.fullmatch(r"([0-9]+)([KM])", v) if isinstance(v, str) else None
        if match is None:
            raise self.err(y.line, f"board heapsize must be a size in K or M such as 64K, not {_show(v)}")
        kb = int(match.group(1)) * (1024 if match.group(2) == "M" else 1)
        lo, hi = HEAP_RANGE_KB
        if not lo <= kb <= hi:
            raise self.err(y.line, f"board heapsize must be {lo}K..{hi // 1024}M, not {v}")
        return v

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

    def scenario(self, root: Y, text: str) -> Scenario:
        top = ("name", "verifies", "description", "seed", "duration", "tags", "patient", "device", "board",
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
        if "verifies" in m:
            sc.verifies = self.verifies(m["verifies"])
        if "patient" in m:
            sc.patient = self.patient(m["patient"])
        if "board" in m:
            sc.board = self.board(m["board"])
        if "device" in m:
            board_line = m["board"].line if "board" in m else m["device"].line
            sc.device = self.device(m["device"], sc.board, board_line)
        if "operator" in m:
            sc.operator = self.operator(m["operator"])
        for key, fn, dest in (("steps", self.steps, sc.steps), ("expect", self.expectation, sc.expectations),
                              ("measure", self.measurement, sc.measurements)):
            if key in m:
                if not isinstance(m[key].value, list):
                    raise self.err(m[key].line, f"'{key}' must be a list")
                for i, item in enumerate(m[key].value, 1):
                    got = fn(item, i)
                    dest.extend(got if isinstance(got, list) else [got])
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
    from hil.board.firmware import firmware_module

    return sorted(firmware_module("heparin").TABLES)
