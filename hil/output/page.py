"""The HTML of a report, the same for the demo and a scenario run: a heading,
the firmware block, tables of figures, the figure of
:mod:`hil.output.charts`, and the run's events as a table with units
(docs/reports.md). Self-contained: one file, no script, no request to
another host.
"""

from __future__ import annotations

import html
from typing import Any

from hil.output.events import ALARM_LABELS

ESC = html.escape

# Event kinds in words.
EVENT_WORDS = {
    "alarm": "Alarm raised", "alarm_clear": "Alarm cleared", "alarm_ack": "Alarms acknowledged",
    "state": "State change", "primed": "Circuit primed", "heparin": "Heparin started or changed",
    "aptt_drawn": "aPTT drawn", "aptt_entered": "aPTT entered", "patient_connected": "Patient connected",
    "cartridge_exchange": "Cartridge exchanged", "cartridge_exchange_due": "Cartridge exchange due",
    "command": "Command", "step": "Scenario step", "board_restart": "Board restarted",
    "aborted": "Run stopped", "audio_pause": "Alarm sound paused", "override": "Override",
    "restored": "Therapy restored after restart", "heparin_iv": "Heparin IV bolus (nurse)",
}
# Field names in words (others: their name, underscores as spaces).
FIELD_WORDS = {"bolus_u": "bolus", "table_row": "table row", "true_aptt_s": "true aPTT", "why": "reason",
               "flow_time_s": "blood-flow time", "units": "dose", "lab_aptt_s": "lab aPTT",
               "volume_ml": "volume", "cartridge": "cartridge", "arg": "argument"}
# Field name endings and their units.
_SUFFIX_UNITS = (("_ml_min", "mL/min"), ("_mmhg", "mmHg"), ("_u_h", "U/h"), ("_u_kg", "U/kg"),
                 ("_u", "U"), ("_ml", "mL"), ("_kg", "kg"), ("_h", "h"), ("_s", "s"))
# The main value of an event kind: (field, unit field or unit).
_MAIN = {"alarm": ("value", "value_unit"), "heparin_iv": ("units", "U"), "heparin": ("rate_u_h", "U/h"), "aptt_entered": ("aptt_s", "s"),
         "aptt_drawn": ("lab_aptt_s", "s"), "primed": ("volume_ml", "mL")}
_SKIP = ("t_s", "tick", "type")

CSS = """body{font-family:sans-serif;margin:2em;max-width:1400px;color:#222}
table{border-collapse:collapse;margin:0.5em 0 1.5em}
td,th{border:1px solid #ccc;padding:2px 8px;text-align:left;vertical-align:top}
th{background:#f3f3f3}td.num{text-align:right;font-variant-numeric:tabular-nums}
img{max-width:100%}.bad{color:#b00}.high{color:#d62728;font-weight:bold}.medium{color:#a07800}
.low{color:#0f8a99}"""


def unit_of(key: str) -> str:
    """The unit a field's name ends in (``rate_u_h``: U/h), or ''."""
    for suffix, unit in _SUFFIX_UNITS:
        if key.endswith(suffix):
            return unit
    return ""


def _unit(key: str) -> str:
    return "U" if key == "units" else unit_of(key)


def _num(v: Any) -> str:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return ESC(str(v))
    return f"{v:,.1f}" if isinstance(v, float) and v != int(v) else f"{v:,.0f}"


def event_row(e: dict[str, Any]) -> str:
    """One event as a table row: time (h), event, subject, priority, value,
    unit, the other fields with their units."""
    kind = str(e.get("type"))
    subject = ""
    if "alarm" in e:
        subject = ALARM_LABELS.get(str(e["alarm"]), str(e["alarm"]))
    elif kind == "state":
        subject = f"{e.get('from', '?')} \u2192 {e.get('to', '?')}"
    elif kind == "command":
        subject = str(e.get("command", ""))
    elif kind == "step":
        subject = str(e.get("detail", e.get("id", "")))
    main = _MAIN.get(kind)
    value, unit = "", ""
    used = {"alarm", "priority", "from", "to", "command", "detail"}
    if main is not None and e.get(main[0]) is not None:
        value = _num(e[main[0]])
        unit = str(e.get(main[1], "")) if main[1] in e else main[1]
        used |= {main[0], main[1]}
    rest = ", ".join(f"{FIELD_WORDS.get(k, k.replace('_', ' '))} {_num(v)} {_unit(k)}".rstrip()
                     for k, v in e.items() if k not in _SKIP and k not in used and v is not None)
    prio = str(e.get("priority", "")) if kind in ("alarm", "alarm_clear", "alarm_ack") else ""
    return (f"<tr><td class=num>{e['t_s'] / 3600:.3f}</td><td>{ESC(EVENT_WORDS.get(kind, kind))}</td>"
            f"<td>{ESC(subject)}</td><td class='{ESC(prio)}'>{ESC(prio)}</td><td class=num>{value}</td>"
            f"<td>{ESC(unit)}</td><td>{ESC(rest)}</td></tr>")


def event_table(events: list[dict[str, Any]]) -> str:
    head = ("<tr><th>time (h)</th><th>event</th><th>alarm / subject</th><th>priority</th>"
            "<th>value</th><th>unit</th><th>other fields</th></tr>")
    return f"<table>{head}{''.join(event_row(e) for e in events)}</table>"


def firmware_block(fw: dict[str, Any]) -> str:
    """The firmware's identity as the board reported it in HELLO (the
    ``machine`` line only when the board sends it)."""
    rows = [("firmware version", fw.get("firmware_version", fw.get("firmware"))),
            ("MicroPython", f"{fw.get('implementation') or ''} {fw.get('version') or ''}".strip() or None),
            ("machine", fw.get("machine")), ("board config", fw.get("board")), ("HAL", fw.get("hal")),
            ("protocol", fw.get("protocol"))]
    body = "".join(f"<tr><th>{ESC(k)}</th><td>{ESC(str(v))}</td></tr>" for k, v in rows if v is not None)
    return f"<h2>Firmware</h2><table>{body}</table>"


def figures_table(title: str, rows: list[tuple[str, Any, str]]) -> str:
    """A table of (figure, value, unit)."""
    body = "".join(f"<tr><th>{ESC(n)}</th><td class=num>{'-' if v is None else _num(v)}</td>"
                   f"<td>{ESC(u)}</td></tr>" for n, v, u in rows)
    return f"<h2>{ESC(title)}</h2><table><tr><th>figure</th><th>value</th><th>unit</th></tr>{body}</table>"


def anticoagulation_rows(a: dict[str, Any]) -> list[tuple[str, Any, str]]:
    """The anticoagulation figures (:func:`hil.output.clinical.anticoagulation`) as table rows."""
    tgt = a.get("target_aptt_s")
    pct = (lambda f: None if f is None else round(100.0 * f, 1))
    return [
        ("aPTT target (the board's table)", f"{tgt[0]:g}-{tgt[1]:g}" if tgt else None, "s"),
        ("therapy window (first heparin start to end)", a.get("window_h"), "h"),
        ("time in the aPTT target range", a.get("in_range_h"), "h"),
        ("time in the aPTT target range", pct(a.get("in_range_fraction")), "% of window"),
        ("time with aPTT above 100 s", a.get("above_100_s_h"), "h"),
        ("time with aPTT above 100 s", pct(a.get("above_100_s_fraction")), "% of window"),
        ("heparin infusion, mean over therapy", a.get("infusion_u_h_mean"), "U/h"),
        ("heparin infusion, mean over therapy", a.get("infusion_u_kg_h_mean"), "U/kg/h"),
        ("heparin infusion, mean over therapy", a.get("infusion_u_day_mean"), "U/day"),
        ("heparin boluses (device and IV)", a.get("bolus_count"), "count"),
        ("heparin boluses (device and IV), total", a.get("boluses_u"), "U"),
        ("heparin, infusion and boluses", a.get("total_u_day"), "U/day"),
    ]


def page(title: str, intro: str, blocks: list[str], figure_b64: str, events: list[dict[str, Any]]) -> str:
    """The whole page."""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{ESC(title)}</title>
<style>{CSS}</style></head><body>
<h1>{ESC(title)}</h1>
{intro}
{''.join(blocks)}
<h2>Course of the run</h2>
<img alt="cytokines, anticoagulation, pressures, blood flow and events on one time axis"
 src="data:image/png;base64,{figure_b64}">
<h2>Events</h2>
{event_table(events)}
</body></html>
"""


__all__ = ["EVENT_WORDS", "anticoagulation_rows", "event_row", "event_table", "figures_table",
           "firmware_block", "page", "unit_of"]
