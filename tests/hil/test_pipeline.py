"""The pipelined closed loop (the plant computes the next batch while the
board runs the current one) gives the run that plant and board taking
turns give, over a virtual hour and a half with faults, rewinds and trips
to the safe state; and it really did compute ahead."""

from __future__ import annotations

from typing import Any

import pytest

from hil.loop import closed
from hil.run.operator import FaultStep
from hil.run.therapy import TherapyPlan, run_therapy

FAULTS = (
    FaultStep(4500.0, "access_occlusion", 0.95),
    FaultStep(4530.0, "access_occlusion", 0.0),
    FaultStep(5000.0, "air", 1.0),
)


def _loop_run(monkeypatch: pytest.MonkeyPatch, pipeline: bool | None,
              ahead: bool | None = None) -> tuple[Any, closed.ClosedLoop]:
    """The therapy with faults, and the loop it ran on: with the class's
    ``PIPELINE`` set to ``pipeline`` (None: as it is), inside
    ``batches_ahead(ahead)`` unless ``ahead`` is None."""
    loops: list[closed.ClosedLoop] = []
    init = closed.ClosedLoop.__init__

    def spy(self: closed.ClosedLoop, *a: Any, **k: Any) -> None:
        init(self, *a, **k)
        loops.append(self)

    plan = TherapyPlan(hours=1.5, seed=11, faults=FAULTS, trace_every_s=1.0)
    with monkeypatch.context() as m:
        if pipeline is not None:
            m.setattr(closed.ClosedLoop, "PIPELINE", pipeline)
        m.setattr(closed.ClosedLoop, "__init__", spy)
        if ahead is None:
            result = run_therapy(plan)
        else:
            with closed.batches_ahead(ahead):
                result = run_therapy(plan)
    assert len(loops) == 1
    return result, loops[0]


def _run(monkeypatch: pytest.MonkeyPatch, pipeline: bool) -> tuple[Any, closed.LoopStats]:
    result, loop = _loop_run(monkeypatch, pipeline)
    return result, loop.stats


def test_pipelined_loop_gives_the_run_of_the_loop_taking_turns(monkeypatch: pytest.MonkeyPatch) -> None:
    piped, ps = _run(monkeypatch, True)
    turns, ts = _run(monkeypatch, False)
    # The faults did their work (so outputs changed and the plant rewound).
    alarms = {e["alarm"] for e in piped.events if e["type"] == "alarm"}
    assert {"access_pressure_low", "air_in_line"} <= alarms
    assert ps.rewinds > 0
    # Computing ahead happened in one and not in the other ...
    assert ps.ahead_used > ps.frames // 2
    assert ts.ahead_used == 0
    # ... and changed nothing.
    assert (ps.frames, ps.rewinds, ps.ticks) == (ts.frames, ts.rewinds, ts.ticks)
    assert piped.fw_events == turns.fw_events
    assert piped.events == turns.events
    assert piped.trace_rows == turns.trace_rows
    assert piped.final_status == turns.final_status



def test_batches_ahead_switches_the_loop_in_its_block_and_changes_nothing(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # A campaign worker's switch (hil.campaign.kinds.execute): it wins over
    # the class default, only inside its block.
    off, offl = _loop_run(monkeypatch, True, ahead=False)
    on, onl = _loop_run(monkeypatch, False, ahead=True)
    assert offl.pipeline is False and offl.stats.ahead_used == 0
    assert onl.pipeline is True and onl.stats.ahead_used > 0
    assert off.trace_rows == on.trace_rows and off.fw_events == on.fw_events
    assert closed._BATCHES_AHEAD.get() is None


def test_flowing_ticks_counts_flow_at_the_threshold_and_skips_missing_samples() -> None:
    from array import array

    from hil.transport import contract

    rows = [(0, 0, 0, q, f) for q, f in ((499, 0), (500, 0), (900, contract.FLAG_AIR),
                                         (900, contract.FLAG_MISSING), (0, 0), (700, 0))]
    out = array("h", [v for r in rows for v in r])
    by_rule = [sum(1 for _, _, _, q, f in rows[:k] if q >= 500 and f >= 0) for k in range(7)]
    assert [closed.flowing_ticks(out, k, 500) for k in range(7)] == by_rule == [0, 0, 1, 2, 2, 2, 3]
