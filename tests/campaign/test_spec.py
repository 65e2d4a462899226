"""Campaign files (reading, refusals naming file and line, expansion into run
specs), the resumable table of runs and the summary: pure logic, no board."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from hil.campaign.groups import EXPANDERS
from hil.campaign.kinds import variant_text
from hil.campaign.spec import CampaignError, loads, run_id
from hil.campaign.store import RESULTS, RowWriter, read_rows, write_table
from hil.campaign.summary import summarise

ROOT = Path(__file__).resolve().parents[2]
GOOD = """\
campaign: demo
firmware:
  strict: table:raschke
groups:
  - kind: scenarios
    scenarios: [air_in_return_line, flow_below_70_percent]
    seeds: {from: 10, count: 3}
    patients: [{}, {weight_kg: 55, severity: septic_shock}]
    firmware: [table, strict]
    duration: 1 h
  - kind: trial
    arms: [table, none]
    patients: 2
    hours: 4
  - kind: linkfault
    runs: 250
    block_size: 100
  - kind: powercut
    trials: 20
    seeds: [1, 2]
"""
DIGESTS = {"table": "d-table", "strict": "d-strict", "none": "d-none"}


@pytest.fixture(autouse=True)
def _in_checkout(monkeypatch):
    monkeypatch.chdir(ROOT)   # library scenario names are looked up in scenarios/


def _expand(text: str) -> list[dict]:
    c = loads(text, "c.yaml")
    return [s for g in c.groups for s in EXPANDERS[g.kind](g.options, DIGESTS)]


def test_a_campaign_crosses_everything_it_names():
    specs = _expand(GOOD)
    sc = [s for s in specs if s["kind"] == "scenario"]
    assert len(sc) == 2 * 3 * 2 * 2
    assert {(s["scenario"], s["seed"], json.dumps(s["patient"]), s["firmware"]) for s in sc} == {
        (n, seed, p, f) for n in ("air_in_return_line", "flow_below_70_percent") for seed in (10, 11, 12)
        for p in ("{}", '{"weight_kg": 55.0, "k_pg": 0.6}') for f in ("table", "strict")}
    assert all(s["duration_s"] == 3600.0 and s["firmware_sha256"] == DIGESTS[s["firmware"]] for s in sc)
    trial = [s for s in specs if s["kind"] == "trial"]
    assert [(s["arm"], s["index"], s["seed"]) for s in trial] == [
        ("table", 0, 1), ("none", 0, 1), ("table", 1, 2), ("none", 1, 2)]
    blocks = [s["runs"] for s in specs if s["kind"] == "linkfault"]
    assert blocks == [[0, 100], [100, 200], [200, 250]]
    assert [s["seed"] for s in specs if s["kind"] == "powercut"] == [1, 2]
    assert len({run_id(s) for s in specs}) == len(specs)


def test_run_ids_follow_the_spec_and_the_firmware():
    a = _expand(GOOD)[0]
    assert run_id(a) == run_id(json.loads(json.dumps(a)))
    assert run_id({**a, "seed": a["seed"] + 1}) != run_id(a)
    assert run_id({**a, "firmware_sha256": "other"}) != run_id(a)


def test_without_seeds_a_scenario_keeps_its_own():
    specs = _expand("campaign: c\ngroups:\n  - kind: scenarios\n    scenarios: [air_in_return_line]\n")
    (s,) = specs
    own = yaml.safe_load((ROOT / "scenarios/air_in_return_line.yaml").read_text())["seed"]
    assert (s["seed"], s["firmware"], s["patient"], s["duration_s"]) == (own, "table", {}, None)


@pytest.mark.parametrize("text, line, says", [
    ("campaign: c\n", 1, "missing the required key 'groups'"),
    ("campaign: c\ngroups: []\n", 2, "non-empty list"),
    ("campaign: 9x\ngroups: [{kind: powercut}]\n", 1, "use a letter"),
    ("campaign: c\ngroups:\n  - kind: soak\n", 3, "unknown group kind 'soak'"),
    ("campaign: c\ngroups:\n  - kind: scenarios\n    scenarios: [no_such_thing]\n", 4, "no_such_thing"),
    ("campaign: c\ngroups:\n  - kind: scenarios\n    scenarios: [air_in_return_line]\n    firmware: [x]\n",
     5, "unknown firmware configuration 'x'"),
    ("campaign: c\ngroups:\n  - kind: scenarios\n    scenarios: [air_in_return_line]\n    seeds: [1, 1]\n",
     5, "appears twice"),
    ("campaign: c\ngroups:\n  - kind: scenarios\n    scenarios: [air_in_return_line]\n"
     "    patients: [{weight_kg: 900}]\n", 5, "weight_kg must be 30..250"),
    ("campaign: c\ngroups:\n  - kind: scenarios\n    scenarios: [air_in_return_line]\n    repeat: 3\n",
     5, "unknown key 'repeat'"),
    ("campaign: c\nfirmware:\n  odd: rev:a;rm -rf\ngroups: [{kind: powercut}]\n", 3, "odd"),
    ("campaign: c\nfirmware:\n  none: table:raschke\ngroups: [{kind: powercut}]\n", 3, "built in"),
    ("campaign: c\ngroups:\n  - kind: trial\n    patients: 0\n", 4, "patients must be 1..1000"),
    ("campaign: c\ngroups:\n  - kind: linkfault\n    seeds: {count: 0}\n", 4, "seeds count must be"),
    ("campaign: c\ngroups:\n  - kind: powercut\n    trials: two\n", 4, "trials must be an integer"),
    ("campaign: [c\n", 2, "not valid YAML"),
])
def test_a_malformed_campaign_is_refused_naming_file_and_line(text, line, says):
    with pytest.raises(CampaignError) as e:
        loads(text, "c.yaml")
    assert e.value.path == "c.yaml" and e.value.line == line, str(e.value)
    assert says in str(e.value)


def test_variant_text_writes_the_run_into_the_scenario():
    text = (ROOT / "scenarios/anticoagulation_raschke_table.yaml").read_text()
    spec = {"seed": 77, "duration_s": 5400.0, "patient": {"weight_kg": 55.0, "k_pg": 0.6}}
    doc = yaml.safe_load(variant_text(text, spec, table_from_firmware=True))
    assert doc["seed"] == 77 and doc["duration"] == "5400 s"
    assert doc["patient"]["weight_kg"] == 55.0 and doc["patient"]["severity"] == 0.6
    assert "anticoagulation" not in doc.get("device", {})
    kept = yaml.safe_load(variant_text(text, {**spec, "patient": {}}, table_from_firmware=False))
    assert kept["device"]["anticoagulation"] == yaml.safe_load(text)["device"]["anticoagulation"]


def _row(rid: str, label: str, fw: str, outcome: str, value: float | None) -> dict:
    return {"run_id": rid, "kind": "scenario", "label": label, "firmware": fw, "seed": 1,
            "spec": {"seed": 1}, "outcome": outcome, "failures": [] if outcome == "pass" else ["why"],
            "measurements": [{"name": "m", "quantity": "delay_s", "value": value, "unit": "s",
                              "outcome": "pass", "low": 0.0, "high": 1.0}],
            "virtual_s": 3600.0, "replay": None, "result": {"x": 1},
            "timing": {"started_at": "t", "wall_s": 1.0, "worker": "w"}}


def test_the_table_resumes_and_ignores_a_cut_line(tmp_path):
    w = RowWriter(tmp_path)
    w.write(_row("a", "s1", "table", "pass", 0.1))
    w.write({**_row("b", "s1", "table", "error", None), "setup_error": True})
    w.close()
    with (tmp_path / RESULTS).open("a") as f:
        f.write('{"run_id": "c", "outco')    # stopped in the middle of a line
    assert set(read_rows(tmp_path)) == {"a"}   # b could not be set up: it runs again
    import pyarrow.parquet as pq

    write_table([_row("a", "s1", "table", "pass", 0.1), _row("d", "s2", "x", "fail", None)],
                tmp_path / "runs.parquet")
    t = pq.read_table(tmp_path / "runs.parquet").to_pylist()
    assert [r["run_id"] for r in t] == ["a", "d"] and t[0]["measurements"][0]["unit"] == "s"
    assert json.loads(t[1]["result_json"]) == {"x": 1}


def test_summary_pass_rates_distributions_and_replays():
    c = loads("campaign: c\ngroups:\n  - kind: scenarios\n    scenarios: [air_in_return_line]\n", "c.yaml")
    rows = [_row("a", "s1", "table", "pass", 0.1), _row("b", "s1", "table", "marginal", 0.3),
            _row("c", "s1", "raschke", "fail", 0.5), _row("d", "s2", "raschke", "skip", None)]
    s = summarise(c, rows, {"runs_this_time": 4, "runs_resumed": 0, "workers": 2, "scheduler": "x",
                            "wall_s": 1.0})
    assert (s["runs"], s["passed"], s["pass_rate"]) == (4, 2, round(2 / 3, 4))
    assert s["by_firmware"]["table"]["pass_rate"] == 1.0 and s["by_firmware"]["raschke"]["pass_rate"] == 0.0
    assert s["by_label"]["s2"]["pass_rate"] is None
    d = s["measurements"]["s1"]["m"]
    assert (d["unit"], d["n"], d["min"], d["median"], d["max"]) == ("s", 3, 0.1, 0.3, 0.5)
    assert sum(d["histogram"]["counts"]) == 3
    (f,) = s["failures"]
    assert f["run_id"] == "c" and f["replay"] == "python -m hil.campaign c.yaml --rerun c"
