"""The harness-facing API of host.plant."""

from __future__ import annotations

from array import array
from dataclasses import FrozenInstanceError

import pytest
from _host_helpers import RUNNING, STOPPED

from host.patient import DeviceParams, PatientParams
from host.plant import SENSOR_CHANNELS, TRACE_COLUMNS, Actuators, Plant, SensorFault

REQUIRED_COLUMNS = ("t_s", "IL-6", "TNF-a", "IL-1b", "IL-10", "heparin_u_ml", "aptt_s", "q_blood_ml_min",
                    "p_access_mmhg", "p_pre_mmhg", "p_return_mmhg", "clot_fraction", "extraction_il6",
                    "cartridge_index", "pump_ml_min", "heparin_u_h")


def test_channels_and_columns() -> None:
    assert SENSOR_CHANNELS == ("p_access", "p_pre", "p_return", "q_blood", "flags")
    for name in REQUIRED_COLUMNS:
        assert name in TRACE_COLUMNS
    assert len(set(TRACE_COLUMNS)) == len(TRACE_COLUMNS)


def test_actuators_frozen() -> None:
    with pytest.raises(FrozenInstanceError):
        RUNNING.pump_ml_min = 1.0  # type: ignore[misc]


def test_advance_output_tick_and_trace(plant: Plant) -> None:
    out = array("h")
    plant.advance(STOPPED, 250, out)
    assert plant.tick == 250
    assert len(out) == 250 * len(SENSOR_CHANNELS)
    assert len(plant.trace_rows) == 2
    assert all(len(r) == len(TRACE_COLUMNS) for r in plant.trace_rows)
    assert plant.trace_rows[0][TRACE_COLUMNS.index("t_s")] == pytest.approx(10.0)
    assert plant.trace_rows[1][TRACE_COLUMNS.index("t_s")] == pytest.approx(20.0)
    plant.advance(STOPPED, 10, None)
    assert plant.tick == 260 and len(out) == 250 * 5
    obs = plant.observe()
    assert set(obs) == set(TRACE_COLUMNS)
    assert obs["t_s"] == pytest.approx(26.0)


def test_flow_follows_pump_and_clamp(plant: Plant) -> None:
    plant.connect_patient()
    out = array("h")
    plant.advance(RUNNING, 100, out)
    assert plant.observe()["q_blood_ml_min"] == pytest.approx(200.0, rel=1e-3)
    q_counts = out[3::5]
    assert abs(q_counts[-1] - 2000) < 100  # 0.1 mL/min units
    closed = Actuators(pump_ml_min=200.0, clamp_open=False, heparin_u_h=1260.0, heparin_bolus_u=5600.0)
    out2 = array("h")
    plant.advance(closed, 100, out2)
    obs = plant.observe()
    assert obs["q_blood_ml_min"] == 0.0
    assert max(out2[-5 * 10 + 3::5]) < 100  # measured flow ~0 (< 10 mL/min incl. noise)
    assert obs["p_access_mmhg"] == pytest.approx(5.0) and obs["p_return_mmhg"] == pytest.approx(5.0)
    assert min(out2[3::5]) >= 0


def test_short_flow_response(plant: Plant) -> None:
    plant.advance(RUNNING, 1, None)
    q1 = plant.observe()["q_blood_ml_min"]
    assert 0.0 < q1 < 100.0  # first-order response, not a jump
    plant.advance(RUNNING, 30, None)
    assert plant.observe()["q_blood_ml_min"] > 199.0


def test_bolus_is_incremental(plant: Plant) -> None:
    # The syringe's bolus goes into the line; with no flow it stays there.
    plant.advance(Actuators(heparin_bolus_u=5600.0), 10, None)
    assert plant.observe()["heparin_u_ml"] == 0.0
    assert plant.observe()["heparin_line_u"] == pytest.approx(5600.0)
    plant.advance(Actuators(heparin_bolus_u=5600.0), 10, None)  # no new units
    assert plant.observe()["heparin_line_u"] == pytest.approx(5600.0)
    plant.advance(Actuators(heparin_bolus_u=8400.0), 10, None)  # +2800 U
    assert plant.observe()["heparin_line_u"] == pytest.approx(8400.0)
    # Blood flowing to the connected patient washes it in (a bolus on restart).
    plant.connect_patient()
    plant.advance(Actuators(pump_ml_min=200.0, clamp_open=True, heparin_bolus_u=8400.0), 6000, None)
    assert plant.observe()["heparin_line_u"] < 1.0
    assert plant.observe()["heparin_u_ml"] > 0.5 * 8400.0 / 2800.0


def test_iv_bolus_reaches_the_patient_at_once(plant: Plant) -> None:
    plant.give_heparin_iv(1400.0)
    assert plant.observe()["heparin_u_ml"] == pytest.approx(1400.0 / 2800.0)


def test_infusion_raises_heparin(plant: Plant) -> None:
    plant.connect_patient()
    act = Actuators(pump_ml_min=200.0, clamp_open=True, heparin_u_h=1260.0)
    plant.advance(act, 36000, None)  # 1 h
    assert plant.observe()["heparin_u_ml"] > 0.05
    assert plant.true_aptt() > 35.0


def test_lab_draw_deterministic_and_noisy(plant: Plant) -> None:
    plant.advance(Actuators(heparin_bolus_u=2000.0), 10, None)
    a = plant.draw_aptt()
    assert a == plant.draw_aptt()
    other = Plant(seed=2)
    other.advance(Actuators(heparin_bolus_u=2000.0), 10, None)
    assert other.true_aptt() == plant.true_aptt()
    assert other.draw_aptt() != a
    assert abs(a / plant.true_aptt() - 1.0) < 0.25
    assert plant.device.lab.turnaround_s == pytest.approx(2700.0)


def test_lab_noise_cv() -> None:
    from host.lab import measure_aptt
    vals = [measure_aptt(60.0, 7, t) for t in range(2000)]
    mean = sum(vals) / len(vals)
    sd = (sum((v - mean) ** 2 for v in vals) / len(vals)) ** 0.5
    assert mean == pytest.approx(60.0, rel=0.01)
    assert sd / mean == pytest.approx(0.05, rel=0.1)


def test_replace_cartridge(plant: Plant) -> None:
    plant.connect_patient()
    plant.advance(RUNNING, 36000, None)
    before = plant.observe()
    assert before["clot_fraction"] > 0.0 and before["plasma_processed_l"] > 5.0
    plant.replace_cartridge()
    after = plant.observe()
    assert after["cartridge_index"] == 1
    assert after["clot_fraction"] == 0.0 and after["plasma_processed_l"] == 0.0
    plant.advance(RUNNING, 10, None)
    assert plant.observe()["extraction_il6"] > before["extraction_il6"]


def test_priming_has_no_removal_or_clotting(plant: Plant) -> None:
    plant.advance(RUNNING, 36000, None)  # circulating prime, not connected
    obs = plant.observe()
    assert obs["q_blood_ml_min"] == pytest.approx(200.0, rel=1e-3)
    assert obs["clot_fraction"] == 0.0
    assert obs["plasma_processed_l"] == 0.0
    assert obs["extraction_il6"] == 0.0
    assert obs["p_pre_mmhg"] > obs["p_return_mmhg"] > 5.0  # pressures follow flow


def test_presets() -> None:
    assert DeviceParams.preset("cytosorb").adsorber.name == "cytosorb"
    assert DeviceParams.preset("sham").adsorber.il6.k0_ml_min == 0.0
    with pytest.raises(KeyError):
        DeviceParams.preset("no-such-device")
    assert PatientParams().weight_kg == 70.0 and PatientParams().hematocrit == 0.30


def test_sensor_faults(plant: Plant) -> None:
    plant.connect_patient()
    plant.advance(RUNNING, 50, None)
    plant.faults.sensor["p_pre"] = SensorFault(kind="stuck", value=123.4)
    plant.faults.sensor["p_access"] = SensorFault(kind="range", value=-1.0)
    plant.faults.sensor["p_return"] = SensorFault(kind="drift", value=2.0)  # mmHg/s
    out = array("h")
    plant.advance(RUNNING, 100, out)
    assert set(out[1::5]) == {1234}
    assert set(out[0::5]) == {-32768}
    ret = out[2::5]
    assert ret[-1] - ret[0] == pytest.approx(2.0 * 9.9 * 10, abs=30)
    plant.faults.sensor.clear()
    plant.faults.sensor["q_blood"] = SensorFault(kind="noise", value=50.0)
    out = array("h")
    plant.advance(RUNNING, 200, out)
    q = out[3::5]
    mean = sum(q) / len(q)
    sd = (sum((v - mean) ** 2 for v in q) / len(q)) ** 0.5
    assert 300 < sd < 700  # ~50 mL/min = 500 counts


def test_air_flag(plant: Plant) -> None:
    plant.faults.air_ticks_remaining = 3
    out = array("h")
    plant.advance(RUNNING, 6, out)
    assert list(out[4::5]) == [1, 1, 1, 0, 0, 0]
    assert plant.faults.air_ticks_remaining == 0


def test_access_occlusion(plant: Plant) -> None:
    plant.connect_patient()
    plant.advance(RUNNING, 50, None)
    normal = plant.observe()["p_access_mmhg"]
    plant.faults.access_occlusion = 0.5
    plant.advance(RUNNING, 50, None)
    partial = plant.observe()
    assert partial["p_access_mmhg"] < normal - 100.0
    plant.faults.access_occlusion = 0.9
    plant.advance(RUNNING, 50, None)
    severe = plant.observe()
    assert severe["q_blood_ml_min"] < 150.0  # pump can no longer fill
    assert severe["p_access_mmhg"] >= plant.device.hydraulics.collapse_mmhg - 1.0


def test_int16_clipping(plant: Plant) -> None:
    # A sudden, extreme clot drives the pre-cartridge reading past the int16
    # range for a moment (before the flow throttles): the reading clips.
    plant.connect_patient()
    plant.faults.clot_boost = 1e4
    out = array("h")
    plant.advance(Actuators(pump_ml_min=500.0, clamp_open=True), 600, out)
    assert plant.observe()["clot_fraction"] == pytest.approx(0.95)
    assert max(out[1::5]) == 32767
