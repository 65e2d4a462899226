"""The demo's report (report.json) speaks physical units (report format 2)."""

from __future__ import annotations

import json
from pathlib import Path

from hil.output.report import REPORT_VERSION, write_all
from hil.run.operator import FaultStep, OperatorPlan
from hil.run.therapy import TherapyPlan, run_therapy


def test_report_events_and_figures_in_physical_units(tmp_path: Path) -> None:
    # Blood flows from the first start, whatever the first aPTT (override_after=1).
    op = OperatorPlan(lab_turnaround_min=1.0, pre_start_draw_min=1.0, start_delay_min=0.5, override_after=1)
    r = run_therapy(TherapyPlan(hours=0.25, seed=7, operator=op, faults=(FaultStep(600.0, "air", 0.3),)))
    s = write_all(r, tmp_path)
    assert json.loads((tmp_path / "report.json").read_text())["events"] == s["events"]
    assert s["report_version"] == REPORT_VERSION == 2
    air = next(e for e in s["events"] if e["type"] == "alarm" and e["alarm"] == "air_in_line")
    assert air["value_unit"] == "mL/min" and 150 < air["value"] < 250
    fs = r.final_status
    assert s["anticoagulation"]["final_rate_u_h"] == fs.heparin_u_h == fs.heparin / 10
    assert s["anticoagulation"]["bolus_total_u"] == fs.bolus_total_u == fs.bolus_total > 0
    rates = [e["rate_u_h"] for e in s["events"] if e["type"] == "heparin"]
    assert rates and all(0 < x < 2000 for x in rates)
    assert "value_unit" in (tmp_path / "report.html").read_text()
