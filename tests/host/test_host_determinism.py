"""Runs are a pure function of (parameters, seed, actuator sequence)."""

from __future__ import annotations

from array import array

import numpy as np
from _host_helpers import RUNNING, STOPPED

from host import untreated
from host.patient import DeviceParams, PatientParams
from host.plant import TRACE_COLUMNS, Actuators, Plant, SensorFault

SCRIPT = [
    (STOPPED, 55),
    (RUNNING, 1234),
    (Actuators(pump_ml_min=350.0, clamp_open=True, heparin_u_h=1500.0, heparin_bolus_u=5600.0), 777),
    (Actuators(pump_ml_min=350.0, clamp_open=False, heparin_u_h=1500.0, heparin_bolus_u=8400.0), 333),
]


def _make() -> Plant:
    p = Plant(patient=PatientParams(), device=DeviceParams.preset("cytosorb"), seed=11, trace_every=100)
    p.connect_patient()
    p.faults.sensor["p_return"] = SensorFault(kind="noise", value=3.0)
    return p


def test_split_advance_identical() -> None:
    whole = _make()
    out_a = array("h")
    whole.advance(RUNNING, 100, out_a)
    split = _make()
    out_b = array("h")
    split.advance(RUNNING, 37, out_b)
    split.advance(RUNNING, 63, out_b)
    assert out_a.tobytes() == out_b.tobytes()
    assert whole.trace_rows == split.trace_rows
    assert whole.observe() == split.observe()


def test_arbitrary_chunking_identical() -> None:
    a, b = _make(), _make()
    out_a, out_b = array("h"), array("h")
    for act, n in SCRIPT:
        a.advance(act, n, out_a)
    chunks = [1, 7, 64, 3, 1000, 9]
    for act, n in SCRIPT:
        i = 0
        while n > 0:
            k = min(n, chunks[i % len(chunks)])
            b.advance(act, k, out_b)
            n -= k
            i += 1
    assert len(out_a) == sum(n for _, n in SCRIPT) * 5
    assert out_a.tobytes() == out_b.tobytes()
    assert a.trace_rows == b.trace_rows
    assert a.observe() == b.observe()


def test_snapshot_restore_bit_identical() -> None:
    p = _make()
    p.advance(RUNNING, 4321, None)
    snap = p.snapshot()
    rows_before = len(p.trace_rows)
    tick_before = p.tick
    out1 = array("h")
    for act, n in SCRIPT:
        p.advance(act, n, out1)
    state1 = p.observe()
    rows1 = list(p.trace_rows)
    faults = p.faults
    p.faults.access_occlusion = 0.7  # changed after the snapshot: must be undone
    p.faults.sensor["p_pre"] = SensorFault(kind="stuck", value=0.0)
    p.restore(snap)
    assert p.tick == tick_before
    assert len(p.trace_rows) == rows_before
    assert p.faults is faults and p.faults.access_occlusion == 0.0
    assert set(p.faults.sensor) == {"p_return"}
    out2 = array("h")
    for act, n in SCRIPT:
        p.advance(act, n, out2)
    assert out1.tobytes() == out2.tobytes()
    assert p.observe() == state1
    assert p.trace_rows == rows1
    # the snapshot is reusable
    p.restore(snap)
    out3 = array("h")
    for act, n in SCRIPT:
        p.advance(act, n, out3)
    assert out3.tobytes() == out1.tobytes()


def test_snapshot_holds_its_own_cartridge() -> None:
    """The cartridge record changes in place at every slow step and is replaced
    by a new cartridge: a snapshot must hold its own copy of it."""
    p = _make()
    p.advance(RUNNING, 600, None)
    snap = p.snapshot()
    before = p.observe()
    p.advance(RUNNING, 600, None)
    p.replace_cartridge()
    p.advance(RUNNING, 600, None)
    p.restore(snap)
    assert p.observe() == before
    assert p._s.cart is not snap[0].cart
    p.advance(RUNNING, 600, None)
    p.restore(snap)
    assert p.observe() == before


def test_seed_changes_noise_not_physiology() -> None:
    a = Plant(seed=1)
    b = Plant(seed=2)
    out_a, out_b = array("h"), array("h")
    a.advance(RUNNING, 200, out_a)
    b.advance(RUNNING, 200, out_b)
    assert out_a.tobytes() != out_b.tobytes()
    assert a.observe()["IL-6"] == b.observe()["IL-6"]
    again = Plant(seed=1)
    out_c = array("h")
    again.advance(RUNNING, 200, out_c)
    assert out_c.tobytes() == out_a.tobytes()


def test_clot_factor_differs_per_cartridge() -> None:
    p = Plant(seed=5)
    factors = [p._s.cart.clot_factor]
    for _ in range(3):
        p.replace_cartridge()
        factors.append(p._s.cart.clot_factor)
    assert len(set(factors)) == 4
    q = Plant(seed=5)
    q.replace_cartridge()
    assert q._s.cart.clot_factor == factors[1]


def test_idle_device_equals_untreated_course() -> None:
    patient = PatientParams()
    plant = Plant(patient=patient, device=DeviceParams.preset("cytosorb"), seed=3, trace_every=100)
    start = plant.observe()
    plant.advance(STOPPED, 36000, array("h"))  # 1 h, never connected
    ref = untreated.simulate(patient, 3, 3600.0, 10.0)
    rows = np.array(plant.trace_rows)
    assert len(rows) == len(ref["t_s"]) - 1 == 360
    assert np.array_equal(rows[:, TRACE_COLUMNS.index("t_s")], ref["t_s"][1:])
    for name in ("IL-6", "TNF-a", "IL-1b", "IL-10"):
        assert start[name] == ref[name][0]
        assert np.array_equal(rows[:, TRACE_COLUMNS.index(name)], ref[name][1:]), name


def test_cohort_equals_single_runs() -> None:
    pats = [PatientParams(), PatientParams(weight_kg=55.0, hematocrit=0.25, k_pg=0.4),
            PatientParams(weight_kg=95.0, k_pg=0.65, p0=1.5)]
    cohort = untreated.simulate_cohort(pats, 1800.0, 60.0)
    for i, pat in enumerate(pats):
        single = untreated.simulate(pat, 0, 1800.0, 60.0)
        for name in ("IL-6", "TNF-a", "IL-1b", "IL-10"):
            assert np.array_equal(cohort[name][:, i], single[name]), name
