"""Batched STEP frames give exactly the run that strict lockstep gives,
over a virtual hour with faults that drive the board to its safe state."""

from __future__ import annotations

from pathlib import Path

from hil.run.operator import FaultStep
from hil.output.report import write_trace_csv
from hil.run.therapy import TherapyPlan, run_therapy

# Blood starts flowing about an hour in, once the aPTT is in range.
FAULTS = (
    FaultStep(4500.0, "access_occlusion", 0.95),   # access line kinked
    FaultStep(4530.0, "access_occlusion", 0.0),    # and freed 30 s later
    FaultStep(5400.0, "air", 1.0),                 # 1 s of air
)


def test_batched_equals_lockstep_over_one_hour_with_faults(tmp_path: Path) -> None:
    # Priming, anticoagulation, start, then more than an hour of blood flow
    # with the faults.
    runs = {}
    for name, batch in (("batched", 400), ("lockstep", 1)):
        runs[name] = run_therapy(TherapyPlan(hours=2.0, seed=7, faults=FAULTS, max_batch=batch,
                                             trace_every_s=1.0))
        write_trace_csv(runs[name], tmp_path / f"{name}.csv")
    b, s = runs["batched"], runs["lockstep"]
    # The faults did their work: two trips to the safe state, with their alarms.
    alarms = [e["alarm"] for e in b.events if e["type"] == "alarm"]
    assert "access_pressure_low" in alarms and "air_in_line" in alarms
    assert sum(1 for e in b.events if e["type"] == "state" and e["to"] == "safe") == 2
    # Lockstep really was lockstep, batching really batched.
    assert s.frames >= 72000 - 10
    assert b.frames < s.frames / 20
    # Same run.
    assert b.fw_events == s.fw_events
    assert b.events == s.events
    assert b.trace_rows == s.trace_rows
    assert (tmp_path / "batched.csv").read_bytes() == (tmp_path / "lockstep.csv").read_bytes()
    assert b.final_status == s.final_status
