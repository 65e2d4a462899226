"""What a board says, for a person: HELLO, DIAG, the status block, the alarm
log and events decoded into names and physical units (the wire contract,
:mod:`hil.transport.contract`), as ``rich`` tables and lines.

Pure functions of decoded replies: nothing here talks to a board.
"""

from __future__ import annotations

from typing import Any

from rich.table import Table

from hil.board.firmware import shipped_config_of
from hil.output.events import ALARM_LABELS, fw_event_record
from hil.transport import contract
from hil.transport.frames import Event, Status

C = contract.C


def _name(table: tuple[str, ...], code: Any, what: str) -> str:
    if isinstance(code, int) and 0 <= code < len(table) and table[code]:
        return table[code]
    return f"{what} {code}"


def state_name(code: Any) -> str:
    return _name(C.STATE_NAMES, code, "state")


def alarm_label(alarm_id: int) -> str:
    """``Air in line`` for 1: the alarm's label for people."""
    name = _name(C.ALARM_NAMES, alarm_id, "alarm")
    return ALARM_LABELS.get(name, name)


def hms(seconds: float) -> str:
    """``12:03:04.5``: hours, minutes, seconds (tenths when there are any)."""
    s = max(0.0, seconds)
    h, rest = divmod(s, 3600)
    m, sec = divmod(rest, 60)
    tenths = f"{sec:04.1f}" if round(sec * 10) % 10 else f"{int(sec):02d}"
    return f"{int(h)}:{int(m):02d}:{tenths}"


def alarms_of(mask: int) -> list[str]:
    """The labels of the alarm ids whose bit is set in ``mask``."""
    return [alarm_label(i) for i in range(1, C.N_ALARMS) if mask & (1 << i)]


def _kv_table(title: str) -> Table:
    t = Table(title=title, show_header=False, title_justify="left", box=None, pad_edge=False)
    t.add_column(style="bold")
    t.add_column()
    return t


def boot_text(boot: dict[str, Any] | None) -> str:
    """A BOOT notice in words."""
    if not isinstance(boot, dict):
        return "-"
    cause = _name(C.RESET_NAMES, boot.get("cause"), "cause").replace("_", " ")
    text = f"boot {boot.get('boots')}, {cause}"
    if isinstance(boot.get("last_tick"), int) and boot["last_tick"] >= 0:
        text += f" at tick {boot['last_tick']}"
    if boot.get("restored"):
        text += f", therapy restored in {state_name(boot.get('state'))}"
    return text


def hello_table(hello: dict[str, Any]) -> Table:
    """The board's identity, its settings and this boot."""
    t = _kv_table("Board")
    digest = hello.get("config")
    shipped = shipped_config_of(digest) if isinstance(digest, str) else None
    period = hello.get("period_ms")
    rows = [
        ("board", f"{hello.get('board')} ({hello.get('hal')} HAL, clock: {hello.get('clock', '?')})"),
        ("machine", hello.get("machine") or "-"),
        ("MicroPython", hello.get("micropython") or f"{hello.get('implementation')} {hello.get('version')}"),
        ("firmware", f"{hello.get('firmware')}, build {hello.get('build') or 'from source'}"),
        ("protocol", str(hello.get("protocol"))),
        ("config", f"{digest or '-'}" + (f" (the shipped config {shipped!r})" if shipped else "")),
        ("control period", f"{period} ms" if period is not None else "-"),
        ("test mode", "yes" if hello.get("test_mode") else "no"),
        ("boot", boot_text(hello.get("boot"))),
    ]
    if "tick" in hello and isinstance(period, int):
        rows.append(("now", f"tick {hello['tick']} ({hms(hello['tick'] * period / 1000)} since boot), "
                            f"{state_name(hello.get('state'))}"))
    for k, v in rows:
        t.add_row(k, v)
    settings = hello.get("settings")
    if isinstance(settings, dict):
        for k in sorted(settings):
            t.add_row(*_setting(k, settings[k]))
    return t


def _setting(key: str, value: Any) -> tuple[str, str]:
    """A setting's label and value with its unit (``flow_min_ml_min`` ->
    ``flow min``, ``150 mL/min``)."""
    for suffix, unit in (("_ml_min", "mL/min"), ("_hours", "h"), ("_s", "s")):
        if key.endswith(suffix):
            label = key if suffix == "_hours" else key[:-len(suffix)]
            return label.replace("_", " "), f"{value} {unit}"
    return key.replace("_", " "), str(value)


# DIAG's keys in the order docs/protocol.md lists them (others follow).
_DIAG_ORDER = ("heap_peak", "heap_total", "mem_alloc", "mem_free", "rx_frames", "rx_errors", "rx_skipped",
               "rx_timeouts", "tx_frames", "events_dropped", "storage_writes", "storage_errors", "boots", "tick_us")


def diag_table(diag: dict[str, Any]) -> Table:
    """Memory, link and storage counters."""
    t = _kv_table("Diagnostics")
    kib = {"heap_peak", "heap_total", "mem_alloc", "mem_free"}
    keys = [k for k in _DIAG_ORDER if k in diag] + sorted(k for k in diag if k not in _DIAG_ORDER)
    for k, v in ((k, diag[k]) for k in keys):
        if k == "heap_peak" and v == -1:
            t.add_row("heap peak", "not measured (the board runs without --heap-stats)")
        elif k in kib and isinstance(v, int) and v >= 0:
            t.add_row(k.replace("_", " "), f"{v / 1024:.1f} KiB ({v} bytes)")
        elif k == "tick_us" and isinstance(v, int):
            t.add_row("time in control ticks", f"{v / 1e6:.3f} s since boot (sim HAL's STEP frames)")
        else:
            t.add_row(k.replace("_", " "), str(v))
    return t


def status_table(s: Status, period_s: float) -> Table:
    """The status block in names and units."""
    t = _kv_table("Status")
    rows = [
        ("tick", f"{s.tick} ({hms(s.tick * period_s)} since boot)"),
        ("state", s.state_name),
        ("cartridge", f"{s.cartridge}, {hms(s.cartridge_used_s(period_s))} of blood flow on it"),
        ("top alarm", _name(C.PRIO_NAMES, s.top_priority, "priority")),
        ("alarms present", ", ".join(alarms_of(s.active)) or "none"),
        ("awaiting acknowledgement", ", ".join(alarms_of(s.latched)) or "none"),
        ("alarm sound", "on" if s.flags & contract.P.F_AUDIBLE else "off"),
        ("blood pump", f"{s.pump_ml_min:g} mL/min (set point {s.flow_set_ml_min:g} mL/min)"),
        ("venous clamp", "open" if s.clamp_open else "closed"),
        ("heparin", f"{s.heparin_u_h:g} U/h" + (", on hold" if s.flags & contract.P.F_HEPARIN_HOLD else "")),
        ("heparin boluses", f"{s.bolus_total_u:g} U released into the line (this therapy, kept across restarts)"),
        ("last aPTT", f"{s.last_aptt_s:g} s" if s.last_aptt else "none entered"),
        ("weight", f"{s.weight_kg:g} kg" if s.weight else "not set"),
    ]
    if s.events_dropped:
        rows.append(("events dropped", str(s.events_dropped)))
    for k, v in rows:
        t.add_row(k, v)
    return t


def status_line(s: Status, period_s: float) -> str:
    """One line of status, for a stream."""
    alarms = ", ".join(alarms_of(s.active)) or "no alarm"
    return (f"{hms(s.tick * period_s):>11}  {s.state_name:<8} pump {s.pump_ml_min:g}/{s.flow_set_ml_min:g} "
            f"mL/min  clamp {'open' if s.clamp_open else 'closed'}  heparin {s.heparin_u_h:g} U/h  "
            f"cartridge {s.cartridge}  {alarms}")


def event_line(e: Event, period_s: float) -> str:
    """One event in words and units: ``0:12:03.4  alarm  Air in line (high), 200 mL/min``."""
    rec = fw_event_record(e, period_s)
    kind = rec.pop("type")
    rec.pop("t_s")
    if kind == "alarm":
        value = rec.get("value")
        unit = rec.get("value_unit") or ""
        tail = f", {value} {unit}".rstrip() if value is not None else ""
        text = f"{alarm_label(e.code)} ({rec.get('priority')}){tail}"
    elif kind in ("alarm_clear", "alarm_ack"):
        text = f"{alarm_label(e.code)} ({rec.get('priority')})"
    elif kind == "state":
        text = f"{rec.get('from')} -> {rec.get('to')}"
    else:
        text = ", ".join(f"{k} {_unit_of(k, v)}" for k, v in rec.items())
    return f"{hms(e.tick * period_s):>11}  {kind:<22} {text}"


def _unit_of(key: str, value: Any) -> str:
    for suffix, unit in (("_u_h", "U/h"), ("_u", "U"), ("_s", "s"), ("_ml", "mL"), ("_ml_min", "mL/min")):
        if key.endswith(suffix):
            return f"{value} {unit}"
    return str(value)


def log_table(log: dict[str, Any]) -> Table:
    """The stored alarm log, oldest first: therapy time, alarm, priority, value."""
    period_s = (log.get("period_ms") or 100) / 1000.0
    t = Table(title="Alarm log (therapy time, oldest first)", title_justify="left")
    for col in ("therapy time", "alarm", "priority", "value"):
        t.add_column(col)
    for entry in log.get("entries", []):
        tick, alarm, prio, value = (list(entry) + [0, 0, 0, 0])[:4]
        q = contract.ALARM_VALUE.get(alarm)
        shown = "-"
        if q is not None and q.physical_unit is not None:
            v = q.physical(value, period_s)
            unit = q.physical_unit
            shown = str(v) if unit == "state" else f"cartridge {v}" if unit == "cartridge" else f"{v} {unit}"
        t.add_row(hms(tick * period_s), alarm_label(alarm), _name(C.PRIO_NAMES, prio, "priority"), shown)
    return t


__all__ = ["alarm_label", "alarms_of", "boot_text", "diag_table", "event_line", "hello_table", "hms",
           "log_table", "state_name", "status_line", "status_table"]
