"""Expectations and measurements, decided on the run's virtual time line.

Nothing here reads the wall clock. A run leaves a :class:`Timeline`: the
firmware's events and the harness's own (steps, operator actions, the
state a board boots into) with their virtual ticks, every change of the
board's status block, the windows in which the board had no power (it
drives nothing then: pump 0, clamp closed, heparin 0), and the plant's
trace. Each expectation is decided at a virtual time (when the
awaited alarm came, or when its deadline passed without it) and keeps what
was seen; each measurement has a value, a unit, limits and an outcome of
``pass``, ``marginal`` (inside the limits, outside the marginal band) or
``fail``, in the manner of OpenHTF.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import asdict, dataclass, field
from typing import Any

from hil.transport import frames
from hil.scenario import QUANTITIES, Expectation, Measurement, Step, When
from hil.scenario.alarmlog import judge_log
from hil.scenario.quantities import Value
from hil.scenario.timeline import Timeline

C = frames.C
PRIO = {"low": C.PRIO_LOW, "medium": C.PRIO_MEDIUM, "high": C.PRIO_HIGH}


@dataclass
class Check:
    """The outcome of one expectation or measurement."""

    name: str
    kind: str
    outcome: str                      # pass | marginal | fail
    decided_t_s: float | None
    expected: str
    seen: str
    line: int = 0
    value: float | None = None
    unit: str | None = None
    limits: dict[str, float | None] | None = None
    quantity: str | None = None

    @property
    def failed(self) -> bool:
        return self.outcome == "fail"

    def message(self, path: str) -> str:
        at = f"at t={self.decided_t_s:g} s (virtual)" if self.decided_t_s is not None else "(undecided)"
        kind = "measurement" if self.kind == "measurement" else "expectation"
        return f"{path}:{self.line}: {kind} '{self.name}' {self.outcome.upper()} {at}: " \
               f"expected {self.expected}; saw {self.seen}"

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


def _prio_name(p: int) -> str:
    return C.PRIO_NAMES[p] if 0 <= p < len(C.PRIO_NAMES) else str(p)


def _alarms_between(tl: Timeline, lo: int, hi: int) -> list[dict[str, Any]]:
    return [e for e in tl.events if e["type"] == "alarm" and lo <= e["tick"] <= hi]


def _anchor_missing(x: Expectation, tl: Timeline, w: When, expected: str) -> Check:
    return Check(x.describe(), x.kind, "fail", tl.t(tl.end_tick), expected,
                 f"{w.anchor} never happened in the run (it ended at t={tl.t(tl.end_tick):g} s)", x.line)


def evaluate(x: Expectation, tl: Timeline) -> Check:
    """Decide one expectation on a finished run's time line."""
    if x.kind == "final_state":
        s = tl.status_at(tl.end_tick)
        got = s.state_name if s else "nothing"
        return Check(x.describe(), x.kind, "pass" if got == x.target else "fail", tl.t(tl.end_tick),
                     f"state {x.target} at the end", tl.describe_state(tl.end_tick), x.line)
    if x.kind == "no_alarm":
        return _no_alarm(x, tl)
    if x.kind == "alarm_on":
        return _alarm_on(x, tl)
    if x.kind == "alarm_log":
        outcome, tick, expected, seen = judge_log(x, tl)
        return Check(x.describe(), x.kind, outcome, tl.t(tick), expected, seen, x.line)
    return _within(x, tl)


_Span = tuple[int, int | None, int | None]


def alarm_spans(tl: Timeline, alarm: str) -> list[_Span]:
    """When an alarm was on, from the run's events: ``(raised, ended,
    condition_gone)`` ticks (``ended`` None: still on at the end;
    ``condition_gone`` the tick a latched alarm's condition ended, or None).

    The rules are the firmware's (``firmware/alarms.py``): a raise while the
    alarm is off turns it on, and a high one latches; a raise while it is on
    (an escalation) changes nothing here; ``alarm_clear`` ends its
    condition, and the alarm unless it is latched; ``alarm_ack`` releases a
    latched alarm whose condition has ended; a restart of the board (or its
    power cut) ends everything. The events carry the board's exact ticks on
    either kind of loop, where the status block of a board that keeps its
    own time is seen only at the host's polls.
    """
    spans: list[_Span] = []
    since: int | None = None
    active = latched = False
    gone: int | None = None

    def end(tick: int) -> None:
        nonlocal since, active, latched, gone
        if since is not None:
            spans.append((since, tick, gone))
        since, active, latched, gone = None, False, False, None

    for e in tl.events:
        kind, tick = e["type"], e["tick"]
        if kind == "boot":
            # Off since the power went, if the harness cut it; else since the reset.
            end(next((a for a, b in tl.off_windows if a <= tick <= b), tick))
            continue
        if e.get("alarm") != alarm:
            continue
        if kind == "alarm" and not active:
            if since is None:
                since = tick
            active, latched = True, latched or e["priority"] == "high"
        elif kind == "alarm_clear" and active:
            active = False
            if latched:
                gone = tick
            else:
                end(tick)
        elif kind == "alarm_ack" and latched and not active:
            end(tick)
    if since is not None:
        spans.append((since, None, gone))
    return sorted(spans)


def _status_off(tl: Timeline, alarm: str, since: int, start: int, stop: int) -> int | None:
    """The first tick in ``[start, stop)`` whose status block, reported at or
    after ``since``, shows the alarm neither active nor latched; None if none
    does. The latch is seen here, in the board's own ``latched`` bits (a
    board on its own clock reports them at the host's polls)."""
    bit = 1 << C.ALARM_NAMES.index(alarm)
    i = max(0, bisect.bisect_right(tl.status_ticks, start) - 1)
    for tick, s in zip(tl.status_ticks[i:], tl.statuses[i:]):
        if tick >= stop and tick > start:
            break
        if tick >= since and not (s.active | s.latched) & bit:
            return max(tick, start)
    return None


def _alarm_on(x: Expectation, tl: Timeline) -> Check:
    """The alarm is on (its condition present, or latched until acknowledged)
    from the window's start up to its end (what happens at the end's tick,
    an acknowledgement at ``to: step:ack`` say, is not part of it)."""
    name = x.describe()
    expected = f"alarm {x.target} on (active or latched) from {x.after} to {x.until}"
    start = tl.when_tick(x.after)
    if start is None:
        return _anchor_missing(x, tl, x.after, expected)
    stop = tl.when_tick(x.until)
    if stop is None:
        return _anchor_missing(x, tl, x.until, expected)
    stop = max(start, min(stop, tl.end_tick))
    spans = alarm_spans(tl, x.target)
    span = next((sp for sp in spans if sp[0] <= start and (sp[1] is None or sp[1] > start)), None)
    if span is None:
        before = [sp for sp in spans if sp[0] <= start]
        why = (f"it ended at t={tl.t(before[-1][1]):g} s" if before and before[-1][1] is not None
               else "it had not been raised")
        return Check(name, x.kind, "fail", tl.t(start), expected,
                     f"alarm {x.target} off at t={tl.t(start):g} s: {why}", x.line)
    raised, ended, gone = span
    if ended is not None and ended < stop:
        return Check(name, x.kind, "fail", tl.t(ended), expected,
                     f"alarm {x.target}, raised at t={tl.t(raised):g} s, off at t={tl.t(ended):g} s "
                     f"({tl.describe_state(ended)})", x.line)
    seen_off = _status_off(tl, x.target, raised, start, stop)
    if seen_off is not None:
        return Check(name, x.kind, "fail", tl.t(seen_off), expected,
                     f"alarm {x.target}, raised at t={tl.t(raised):g} s, neither active nor latched in the "
                     f"board's status at t={tl.t(seen_off):g} s ({tl.describe_state(seen_off)})", x.line)
    how = (f", latched with its condition gone from t={tl.t(gone):g} s on" if gone is not None and gone < stop
           else ", its condition present throughout")
    return Check(name, x.kind, "pass", tl.t(stop), expected,
                 f"on from its raise at t={tl.t(raised):g} s until at least t={tl.t(stop):g} s{how}", x.line)


def _no_alarm(x: Expectation, tl: Timeline) -> Check:
    name = x.describe()
    start = tl.when_tick(x.after)
    expected = f"no {'' if x.target == 'any' else x.target + ' '}alarm" + (
        f" of priority {x.priority} or above" if x.priority else "") + f" from {x.after} to {x.until}"
    if start is None:
        return _anchor_missing(x, tl, x.after, expected)
    stop = tl.when_tick(x.until)
    if stop is None:
        stop = tl.end_tick
    stop = min(stop, tl.end_tick)
    for e in _alarms_between(tl, start, stop):
        if x.target != "any" and e["alarm"] != x.target:
            continue
        if x.priority and PRIO[e["priority"]] < PRIO[x.priority]:
            continue
        return Check(name, x.kind, "fail", e["t_s"], expected,
                     f"alarm {e['alarm']} ({e['priority']}) raised at t={e['t_s']:g} s, value {e.get('value')}",
                     x.line)
    return Check(name, x.kind, "pass", tl.t(stop), expected,
                 f"no such alarm from t={tl.t(start):g} s to t={tl.t(stop):g} s", x.line)


def _within(x: Expectation, tl: Timeline) -> Check:
    """An alarm, a state or the pump stopped within a time after an anchor."""
    assert x.within_s is not None
    window = f"within {x.within_s:g} s after {x.after}"
    if x.kind == "alarm":
        expected = f"alarm {x.target}" + (f" of priority {x.priority}" if x.priority else "") + f" {window}"
    elif x.kind == "state":
        expected = f"state {x.target} {window}"
    elif x.kind == "alarm_off":
        expected = f"alarm {x.target} off (neither active nor latched) {window}"
    else:
        expected = f"pump stopped and clamp closed {window}"
    start = tl.when_tick(x.after)
    if start is None:
        return _anchor_missing(x, tl, x.after, expected)
    deadline = start + tl.ticks(x.within_s)
    find = {"alarm": _find_alarm, "state": _find_state, "alarm_off": _find_off}.get(x.kind, _find_stopped)
    found_tick, detail, other_priority = find(x, tl, start, deadline)
    if found_tick is not None and found_tick <= deadline:
        return Check(x.describe(), x.kind, "pass", tl.t(found_tick), expected,
                     f"{detail} (+{tl.t(found_tick - start):g} s)", x.line)
    return _missed(x, tl, expected, start, deadline, found_tick, detail, other_priority)


_Found = tuple[int | None, str, list[dict[str, Any]]]


def _find_alarm(x: Expectation, tl: Timeline, start: int, deadline: int) -> _Found:
    # Any raise of the alarm in the window counts, the first one or a
    # later one (raised again, or escalated to another priority).
    hits = sorted((e for e in tl.events if e["type"] == "alarm" and e["alarm"] == x.target
                   and e["tick"] >= start), key=lambda e: e["tick"])
    good = [e for e in hits if not x.priority or e["priority"] == x.priority]
    other_priority = [e for e in hits if e not in good and e["tick"] <= deadline]
    if good:
        e = good[0]
        return e["tick"], f"alarm {x.target} ({e['priority']}) at t={e['t_s']:g} s, value {e.get('value')}", \
            other_priority
    return None, "", other_priority


def _find_state(x: Expectation, tl: Timeline, start: int, deadline: int) -> _Found:
    # Entered after the anchor (being in it already does not count; the
    # state a board boots into is entered at its boot).
    hits = sorted((e for e in tl.events if e["type"] == "state" and e["to"] == x.target
                   and e["tick"] >= start), key=lambda e: e["tick"])
    if hits:
        how = " (at a restart of the board)" if hits[0].get("cause") == "boot" else ""
        return hits[0]["tick"], f"state {x.target} entered at t={hits[0]['t_s']:g} s{how}", []
    return None, "", []


def _find_stopped(x: Expectation, tl: Timeline, start: int, deadline: int) -> _Found:
    i = max(0, bisect.bisect_right(tl.status_ticks, start) - 1)
    for tick, s in zip(tl.status_ticks[i:], tl.statuses[i:]):
        if s.pump == 0 and not s.clamp_open:
            found_tick = max(tick, start)
            how = ("the board unpowered" if tl.unpowered(found_tick)
                   else f"state {s.state_name}, heparin {s.heparin / 10:g} U/h")
            return found_tick, f"pump 0 mL/min and clamp closed at t={tl.t(found_tick):g} s ({how})", []
    return None, "", []


def _find_off(x: Expectation, tl: Timeline, start: int, deadline: int) -> _Found:
    for raised, ended, _gone in alarm_spans(tl, x.target):
        if raised <= start and (ended is None or ended > start):
            if ended is None:
                return None, "", []
            how = "the board unpowered" if tl.unpowered(ended) else tl.describe_state(ended)
            return ended, f"alarm {x.target} off at t={tl.t(ended):g} s ({how})", []
    return start, f"alarm {x.target} off at t={tl.t(start):g} s", []


def _missed(x: Expectation, tl: Timeline, expected: str, start: int, deadline: int,
            found_tick: int | None, detail: str, other_priority: list[dict[str, Any]]) -> Check:
    """The failure of an expectation not met by its deadline, with what was seen."""
    name = x.describe()
    if deadline > tl.end_tick:
        return Check(name, x.kind, "fail", tl.t(tl.end_tick), expected,
                     f"the run ended at t={tl.t(tl.end_tick):g} s, before the deadline "
                     f"t={tl.t(deadline):g} s; {tl.describe_state(tl.end_tick)}", x.line)
    if other_priority:
        seen = [f"alarm {x.target} by the deadline t={tl.t(deadline):g} s only at another priority: "
                + ", ".join(f"({e['priority']}) at t={e['t_s']:g} s, value {e.get('value')}: "
                            f"priority {e['priority']}, not {x.priority}" for e in other_priority[:5])]
    else:
        seen = [f"nothing by the deadline t={tl.t(deadline):g} s ({tl.describe_state(deadline)})"]
    if found_tick is not None:
        seen.append(f"later: {detail}, {tl.t(found_tick - start):g} s after {x.after}")
    others = [e for e in _alarms_between(tl, start, deadline) if not (x.kind == "alarm" and e["alarm"] == x.target)]
    if others:
        seen.append("alarms in the window: " + ", ".join(
            f"{e['alarm']} ({e['priority']}) at t={e['t_s']:g} s" for e in others[:5]))
    return Check(name, x.kind, "fail", tl.t(deadline), expected, "; ".join(seen), x.line)


def step_result_check(step: Step, tick: int | None, result: str | None, tl: Timeline) -> Check:
    """The expected result of an operator command given in a step."""
    expected = f"the board answers '{step.expect_result}' to step '{step.id}' ({step.describe()})"
    name = f"step {step.id} result {step.expect_result}"
    if tick is None:
        return Check(name, "result", "fail", tl.t(tl.end_tick), expected,
                     f"the step never ran ({step.at} did not happen)", step.line)
    return Check(name, "result", "pass" if result == step.expect_result else "fail", tl.t(tick),
                 expected, f"'{result}' at t={tl.t(tick):g} s ({tl.describe_state(tick)})", step.line)


# -- measurements ---------------------------------------------------------------


def _window(m: Measurement, tl: Timeline) -> tuple[int | None, int | None]:
    lo = tl.when_tick(m.after)
    hi = tl.when_tick(m.until)
    if hi is not None:
        hi = min(hi, tl.end_tick)
    return lo, hi


def measure_value(m: Measurement, tl: Timeline) -> Value:
    """The value of a measurement, the tick it was decided at, and a note
    (each quantity measures itself: :mod:`hil.scenario.quantities`)."""
    lo, hi = _window(m, tl)
    if lo is None:
        return None, tl.end_tick, f"the window start {m.after} never happened"
    if hi is None:
        return None, tl.end_tick, f"the window end {m.until} never happened"
    return QUANTITIES[m.quantity].measure(m, tl, lo, hi)


def limits_text(m: Measurement) -> str:
    def rng(lo: float | None, hi: float | None) -> str:
        if lo is not None and hi is not None:
            return f"{lo:g}..{hi:g}"
        return f">= {lo:g}" if lo is not None else f"<= {hi:g}"

    s = f"{rng(m.low, m.high)} {m.unit}"
    if m.marginal_low is not None or m.marginal_high is not None:
        s += f" (marginal outside {rng(m.marginal_low, m.marginal_high)})"
    return s


def evaluate_measurement(m: Measurement, tl: Timeline) -> Check:
    """Measure, and judge the value against limits and the marginal band."""
    value, tick, note = measure_value(m, tl)
    lim = {"low": m.low, "high": m.high, "marginal_low": m.marginal_low, "marginal_high": m.marginal_high}
    expected = f"{m.quantity} {limits_text(m)}"
    decided = tl.t(tick) if tick is not None else None
    if value is None or math.isnan(value):
        return Check(m.name, "measurement", "fail", decided, expected, f"no value: {note}", m.line,
                     None, m.unit, lim, m.quantity)
    outcome = "pass"
    if (m.low is not None and value < m.low) or (m.high is not None and value > m.high):
        outcome = "fail"
    elif (m.marginal_low is not None and value < m.marginal_low) or (
            m.marginal_high is not None and value > m.marginal_high):
        outcome = "marginal"
    seen = f"{value:.6g} {m.unit}" + (f" ({note})" if note else "")
    return Check(m.name, "measurement", outcome, decided, expected, seen, m.line,
                 round(value, 6), m.unit, lim, m.quantity)


@dataclass
class Verdict:
    """All checks of one run."""

    checks: list[Check] = field(default_factory=list)

    @property
    def outcome(self) -> str:
        if any(c.failed for c in self.checks):
            return "fail"
        return "marginal" if any(c.outcome == "marginal" for c in self.checks) else "pass"

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if c.failed]
