"""Campaign runs take turns with their board (one core per run) unless the
campaign asks for the batch ahead: ``execute`` runs each run inside
:func:`hil.loop.closed.batches_ahead` (that the switch reaches the loop and
changes no result: tests/hil/test_pipeline.py)."""

from __future__ import annotations

from typing import Any

import pytest

from hil.campaign import kinds
from hil.loop import closed


def test_a_campaign_run_is_executed_inside_the_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[bool | None] = []

    def runner(spec: dict[str, Any], arm: Any, out: Any, rid: str) -> dict[str, Any]:
        seen.append(closed._BATCHES_AHEAD.get())
        return {"outcome": "pass"}

    monkeypatch.setitem(kinds.RUNNERS, "probe", runner)
    spec = {"kind": "probe", "firmware": "table", "seed": 1}
    kinds.execute(spec, None, "/nonexistent")   # type: ignore[arg-type]
    kinds.execute(spec, None, "/nonexistent", batch_ahead=True)  # type: ignore[arg-type]
    assert seen == [False, True]
    assert closed._BATCHES_AHEAD.get() is None
