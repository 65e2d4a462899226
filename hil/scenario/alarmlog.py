"""The ``alarm_log`` expectation: the board's stored alarm log, as an
``alarm_log`` step read it, against the alarms the run saw raised.

The log keeps the last ``LOG_LEN`` alarms raised (``firmware/alarms.py``),
each with its therapy time in ticks (counted across restarts), identity,
priority and the value that tripped it, and is stored in flash. Read after
a power cut, it must still hold the alarms raised before the cut. So the
log passes when:

- it has at least as many entries as the run raised alarms before the
  read, up to ``LOG_LEN`` (a board that was not fresh may hold older ones);
- its newest entries are the run's last ``LOG_LEN`` raises, in order, each
  with the same alarm, priority and value;
- its therapy times never go back, and between two entries with no restart
  of the board between them they are as far apart as the run saw the
  raises (a restart stops the board's clock while it has no power).
"""

from __future__ import annotations

from typing import Any

from hil.scenario.model import Expectation
from hil.scenario.timeline import Timeline

# An expectation's verdict: outcome (pass | fail), the tick it was decided
# at, what was expected, what was seen.
Judged = tuple[str, int, str, str]

_LOG_LEN: list[int] = []


def log_len() -> int:
    """The firmware's alarm log length (``firmware/alarms.py`` ``LOG_LEN``)."""
    if not _LOG_LEN:
        from hil.board.firmware import firmware_module

        _LOG_LEN.append(int(firmware_module("alarms").LOG_LEN))
    return _LOG_LEN[0]


def _show(e: dict[str, Any]) -> str:
    unit = e.get("value_unit", "")
    return f"{e['alarm']} ({e['priority']}, value {e.get('value')}{' ' + unit if unit else ''})"


def _read(tl: Timeline, sid: str) -> tuple[int | None, dict[str, Any] | None, list[dict[str, Any]]]:
    """The step's tick, the log it read and the alarms raised before it."""
    idx = next((i for i, e in enumerate(tl.events) if e["type"] == "step" and e["id"] == sid), None)
    if idx is None:
        return None, None, []
    tick = tl.events[idx]["tick"]
    reads = [e for e in tl.events[:idx] if e["type"] == "alarm_log" and e["tick"] == tick]
    read = reads[-1] if reads else None
    return tick, read, [e for e in tl.events[:idx] if e["type"] == "alarm"]


def _same_value(a: Any, b: Any) -> bool:
    """Two alarm values alike: numbers to rounding, names (a state) exactly."""
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return abs(float(a) - float(b)) < 1e-6
    return bool(a == b)


def _mismatch(want: list[dict[str, Any]], got: list[dict[str, Any]], boots: list[int]) -> str | None:
    """What differs between the run's raises and the log's entries, or None."""
    for k, (w, g) in enumerate(zip(want, got)):
        same = (w["alarm"], w["priority"]) == (g["alarm"], g["priority"]) and _same_value(
            w.get("value"), g.get("value"))
        if not same:
            return (f"entry {len(got) - k} from the newest is {_show(g)}; the run raised "
                    f"{_show(w)} at t={w['t_s']:g} s")
        if k == 0:
            continue
        step = g["therapy_tick"] - got[k - 1]["therapy_tick"]
        if step < 0:
            return f"therapy time goes back from {got[k - 1]['therapy_s']:g} s to {g['therapy_s']:g} s"
        restarted = any(want[k - 1]["tick"] < b <= w["tick"] for b in boots)
        if not restarted and step != w["tick"] - want[k - 1]["tick"]:
            return (f"{_show(got[k - 1])} and {_show(g)} are {step} ticks apart in the log, "
                    f"{w['tick'] - want[k - 1]['tick']} ticks in the run, with no restart between")
    return None


def judge_log(x: Expectation, tl: Timeline) -> Judged:
    """Decide an ``alarm_log`` expectation (see the module docstring)."""
    n = log_len()
    expected = (f"the alarm log read at step:{x.target} holds the last {n} alarms raised before it, in "
                "order, with their priority, value and therapy time")
    tick, read, raised = _read(tl, x.target)
    if tick is None:
        return "fail", tl.end_tick, expected, f"step '{x.target}' never ran"
    if read is None:
        return "fail", tick, expected, "no alarm log was read at the step"
    log = read["entries"]
    want = raised[-n:]
    if not len(want) <= len(log) <= n:
        newest = ", ".join(_show(e) for e in log[-3:]) or "nothing"
        seen = f"{len(log)} entries (newest: {newest}); the run raised {len(raised)} alarms"
        return "fail", tick, expected, seen
    boots = [e["tick"] for e in tl.events if e["type"] == "boot" and e["tick"] <= tick]
    got = log[len(log) - len(want):]
    why = _mismatch(want, got, boots)
    if why is not None:
        return "fail", tick, expected, why
    span = f", raised from t={want[0]['t_s']:g} s to t={want[-1]['t_s']:g} s" if want else ""
    return "pass", tick, expected, (f"{len(log)} entries; the newest {len(want)} are the run's alarms{span}; "
                                    f"{len(boots)} restart(s) before the read; {len(raised)} alarms raised")
