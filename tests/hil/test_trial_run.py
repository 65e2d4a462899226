"""One short real trial: 2 patients x 2 arms x 4 h, closed loop, firmware in
the MicroPython VM, two workers. Checks the outputs' structure and that the
arms really ran different configurations of the same firmware on the same
patients: heparin in arm table, none and a logged override in arm none."""

from __future__ import annotations

import dataclasses
import json

import pytest

from hil.trial.arms import prepare_arm, select_arms
from hil.trial.patient import PatientTask
from hil.trial.report import write_all
from hil.trial.trial import TRIAL_VERSION, TrialError, TrialPlan, run_tasks, run_trial

ARM_KEYS = ("patients", "cartridges", "clotted_before_24h_frac", "clotted_before_24h_ci",
            "circuit_life_median_h", "circuit_life_median_reached", "aptt_in_range_frac",
            "aptt_above_100_frac", "il6_auc_rel", "alarms_per_day", "km", "aptt_histogram",
            "anticoagulation", "firmware", "board_config")


@pytest.fixture(scope="module")
def trial(tmp_path_factory):
    out = tmp_path_factory.mktemp("trial")
    plan = TrialPlan(arms=tuple(select_arms(None, [])), patients=2, hours=4.0, seed=11, workers=2)
    calls = []
    summary = run_trial(plan, out, progress=lambda r, done, total: calls.append((r["arm"], done, total)))
    write_all(summary, out)
    assert [c[1:] for c in calls] == [(1, 4), (2, 4), (3, 4), (4, 4)]
    return out, summary


def test_outputs_and_structure(trial):
    out, s = trial
    on_disk = json.loads((out / "trial.json").read_text())
    assert on_disk == json.loads(json.dumps(s))
    assert s["trial_version"] == TRIAL_VERSION
    assert s["plan"]["seeds"] == [11, 12] and s["plan"]["arms"] == ["table", "none"]
    assert list(s["arms"]) == ["table", "none"]
    for a in s["arms"].values():
        assert all(k in a for k in ARM_KEYS), [k for k in ARM_KEYS if k not in a]
        assert a["patients"] == 2 and a["patients_aborted"] == 0
        assert a["cartridges"] >= 2
        # 4 h runs: no first circuit reaches 24 h, unless it clotted before.
        assert a["clotted_before_24h"] + a["clotted_before_24h_unknown"] == 2
        assert 0.0 < a["il6_auc_rel"] <= 1.0
        assert abs(sum(a["aptt_histogram"]["time_frac"]) - 1.0) < 1e-3
    assert s["comparison"]["reference"] == "table"
    assert s["run"]["workers"] == 2 and s["run"]["wall_s"] > 0
    page = (out / "trial.html").read_text()
    assert page.count("data:image/png;base64,") == 2 and "Circuit life" in page
    for arm in ("table", "none"):
        assert (out / "arms" / arm / "board.json").is_file()
        assert (out / "runs" / arm / "p00.events.json").is_file()


def test_same_patients_same_firmware_different_configuration(trial):
    out, s = trial
    by_arm = {name: [p for p in s["patients"] if p["arm"] == name] for name in s["arms"]}
    # The same patients (seeds and characteristics) in both arms.
    same = [[(p["seed"], p["patient"]) for p in by_arm[arm]] for arm in ("table", "none")]
    assert same[0] == same[1]
    # The same firmware, built once; only the board config differs.
    t, n = s["arms"]["table"], s["arms"]["none"]
    assert t["firmware"] == n["firmware"] and t["firmware_reported"] == n["firmware_reported"]
    assert (t["anticoagulation"], n["anticoagulation"]) == ("cartridge-60-80", "none")
    # Heparin in arm table (an infusion; the loading dose is the nurse's, IV,
    # and device boluses only follow a low aPTT), none at all in arm none.
    assert all(p["heparin_bolus_u"] >= 0 and p["heparin_infused_u"] > 0 for p in by_arm["table"])
    assert all(p["heparin_bolus_u"] == 0 and p["heparin_infused_u"] == 0 for p in by_arm["none"])
    # In arm none blood flow started through the operator's override, logged by the firmware.
    assert all(p["overrides_h"] and p["circuits"] for p in by_arm["none"])
    for p in by_arm["none"]:
        events = json.loads((out / "runs" / "none" / f"p{p['index']:02d}.events.json").read_text())
        overrides = [e for e in events if e["type"] == "override"]
        assert overrides and any(e["type"] == "command" and e["command"] == "override_aptt" for e in events)
        assert not [e for e in events if e["type"] == "heparin" and (e["bolus_u"] or e["rate_u_h"])]
        # The override came before the patient was connected (blood flow started on it).
        connected = [e["t_s"] for e in events if e["type"] == "patient_connected"]
        assert connected and overrides[0]["t_s"] <= connected[0]


def test_a_run_that_cannot_be_set_up_stops_the_trial_naming_it(tmp_path):
    arm = prepare_arm(select_arms(None, [])[1], tmp_path / "none")
    gone = dataclasses.replace(arm, config_path=tmp_path / "gone.json")
    tasks = [PatientTask(arm=a, index=i, seed=5 + i, hours=1.0) for i, a in enumerate((arm, gone))]
    tasks[0] = dataclasses.replace(tasks[0], hours=0.01)
    with pytest.raises(TrialError, match=r"arm 'none', patient 1 \(seed 6\): \w+: .*gone\.json"):
        run_tasks(tasks, workers=2)
