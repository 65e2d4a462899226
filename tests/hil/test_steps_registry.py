"""The registries of step actions (hil/scenario/actions.py) and quantities
(hil/scenario/quantities.py): the docs are theirs, a new plant fault is one
entry (and one field of host/faults.py), and whoever runs a step applies it
as the registry says."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import pytest

from hil.loop.freerun import plant_requirements
from hil.run.operator import FAULTS, FaultStep, OperatorPlan, ScriptedOperator
from hil.run.runner import StepDone
from hil.run.steps import StepRunner
from hil.scenario import ACTIONS, QUANTITIES, Action, Arg, ScenarioError, actions, loads, quantities
from hil.scenario.actions import set_fault
from hil.scenario.timeline import Timeline
from host.faults import Faults
from host.plant import TRACE_COLUMNS

DOCS = Path(__file__).resolve().parents[2] / "docs" / "scenarios.md"


def test_the_docs_tables_are_the_registries() -> None:
    text = DOCS.read_text(encoding="utf-8")
    for group in ("plant", "board", "operator"):
        assert actions.table(group) in text, f"docs/scenarios.md: print actions.table({group!r}) into it"
    assert quantities.table() in text, "docs/scenarios.md: print quantities.table() into it"
    assert {a.group for a in ACTIONS.values()} == {"plant", "board", "operator"}


def test_every_plant_quantity_is_a_column_of_the_plant_trace() -> None:
    trace = [q.name for q in QUANTITIES.values() if q.source == "trace"]
    assert trace and set(trace) <= set(TRACE_COLUMNS)
    assert {q.source for q in QUANTITIES.values()} == set(quantities.SOURCES)


@dataclass
class LeakFaults(Faults):
    """Faults with one more type, as host/faults.py would have it."""

    return_leak: float = 0.0


LEAK = Action("return_leak", "plant", "blood leaks at the return line", "return_leak: 0.2",
              set_fault("return_leak"), Arg("number", "fraction of the flow lost", lo=0, hi=1),
              show="{value:g} leaking", needs={"plant": "it changes the plant's return line"})


def test_a_new_plant_fault_is_one_entry_and_one_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(ACTIONS, "return_leak", LEAK)
    text = "duration: 1 h\noperator: {scripted: false}\nsteps:\n  - {id: leak, at: 10 s, return_leak: 0.25}\n"
    sc = loads(text, "x.yaml")
    (step,) = sc.steps
    assert step.args == {"value": 0.25} and step.describe() == "return_leak 0.25 leaking"
    assert sc.needs() == {"plant"}
    assert plant_requirements(sc) == [(4, "step 'leak' (return_leak 0.25 leaking) needs a plant: "
                                          "it changes the plant's return line")]
    with pytest.raises(ScenarioError, match=r"x.yaml:4: step 1 'return_leak' \(fraction of the flow lost\) "
                                            r"must be 0..1, not 2"):
        loads(text.replace("0.25", "2"), "x.yaml")
    # The runner applies it, and the plant's snapshots keep and rewind it.
    faults = LeakFaults()
    notes: list = []
    bus = SimpleNamespace(note=lambda tick, rec: notes.append((tick, rec)))
    session = SimpleNamespace(loop=SimpleNamespace(tick=100), plant=SimpleNamespace(faults=faults),
                              free=False, observers=bus)
    done = {id(step): StepDone(step)}
    StepRunner(sc, done, session, None, Timeline(0.1)).execute(step)
    assert faults.return_leak == 0.25 and done[id(step)].tick == 100
    assert notes == [(100, {"type": "step", "id": "leak", "action": "return_leak",
                            "detail": "return_leak 0.25 leaking"})]
    saved = faults.clone()
    faults.clear()
    assert faults.return_leak == 0.0 and isinstance(saved, LeakFaults)
    faults.restore(saved)
    assert faults.return_leak == 0.25


def test_the_demo_faults_are_the_registry_plant_faults() -> None:
    assert set(FAULTS) == {"clotting", "access_occlusion", "air", "clot_boost"}
    faults = Faults()
    op = ScriptedOperator(OperatorPlan(), 0.1, lambda rec: None)
    op.loop = SimpleNamespace(plant=SimpleNamespace(faults=faults))
    op._do_fault(FaultStep(0.0, "air", 0.5))
    op._do_fault(FaultStep(0.0, "clot_boost", 3.0))      # the old name of 'clotting'
    op._do_fault(FaultStep(0.0, "access_occlusion", 0.4))
    assert (faults.air_ticks_remaining, faults.clot_boost, faults.access_occlusion) == (5, 3.0, 0.4)
    with pytest.raises(ValueError, match="unknown fault 'sensor'"):
        FaultStep(0.0, "sensor", 1.0)


@pytest.mark.parametrize("step, words", [
    ("sensor: {channel: p_return, stuck: x}",
     "step 1 'sensor' stuck (held reading, mmHg, mL/min) must be a number"),
    ("sensor: {channel: p_return, range: mid}",
     "step 1 'sensor' range: unknown rail 'mid'; known: high, low"),
    ("sensor: {channel: p_return, stuck: 1, drift: 2}",
     "step 1 'sensor' must have exactly one of these keys (stuck, drift, noise, range, clear), "
     "it has 2: stuck, drift"),
    ("link: {drop: 1, frames: 2}",
     "step 1 'link': 'frames' goes with delay only; the number of frames of 'drop'"),
    ("link: {delay: 1 s, frames: 0}", "step 1 'link' frames (frames held back) must be 1..1000, not 0"),
    ("aptt: 5", "step 1 'aptt' (aPTT result, s) must be 10..200, not 5"),
    ("clear_faults: false", "step 1 'clear_faults': write 'true' to do it"),
    ("air: 1\n    expect_result: ok", "expect_result applies to operator commands only"),
])
def test_argument_errors_name_the_step_and_the_key(step: str, words: str) -> None:
    with pytest.raises(ScenarioError) as e:
        loads(f"duration: 1 h\nsteps:\n  - at: 10\n    {step}\n", "x.yaml")
    assert str(e.value).startswith("x.yaml:") and words in e.value.reason, str(e.value)
