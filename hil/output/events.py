"""Firmware events as record entries, in physical units, and the same
entries as record format 2 wrote them.

An entry is ``{"t_s", "type", ...}`` with the event's fields keyed and
scaled by the wire contract (:mod:`hil.transport.contract`): the value
that tripped an alarm in the unit of its reading, named beside it
(``"value": 358.9, "value_unit": "mmHg"``), a heparin rate in U/h, flow
time in seconds. Scenario records (format 3 on), the demo's
``report.json`` and a run's time line all hold these entries.

Record format 2 wrote an alarm's value in wire counts (0.1 mmHg,
0.1 mL/min, ...) without its unit, and the kinds ``audio_pause``,
``override`` and ``restored`` as their raw ``code``, ``a`` and ``b``.
:func:`to_format2` and :func:`from_format2` convert one way and the other:
a recording's digest of its time line is taken in format 2, so recordings
made before format 3 still replay, and :func:`hil.output.record.read_record`
upgrades an older record.
"""

from __future__ import annotations

from typing import Any

from hil.transport import contract
from hil.transport.frames import Event

C = contract.C

# Kinds record format 2 wrote as their raw code, a and b.
RAW_IN_FORMAT2 = ("audio_pause", "override", "restored")
# The alarms' names for people (reports, the dashboard, a log), by the firmware's ids.
ALARM_LABELS: dict[str, str] = {
    "air_in_line": "Air in line",
    "access_pressure_low": "Access pressure low",
    "return_pressure_high": "Return pressure high",
    "return_pressure_low": "Return pressure low",
    "pre_pressure_high": "Pre-cartridge pressure high",
    "no_flow": "No blood flow",
    "flow_low": "Blood flow below 70% of set",
    "clot_suspected": "Clotting suspected",
    "blood_stasis": "Blood standing still",
    "cartridge_exchange_due": "Cartridge exchange due",
    "therapy_complete": "Therapy complete",
    "aptt_check_due": "aPTT check due",
    "power_restored": "Power restored (restarted mid-therapy)",
    "sensor_loss": "Sensor loss",
    "host_link_lost": "Host link lost",
}

_ALARM_ID = contract.EVENTS[C.EV_ALARM_ON].code
assert _ALARM_ID is not None


def fw_event_record(e: Event, period_s: float) -> dict[str, Any]:
    """A firmware event as a record entry, in physical units."""
    return {"t_s": round(e.tick * period_s, 3), "type": e.record_type, **e.fields(period_s)}


def period_of(events: list[dict[str, Any]], default: float = 0.1) -> float:
    """The control period of a time line, from its entries' ``t_s`` and ``tick``."""
    for e in events:
        tick = e.get("tick")
        if isinstance(tick, int) and tick > 0 and isinstance(e.get("t_s"), (int, float)):
            return e["t_s"] / tick
    return default


def _head(e: dict[str, Any]) -> dict[str, Any]:
    return {k: e[k] for k in ("t_s", "tick") if k in e}


def to_format2(e: dict[str, Any], period_s: float) -> dict[str, Any]:
    """A record entry as record format 2 wrote it (entries of other kinds,
    and harness notes, are the same in both)."""
    kind = e.get("type")
    if kind == "alarm" and "value_unit" in e:
        q = contract.ALARM_VALUE.get(_ALARM_ID.wire(e["alarm"]), contract.Quantity("value"))
        out = {k: v for k, v in e.items() if k != "value_unit"}
        out["value"] = q.wire(e["value"], period_s)
        return out
    if kind in RAW_IN_FORMAT2 and "b" not in e:
        _, code, a, b = contract.event_wire(e, period_s)
        return {**_head(e), "type": kind, "code": code, "a": a, "b": b}
    return e


def from_format2(e: dict[str, Any], period_s: float) -> dict[str, Any]:
    """A record entry of format 2 in the current format (the inverse of
    :func:`to_format2`)."""
    kind = e.get("type")
    if kind == "alarm" and "value_unit" not in e:
        code = _ALARM_ID.wire(e["alarm"])
        fields = contract.event_fields(C.EV_ALARM_ON, code, 0, int(e.get("value") or 0), period_s)
        return {**e, "value": fields["value"], "value_unit": fields["value_unit"]}
    if kind in RAW_IN_FORMAT2 and "b" in e:
        fields = contract.event_fields(contract.EVENT_KIND[kind], e["code"], e["a"], e["b"], period_s)
        return {**_head(e), "type": kind, **fields}
    return e


__all__ = ["ALARM_LABELS", "RAW_IN_FORMAT2", "fw_event_record", "from_format2", "period_of", "to_format2"]
