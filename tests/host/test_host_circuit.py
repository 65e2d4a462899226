"""Pressures and clotting."""

from __future__ import annotations

import numpy as np
import pytest

from host import circuit, heparin
from host.patient import PatientParams
from host.plant import Actuators, Plant

# domain.md section 4 typical ranges (mmHg)
ACCESS = (-150.0, -50.0)
PRE = (100.0, 250.0)
RETURN = (50.0, 150.0)


@pytest.mark.parametrize("flow", [150.0, 200.0, 300.0, 500.0])
def test_pressures_in_typical_ranges(flow: float) -> None:
    p = Plant(seed=1)
    p.connect_patient()
    act = Actuators(pump_ml_min=flow, clamp_open=True, heparin_u_h=1260.0, heparin_bolus_u=5600.0)
    p.advance(act, 100, None)
    o = p.observe()
    assert o["q_blood_ml_min"] == pytest.approx(flow, rel=1e-3)
    assert ACCESS[0] <= o["p_access_mmhg"] <= ACCESS[1]
    assert PRE[0] <= o["p_pre_mmhg"] <= PRE[1]
    assert RETURN[0] <= o["p_return_mmhg"] <= RETURN[1]


def test_pressures_monotonic_in_flow() -> None:
    c = circuit.coefficients(0.0, 0.0, True)
    prev = circuit.pressures(0.0, c)
    for q in (50.0, 150.0, 300.0, 500.0):
        cur = circuit.pressures(q, c)
        assert cur[0] < prev[0] and cur[1] > prev[1] and cur[2] > prev[2]
        prev = cur


def test_clotted_definition() -> None:
    cp = circuit.ClotParams()
    assert circuit.drop_multiplier(cp.clotted_fraction) == pytest.approx(4.0)
    assert circuit.drop_multiplier(0.0) == 1.0


def test_clotting_answers_to_anticoagulation() -> None:
    from host import clot_calibration as cc
    no = cc.cartridge_trial(30.0, n=5000)
    yes = cc.cartridge_trial(70.0, n=5000)
    assert no["clotted_before_24h"] > 0.8 and yes["clotted_before_24h"] < 0.05
    assert yes["median_clot_h"] > 10.0 * no["median_clot_h"]


def test_a_ten_minute_stop_at_therapeutic_aptt_is_a_small_part_of_life() -> None:
    still = circuit.clot_rate_per_h(70.0, 0.0, 1.0)
    assert 0.5 / still > 10.0 * (10.0 / 60.0)  # the stop uses < 10% of a stagnant life


def test_stasis_accelerates_clotting() -> None:
    flowing = circuit.clot_rate_per_h(70.0, 200.0, 1.0)
    still = circuit.clot_rate_per_h(70.0, 0.0, 1.0)
    assert still > 10.0 * flowing
    assert 0.5 / circuit.clot_rate_per_h(heparin.aptt_s(0.0), 0.0, 1.0) * 60.0 < 30.0  # no heparin: minutes


def _clot_after(actuators: Actuators, ticks: int) -> float:
    p = Plant(patient=PatientParams(), seed=4)
    p.connect_patient()
    p.advance(actuators, ticks, None)
    return p.observe()["clot_fraction"]


def test_no_heparin_clots_faster_than_therapeutic_in_plant() -> None:
    six_hours = 6 * 36000
    therapeutic = _clot_after(Actuators(pump_ml_min=200.0, clamp_open=True, heparin_u_h=1750.0,
                                        heparin_bolus_u=5600.0), six_hours)
    none = _clot_after(Actuators(pump_ml_min=200.0, clamp_open=True), six_hours)
    assert none > therapeutic * 5.0
    stopped = _clot_after(Actuators(pump_ml_min=0.0, clamp_open=False, heparin_u_h=1750.0,
                                    heparin_bolus_u=5600.0), 36000)
    # Without flow the syringe's heparin stays in the line (none reaches the
    # patient), and the blood in the cartridge is trapped at baseline.
    assert stopped > therapeutic


def test_clot_raises_pre_pressure() -> None:
    p = Plant(seed=4)
    p.connect_patient()
    act = Actuators(pump_ml_min=200.0, clamp_open=True)
    p.advance(act, 100, None)
    fresh = p.observe()
    p.faults.clot_boost = 30.0
    while p.observe()["clot_fraction"] < 0.5:
        p.advance(act, 600, None)
    clotted = p.observe()
    drop_fresh = fresh["p_pre_mmhg"] - fresh["p_return_mmhg"]
    drop = clotted["p_pre_mmhg"] - clotted["p_return_mmhg"]
    assert drop >= 4.0 * drop_fresh * 0.999
    assert clotted["p_return_mmhg"] == pytest.approx(fresh["p_return_mmhg"])


def test_a_clotted_cartridge_throttles_flow_at_the_pump_outlet_limit() -> None:
    from array import array

    from host.circuit import HydraulicParams
    from host.patient import DeviceParams, PatientParams
    from host.plant import Actuators, Plant

    plant = Plant(patient=PatientParams(), device=DeviceParams.preset("cytosorb"), seed=1)
    plant.connect_patient()
    plant.faults.clot_boost = 5000.0     # clots within minutes
    act = Actuators(pump_ml_min=200.0, clamp_open=True, heparin_u_h=0.0, heparin_bolus_u=0.0)
    out = array("h")
    plant.advance(act, 6000, out)
    obs = plant.observe()
    limit = HydraulicParams().outlet_max_mmhg
    assert obs["clot_fraction"] > 0.9
    assert obs["p_pre_mmhg"] <= limit + 1.0
    assert obs["q_blood_ml_min"] < 100.0          # the clot took the flow down
    # Once throttled, the readings stay at the limit too (noise aside); the
    # first seconds of this extreme clot rate overshoot between slow steps.
    assert max(out[-5 * 600 + 1::5]) <= round(limit * 10) + 50
