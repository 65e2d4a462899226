"""Cytokine levels and the untreated / treated courses."""

from __future__ import annotations

import numpy as np
import pytest
from _host_helpers import RUNNING

from host import untreated
from host.cytokines import CytokineParams, rates
from host.patient import DeviceParams, PatientParams
from host.plant import Plant


def test_levels_at_therapy_start() -> None:
    obs = Plant(patient=PatientParams(k_pg=0.6, hours_since_onset=12.0)).observe()
    assert 1000.0 <= obs["IL-6"] <= 10000.0  # thousands (Calandra, Damas)
    assert 100.0 <= obs["TNF-a"] <= 1000.0  # hundreds (median 250)
    assert 10.0 <= obs["IL-10"] <= 150.0  # tens to ~100 (Marchant)
    assert obs["IL-1b"] < 20.0  # barely detectable


def test_milder_sepsis_lower_levels() -> None:
    severe = Plant(patient=PatientParams(k_pg=0.6)).observe()
    mild = Plant(patient=PatientParams(k_pg=0.25)).observe()
    assert mild["IL-6"] < severe["IL-6"]


def test_untreated_48h_plausible() -> None:
    ref = untreated.simulate(PatientParams(), 0, 48 * 3600.0, 600.0)
    assert ref["t_s"][-1] == 48 * 3600.0
    for name, hi in (("IL-6", 50000.0), ("TNF-a", 5000.0), ("IL-1b", 100.0), ("IL-10", 1000.0)):
        v = ref[name]
        assert np.all(np.isfinite(v)) and np.all(v > 0.0), name
        assert v.max() < hi, name
        assert np.all(np.abs(np.diff(np.log(v))) < 0.5), name  # no jumps between 10-min samples


def test_tnf_kinetics_match_source() -> None:
    r = rates(70.0, 0.3)
    k10, k12, k21 = r.tnf_k10, r.tnf_k12, r.tnf_k21
    s = k10 + k12 + k21
    disc = np.sqrt(s * s - 4 * k10 * k21)
    alpha, beta = (s + disc) / 2, (s - disc) / 2
    assert np.log(2) / alpha == pytest.approx(5.1, rel=1e-6)
    assert np.log(2) / beta == pytest.approx(49.0, rel=1e-6)
    assert k10 * r.tnf_v / 70.0 == pytest.approx(9.5, rel=1e-6)  # mL/min/kg


def test_il6_half_life_is_under_one_hour() -> None:
    assert CytokineParams().il6_half_life_min < 60.0


def test_treatment_lowers_il6_modestly() -> None:
    patient = PatientParams()
    plant = Plant(patient=patient, device=DeviceParams.preset("cytosorb"), seed=1)
    plant.connect_patient()
    plant.advance(RUNNING, 36000, None)  # 1 h at 200 mL/min
    ref = untreated.simulate(patient, 1, 3600.0, 3600.0)
    ratio = plant.observe()["IL-6"] / ref["IL-6"][-1]
    assert 0.6 < ratio < 0.95  # visible, not dramatic
    sham = Plant(patient=patient, device=DeviceParams.preset("sham"), seed=1)
    sham.connect_patient()
    sham.advance(RUNNING, 36000, None)
    assert sham.observe()["IL-6"] == pytest.approx(ref["IL-6"][-1], rel=1e-9)
