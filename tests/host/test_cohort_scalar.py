"""The vectorised cohort against the plant's scalar path, patient by patient.

Each patient is re-run on plain floats with the functions the plant itself
uses: ``physiology.step`` for the physiology and a ``CartridgeState`` (the
plant's cartridge record, ``perfuse``) for each day's cartridge, on the same
schedule as the cohort (a session of ``hours_per_day`` from the start of each
day, a fresh cartridge every day, the window ``[start, start + days)``).  The
cohort's arrays, its once-evaluated flow term and its zero-flow patients off
session must give the same metrics to floating-point rounding.
"""

from __future__ import annotations

import numpy as np
import pytest

from host import cartridge, cohort, cytokines, physiology
from host.patient import PatientParams

DT_S = 60.0
PATIENTS = [PatientParams(weight_kg=82.0, hematocrit=0.33, k_pg=0.5, p0=1.2, hours_since_onset=1.0,
                          hours_to_antimicrobials=1.0, cytokine_gain=1.3),
            PatientParams(weight_kg=55.0, hematocrit=0.25, k_pg=0.62, hours_since_onset=2.5,
                          hours_to_antimicrobials=2.5),
            PatientParams(weight_kg=95.0, k_pg=0.3, p0=1.5, hours_since_onset=0.5, hours_to_antimicrobials=0.5,
                          cytokine_gain=0.4)]


def _scalar(pat: PatientParams, days: float, device: str, blood_ml_min: float, hours_per_day: float,
            treated: bool) -> dict[str, float]:
    """One arm of one patient on floats; the cohort's metrics."""
    a = cartridge.PRESETS[device]
    per_h = 3600.0 / DT_S
    start, window = round(pat.hours_since_onset * per_h), round(days * 24.0 * per_h)
    day, session = round(24.0 * per_h), round(min(hours_per_day, a.max_hours) * per_h)
    qp = float(cartridge.plasma_flow(blood_ml_min, pat.hematocrit))
    inputs = physiology.patient_inputs(pat)
    s = physiology.onset_state(float(pat.p0), inputs)
    sums = {"il6_auc": 0.0, "tnf_auc": 0.0, "il10_auc": 0.0, "endotoxin_auc": 0.0, "il6_hours_above": 0.0}
    out: dict[str, float] = {}
    cart = cartridge.CartridgeState()
    for k in range(start + window + 1):
        c = physiology.concentrations(s)
        if k == start + window:
            out["il6_end"] = float(c["IL-6"])
            break
        if k >= start:
            for key, name in (("il6_auc", "IL-6"), ("tnf_auc", "TNF-a"), ("il10_auc", "IL-10"),
                              ("endotoxin_auc", "endotoxin")):
                sums[key] += float(c[name]) / per_h
            sums["il6_hours_above"] += (float(c["IL-6"]) > cohort.IL6_THRESHOLD) / per_h
        in_day = (k - start) % day
        on = treated and k >= start and in_day < session
        if on and in_day == 0:
            cart = cartridge.CartridgeState()  # a fresh cartridge each day
        removal = cart.perfuse(qp, float(s.endo), DT_S, a) if on else cytokines.NO_REMOVAL
        s = physiology.step(s, inputs, removal, DT_S)
    out.update(sums)
    return out


@pytest.mark.parametrize("device, blood_ml_min, hours_per_day, days", [
    ("cytosorb", 200.0, 24.0, 1.5),  # the flow term is a fractional power; a daily exchange at 24 h
    ("cytosorb", 150.0, 6.0, 1.2),  # sessions end inside the window
    ("toraymyxin", 100.0, 24.0, 1.1),  # 2-h sessions, endotoxin self-saturation
])
def test_cohort_equals_scalar_plant_path(device: str, blood_ml_min: float, hours_per_day: float,
                                        days: float) -> None:
    res = cohort.run_cohort(patients=cohort.CohortPatients.from_params(PATIENTS), days=days, dt_s=DT_S,
                            device=device, blood_ml_min=blood_ml_min, hours_per_day=hours_per_day)
    for i, pat in enumerate(PATIENTS):
        for arm in cohort.ARMS:
            ref = _scalar(pat, days, device, blood_ml_min, hours_per_day, arm == "treated")
            for key, want in ref.items():
                got = float(res[arm][key][i])
                if key == "il6_hours_above":  # a count of steps: equal unless a level sits on the threshold
                    assert got == pytest.approx(want, abs=1.0 / 60.0), (arm, key, i)
                else:
                    assert got == pytest.approx(want, rel=1e-9, abs=1e-12), (arm, key, i)
    # the device did something, so the comparison covered the treated path
    assert np.all(res["treated"]["il6_auc"] < res["untreated"]["il6_auc"])


@pytest.mark.parametrize("device", sorted(cartridge.PRESETS))
def test_clearances_at_is_clearances(device: str) -> None:
    a = cartridge.PRESETS[device]
    qp = np.array([70.0, 105.0, 140.0, 350.0])
    processed, bound = np.array([0.0, 3.0, 40.0, 120.0]), np.array([0.0, 10.0, 500.0, 5e4])
    whole = cartridge.clearances(processed, bound, qp, a)
    split = cartridge.clearances_at(processed, bound, qp, cartridge.ntu_factor(qp, a), a)
    for w, s in zip(whole, split):
        assert np.array_equal(w, s)
    # a patient off session (plasma flow 0 with the session's flow term) clears nothing
    off = cartridge.clearances_at(processed, bound, 0.0 * qp, cartridge.ntu_factor(qp, a), a)
    assert all(np.all(c == 0.0) for c in off)
    # and on floats, as the plant calls it
    assert cartridge.clearances(1.0, 2.0, 140.0, a) == cartridge.clearances_at(
        1.0, 2.0, 140.0, cartridge.ntu_factor(140.0, a), a)


def test_dropping_ended_patients_changes_nothing() -> None:
    """Without recording the cohort stops stepping patients whose window has
    ended (in batches of n/64); with recording it steps everyone to the end.
    The metrics must be the same, bit for bit, in the caller's order."""
    pts = cohort.sample_patients(130, seed=11)  # a batch of 2 ended patients
    lean = cohort.run_cohort(patients=pts, days=0.5, dt_s=DT_S)
    full = cohort.run_cohort(patients=pts, days=0.5, dt_s=DT_S, record_every_s=DT_S)
    assert not np.all(np.diff(pts.start_h) >= 0.0)  # the cohort is not sorted by start already
    assert np.array_equal(lean["baseline_il6"], full["baseline_il6"])
    for arm in cohort.ARMS:
        for key, v in lean[arm].items():
            assert np.array_equal(v, full[arm][key]), (arm, key)
    # results come back in the caller's order: each baseline is that patient's IL-6 at his own start
    at_start = np.round(pts.start_h * 3600.0 / DT_S).astype(int)
    traj = full["traj"]["treated"]["IL-6"]
    assert np.array_equal(full["baseline_il6"], traj[at_start, np.arange(pts.n)])
