"""Scenario files: every kind of mistake is refused with the file, the line
and what is wrong, before anything runs; the whole library loads."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from hil.scenario import Anchor, ScenarioError, discover, load, loads, parse_duration

GOOD = """\
name: tiny
duration: 2 h
patient:
  weight_kg: 80
  severity: septic_shock
steps:
  - id: air
    at: {after: running, plus: 10 min}
    air: 0.5 s
expect:
  - alarm: air_in_line
    priority: high
    within: 0.2 s
    after: step:air
"""


def _error(text: str) -> ScenarioError:
    with pytest.raises(ScenarioError) as info:
        loads(textwrap.dedent(text), "scenarios/x.yaml")
    return info.value


def test_a_good_file_loads() -> None:
    sc = loads(GOOD, "scenarios/tiny.yaml")
    assert sc.name == "tiny" and sc.duration_s == 7200
    assert sc.patient.weight_kg == 80 and sc.patient.k_pg == 0.6
    assert sc.steps[0].at.anchor == Anchor("state", "running") and sc.steps[0].at.plus_s == 600
    assert sc.expectations[0].after.anchor == Anchor("step", "air")


@pytest.mark.parametrize("text, line, words", [
    # unknown keys, at the top and deep inside
    ("duration: 1 h\nbogus: 1\n", 2, "unknown key 'bogus'"),
    ("duration: 1 h\npatient:\n  weight_kg: 70\n  height_cm: 180\n", 4, "unknown key 'height_cm' in patient"),
    # wrong types
    ("duration: 1 h\nseed: seven\n", 2, "seed must be an integer, not 'seven'"),
    ("duration: soon\n", 1, "duration must be a duration"),
    ("duration: 1 h\nsteps: {air: 1}\n", 2, "'steps' must be a list"),
    ("duration: 1 h\npatient:\n  weight_kg: 700\n", 3, "patient weight_kg must be 30..250"),
    # unknown alarm ids, commands, faults, channels, states
    ("duration: 1 h\nexpect:\n  - alarm: fire\n    within: 1 s\n", 3, "unknown alarm 'fire'"),
    ("duration: 1 h\nsteps:\n  - at: 10\n    command: {name: launch}\n", 4, "unknown command 'launch'"),
    ("duration: 1 h\nsteps:\n  - at: 10\n    meteor: true\n", 4, "unknown key 'meteor' in step 1"),
    ("duration: 1 h\nsteps:\n  - at: 10\n    sensor: {channel: p_venous, stuck: 3}\n", 4,
     "unknown sensor channel 'p_venous'"),
    ("duration: 1 h\nsteps:\n  - at: 10\n    link: {scramble: 2}\n", 4, "unknown key 'scramble'"),
    ("duration: 1 h\nexpect:\n  - final_state: sleeping\n", 3, "unknown state 'sleeping'"),
    ("duration: 1 h\nsteps:\n  - at: {after: primed}\n    air: 1\n", 3, "did you mean 'event:primed'"),
    ("duration: 1 h\nsteps:\n  - at: {after: step:nope}\n    air: 1\n", 3, "refers to step 'nope'"),
    # times out of order, and outside the run
    ("duration: 1 h\nsteps:\n  - at: 600\n    air: 1\n  - at: 300\n    air: 1\n", 5, "steps out of order"),
    ("duration: 1 h\nsteps:\n  - at: 2 h\n    air: 1\n", 3, "after the end of the run"),
    # missing required fields
    ("seed: 1\n", 1, "missing the required key 'duration'"),
    ("duration: 1 h\nsteps:\n  - air: 1\n", 3, "missing the required key 'at'"),
    ("duration: 1 h\nexpect:\n  - alarm: air_in_line\n", 3, "missing the required key 'within'"),
    ("duration: 1 h\nmeasure:\n  - name: x\n    quantity: aptt_s\n", 3, "missing the required key 'limits'"),
    # one action per step, units that match, sane limits
    ("duration: 1 h\nsteps:\n  - at: 1\n    air: 1\n    pause: true\n", 3, "exactly one action"),
    ("duration: 1 h\nmeasure:\n  - name: x\n    quantity: aptt_s\n    unit: min\n    limits: [1, 2]\n", 5,
     "quantity aptt_s is in s, not min"),
    ("duration: 1 h\nmeasure:\n  - name: x\n    quantity: aptt_s\n    limits: [9, 2]\n", 5, "low 9 is above high 2"),
    # YAML itself
    ("duration: 1 h\nsteps: [\n", 3, "not valid YAML"),
    ("duration: 1 h\nduration: 2 h\n", 2, "appears twice"),
])
def test_each_kind_of_mistake_names_file_line_and_problem(text: str, line: int, words: str) -> None:
    e = _error(text)
    assert e.line == line, str(e)
    assert words in e.reason, str(e)
    assert str(e).startswith(f"scenarios/x.yaml:{line}: ")


def test_file_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="no-such.yaml: cannot read the file"):
        load(tmp_path / "no-such.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("duration: 1 h\nexpect:\n  - alarm: air_in_line\n    within: 1 s\n    prority: high\n")
    with pytest.raises(ScenarioError) as info:
        load(bad)
    assert str(info.value).startswith(f"{bad}:5: unknown key 'prority'")


def test_durations() -> None:
    assert parse_duration(90) == 90.0
    assert parse_duration("1.5 min") == 90.0
    assert parse_duration("2 h") == 7200.0
    assert parse_duration("100 ms") == pytest.approx(0.1)
    assert parse_duration("-3") is None and parse_duration("3 weeks") is None and parse_duration(True) is None


def test_the_library_loads_and_covers_every_protective_function() -> None:
    scenarios = [load(p) for p in discover()]
    assert len(scenarios) >= 20
    names = [s.name for s in scenarios]
    assert len(set(names)) == len(names)
    alarms = {x.target for s in scenarios for x in s.expectations if x.kind == "alarm"}
    for needed in ("air_in_line", "access_pressure_low", "return_pressure_high", "return_pressure_low",
                   "pre_pressure_high", "no_flow", "flow_low", "clot_suspected", "sensor_loss",
                   "power_restored", "cartridge_exchange_due", "therapy_complete", "aptt_check_due"):
        assert needed in alarms, needed
    actions = {st.action for s in scenarios for st in s.steps}
    assert {"air", "access_occlusion", "clotting", "sensor", "link", "disconnect", "power_cut", "hang",
            "aptt", "pause", "resume", "set_flow", "acknowledge", "audio_pause"} <= actions
