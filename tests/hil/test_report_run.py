"""A scenario run's HTML report next to its record, drawn by the same
renderer as the demo's: a real run of scenarios/air_in_return_line.yaml."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from hil.output.charts import ReportData, draw
from hil.output.clinical import board_facts
from hil.output.record import report_from_files, write_record
from hil.run.runner import RunOptions, run_scenario
from hil.scenario import load

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


def _texts(fig) -> list[str]:
    out = [t.get_text() for t in fig.findobj(match=lambda a: hasattr(a, "get_text"))]
    for ax in fig.axes:
        leg = ax.get_legend()
        if leg is not None:
            out += [t.get_text() for t in leg.get_texts()]
    return out


def test_a_scenario_run_writes_its_report_beside_its_record(tmp_path: Path) -> None:
    r = run_scenario(load(SCENARIOS / "air_in_return_line.yaml"), RunOptions())
    assert r.outcome == "pass"
    record_path = write_record(r, tmp_path)
    page = (tmp_path / "air_in_return_line.html").read_text()
    record = json.loads(record_path.read_text())
    assert "Scenario air_in_return_line" in page and "<b class=''>pass</b>" in page
    # Every expectation and measurement, with its value and unit.
    assert page.count("<tr><td class=''>pass</td>") == len(record["expectations"]) + len(record["measurements"])
    assert "<td>air_reaction</td>" in page and "<td>s</td>" in page
    # The alarm by name and priority in the event table, the time in hours.
    air = next(e for e in record["events"] if e["type"] == "alarm")
    assert f"<td class=num>{air['t_s'] / 3600:.3f}</td><td>Alarm raised</td><td>Air in line</td>" in page
    assert "time in the aPTT target range" in page
    # The figure: panels on one time axis, the alarm named with its priority
    # on the event line, the board's limits on the pressure plot, IL-1b.
    cols = {c: np.asarray([row[k] for row in r.timeline.trace_rows]) for k, c in
            enumerate(r.timeline.trace_columns)}
    fig = draw(ReportData(cols, record["events"], record["virtual_s"], board_facts("virtual")))
    try:
        texts = _texts(fig)
        axes = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
        shared = {tuple(ax.get_xlim()) for ax in axes}
        assert shared == {(0.0, 2.0)}
        assert "Air in line (high)" in texts
        assert "alarm limit, return high (300 mmHg)" in texts and "alarm limit, access low (-250 mmHg)" in texts
        assert "IL-1b, treated" in texts and "aPTT target 60-80 s (cartridge-60-80)" in texts
        # The loading dose: the nurse's, IV (the cartridge's table has none of its own).
        assert any(t.startswith("heparin IV bolus (nurse)") for t in texts)
        assert not any(t.startswith("heparin device bolus") for t in texts)
        assert fig.axes[0].get_yscale() == "log"
        ticks = list(fig.axes[4].get_xticks())
        assert ticks[0] == 0 and ticks[-1] == 2.0 and len(ticks) == 9
    finally:
        plt.close(fig)
    # The same page again from the files alone.
    again = report_from_files(record_path, tmp_path / "again.html").read_text()
    assert again.split("<h2>Course of the run</h2>")[0] == page.split("<h2>Course of the run</h2>")[0]
