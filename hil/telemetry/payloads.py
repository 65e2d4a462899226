"""The JSON payloads of the topic tree, in physical units (docs/telemetry.md).

Built from what the run's bus carries (a status block, a firmware event,
the HELLO) with the wire contract's conversions (:mod:`hil.transport.contract`):
nothing here multiplies or divides a wire integer itself. Pressures and the
measured blood flow are not in the status block: a closed loop takes them
from the plant (its circuit model at that tick); a board on its own clock
gives none (``null``).
"""

from __future__ import annotations

import json
import math
from typing import Any

from hil.output.events import ALARM_LABELS
from hil.transport import contract, frames

C = frames.C
P = frames.P

# The alarms' names for people: hil.output.events.ALARM_LABELS (re-exported).

# The quantities of the status payload that the page shows, with their units.
QUANTITIES: dict[str, str] = {
    "t_s": "s",
    "state": "",
    "blood_flow_ml_min": "mL/min",
    "flow_set_ml_min": "mL/min",
    "pump_ml_min": "mL/min",
    "p_access_mmhg": "mmHg",
    "p_pre_mmhg": "mmHg",
    "p_return_mmhg": "mmHg",
    "heparin_u_h": "U/h",
    "aptt_s": "s",
    "cartridge": "",
    "cartridge_left_h": "h",
}

# Plant trace columns that stand for the sensor readings (host/plant.py TRACE_COLUMNS).
SENSOR_COLUMNS = ("p_access_mmhg", "p_pre_mmhg", "p_return_mmhg", "q_blood_ml_min")


def dumps(payload: dict[str, Any]) -> bytes:
    """Compact UTF-8 JSON, as published."""
    return json.dumps(payload, separators=(",", ":"), allow_nan=False).encode()


def alarm_names(mask: int) -> list[str]:
    """The alarm ids whose bit is set in a status block's alarm mask."""
    names = C.ALARM_NAMES
    return [names[i] for i in range(1, len(names)) if mask & (1 << i)]


def _r(value: float | None, digits: int = 1) -> float | None:
    """Rounded; None for nothing or for a value that is not a finite number."""
    if value is None:
        return None
    v = float(value)
    return round(v, digits) if math.isfinite(v) else None


def status_payload(tick: int, st: frames.Status, period_s: float, sensors: dict[str, float] | None,
                   cartridge_hours: float | None) -> dict[str, Any]:
    """The ``status`` payload of a status block at run tick ``tick``.

    Args:
        sensors: the plant's readings (:data:`SENSOR_COLUMNS`), or None when
            the run has no plant (the pressures are then null and the blood
            flow is the pump's commanded rate).
        cartridge_hours: hours of blood flow per cartridge (the board's
            ``therapy.cartridge_hours``), None if unknown.
    """
    used_s = st.cartridge_used_s(period_s)
    aptt = st.last_aptt_s
    sensed = sensors is not None
    flow = sensors["q_blood_ml_min"] if sensed else st.pump_ml_min
    return {
        "t_s": round(tick * period_s, 3),
        "state": st.state_name,
        "blood_flow_ml_min": _r(flow),
        "flow_set_ml_min": _r(st.flow_set_ml_min),
        "pump_ml_min": _r(st.pump_ml_min),
        "p_access_mmhg": _r(sensors["p_access_mmhg"]) if sensed else None,
        "p_pre_mmhg": _r(sensors["p_pre_mmhg"]) if sensed else None,
        "p_return_mmhg": _r(sensors["p_return_mmhg"]) if sensed else None,
        "heparin_u_h": _r(st.heparin_u_h),
        "aptt_s": _r(aptt) if aptt else None,
        "cartridge": st.cartridge,
        "cartridge_used_h": round(used_s / 3600.0, 4),
        "cartridge_left_h": (round(max(0.0, cartridge_hours - used_s / 3600.0), 4)
                             if cartridge_hours is not None else None),
        "top_priority": contract.STATUS["top_priority"].physical(st.top_priority),
        "alarms": alarm_names(st.active),
        "latched": alarm_names(st.latched),
        "clamp_open": st.clamp_open,
        "audible": bool(st.flags & P.F_AUDIBLE),
        "heparin_hold": bool(st.flags & P.F_HEPARIN_HOLD),
        "bolus_total_u": st.bolus_total_u,
        "weight_kg": _r(st.weight_kg),
        "sensors": "plant" if sensed else "none",
    }


def alarm_payload(e: frames.Event, period_s: float, escalation: bool = False) -> dict[str, Any]:
    """The ``alarms`` payload of an alarm raised (kind 2) or cleared (kind 3)."""
    fields = e.fields(period_s)
    name = fields["alarm"]
    active = e.kind == C.EV_ALARM_ON
    out = {"id": name, "code": e.code, "label": ALARM_LABELS.get(name, name),
           "priority": fields["priority"], "active": active, "t_s": round(e.tick * period_s, 3),
           "value": fields.get("value") if active else None,
           "unit": fields.get("value_unit") if active else None}
    if escalation:
        out["escalation"] = True
    return out


def event_payload(e: frames.Event, period_s: float) -> dict[str, Any]:
    """The ``events`` payload of a firmware event: its record entry
    (``{"t_s", "type", ...}``, docs/protocol.md "Units")."""
    return {"t_s": round(e.tick * period_s, 3), "type": e.record_type, **e.fields(period_s)}


def boot_payload(tick: int, notice: dict[str, Any], period_s: float) -> dict[str, Any]:
    """The ``events`` payload of a board restart (its BOOT notice)."""
    cause = notice.get("cause")
    if isinstance(cause, int) and 0 <= cause < len(C.RESET_NAMES):
        cause = C.RESET_NAMES[cause]
    state = notice.get("state")
    if isinstance(state, int) and 0 <= state < len(C.STATE_NAMES):
        state = C.STATE_NAMES[state]
    return {"t_s": round(tick * period_s, 3), "type": "board_restart", "cause": cause, "state": state}


_HELLO_KEYS = ("implementation", "version", "firmware", "board", "hal", "clock", "period_ms", "test_mode")


def limits_of(config: dict[str, Any] | None) -> dict[str, Any]:
    """The alarm and therapy limits the page draws, from a loaded board config."""
    if not config:
        return {}
    lim, th = config.get("limits", {}), config.get("therapy", {})
    return {
        "p_access_mmhg": {"low": lim.get("access_low_mmhg")},
        "p_pre_mmhg": {"high": lim.get("pre_high_mmhg")},
        "p_return_mmhg": {"low": lim.get("return_low_mmhg"), "high": lim.get("return_high_mmhg")},
        "blood_flow_ml_min": {"low_pct_of_set": lim.get("flow_low_pct"), "min": th.get("flow_min_ml_min"),
                              "max": th.get("flow_max_ml_min")},
        "cartridge_hours": th.get("cartridge_hours"),
        "max_cartridges": th.get("max_cartridges"),
    }


def info_payload(board: str, hello: dict[str, Any], config: dict[str, Any] | None,
                 commands: tuple[str, ...], extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The retained ``info`` payload: who the board is, its limits, which
    commands this run takes over MQTT (empty: none), and what the run adds
    (``speed``, ``run``)."""
    return {"board_id": board, "firmware": {k: hello.get(k) for k in _HELLO_KEYS if k in hello},
            "limits": limits_of(config), "commands": list(commands),
            "quantities": QUANTITIES, "alarm_labels": ALARM_LABELS, **(extra or {})}


__all__ = ["ALARM_LABELS", "QUANTITIES", "SENSOR_COLUMNS", "alarm_names", "alarm_payload", "boot_payload",
           "dumps", "event_payload", "info_payload", "limits_of", "status_payload"]
