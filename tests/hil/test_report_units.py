"""The demo's report: report.json in physical units (report format 2) with
the clinical figures, and report.html as a clinician reads it."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest

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
    a = s["anticoagulation"]
    assert a["final_rate_u_h"] == fs.heparin_u_h == fs.heparin / 10
    # No device bolus under the cartridge's table (the loading dose is IV).
    assert a["bolus_total_u"] == fs.bolus_total_u == fs.bolus_total == 0
    rates = [e["rate_u_h"] for e in s["events"] if e["type"] == "heparin"]
    assert rates and all(0 < x < 2000 for x in rates)
    # The clinical figures: the board's target, hours and fractions that add
    # up within the therapy window, heparin per kg and per day.
    assert a["target_aptt_s"] == [60.0, 80.0] and a["weight_kg"] == 70.0
    assert 0 < a["window_h"] <= 0.25
    assert 0 <= a["in_range_h"] + a["above_100_s_h"] <= a["window_h"]
    assert abs(a["in_range_fraction"] * a["window_h"] - a["in_range_h"]) < 1e-3
    assert a["infusion_u_kg_h_mean"] * 70.0 == pytest.approx(a["infusion_u_h_mean"], abs=0.5)
    assert a["infusion_u_day_mean"] == round(a["infusion_u_h_mean"] * 24)
    assert a["bolus_count"] == len(a["boluses"]) >= 1
    # The board counts the device's boluses; the report adds the nurse's IV dose.
    assert sum(b["u"] for b in a["boluses"] if b["by"] == "device") == fs.bolus_total_u
    assert a["boluses_u"] == sum(b["u"] for b in a["boluses"])
    assert s["firmware"]["version"] and s["firmware"]["implementation"] == "micropython"
    page = (tmp_path / "report.html").read_text()
    # One figure (cytokines, anticoagulation, pressures, flow, events on one
    # time axis), a real PNG; the event table in columns with units.
    imgs = re.findall(r"src=\"data:image/png;base64,([^\"]+)\"", page)
    assert len(imgs) == 1 and base64.b64decode(imgs[0])[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<th>time (h)</th><th>event</th><th>alarm / subject</th><th>priority</th>" in page
    assert "Air in line</td><td class='high'>high</td>" in page and ">mL/min<" in page
    assert "time in the aPTT target range" in page and "U/kg/h" in page and "U/day" in page
    if "machine" in r.hello:
        assert f"<td>{r.hello['machine']}</td>" in page
