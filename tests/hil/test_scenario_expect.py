"""Expectations and measurements decided on a synthetic time line (no
board): outcomes, the virtual time of the decision, and what was seen."""

from __future__ import annotations

from dataclasses import replace

from hil.transport import frames
from hil.scenario.expect import Timeline, evaluate, evaluate_measurement
from hil.scenario import loads

C = frames.C
S0 = frames.Status(tick=0, state=C.RUNNING, cartridge=1, top_priority=0, flags=1, pump=2000, flow_set=2000,
                   heparin=1260, last_aptt=700, bolus_total=1400, cartridge_used=0, active=0, latched=0,
                   weight=700, events_dropped=0)


def _timeline() -> Timeline:
    tl = Timeline(0.1)
    tl.add_status(0, S0)
    tl.add_event(100, {"type": "step", "id": "air", "action": "air"})
    tl.add_event(101, {"type": "alarm", "alarm": "air_in_line", "priority": "high", "value": 1900})
    tl.add_event(101, {"type": "state", "to": "safe", "from": "running"})
    tl.add_status(101, replace(S0, state=C.SAFE, flags=0, pump=0, heparin=0, latched=1 << C.AL_AIR))
    tl.add_event(2000, {"type": "state", "to": "paused", "from": "safe"})
    tl.add_status(2000, replace(S0, state=C.PAUSED, flags=0, pump=0, heparin=0))
    tl.trace_columns = ("t_s", "aptt_s")
    tl.trace_rows = [(t * 10.0, 60.0 + t) for t in range(31)]
    tl.end_tick = 3000
    return tl


def _checks(body: str) -> list:
    sc = loads("duration: 300 s\nsteps:\n  - id: air\n    at: 10 s\n    air: 1\n" + body, "s.yaml")
    tl = _timeline()
    return [evaluate(x, tl) for x in sc.expectations] + [evaluate_measurement(m, tl) for m in sc.measurements]


def test_alarm_in_time_passes_at_the_virtual_time_it_came() -> None:
    (c,) = _checks("expect:\n  - alarm: air_in_line\n    priority: high\n    within: 0.2 s\n    after: step:air\n")
    assert c.outcome == "pass" and c.decided_t_s == 10.1
    assert "air_in_line (high) at t=10.1 s" in c.seen


def test_wrong_priority_fails() -> None:
    (c,) = _checks("expect:\n  - alarm: air_in_line\n    priority: medium\n    within: 1 s\n    after: step:air\n")
    assert c.outcome == "fail" and "priority high, not medium" in c.seen


def test_missing_alarm_fails_at_its_deadline_and_says_what_came_instead() -> None:
    (c,) = _checks("expect:\n  - alarm: no_flow\n    within: 5 s\n    after: step:air\n")
    assert c.outcome == "fail" and c.decided_t_s == 15.0
    assert "nothing by the deadline t=15 s" in c.seen and "air_in_line (high) at t=10.1 s" in c.seen
    msg = c.message("s.yaml")
    assert msg.startswith("s.yaml:7: expectation 'alarm no_flow within 5 s after step:air' FAIL at t=15 s")


def test_deadline_after_the_end_of_the_run() -> None:
    (c,) = _checks("expect:\n  - state: running\n    within: 1 h\n    after: step:air\n")
    assert c.outcome == "fail" and "before the deadline" in c.seen and c.decided_t_s == 300.0


def test_pump_stopped_state_and_final_state() -> None:
    a, b, c = _checks("expect:\n  - pump_stopped: true\n    within: 0.1 s\n    after: step:air\n"
                      "  - state: paused\n    within: 200 s\n    after: alarm:air_in_line\n"
                      "  - final_state: paused\n")
    assert (a.outcome, a.decided_t_s) == ("pass", 10.1)
    assert (b.outcome, b.decided_t_s) == ("pass", 200.0)
    assert c.outcome == "pass"


def test_no_alarm_window() -> None:
    a, b = _checks("expect:\n  - no_alarm: any\n    to: step:air\n"
                   "  - no_alarm: any\n    priority: high\n    from: step:air\n")
    assert a.outcome == "pass" and a.decided_t_s == 10.0
    assert b.outcome == "fail" and b.decided_t_s == 10.1 and "air_in_line" in b.seen


def test_measurements_pass_marginal_fail_with_units() -> None:
    ok, marginal, bad, delay = _checks(
        "measure:\n"
        "  - {name: a, quantity: aptt_s, stat: first, limits: [50, 70]}\n"
        "  - {name: b, quantity: aptt_s, stat: last, limits: [50, 100], marginal: [50, 80]}\n"
        "  - {name: c, quantity: aptt_s, stat: max, to: 100 s, limits: {high: 65}}\n"
        "  - {name: d, quantity: delay_s, filter: alarm:air_in_line, from: step:air, limits: [0, 0.2]}\n")
    assert (ok.outcome, ok.value, ok.unit) == ("pass", 60.0, "s")
    assert (marginal.outcome, marginal.value) == ("marginal", 90.0)
    assert bad.outcome == "fail" and bad.value == 70.0 and bad.decided_t_s == 100.0
    assert "aptt_s <= 65 s" in bad.expected
    assert delay.outcome == "pass" and delay.value == 0.1


# -- one meaning of 'alarm:X#N': the Nth raise in the run, anchor or filter --------


def _two_air_alarms() -> Timeline:
    tl = _timeline()
    tl.add_event(500, {"type": "alarm", "alarm": "air_in_line", "priority": "high", "value": 1900})
    return tl


def _decide(body: str, tl: Timeline, duration: str = "300 s") -> list:
    sc = loads(f"duration: {duration}\nsteps:\n  - id: air\n    at: 10 s\n    air: 1\n" + body, "s.yaml")
    return [evaluate(x, tl) for x in sc.expectations] + [evaluate_measurement(m, tl) for m in sc.measurements]


def test_nth_alarm_is_the_nth_in_the_run_as_filter_as_well_as_anchor() -> None:
    # Raised at t=10.1 s and t=50 s; the window starts at t=20 s. The 2nd in
    # the run is the one at 50 s, whether it is an anchor or a filter.
    tl = _two_air_alarms()
    anchored, delay = _decide(
        "expect:\n"
        "  - {alarm: air_in_line, within: 0.1 s, after: 'alarm:air_in_line#2'}\n"
        "measure:\n"
        "  - {name: d, quantity: delay_s, filter: 'alarm:air_in_line#2', from: 20 s, limits: [0, 100]}\n", tl)
    # As an anchor: the window of the expectation opens at the 2nd raise, t=50 s.
    assert anchored.outcome == "pass" and anchored.decided_t_s == 50.0
    # As a filter: the same raise, 30 s after a window that opens at t=20 s.
    assert delay.outcome == "pass" and delay.value == 30.0 and delay.decided_t_s == 50.0


def test_filter_names_an_occurrence_of_the_run_even_before_the_window() -> None:
    # 'alarm:air_in_line' is the 1st raise in the run (t=10.1 s), as an
    # anchor; as a filter it is the same one, outside a window from t=20 s.
    tl = _two_air_alarms()
    (delay,) = _decide(
        "measure:\n"
        "  - {name: d, quantity: delay_s, filter: 'alarm:air_in_line', from: 20 s, limits: [0, 100]}\n", tl)
    assert delay.outcome == "fail" and delay.value is None
    assert "t=10.1 s" in delay.seen and "before the window" in delay.seen


# -- alarm with priority: any raise in the window at that priority counts ---------


def _escalating() -> Timeline:
    tl = _timeline()
    # Raised at medium, raised again at high 10 min later (an escalation).
    tl.add_event(1000, {"type": "alarm", "alarm": "cartridge_exchange_due", "priority": "medium", "value": 1})
    tl.add_event(7000, {"type": "alarm", "alarm": "cartridge_exchange_due", "priority": "high", "value": 1})
    tl.end_tick = 10000
    return tl


def test_alarm_priority_is_met_by_a_later_escalation_in_the_window() -> None:
    due = "after: 'alarm:cartridge_exchange_due'"
    ok, late, medium = _decide(
        "expect:\n"
        f"  - {{alarm: cartridge_exchange_due, priority: high, within: 11 min, {due}}}\n"
        f"  - {{alarm: cartridge_exchange_due, priority: high, within: 5 min, {due}}}\n"
        f"  - {{alarm: cartridge_exchange_due, priority: medium, within: 1 s, {due}}}\n",
        _escalating(), duration="1000 s")
    assert ok.outcome == "pass" and ok.decided_t_s == 700.0
    assert "cartridge_exchange_due (high) at t=700 s" in ok.seen
    # Not in time: decided at the deadline, saying what came and what came later.
    assert late.outcome == "fail" and late.decided_t_s == 400.0
    assert "priority medium, not high" in late.seen and "later" in late.seen and "t=700 s" in late.seen
    assert medium.outcome == "pass" and medium.decided_t_s == 100.0


def test_status_and_event_quantities_measure_from_the_registry() -> None:
    # At t=5 s the board runs (heparin 126 U/h, aPTT 70 s, bolus 1400 U, pump 200 mL/min);
    # it is safe from t=10.1 s to t=200 s.
    checks = _checks("measure:\n" + "".join(
        f"  - {{name: {q}, quantity: {q}, to: 5 s, limits: [0, 10000]}}\n" for q in (
            "heparin_rate_u_h", "last_aptt_s", "bolus_total_u", "pump_ml_min_fw", "cartridges_used")) +
        "  - {name: alarms, quantity: alarm_count, limits: [0, 10]}\n"
        "  - {name: no_flow, quantity: alarm_count, filter: no_flow, limits: [0, 10]}\n"
        "  - {name: safe, quantity: state_time_h, filter: safe, limits: [0, 1]}\n"
        "  - {name: resets, quantity: board_resets, limits: [0, 0]}\n"
        "  - {name: due, quantity: exchange_flow_time_h, limits: [0, 30]}\n")
    got = {c.name: (c.value, c.unit) for c in checks}
    assert got["heparin_rate_u_h"] == (126.0, "U/h") and got["last_aptt_s"] == (70.0, "s")
    assert got["bolus_total_u"] == (1400.0, "U") and got["pump_ml_min_fw"] == (200.0, "mL/min")
    assert got["cartridges_used"] == (1.0, "1") and got["alarms"][0] == 1.0 and got["no_flow"][0] == 0.0
    assert got["safe"] == (round(1899 * 0.1 / 3600, 6), "h") and got["resets"][0] == 0.0
    due = checks[-1]
    assert due.outcome == "fail" and "no cartridge exchange fell due" in due.seen
