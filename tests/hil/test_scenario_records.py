"""Records and traces of scenario runs are reproducible: two runs of the
same scenario and seed give JSON records that are byte-identical outside
their ``timing`` block, and byte-identical ``trace.csv`` files (one row per
10 virtual seconds) next to them."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from hil.output.record import write_record
from hil.run.runner import run_scenario
from hil.scenario import loads

TEXT = """\
name: twice
seed: 11
duration: 32 min
operator:
  lab_turnaround_min: 10
steps:
  - at: {after: running, plus: 30 s}
    link: {drop: 1, direction: to_host}
  - id: air
    at: {after: running, plus: 1 min}
    air: 0.5 s
expect:
  - alarm: air_in_line
    priority: high
    within: 0.2 s
    after: step:air
"""


@pytest.fixture(scope="module")
def twice(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    sc = loads(TEXT, "twice.yaml")
    dirs = []
    for i in range(2):
        r = run_scenario(sc)
        assert r.outcome == "pass", r.failure_messages()
        d = tmp_path_factory.mktemp(f"run{i}")
        write_record(r, d)
        dirs.append(d)
    return dirs


def test_records_of_two_runs_are_identical_outside_timing(twice) -> None:
    a, b = (json.loads((d / "twice.json").read_text()) for d in twice)
    for rec in (a, b):
        t = rec["timing"]
        assert {"wall_s", "speedup", "started_at", "finished_at"} <= set(t)
        assert t["wall_s"] > 0
        # Nothing of the wall clock outside the timing block: the board's
        # time in its ticks goes there too.
        assert "wall_s" not in rec and "speedup" not in rec and "finished_at" not in rec["host"]
        assert t["firmware_tick_us"] > 0 and "tick_us" not in rec["diag"] and rec["diag"]["rx_frames"] > 0
    # Byte for byte, once the timing block is taken out.
    texts = []
    for d in twice:
        rec = json.loads((d / "twice.json").read_text())
        del rec["timing"]
        texts.append(json.dumps(rec, indent=1))
    assert texts[0] == texts[1]
    assert a["link"]["resends"] == 1 and a["events"] and a["expectations"][0]["outcome"] == "pass"


def test_trace_csv_next_to_the_record_is_identical_on_every_run(twice) -> None:
    first, second = ((d / "twice.trace.csv").read_bytes() for d in twice)
    assert first == second
    rec = json.loads((twice[0] / "twice.json").read_text())
    assert rec["trace"] == "twice.trace.csv"
    rows = list(csv.reader(first.decode().splitlines()))
    header, body = rows[0], rows[1:]
    assert header[0] == "t_s" and header[-1] == "state" and "IL-6" in header and "pump_ml_min" in header
    t = [float(r[0]) for r in body]
    assert t[0] == 10 and all(b - a == pytest.approx(10.0) for a, b in zip(t, t[1:]))
    assert t[-1] == 32 * 60
    states = {r[-1] for r in body}
    assert {"priming", "ready", "running", "safe"} <= states
