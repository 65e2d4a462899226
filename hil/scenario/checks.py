"""Reading a scenario's expectations and measurements."""

from __future__ import annotations

from typing import Any

from hil.scenario.model import PRIORITY_NAMES, Expectation, Measurement, ALARM_NAMES, STATE_NAMES
from hil.scenario.quantities import QUANTITIES, STATS
from hil.scenario.source import Y, _show


class _CheckReader:
    """Mixin of the reader: expectations, measurements and limits."""

    path: str
    log_steps: list[str]

    def expectation(self, y: Y, index: int) -> Expectation:
        kinds = ("alarm", "state", "pump_stopped", "no_alarm", "final_state", "alarm_on", "alarm_off",
                 "alarm_log")
        m = self.mapping(y, f"expectation {index}", kinds + ("priority", "within", "after", "from", "to", "name"))
        kind = self.exactly_one(y, f"expectation {index}", "kind", kinds, m)
        w = f"expectation {index} ({kind})"
        kw: dict[str, Any] = {"kind": kind, "line": y.line}
        if "name" in m:
            kw["name"] = self.text(m["name"], "expectation name")
        allowed: dict[str, tuple[str, ...]] = {
            "alarm": ("priority", "within", "after"), "state": ("within", "after"),
            "pump_stopped": ("within", "after"), "no_alarm": ("priority", "from", "to"),
            "final_state": (), "alarm_on": ("from", "to"), "alarm_off": ("within", "after"),
            "alarm_log": (),
        }
        for k in ("priority", "within", "after", "from", "to"):
            if k in m and k not in allowed[kind]:
                raise self.err(m[k].line, f"'{k}' does not apply to a '{kind}' expectation")
        if kind in ("alarm", "alarm_on", "alarm_off"):
            kw["target"] = self.text(m[kind], "alarm", ALARM_NAMES)
        elif kind == "alarm_log":
            kw["target"] = self.log_read(m["alarm_log"], w)
        elif kind in ("state", "final_state"):
            kw["target"] = self.text(m[kind], "state", STATE_NAMES)
        elif kind == "pump_stopped":
            self.flag(m["pump_stopped"], w)
            kw["target"] = "stopped"
        else:
            kw["target"] = self.text(m["no_alarm"], "alarm", ALARM_NAMES + ("any",))
        if kind == "alarm_on" and "from" not in m:
            raise self.err(y.line, f"{w} is missing the required key 'from'")
        if kind in ("alarm", "state", "pump_stopped", "alarm_off"):
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

    def log_read(self, y: Y, what: str) -> str:
        """The id of the earlier ``alarm_log`` step an ``alarm_log`` expectation judges."""
        reads = self.log_steps
        name = self.text(y, what)
        sid = name[len("step:"):] if name.startswith("step:") else None
        if sid is None or sid not in reads:
            known = ", ".join(f"step:{r}" for r in reads) or "none in this file"
            raise self.err(y.line, f"{what} names '{name}'; it must name a step that reads the alarm log "
                           f"(step:<id> of an 'alarm_log' step; known: {known})")
        return sid

    def measurement(self, y: Y, index: int) -> Measurement:
        m = self.mapping(y, f"measurement {index}",
                         ("name", "quantity", "unit", "stat", "from", "to", "limits", "marginal", "filter"),
                         ("name", "quantity", "limits"))
        name = self.text(m["name"], "measurement name")
        w = f"measurement '{name}'"
        q = self.text(m["quantity"], "quantity", tuple(QUANTITIES))
        quantity = QUANTITIES[q]
        unit = quantity.unit
        if "unit" in m:
            given = self.text(m["unit"], f"{w} unit")
            if given != unit:
                raise self.err(m["unit"].line, f"{w}: quantity {q} is in {unit}, not {given}")
        kw: dict[str, Any] = {"name": name, "quantity": q, "unit": unit, "line": y.line}
        if "stat" in m:
            if quantity.source != "trace":
                raise self.err(m["stat"].line, f"{w}: 'stat' applies to plant quantities only (those of "
                               f"the plant's trace); {q} is measured from the {quantity.source}")
            kw["stat"] = self.text(m["stat"], "statistic", STATS)
        if "from" in m:
            kw["after"] = self.when(m["from"], f"{w} from")
        if "to" in m:
            kw["until"] = self.when(m["to"], f"{w} to")
        needs = quantity.filter
        if "filter" in m:
            if needs is None:
                raise self.err(m["filter"].line, f"{w}: quantity {q} takes no filter")
            kw["filter"] = self.anchor(m["filter"], f"{w} filter") if needs == "anchor" else self.text(
                m["filter"], needs, {"alarm": ALARM_NAMES, "state": STATE_NAMES}[needs])
        elif quantity.filter_required:
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
