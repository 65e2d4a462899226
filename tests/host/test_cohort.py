"""Vectorised cohorts (host.cohort)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from host import cohort, untreated
from host.patient import DeviceParams, PatientParams
from host.plant import Actuators, Plant

METRICS = ("il6_auc", "il6_end", "il6_hours_above", "tnf_auc", "il10_auc", "endotoxin_auc")


@pytest.fixture(scope="module")
def small() -> dict:
    return cohort.run_cohort(n=40, days=1.0, dt_s=60.0, seed=3)


def test_shapes(small: dict) -> None:
    assert small["baseline_il6"].shape == (40,)
    assert small["start_h"].shape == (40,)
    for arm in ("treated", "untreated"):
        for m in METRICS:
            assert small[arm][m].shape == (40,), m
            assert np.all(np.isfinite(small[arm][m])), m


def test_treatment_only_lowers(small: dict) -> None:
    tr, un = small["treated"], small["untreated"]
    assert np.all(tr["il6_auc"] < un["il6_auc"])
    assert np.all(tr["il6_auc"] > 0.5 * un["il6_auc"])  # modest, not dramatic
    assert np.all(tr["il6_hours_above"] <= un["il6_hours_above"])
    # 24 h windows, left sums: AUC ~ mean level x 24 h
    assert np.all(un["il6_auc"] > 0.0)


def test_deterministic() -> None:
    a = cohort.run_cohort(n=12, days=0.5, dt_s=60.0, seed=5)
    b = cohort.run_cohort(n=12, days=0.5, dt_s=60.0, seed=5)
    c = cohort.run_cohort(n=12, days=0.5, dt_s=60.0, seed=6)
    for m in METRICS:
        assert np.array_equal(a["treated"][m], b["treated"][m])
    assert not np.array_equal(a["baseline_il6"], c["baseline_il6"])


def test_sampling_ranges() -> None:
    p = cohort.sample_patients(5000, seed=1)
    assert p.n == 5000
    assert 0.25 <= p.k_pg.min() and p.k_pg.max() <= 0.65
    assert 1.0 <= p.p0.min() and p.p0.max() <= 1.5
    assert 4.0 <= p.start_h.min() and p.start_h.max() <= 48.0
    assert np.allclose(p.start_h * 60.0, np.round(p.start_h * 60.0))  # whole minutes
    assert 0.2 < np.mean(p.start_h <= 24.0) < 0.8


def test_grouping() -> None:
    fake = {"baseline_il6": np.array([500.0, 1500.0, 999.9, 2000.0, 1000.0]),
            "start_h": np.array([10.0, 10.0, 30.0, 30.0, 24.0])}
    m = cohort.group_masks(fake)
    assert list(m["il6_high"]) == [False, True, False, True, False]
    assert list(m["early"]) == [True, True, False, False, True]
    assert list(m["il6_high_late"]) == [False, False, False, True, False]
    assert list(m["il6_low_early"]) == [True, False, False, False, True]
    assert m["all"].sum() == 5


def test_summary_groups_add_up(small: dict) -> None:
    s = cohort.summarise_cohort(small)
    g = s["groups"]
    assert g["all"]["n"] == 40
    assert g["il6_high"]["n"] + g["il6_low"]["n"] == 40
    assert g["early"]["n"] + g["late"]["n"] == 40
    assert sum(g[k]["n"] for k in ("il6_high_early", "il6_high_late", "il6_low_early", "il6_low_late")) == 40
    assert g["all"]["il6_auc_reduction_pct"]["median"] > 0.0
    json.dumps(s)


def _one(start_h: float = 0.0) -> cohort.CohortPatients:
    return cohort.CohortPatients.from_params([PatientParams(weight_kg=82.0, hematocrit=0.33, k_pg=0.5,
                                                            p0=1.2, hours_since_onset=start_h,
                                                            cytokine_gain=1.3)])


def test_size_one_untreated_equals_single_patient_model() -> None:
    pat = PatientParams(weight_kg=82.0, hematocrit=0.33, k_pg=0.5, p0=1.2, hours_since_onset=0.0,
                        cytokine_gain=1.3)
    res = cohort.run_cohort(patients=_one(), days=1.0 / 24.0, dt_s=1.0, record_every_s=60.0)
    ref = untreated.simulate(pat, 0, 3600.0, 60.0)
    assert np.array_equal(res["t_s"], ref["t_s"])
    for name in ("IL-6", "TNF-a", "IL-1b", "IL-10", "endotoxin"):
        np.testing.assert_allclose(res["traj"]["untreated"][name][:, 0], ref[name], rtol=1e-9, err_msg=name)


def test_size_one_treated_equals_plant() -> None:
    pat = PatientParams(weight_kg=82.0, hematocrit=0.33, k_pg=0.5, p0=1.2, hours_since_onset=0.0,
                        cytokine_gain=1.3)
    plant = Plant(patient=pat, device=DeviceParams.preset("cytosorb"), seed=2, trace_every=600)
    plant.connect_patient()
    plant.advance(Actuators(pump_ml_min=200.0, clamp_open=True, heparin_u_h=1500.0, heparin_bolus_u=6000.0),
                  36000, None)
    obs = plant.observe()
    res = cohort.run_cohort(patients=_one(), days=1.0 / 24.0, dt_s=1.0, record_every_s=3600.0,
                            blood_ml_min=200.0)
    for name in ("IL-6", "TNF-a", "IL-10", "endotoxin"):
        # the plant's pump needs ~2 s to reach its flow: tiny difference in plasma processed
        assert res["traj"]["treated"][name][-1, 0] == pytest.approx(obs[name if name != "endotoxin"
                                                                         else "endotoxin_eu_ml"], rel=1e-4)
    assert res["traj"]["treated"]["IL-6"][-1, 0] < 0.95 * res["traj"]["untreated"]["IL-6"][-1, 0]


def test_one_minute_step_close_to_one_second() -> None:
    coarse = cohort.run_cohort(patients=_one(2.0), days=0.25, dt_s=60.0)
    fine = cohort.run_cohort(patients=_one(2.0), days=0.25, dt_s=1.0)
    for arm in ("treated", "untreated"):
        assert coarse[arm]["il6_auc"][0] == pytest.approx(fine[arm]["il6_auc"][0], rel=0.02)
        assert coarse[arm]["il6_end"][0] == pytest.approx(fine[arm]["il6_end"][0], rel=0.02)


def test_daily_exchange_and_session_length() -> None:
    cont = cohort.run_cohort(patients=_one(6.0), days=2.0, dt_s=60.0, record_every_s=600.0)
    part = cohort.run_cohort(patients=_one(6.0), days=2.0, dt_s=60.0, hours_per_day=6.0)
    tor = cohort.run_cohort(patients=_one(6.0), days=2.0, dt_s=60.0, device="toraymyxin", hours_per_day=24.0)
    assert part["hours_per_day"] == 6.0 and tor["hours_per_day"] == 2.0  # Toraymyxin: 2 h sessions
    red = lambda r: 1.0 - r["treated"]["il6_auc"][0] / r["untreated"]["il6_auc"][0]  # noqa: E731
    assert red(cont) > red(part) > 0.0
    assert tor["treated"]["endotoxin_auc"][0] < tor["untreated"]["endotoxin_auc"][0]
    # a fresh cartridge at 24 h from the start raises the removal again
    t = cont["t_s"] / 3600.0
    ratio = cont["traj"]["treated"]["IL-6"][:, 0] / cont["traj"]["untreated"]["IL-6"][:, 0]
    before = ratio[np.searchsorted(t, 6.0 + 23.9)]
    after = ratio[np.searchsorted(t, 6.0 + 25.0)]
    assert after < before


def test_cli(tmp_path: Path) -> None:
    assert cohort.main(["--n", "20", "--days", "0.5", "--out", str(tmp_path)]) == 0
    s = json.loads((tmp_path / "summary.json").read_text())
    assert s["n"] == 20 and "il6_high" in s["groups"] and "early" in s["groups"]


def test_bench_small() -> None:
    assert cohort.bench_plant_cohort(n=50, days=0.2) > 0.0


def test_cohort_runs_the_shared_step_bit_identical() -> None:
    """The cohort steps with host.physiology.step itself: its untreated arm at the
    plant's 1 s step is bit for bit the shared step run on the same patients."""
    pats = [PatientParams(weight_kg=82.0, hematocrit=0.33, k_pg=0.5, p0=1.2, hours_since_onset=0.0,
                          cytokine_gain=1.3),
            PatientParams(weight_kg=55.0, hematocrit=0.25, k_pg=0.4, hours_since_onset=0.0),
            PatientParams(weight_kg=95.0, k_pg=0.65, p0=1.5, hours_since_onset=0.0, cytokine_gain=0.4)]
    res = cohort.run_cohort(patients=cohort.CohortPatients.from_params(pats), days=0.5 / 24.0, dt_s=1.0,
                            record_every_s=60.0)
    ref = untreated.simulate_cohort(pats, 1800.0, 60.0)
    assert np.array_equal(res["t_s"], ref["t_s"])
    for name in ("IL-6", "TNF-a", "IL-1b", "IL-10", "endotoxin"):
        assert np.array_equal(res["traj"]["untreated"][name], ref[name]), name
        # before any session both arms are the same
        assert np.array_equal(res["traj"]["treated"][name][0], ref[name][0]), name
