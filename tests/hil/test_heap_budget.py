"""The board's RAM budget (docs/firmware.md, Memory): the firmware must
boot and run a therapy in a 64 KB heap, and it keeps some room below that,
so that the next module added is measured before it breaks the boot. Here:
an hour of therapy, with the operator's commands, records stored and DIAG
read, in a heap 1 KB smaller than 64 KB (on 2026-12-03 the board started
and ran in 63,488 bytes but not in 63,232)."""

from __future__ import annotations

from hil.run.therapy import TherapyPlan, run_therapy

BUDGET_BYTES = 64 * 1024 - 1024


def test_the_board_boots_and_runs_with_a_kilobyte_to_spare() -> None:
    r = run_therapy(TherapyPlan(hours=1.0, seed=3, heapsize=str(BUDGET_BYTES)))
    assert r.aborted is None, r.aborted
    assert r.diag["heap_total"] < 64 * 1024
    assert r.diag["boots"] == 1 and r.diag["storage_errors"] == 0 and r.diag["storage_writes"] > 0
