"""A power cut seen right: the state the board boots into is a state
entered at that virtual time, and while the power is off the board drives
nothing (pump 0, clamp closed, heparin 0) for expectations, measurements
and the trace."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from hil.output.record import write_record
from hil.run.runner import run_scenario
from hil.scenario import loads

TEXT = """\
name: cut_while_running
seed: 3
duration: 40 min
operator:
  lab_turnaround_min: 10
steps:
  - id: cut
    at: {after: running, plus: 1 min}
    power_cut: 30 s
expect:
  - name: safe after the restart
    state: safe
    within: 31 s
    after: step:cut
  - name: stopped at the cut
    pump_stopped: true
    within: 0.1 s
    after: step:cut
measure:
  - name: safe_delay
    quantity: delay_s
    filter: safe
    from: step:cut
    limits: [30, 30]
  - name: pump_while_off
    quantity: pump_ml_min_fw
    to: {after: step:cut, plus: 10 s}
    limits: [0, 0]
  - name: heparin_while_off
    quantity: heparin_rate_u_h
    to: {after: step:cut, plus: 10 s}
    limits: [0, 0]
"""


@pytest.fixture(scope="module")
def cut(tmp_path_factory: pytest.TempPathFactory):
    r = run_scenario(loads(TEXT, "cut_while_running.yaml"))
    assert r.outcome in ("pass", "fail"), r.error
    out = tmp_path_factory.mktemp("cut")
    write_record(r, out)
    cut_t = next(e["t_s"] for e in r.timeline.events if e["type"] == "step" and e["id"] == "cut")
    return r, out, cut_t


def _check(r, name: str):
    return next(c for c in r.verdict.checks if c.name == name)


def test_state_the_board_boots_into_is_entered_at_boot(cut) -> None:
    r, _, cut_t = cut
    c = _check(r, "safe after the restart")
    assert c.outcome == "pass", c.seen
    assert c.decided_t_s == pytest.approx(cut_t + 30)
    d = _check(r, "safe_delay")
    assert d.outcome == "pass" and d.value == 30.0
    boot = [e for e in r.timeline.events if e["type"] == "state" and e.get("cause") == "boot"]
    assert len(boot) == 1 and boot[0]["to"] == "safe" and boot[0]["from"] == "running"
    assert boot[0]["t_s"] == pytest.approx(cut_t + 30)


def test_outputs_are_off_while_the_power_is_cut(cut) -> None:
    r, out, cut_t = cut
    c = _check(r, "stopped at the cut")
    assert c.outcome == "pass", c.seen
    assert c.decided_t_s == cut_t
    for name in ("pump_while_off", "heparin_while_off"):
        m = _check(r, name)
        assert (m.outcome, m.value) == ("pass", 0.0), m.seen
    tl = r.timeline
    tick = tl.ticks(cut_t + 10)
    assert tl.describe_state(tick).startswith("board unpowered")
    # The trace: every row while the power is off shows the outputs off.
    with open(out / "cut_while_running.trace.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    off = [row for row in rows if cut_t < float(row["t_s"]) < cut_t + 30]
    assert len(off) == 3
    for row in off:
        assert row["state"] == "off"
        assert float(row["pump_ml_min"]) == 0 and float(row["heparin_u_h"]) == 0
    before = [row for row in rows if float(row["t_s"]) < cut_t]
    assert before[-1]["state"] == "running" and float(before[-1]["pump_ml_min"]) == 200
    after = [row for row in rows if float(row["t_s"]) >= cut_t + 30]
    assert after[0]["state"] == "safe"


HELD_AT_CUT = """\
name: bolus_held_at_a_cut
seed: 52
duration: 45 min
operator:
  lab_turnaround_min: 15
steps:
  - {id: pause, at: {after: running, plus: 3 min}, pause: true, expect_result: ok}
  - {id: low_aptt, at: {after: step:pause, plus: 30 s}, aptt: 50, expect_result: ok}
  - {id: cut, at: {after: step:pause, plus: 1 min}, power_cut: 10 s}
expect:
  - {state: running, within: 10 min, after: event:boot}
measure:
  - {name: held, quantity: bolus_total_u, to: step:cut, limits: [0, 0]}
  - {name: restored_as_given, quantity: bolus_total_u, to: {after: event:boot, plus: 1 s}, limits: [2800, 2800]}
  - {name: line, quantity: heparin_line_u, stat: max, from: step:low_aptt, limits: [0, 100]}
"""


@pytest.mark.verifies("SR-HEP-5")
def test_a_bolus_held_when_the_power_fails_never_reaches_the_line() -> None:
    # The board restores the bolus it held as given (a restart never
    # repeats one): the plant must not receive it on boot or on resume.
    r = run_scenario(loads(HELD_AT_CUT, "held.yaml"))
    assert r.outcome == "pass", r.failure_messages()
    line = next(c for c in r.verdict.checks if c.name == "line")
    assert line.value is not None and line.value < 100
