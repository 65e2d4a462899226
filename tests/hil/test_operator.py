"""The scripted operator's start of anticoagulation, against a fake loop
(pure logic: the loop only answers commands and records the plant calls).

The device's syringe feeds the blood line, so the loading dose is the
nurse's, IV, on the device's heparin event; a protocol that gives no
heparin gets none and is not started again and again."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from hil.run.operator import OperatorPlan, ScriptedOperator
from hil.transport import frames
from hil.transport.frames import Event

C = frames.C


class FakePlant:
    def __init__(self) -> None:
        self.iv: list[float] = []
        self.draws = 0

    def give_heparin_iv(self, units: float) -> None:
        self.iv.append(units)

    def draw_aptt(self) -> float:
        self.draws += 1
        return 70.0

    def true_aptt(self) -> float:
        return 70.0

    def connect_patient(self) -> None:
        pass


class FakeLoop:
    """Answers commands as a ready board does; HEPARIN_START reports its
    heparin event within the command's reply (the operator must take it)."""

    def __init__(self, bolus_u: int, rate: int) -> None:
        self.tick = 0
        self.plant = FakePlant()
        self.status = SimpleNamespace(state=C.READY, bolus_total=0, heparin=0)
        self.commands: list[int] = []
        self.op: ScriptedOperator | None = None
        self.started = False
        self.dose = (bolus_u, rate)

    def command(self, code: int, arg: int = 0) -> Any:
        self.commands.append(code)
        result = C.OK
        if code == C.CMD_HEPARIN_START:
            if self.started:
                result = C.E_STATE
            else:
                self.started = True
                assert self.op is not None
                self.op.on_event(Event(self.tick, C.EV_HEPARIN, 0, *self.dose))
        return SimpleNamespace(result=result)


def _operator(bolus_u: int, rate: int, **plan: Any) -> tuple[ScriptedOperator, FakeLoop]:
    loop = FakeLoop(bolus_u, rate)
    records: list[dict[str, Any]] = []
    op = ScriptedOperator(OperatorPlan(weight_kg=80.0, **plan), 1.0, records.append)
    op.records = records  # type: ignore[attr-defined]
    loop.op = op
    op.loop = loop
    op.waiting_to_start = True
    return op, loop


def _run_until(op: ScriptedOperator, loop: FakeLoop, tick: int) -> None:
    while op.agenda and op.next_tick() <= tick:
        loop.tick = op.next_tick()
        op.run_due()


def test_loading_dose_is_given_iv_for_the_entered_weight() -> None:
    op, loop = _operator(1400, 12600, loading_bolus_u_kg=15.0)
    op._do_start(None)
    assert loop.plant.iv == [pytest.approx(15.0 * 80.0)]
    assert op.started_heparin()
    assert {"type": "heparin_iv", "units": 1200.0, "why": "loading"} in op.records  # type: ignore[attr-defined]


def test_pre_start_sample_after_the_bolus_and_its_bedside_result_starts_flow() -> None:
    op, loop = _operator(0, 12600, pre_start_draw_min=15.0, pre_start_turnaround_min=5.0,
                         lab_turnaround_min=45.0)
    op._do_start(None)
    assert loop.plant.iv, "a table without a device bolus still gets the nurse's loading dose"
    _run_until(op, loop, 15 * 60)
    assert loop.plant.draws == 1
    _run_until(op, loop, 20 * 60)
    assert loop.commands.count(C.CMD_APTT) == 1
    assert loop.commands[-1] == C.CMD_START   # on the bedside result, not 45 min later
    assert loop.tick == 20 * 60


def test_a_protocol_without_heparin_gets_no_dose_and_is_started_once() -> None:
    op, loop = _operator(0, 0)
    op._do_start(None)
    assert loop.plant.iv == []
    _run_until(op, loop, 6 * 3600)
    assert loop.commands.count(C.CMD_HEPARIN_START) == 1
    assert C.CMD_START in loop.commands


def test_a_protocol_started_before_a_restart_is_not_dosed_again() -> None:
    op, loop = _operator(1400, 12600)
    loop.started = True            # the board restored its record: E_STATE
    op._do_start(None)
    assert loop.plant.iv == []
    assert op.started_heparin()
    assert any(item.action == "draw_aptt" for item in op.agenda)
