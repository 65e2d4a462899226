"""Records speak physical units (record format 3), and older records are
still read: tests/hil/data/legacy_units_record_v2.json was written by the
harness of record format 2, before the wire contract."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hil.output.events import from_format2, period_of, to_format2
from hil.output.record import RECORD_VERSION, read_record, record_dict, upgrade_record, write_record

DATA = Path(__file__).parent / "data"
V2 = json.loads((DATA / "legacy_units_record_v2.json").read_text())

SCENARIO = """\
name: units_now
seed: 21
duration: 9 min
operator:
  lab_turnaround_min: 1
  pre_start_draw_min: 1
  pre_start_turnaround_min: 1
  start_delay_min: 0.5
  override_after: 1
  acknowledges_alarms: false
steps:
  - id: air
    at: {after: running, plus: 1 min}
    air: 0.3 s
  - id: ack
    at: {after: step:air, plus: 30 s}
    acknowledge: true
  - id: resume
    at: {after: step:air, plus: 40 s}
    resume: true
  - id: drift
    at: {after: step:resume, plus: 10 s}
    sensor: {channel: p_return, drift: 20.0}
expect:
  - alarm: return_pressure_high
    within: 2 min
    after: step:drift
"""


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> dict:
    from hil.run.runner import RunOptions, run_scenario
    from hil.scenario import loads

    out = tmp_path_factory.mktemp("rec")
    r = run_scenario(loads(SCENARIO, "units_now.yaml"), RunOptions(record_dir=str(out)))
    assert r.outcome == "pass", r.failure_messages()
    path = write_record(r, out)
    rec = json.loads(path.read_text())
    assert rec == json.loads(json.dumps(record_dict(r), default=str))
    return rec


def test_a_recording_made_now_is_of_version_2_and_replays(fresh: dict) -> None:
    from hil.output.recording import read_recording
    from hil.run.replay import replay

    header, _, _ = read_recording(Path(fresh["recording"]))
    assert header["version"] == 2
    assert replay(Path(fresh["recording"]))["outcome"] == "pass"


def test_a_record_of_format_3_speaks_physical_units(fresh: dict) -> None:
    assert fresh["record_version"] == RECORD_VERSION == 3
    alarms = {e["alarm"]: e for e in fresh["events"] if e["type"] == "alarm"}
    air, ret = alarms["air_in_line"], alarms["return_pressure_high"]
    assert air["value_unit"] == "mL/min" and 150 < air["value"] < 250       # the flow when air passed
    assert ret["value_unit"] == "mmHg" and 300 < ret["value"] < 400         # above the 300 mmHg limit
    for e in fresh["events"]:
        if e["type"] == "alarm":
            assert "value_unit" in e
        if e["type"] == "heparin":
            assert e["rate_u_h"] < 2000                                      # U/h, not 0.1 U/h
    fs = fresh["final_status"]
    assert fs["last_aptt_s"] < 200 and fs["pump_ml_min"] == 0.0 and fs["state"] == "safe"
    assert upgrade_record(json.loads(json.dumps(fresh))) == fresh   # format 3 reads as it is


def test_a_record_of_format_2_is_read_in_format_3(tmp_path: Path) -> None:
    path = tmp_path / "old.json"
    path.write_text(json.dumps(V2))
    rec = read_record(path)
    assert rec["record_version"] == 3
    got = {(e["type"], e.get("alarm")): e for e in rec["events"]}
    assert got[("alarm", "air_in_line")]["value"] == 201.5
    assert got[("alarm", "air_in_line")]["value_unit"] == "mL/min"
    assert got[("alarm", "return_pressure_high")]["value"] == 358.9
    assert got[("alarm", "return_pressure_high")]["value_unit"] == "mmHg"
    assert got[("alarm", "power_restored")]["value"] == "safe"
    assert got[("alarm", "blood_stasis")]["value"] == 0.0
    assert got[("audio_pause", None)] == {"t_s": 416.3, "tick": 4163, "type": "audio_pause",
                                          "length_s": 120.0}
    assert got[("restored", None)] == {"t_s": 565.9, "tick": 5659, "type": "restored", "from": "safe",
                                       "to": "safe", "flow_time_s": 132.9}
    # Everything else as it was.
    assert {k: v for k, v in rec.items() if k not in ("events", "record_version")} == \
        {k: v for k, v in V2.items() if k not in ("events", "record_version")}


def test_format_2_and_3_entries_convert_both_ways_exactly() -> None:
    period = period_of(V2["events"])
    assert period == pytest.approx(0.1)
    new = [from_format2(e, period) for e in V2["events"]]
    assert [to_format2(e, period) for e in new] == V2["events"]
    assert sum(1 for a, b in zip(new, V2["events"]) if a != b) == 6   # 4 alarms, audio_pause, restored


def test_a_record_of_format_1_is_read_too() -> None:
    v1 = {k: v for k, v in V2.items() if k not in ("timing", "trace")}
    v1.update(record_version=1, wall_s=0.4, speedup=1500, host={**V2["host"], "finished_at": "then"})
    rec = upgrade_record(v1)
    assert rec["timing"] == {"started_at": None, "finished_at": "then", "wall_s": 0.4, "speedup": 1500}
    assert "wall_s" not in rec and "finished_at" not in rec["host"] and rec["trace"] is None
    assert rec["events"] == upgrade_record(V2)["events"]


@pytest.mark.parametrize("version", [None, 0, 4, "3"])
def test_unknown_formats_are_refused(version: object) -> None:
    with pytest.raises(ValueError, match="record format"):
        upgrade_record({**V2, "record_version": version})
