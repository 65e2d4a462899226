"""The quantities a measurement may name, each declared once: its name,
unit, description, what a filter names, and how it is measured on a run's
time line. The reader (:mod:`hil.scenario.checks`: names, units, filters),
the checks (:func:`hil.scenario.expect.measure_value`), the free-running
loop's refusals and the table of docs/scenarios.md (:func:`table`) all
read :data:`QUANTITIES`.

A quantity's ``measure(m, tl, lo, hi)`` gets the measurement, the run's
:class:`~hil.scenario.timeline.Timeline` and the window's first and last
ticks, and returns (value or None, the tick it was decided at, a note).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Any, Callable

Value = tuple[float | None, int | None, str]
STATS = ("last", "first", "min", "max", "mean", "change_pct")
# Where a value comes from: the plant's trace (true values, every 10
# virtual seconds: 'stat' applies, and it needs a plant), the board's status
# block at the end of the window, or the run's time line of events.
SOURCES = ("trace", "status", "events")


@dataclass(frozen=True)
class Quantity:
    """A measurable quantity (see the module docstring).

    Attributes:
        name: its name in a measurement's ``quantity:``.
        unit: the unit of its values (``1`` for a count or a fraction).
        source: one of :data:`SOURCES`.
        doc: one line: what it is.
        measure: ``measure(m, tl, lo, hi)``.
        filter: what a ``filter:`` names (``alarm``, ``state``, ``anchor``), None: no filter.
        filter_required: the filter must be given.
    """

    name: str
    unit: str
    source: str
    doc: str
    measure: Callable[[Any, Any, int, int], Value]
    filter: str | None = None
    filter_required: bool = False


# -- how quantities are measured ------------------------------------------------------


def _trace(m: Any, tl: Any, lo: int, hi: int) -> Value:
    """A plant quantity's statistic over the window, from the trace."""
    if not tl.trace_rows:
        return None, hi, "no plant trace (the board reads its own sensors)"
    col = tl.trace_columns.index(m.quantity)
    t_lo, t_hi = tl.t(lo), tl.t(hi)
    vals = [r[col] for r in tl.trace_rows if t_lo - 1e-9 <= r[0] <= t_hi + 1e-9]
    if not vals:
        return None, hi, f"no trace rows between t={t_lo:g} s and t={t_hi:g} s"
    stat: dict[str, Callable[[list[float]], float]] = {
        "last": lambda v: v[-1], "first": lambda v: v[0], "min": min, "max": max,
        "mean": lambda v: sum(v) / len(v),
        "change_pct": lambda v: (v[-1] - v[0]) / v[0] * 100.0 if v[0] else float("nan")}
    return float(stat[m.stat](vals)), hi, f"{m.stat} of {len(vals)} trace rows"


def _delay(m: Any, tl: Any, lo: int, hi: int) -> Value:
    # The filter names one occurrence on the run's time line, as an
    # anchor does: 'alarm:X#2' is the 2nd raise of X in the run.
    t = tl.anchor_tick(m.filter)
    if t is None:
        return None, hi, f"{m.filter} did not happen in the run"
    if t < lo:
        return None, hi, (f"{m.filter} happened at t={tl.t(t):g} s, before the window start "
                          f"t={tl.t(lo):g} s ('#n' counts occurrences in the whole run)")
    if t > hi:
        return None, hi, f"{m.filter} happened at t={tl.t(t):g} s, after the window end t={tl.t(hi):g} s"
    return tl.t(t - lo), t, f"{m.filter} at t={tl.t(t):g} s"


def _state_time(m: Any, tl: Any, lo: int, hi: int) -> Value:
    total = 0
    i = max(0, bisect.bisect_right(tl.status_ticks, lo) - 1)
    ticks = tl.status_ticks[i:] + [hi]
    for k, s in enumerate(tl.statuses[i:]):
        a, b = max(ticks[k], lo), min(ticks[k + 1], hi)
        if b > a and s.state_name == m.filter:
            total += b - a
            # Without power the board is in no state.
            for off_a, off_b in tl.off_windows:
                total -= max(0, min(b, off_b) - max(a, off_a))
    return total * tl.period_s / 3600.0, hi, ""


def _events(tl: Any, lo: int, hi: int, kind: str) -> list[dict[str, Any]]:
    return [e for e in tl.events if lo <= e["tick"] <= hi and e["type"] == kind]


def _count(kind: str, key: str = "") -> Callable[[Any, Any, int, int], Value]:
    """Events of type ``kind`` in the window (those whose ``key`` is the filter, if given)."""
    def measure(m: Any, tl: Any, lo: int, hi: int) -> Value:
        evs = _events(tl, lo, hi, kind)
        return float(sum(1 for e in evs if m.filter is None or e[key] == m.filter)), hi, ""
    return measure


def _bolus_decided(m: Any, tl: Any, lo: int, hi: int) -> Value:
    """The boluses the anticoagulation table decided in the window (the
    ``bolus_u`` of its heparin events), whether or not given yet."""
    evs = _events(tl, lo, hi, "heparin")
    return float(sum(e["bolus_u"] for e in evs)), hi, f"{len(evs)} heparin event(s)"


def _exchange_flow_time(m: Any, tl: Any, lo: int, hi: int) -> Value:
    due = _events(tl, lo, hi, "cartridge_exchange_due")
    if not due:
        return None, hi, "no cartridge exchange fell due in the window"
    return due[0]["flow_time_s"] / 3600.0, due[0]["tick"], f"cartridge {due[0]['cartridge']}"


def _diag(key: str) -> Callable[[Any, Any, int, int], Value]:
    """The largest of a heap figure the board reported in the window (``diag`` steps)."""
    def measure(m: Any, tl: Any, lo: int, hi: int) -> Value:
        reads = [e for e in _events(tl, lo, hi, "diag") if e.get(key) is not None]
        if not reads:
            return None, hi, "no diag step in the window reported it"
        top = max(reads, key=lambda e: e[key])
        return float(top[key]), top["tick"], f"largest of {len(reads)} diag reads, at t={top['t_s']:g} s"
    return measure


def _cartridge_time_lost(m: Any, tl: Any, lo: int, hi: int) -> Value:
    # The first restart in the window: the board's cartridge time in its
    # last status before it (the record the host saw stored) less the time
    # it came back with (what it read back from its flash).
    boots = _events(tl, lo, hi, "boot")
    if not boots:
        return None, hi, "no restart of the board in the window"
    tick = boots[0]["tick"]
    i = bisect.bisect_left(tl.status_ticks, tick)
    if i == 0 or i >= len(tl.statuses):
        return None, tick, f"no status on both sides of the restart at t={tl.t(tick):g} s"
    before, after = tl.statuses[i - 1], tl.statuses[i]
    b, a = before.cartridge_used_s(tl.period_s), after.cartridge_used_s(tl.period_s)
    return b - a, tick, (f"cartridge {before.cartridge}: {b:g} s before the restart at t={tl.t(tick):g} s, "
                         f"cartridge {after.cartridge}: {a:g} s after it")


def _status(get: Callable[[Any], float]) -> Callable[[Any, Any, int, int], Value]:
    """A value of the board's status block in effect at the end of the window."""
    def measure(m: Any, tl: Any, lo: int, hi: int) -> Value:
        s = tl.status_at(hi)
        return (None, hi, "no status from the board") if s is None else (float(get(s)), hi, "")
    return measure


# -- the quantities -----------------------------------------------------------------------

_PLANT = (
    ("IL-6", "pg/mL", "plasma IL-6"), ("TNF-a", "pg/mL", "plasma TNF-a"),
    ("IL-1b", "pg/mL", "plasma IL-1b"), ("IL-10", "pg/mL", "plasma IL-10"),
    ("heparin_u_ml", "U/mL", "plasma heparin"), ("aptt_s", "s", "the patient's true aPTT"),
    ("q_blood_ml_min", "mL/min", "blood flow in the circuit"),
    ("p_access_mmhg", "mmHg", "access pressure"), ("p_pre_mmhg", "mmHg", "pre-cartridge pressure"),
    ("p_return_mmhg", "mmHg", "return pressure"), ("clot_fraction", "1", "the cartridge's clotted fraction"),
    ("extraction_il6", "1", "the cartridge's IL-6 extraction"),
    ("cartridge_index", "1", "the cartridge in use"),
    ("cartridge_age_h", "h", "the cartridge's time in use"), ("plasma_processed_l", "L", "plasma processed"),
    ("pump_ml_min", "mL/min", "the pump's delivery"), ("heparin_u_h", "U/h", "heparin infused"),
    ("heparin_line_u", "U",
     "heparin in the circuit's blood line, not yet in the patient (infusion and boluses)"),
    ("connected", "1", "1 while the patient is connected"), ("endotoxin_eu_ml", "EU/mL", "plasma endotoxin"),
)
_QUANTITIES = (
    *(Quantity(name, unit, "trace", doc, _trace) for name, unit, doc in _PLANT),
    Quantity("delay_s", "s", "events", "from the window start to the anchor's occurrence in the run "
             "(`alarm:X` the first raise of X in the run, `alarm:X#2` the second); no value, so a failure, "
             "if that occurrence lies outside the window", _delay, "anchor", True),
    Quantity("alarm_count", "1", "events", "alarms raised (filter: an alarm id)", _count("alarm", "alarm"),
             "alarm"),
    Quantity("exchange_count", "1", "events", "cartridge exchanges confirmed", _count("cartridge_exchange")),
    Quantity("cartridges_used", "1", "status", "the board's cartridge number",
             _status(lambda s: s.cartridge)),
    Quantity("exchange_flow_time_h", "h", "events",
             "blood-flow time on the cartridge when its exchange fell due", _exchange_flow_time),
    Quantity("state_time_h", "h", "status", "time spent in a state", _state_time, "state", True),
    Quantity("heparin_rate_u_h", "U/h", "status", "the heparin infusion the board runs",
             _status(lambda s: s.heparin_u_h)),
    Quantity("bolus_total_u", "U", "status",
             "heparin boluses the board released into the blood line "
             "(one held while the line stands counts once given; restored at boot)",
             _status(lambda s: s.bolus_total_u)),
    Quantity("bolus_decided_u", "U", "events",
             "heparin boluses the anticoagulation table decided (its heparin events), "
             "given or still held", _bolus_decided),
    Quantity("last_aptt_s", "s", "status", "the last aPTT entered", _status(lambda s: s.last_aptt_s)),
    Quantity("pump_ml_min_fw", "mL/min", "status", "the pump rate the board commands",
             _status(lambda s: s.pump_ml_min)),
    Quantity("heap_total_kb", "KB", "events", "the board's MicroPython heap (largest `diag` read)",
             _diag("heap_total_kb")),
    Quantity("heap_live_kb", "KB", "events", "the board's live heap after a collection (largest `diag` read)",
             _diag("heap_live_kb")),
    Quantity("heap_peak_kb", "KB", "events", "the most heap in use at a frame boundary (largest `diag` read; "
             "a board started with heap statistics only)", _diag("heap_peak_kb")),
    Quantity("board_resets", "1", "events", "restarts (power cuts, watchdog)", _count("boot")),
    Quantity("cartridge_time_lost_s", "s", "events",
             "at the first restart in the window: the board's cartridge time in its last status before "
             "it less the time it came back with (0: the record last stored before the cut; negative: "
             "a newer one)", _cartridge_time_lost),
    Quantity("link_resends", "1", "events", "frames the host sent again",
             lambda m, tl, lo, hi: (float(tl.counters.get("resends", 0)), hi, "")),
)
QUANTITIES: dict[str, Quantity] = {q.name: q for q in _QUANTITIES}


def table() -> str:
    """The docs' table of quantities (docs/scenarios.md, "Measurements")."""
    rows = [f"| `{q.name}` | {q.unit} | {q.source} | {q.filter or ''}"
            f"{' (optional)' if q.filter and not q.filter_required else ''} | {q.doc} |" for q in _QUANTITIES]
    return "\n".join(["| quantity | unit | from | filter | |", "|---|---|---|---|---|", *rows])


__all__ = ["QUANTITIES", "Quantity", "SOURCES", "STATS", "Value", "table"]
