"""Clinical figures of a run, the same for the demo's report and a scenario's:
the board's alarm limits and aPTT target, time in the target range, heparin
per kilogram and per day, boluses.

Everything is computed from the plant's trace (one row per trace interval,
10 virtual seconds by default) and the run's time line (record entries,
:mod:`hil.output.events`), with numpy over the whole trace at once.

Definitions (docs/reports.md, "Figures"):

- the **therapy window** runs from the first heparin given (the firmware's
  ``heparin`` event, or the nurse's IV loading dose) to the end of the run; before it there is no
  anticoagulation to judge;
- **time in range** is the time, within that window, when the patient's
  aPTT (the plant's, not only the lab's results) lies inside the board's
  target band, both edges included; **time above 100 s** likewise
  (aPTT > 100 s: the table's top row, over-anticoagulation);
- **heparin, mean over therapy** is the infusion rate averaged over the
  window (U/h), per kilogram of the patient's weight (U/kg/h), and as a
  daily amount (U/day = mean U/h x 24); boluses (the device's, and the
  nurse's IV loading dose) are counted and summed apart, and those given
  within the window are added in ``total_u_day``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

# aPTT above which a patient is over-anticoagulated (the top row of both
# shipped tables starts above 100 s; firmware/heparin.py).
APTT_HIGH_S = 100.0


@dataclass(frozen=True)
class BoardFacts:
    """What a report needs of the board config: its alarm limits (mmHg,
    mL/min) and its anticoagulation table's name and aPTT target (s)."""

    limits: dict[str, float] = field(default_factory=dict)
    table: str | None = None
    target_s: tuple[float, float] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"limits": dict(self.limits), "table": self.table,
                "target_aptt_s": list(self.target_s) if self.target_s else None}


def board_facts(board: Any, table: str | None = None) -> BoardFacts:
    """The limits and aPTT target of a board config (a name, a path or a
    loaded dict); ``table`` overrides the config's anticoagulation table
    (a scenario's ``device: anticoagulation``). A config this checkout does
    not have gives empty facts: the report then draws no limits."""
    from hil.board.firmware import ConfigError, firmware_module, load_board_config

    try:
        cfg = load_board_config(board) if board is not None else None
    except (ConfigError, OSError, ValueError, KeyError):
        cfg = None
    if not cfg:
        return BoardFacts()
    lim = cfg.get("limits", {})
    limits = {k: float(lim[k]) for k in ("access_low_mmhg", "pre_high_mmhg", "return_low_mmhg",
                                         "return_high_mmhg", "flow_low_pct") if k in lim}
    spec = table or cfg.get("anticoagulation", "cartridge-60-80")
    tables = firmware_module("heparin").TABLES
    if isinstance(spec, str):
        spec = tables.get(spec)
    if not isinstance(spec, dict) or "target" not in spec:
        return BoardFacts(limits)
    lo, hi = spec["target"]          # 0.1 s, as the firmware keeps it
    return BoardFacts(limits, str(spec.get("name", table or "?")), (lo / 10.0, hi / 10.0))


def weight_of(events: list[dict[str, Any]]) -> float | None:
    """The patient's weight (kg) the operator entered (the last ``set_weight``
    command on the time line; its argument is in 0.1 kg), or None."""
    for e in reversed(events):
        if e.get("type") == "command" and e.get("command") == "set_weight" and e.get("result") == "ok":
            return float(e["arg"]) / 10.0
    return None


def boluses(events: list[dict[str, Any]]) -> list[tuple[float, float, str]]:
    """Heparin boluses as (t_s, U, by): the device's (the firmware's ``heparin``
    events with a bolus, ``by`` "device") and the nurse's IV doses (the
    operator's ``heparin_iv`` notes, ``by`` "iv")."""
    out = []
    for e in events:
        if e.get("type") == "heparin" and (e.get("bolus_u") or 0) > 0:
            out.append((float(e["t_s"]), float(e["bolus_u"]), "device"))
        elif e.get("type") == "heparin_iv" and (e.get("units") or 0) > 0:
            out.append((float(e["t_s"]), float(e["units"]), "iv"))
    return out


def _durations(t: np.ndarray, end_s: float) -> np.ndarray:
    """Each trace row stands for the time to the next row (the last: to the end)."""
    return np.diff(np.append(t, max(end_s, float(t[-1]))))


def anticoagulation(t_s: np.ndarray, aptt_s: np.ndarray, heparin_u_h: np.ndarray,
                    events: list[dict[str, Any]], target_s: tuple[float, float] | None,
                    weight_kg: float | None, end_s: float) -> dict[str, Any]:
    """The anticoagulation figures of a run (see the module docstring); the
    figures a run cannot give (no heparin started, no weight, no target)
    are None."""
    bol = boluses(events)
    starts = [float(e["t_s"]) for e in events if e.get("type") in ("heparin", "heparin_iv")]
    out: dict[str, Any] = {
        "target_aptt_s": list(target_s) if target_s else None,
        "window_h": None, "in_range_h": None, "in_range_fraction": None,
        "above_100_s_h": None, "above_100_s_fraction": None,
        "infusion_u_h_mean": None, "infusion_u_kg_h_mean": None, "infusion_u_day_mean": None,
        "bolus_count": len(bol), "boluses_u": round(sum(u for _, u, _ in bol), 1),
        "boluses": [{"t_s": t, "u": u, "by": by} for t, u, by in bol],
        "total_u_day": None, "weight_kg": weight_kg,
    }
    t = np.asarray(t_s, dtype=float)
    if not starts or t.size == 0:
        return out
    t0 = min(starts)
    dt = _durations(t, end_s)
    w = np.where(t >= t0, dt, 0.0)
    window_s = float(w.sum())
    if window_s <= 0:
        return out
    aptt = np.asarray(aptt_s, dtype=float)
    out["window_h"] = round(window_s / 3600.0, 3)
    if target_s is not None:
        inside = (aptt >= target_s[0]) & (aptt <= target_s[1])
        out["in_range_h"] = round(float(w[inside].sum()) / 3600.0, 3)
        out["in_range_fraction"] = round(float(w[inside].sum()) / window_s, 4)
    above = aptt > APTT_HIGH_S
    out["above_100_s_h"] = round(float(w[above].sum()) / 3600.0, 3)
    out["above_100_s_fraction"] = round(float(w[above].sum()) / window_s, 4)
    mean_u_h = float(np.dot(w, np.asarray(heparin_u_h, dtype=float))) / window_s
    out["infusion_u_h_mean"] = round(mean_u_h, 1)
    out["infusion_u_day_mean"] = round(mean_u_h * 24.0, 0)
    bolus_u = sum(u for s, u, _ in bol if s >= t0)
    out["total_u_day"] = round(mean_u_h * 24.0 + bolus_u * 86400.0 / window_s, 0)
    if weight_kg:
        out["infusion_u_kg_h_mean"] = round(mean_u_h / weight_kg, 2)
    return out


__all__ = ["APTT_HIGH_S", "BoardFacts", "anticoagulation", "board_facts", "boluses", "weight_of"]
