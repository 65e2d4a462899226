"""The scenario language's alarm checks on synthetic time lines (no board):
``alarm_on`` and ``alarm_off`` by the firmware's latching rules, the
``alarm_log`` expectation against the run's raises, the ``heap_*``
measurements from ``diag`` reads, the ``host_silent`` step, and the reader's
errors for each. One run on the virtual board checks the library's therapy in a 64 KB
heap (``board: {heapsize: 64K}``) with ``diag`` reads."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from hil.run.runner import RunOptions, run_scenario
from hil.scenario import ACTIONS, ScenarioError, load, loads
from hil.scenario.actions import log_entry
from hil.scenario.alarmlog import log_len
from hil.scenario.expect import Timeline, alarm_spans, evaluate, evaluate_measurement
from hil.transport import frames

C = frames.C
HEAD = "duration: 300 s\noperator: {scripted: false}\nsteps:\n  - {id: ack, at: 10 s, acknowledge: true}\n" \
       "  - {id: log, at: 20 s, alarm_log: true}\n"


def _raise(tl: Timeline, tick: int, alarm: str, priority: str, value: Any = 1.0) -> None:
    tl.add_event(tick, {"type": "alarm", "alarm": alarm, "priority": priority, "value": value})


def _ev(tl: Timeline, tick: int, kind: str, alarm: str) -> None:
    tl.add_event(tick, {"type": kind, "alarm": alarm, "priority": "high"})


def _latched_timeline() -> Timeline:
    """return_pressure_high raised at 5 s, its condition gone at 6 s, acknowledged at 10 s;
    flow_low (medium) on from 12 s to 14 s."""
    tl = Timeline(0.1)
    _raise(tl, 50, "return_pressure_high", "high", 400.0)
    _ev(tl, 60, "alarm_clear", "return_pressure_high")
    tl.add_event(100, {"type": "step", "id": "ack", "action": "acknowledge"})
    _ev(tl, 100, "alarm_ack", "return_pressure_high")
    _raise(tl, 120, "flow_low", "medium", 100.0)
    _ev(tl, 140, "alarm_clear", "flow_low")
    tl.end_tick = 3000
    return tl


def _checks(body: str, tl: Timeline) -> list:
    sc = loads(HEAD + body, "a.yaml")
    return [evaluate(x, tl) for x in sc.expectations] + [evaluate_measurement(m, tl) for m in sc.measurements]


def test_a_high_alarm_is_on_while_latched_and_off_from_its_acknowledgement() -> None:
    tl = _latched_timeline()
    on, off = _checks("expect:\n  - {alarm_on: return_pressure_high, from: 7 s, to: step:ack}\n"
                      "  - {alarm_off: return_pressure_high, within: 0.1 s, after: step:ack}\n", tl)
    assert on.outcome == "pass" and "latched with its condition gone from t=6 s" in on.seen
    assert off.outcome == "pass" and off.decided_t_s == 10.0


S0 = frames.Status(tick=0, state=C.RUNNING, cartridge=1, top_priority=0, flags=1, pump=2000, flow_set=2000,
                   heparin=1260, last_aptt=700, bolus_total=0, cartridge_used=0, active=0, latched=0,
                   weight=700, events_dropped=0)


def test_a_high_alarm_the_board_does_not_latch_fails_alarm_on() -> None:
    # The events a firmware that forgot to latch would send: raised, cleared
    # with its condition, nothing at the acknowledgement; its status says off.
    tl = _latched_timeline()
    tl.events = [e for e in tl.events if e["type"] != "alarm_ack"]
    bit = 1 << C.AL_RETURN_HIGH
    tl.add_status(50, replace(S0, state=C.SAFE, active=bit, latched=bit))
    tl.add_status(60, replace(S0, state=C.SAFE))
    (on,) = _checks("expect:\n  - {alarm_on: return_pressure_high, from: 7 s, to: step:ack}\n", tl)
    assert on.outcome == "fail" and on.decided_t_s == 7.0 and "neither active nor latched" in on.seen
    # The same with the latch in the status block passes.
    tl.statuses[-1] = replace(S0, state=C.SAFE, latched=bit)
    (on2,) = _checks("expect:\n  - {alarm_on: return_pressure_high, from: 7 s, to: step:ack}\n", tl)
    assert on2.outcome == "pass"


def test_a_medium_alarm_that_ended_fails_alarm_on() -> None:
    tl = _latched_timeline()
    (on,) = _checks("expect:\n  - {alarm_on: flow_low, from: 12 s, to: 20 s}\n", tl)
    assert on.outcome == "fail" and on.decided_t_s == 14.0 and "off at t=14 s" in on.seen


def test_a_medium_alarm_is_off_with_its_condition() -> None:
    tl = _latched_timeline()
    off, late = _checks("expect:\n  - {alarm_off: flow_low, within: 2.5 s, after: 12 s}\n"
                        "  - {alarm_off: flow_low, within: 1 s, after: 12 s}\n", tl)
    assert off.outcome == "pass" and off.decided_t_s == 14.0
    assert late.outcome == "fail" and "later: alarm flow_low off at t=14 s" in late.seen


def test_latched_alarm_stays_on_until_an_ack_after_its_condition_ended() -> None:
    tl = Timeline(0.1)
    _raise(tl, 10, "air_in_line", "high")
    _ev(tl, 20, "alarm_clear", "air_in_line")
    _raise(tl, 30, "air_in_line", "high")     # raised again while latched: the same span
    _ev(tl, 40, "alarm_clear", "air_in_line")
    _ev(tl, 50, "alarm_ack", "air_in_line")
    _raise(tl, 60, "flow_low", "medium")
    _raise(tl, 70, "flow_low", "high")        # an escalation: no latch
    _ev(tl, 80, "alarm_clear", "flow_low")
    tl.end_tick = 100
    assert alarm_spans(tl, "air_in_line") == [(10, 50, 40)]
    assert alarm_spans(tl, "flow_low") == [(60, 80, None)]


def test_a_restart_ends_every_alarm_at_the_power_cut() -> None:
    tl = Timeline(0.1)
    _raise(tl, 10, "air_in_line", "high")
    tl.off_windows.append((50, 350))
    tl.add_event(350, {"type": "boot", "cause": "power_on"})
    _raise(tl, 350, "power_restored", "high", "safe")
    tl.end_tick = 400
    assert alarm_spans(tl, "air_in_line") == [(10, 50, None)]
    assert alarm_spans(tl, "power_restored") == [(350, None, None)]


def _log_timeline(raises: int, boot_at: int | None = None) -> Timeline:
    tl = Timeline(0.1)
    for k in range(raises):
        tick = 10 + 10 * k
        if boot_at is not None and tick >= boot_at:
            tick += 300
        _raise(tl, tick, "air_in_line", "high", float(k))
    if boot_at is not None:
        tl.add_event(boot_at + 300, {"type": "boot", "cause": "power_on"})
        tl.events.sort(key=lambda e: e["tick"])
    tl.end_tick = 100000
    return tl


def _read_log(tl: Timeline, tick: int, entries: list[list[int]]) -> None:
    tl.add_event(tick, {"type": "alarm_log", "entries": [log_entry(e, 0.1) for e in entries]})
    tl.add_event(tick, {"type": "step", "id": "log", "action": "alarm_log"})


def _stored(raises: int) -> list[list[int]]:
    """What the board stores of ``_log_timeline``'s raises: its therapy ticks
    stand still while it is off (the 300 ticks of a restart)."""
    out = [[10 + 10 * k, C.AL_AIR, C.PRIO_HIGH, round(k / 0.1)] for k in range(raises)]
    return out[-log_len():]


def test_alarm_log_holding_the_runs_alarms_passes() -> None:
    tl = _log_timeline(3, boot_at=25)
    _read_log(tl, 5000, _stored(3))
    (c,) = _checks("expect:\n  - {alarm_log: step:log}\n", tl)
    assert c.outcome == "pass", c.seen
    assert "3 entries" in c.seen and "1 restart(s)" in c.seen


def test_alarm_log_keeps_only_the_last_32() -> None:
    n = log_len()
    assert n == 32
    tl = _log_timeline(n + 5)
    _read_log(tl, 5000, _stored(n + 5))
    (c,) = _checks("expect:\n  - {alarm_log: step:log}\n", tl)
    assert c.outcome == "pass", c.seen
    tl2 = _log_timeline(n + 5)
    _read_log(tl2, 5000, [[10 + 10 * k, C.AL_AIR, C.PRIO_HIGH, k * 10] for k in range(n)])   # the oldest 32
    (c2,) = _checks("expect:\n  - {alarm_log: step:log}\n", tl2)
    assert c2.outcome == "fail" and "entry 32 from the newest" in c2.seen


@pytest.mark.parametrize("damage, seen", [
    (lambda e: e[:-1], "2 entries"),                                       # an entry lost in the cut
    (lambda e: [e[0], [e[1][0], C.AL_AIR, C.PRIO_MEDIUM, e[1][3]], e[2]], "(medium"),  # wrong priority
    (lambda e: [e[0], [e[1][0] + 7, *e[1][1:]], e[2]], "7 ticks apart"),  # wrong therapy time
])
def test_alarm_log_that_lost_or_changed_an_entry_fails(damage: Any, seen: str) -> None:
    tl = _log_timeline(3)
    _read_log(tl, 5000, damage(_stored(3)))
    (c,) = _checks("expect:\n  - {alarm_log: step:log}\n", tl)
    assert c.outcome == "fail" and seen in c.seen


def test_heap_measurements_take_the_largest_diag_read() -> None:
    tl = Timeline(0.1)
    for tick, live in ((100, 50.5), (200, 57.25)):
        tl.add_event(tick, {"type": "diag", "heap_total_kb": 63.1, "heap_live_kb": live,
                            "heap_peak_kb": None})
    tl.end_tick = 3000
    live, peak = _checks("measure:\n  - {name: live, quantity: heap_live_kb, limits: [0, 60]}\n"
                         "  - {name: peak, quantity: heap_peak_kb, limits: [0, 64]}\n", tl)
    assert live.outcome == "pass" and live.value == 57.25 and live.decided_t_s == 20.0
    assert peak.outcome == "fail" and "no diag step" in peak.seen


@pytest.mark.parametrize("body, where, says", [
    ("expect:\n  - {alarm_on: flow_low, to: end}\n", 7, "missing the required key 'from'"),
    ("expect:\n  - {alarm_off: flow_low, after: 5 s}\n", 7, "missing the required key 'within'"),
    ("expect:\n  - {alarm_on: flow_low, from: 5 s, within: 2 s}\n", 7, "'within' does not apply"),
    ("expect:\n  - {alarm_log: step:ack}\n", 7, "must name a step that reads the alarm log"),
    ("expect:\n  - {alarm_off: flow_lo, within: 1 s}\n", 7, "unknown alarm 'flow_lo'"),
    ("  - {id: quiet, at: 30 s, host_silent: soon}\n", 6, "must be a duration"),
    ("  - {id: b, at: 30 s, air: 1 s, repeat: {times: 1, every: 1 s}}\n", 6, "times must be 2..1000"),
    ("  - {id: b, at: 30 s, air: 1 s, repeat: {times: 3, every: 0}}\n", 6, "every must be more than 0"),
    ("  - {id: b, at: 30 s, air: 1 s, repeat: {times: 3}}\n", 6, "missing the required key 'every'"),
])
def test_reader_errors_name_the_line(body: str, where: int, says: str) -> None:
    with pytest.raises(ScenarioError) as e:
        loads(HEAD + body, "a.yaml")
    assert f"a.yaml:{where}:" in str(e.value) and says in str(e.value)


def test_host_silent_on_a_board_on_the_host_clock_does_nothing() -> None:
    run = SimpleNamespace(session=SimpleNamespace(free=False), loop=SimpleNamespace())
    assert ACTIONS["host_silent"].apply(run, {"value": 3600.0}).startswith("no effect")
    # A replay of a board on its own clock does not wait either.
    free = SimpleNamespace(session=SimpleNamespace(free=True), loop=SimpleNamespace(sleep=False))
    said = ACTIONS["host_silent"].apply(free, {"value": 3600.0})
    assert said == "the host sent nothing for 3600 s (wall clock)"


@pytest.mark.verifies("SR-MEM-1")
def test_a_therapy_runs_in_the_64k_heap_its_scenario_asks_for() -> None:
    sc = load(Path(__file__).resolve().parents[2] / "scenarios" / "therapy_heap_64k.yaml")
    assert sc.board.heapsize == "64K"
    r = run_scenario(sc)    # no heapsize in the options: the scenario's board key sets it
    assert r.outcome == "pass", r.failure_messages()
    heap = {c.name: c.value for c in r.verdict.checks if c.kind == "measurement"}
    assert heap["heap"] is not None and heap["heap"] <= 64
    # Heap statistics were on (the scenario measures heap_peak_kb).
    assert heap["peak_heap"] is not None and 0 < heap["peak_heap"] <= 64
    assert 0 < r.diag["heap_peak"] <= r.diag["heap_total"] <= 64 * 1024


@pytest.mark.parametrize("board, message", [
    ("{heapsize: 64}", "board heapsize must be a size in K or M such as 64K, not 64"),
    ("{heapsize: 64KB}", "board heapsize must be a size in K or M such as 64K, not '64KB'"),
    ("{heapsize: 8K}", "board heapsize must be 32K..1M, not 8K"),
    ("{port: /dev/ttyACM0, heapsize: 64K}",
     "board heapsize sets the virtual board's MicroPython heap; the board on port '/dev/ttyACM0' "
     "has its own heap"),
])
def test_a_wrong_board_heapsize_is_an_error_on_its_line(board: str, message: str) -> None:
    with pytest.raises(ScenarioError) as e:
        loads(f"duration: 1 h\nboard: {board}\n", "h.yaml")
    assert str(e.value).startswith("h.yaml:2: ") and message in str(e.value)


def test_a_heapsize_scenario_is_skipped_on_a_board_on_a_port() -> None:
    sc = loads("duration: 1 h\nboard: {heapsize: 64K}\n", "h.yaml")
    r = run_scenario(sc, RunOptions(port="/dev/null-no-such-board"))
    assert r.outcome == "skip"
    assert "runs in a 64K heap" in (r.error or "") and "has its own heap" in (r.error or "")


def test_a_repeated_step_is_that_many_steps_sharing_its_id() -> None:
    sc = loads("duration: 1 h\nsteps:\n"
               "  - {id: burst, at: {after: running, plus: 2 s}, air: 0.2 s,\n"
               "     repeat: {times: 3, every: 1.5 s}}\n"
               "  - {id: after, at: {after: step:burst#3, plus: 1 s}, pause: true}\n", "r.yaml")
    bursts = [s for s in sc.steps if s.id == "burst"]
    assert [s.at.plus_s for s in bursts] == [2.0, 3.5, 5.0] and len(sc.steps) == 4
    tl = Timeline(0.1)
    for tick in (20, 35, 50):
        tl.add_event(tick, {"type": "step", "id": "burst", "action": "air"})
    assert tl.when_tick(sc.steps[-1].at) == 60
