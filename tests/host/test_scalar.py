"""The plant's specialised paths equal the generic ones bit for bit.

``host.scalar`` (the slow step on plain floats), the batched tick loop of
``host.ticks`` and ``sensors.pack_array`` exist only to be cheaper; on random
inputs each must give exactly (``==``) the numbers of the generic function it
stands for.
"""

from __future__ import annotations

import dataclasses
from array import array

import numpy as np
import pytest

from host import cartridge, circuit, heparin, noise, physiology, scalar
from host.cytokines import NO_REMOVAL, CytokineState, Removal
from host.inflammation import ReynoldsState, anti_drive, pro_drive
from host.patient import DeviceParams, PatientParams
from host.plant import Actuators, Plant
from host.sensors import pack, pack_array, words

RNG_SEED = 20261203


def _patient(rng: np.random.Generator) -> PatientParams:
    return PatientParams(weight_kg=float(rng.uniform(45.0, 140.0)), hematocrit=float(rng.uniform(0.2, 0.42)),
                         k_pg=float(rng.uniform(0.25, 0.65)), cytokine_gain=float(rng.lognormal(-0.7, 0.8)),
                         hours_to_antimicrobials=float(rng.uniform(0.0, 30.0)),
                         antimicrobial_kill_per_h=float(rng.uniform(0.0, 1.5)))


def _state(rng: np.random.Generator) -> physiology.PhysiologyState:
    """A random state, each value log-uniform over many decades: with a long
    step the increments are then as large as the values, so that a change of
    one rounding anywhere in a step shows in its result."""
    v = [float(x) for x in np.exp(rng.uniform(np.log(1e-4), np.log(1e4), 11))]
    driver = ReynoldsState(p=v[0] * float(rng.integers(0, 2)), n=v[1], d=v[2], ca=v[3])
    cyto = CytokineState(il6=v[4], tnf=v[5], tnf_p=v[6], il1b=v[7], il1b_p=v[8], il10=v[9])
    return physiology.PhysiologyState(driver=driver, cyto=cyto, endo=v[10], t_h=float(rng.uniform(0.0, 30.0)))


def test_physiology_step_equals_generic() -> None:
    rng = np.random.default_rng(RNG_SEED)
    for _ in range(300):
        inputs = physiology.patient_inputs(_patient(rng))
        dt_s = float(rng.choice([1.0, 60.0, 3600.0]))
        fast = scalar.ScalarPhysiology(inputs, dt_s)
        s = _state(rng)
        clearances = (float(x) for x in np.exp(rng.uniform(-5.0, 9.0, 5)))
        removal = NO_REMOVAL if rng.random() < 0.2 else Removal(*clearances)
        want = physiology.step(s, inputs, removal, dt_s)
        got = fast.step(scalar.flatten(s), tuple(removal))
        assert got == scalar.flatten(want)
        assert scalar.unflatten(got) == want
        assert fast.drives(scalar.flatten(s)) == (pro_drive(s.driver), anti_drive(s.driver))


@pytest.mark.parametrize("preset", sorted(cartridge.PRESETS))
def test_perfuse_equals_generic(preset: str) -> None:
    rng = np.random.default_rng(RNG_SEED)
    a = cartridge.PRESETS[preset]
    fast = scalar.ScalarCartridge(a)
    for _ in range(100):
        processed = float(rng.uniform(0.0, 150.0)) * float(rng.integers(0, 2))  # fresh ones too
        cart = cartridge.CartridgeState(processed_l=processed, bound_endo=float(rng.uniform(0.0, 5e4)))
        twin = dataclasses.replace(cart)
        qp, endo, dt_s = float(rng.uniform(1.0, 400.0)), float(rng.uniform(0.0, 2.0)), 1.0
        for _ in range(2):  # the second at the same flow takes the remembered flow term
            want = cart.perfuse(qp, endo, dt_s, a)
            got = fast.perfuse(twin, qp, endo, dt_s)
            assert tuple(got) == tuple(want)
            assert twin == cart


def test_heparin_and_clot_equal_generic() -> None:
    rng = np.random.default_rng(RNG_SEED)
    h, clot = circuit.HydraulicParams(), circuit.ClotParams()
    fast_clot = scalar.ScalarClot(clot, h)
    for _ in range(300):
        vol, dt_min = float(rng.uniform(1500.0, 6000.0)), float(rng.choice([1.0 / 60.0, 1.0, 0.1]))
        hs = scalar.ScalarHeparin(vol, dt_min)
        conc = float(rng.uniform(0.0, 1.5))
        units = float(rng.uniform(0.0, 3000.0)) * float(rng.integers(0, 2))
        flow, connected = float(rng.uniform(-1.0, 500.0)), bool(rng.integers(0, 2))
        assert hs.step(conc, units) == heparin.step(conc, units, vol, dt_min)
        assert hs.aptt_s(conc) == heparin.aptt_s(conc)
        want = heparin.line_delivery(units, flow, connected, dt_min)
        assert hs.line_delivery(units, flow, connected) == want
        aptt, boost = float(rng.uniform(25.0, 150.0)), float(rng.uniform(0.0, 3.0))
        factor = float(rng.lognormal())
        assert fast_clot.rate_per_h(aptt, flow, factor, boost) == circuit.clot_rate_per_h(aptt, flow, factor,
                                                                                          boost, clot)
        occ, frac = float(rng.uniform(0.0, 1.0)), float(rng.uniform(0.0, 0.95))
        before = circuit.coefficients(0.0, occ, True, h)
        assert fast_clot.coefficients(before, frac) == circuit.coefficients(frac, occ, True, h)


def test_pack_array_equals_words() -> None:
    rng = np.random.default_rng(RNG_SEED)
    n = 500
    phys = rng.normal(0.0, 1500.0, (n, 4))
    phys[::7] = np.round(phys[::7] * 10.0) / 10.0 + 0.05  # halves after scaling: round half to even
    phys[::11, 3] = -phys[::11, 3]  # negative flow readings clip at 0
    phys[::13, 1] *= 40.0  # beyond the int16 rails
    want = array("h")
    for row in phys.tolist():
        want.extend(words(*row))
    got = array("h")
    pack_array(phys.T.copy(), got)
    assert got == want
    inside = array("h")
    pack(phys[:100].clip(-3000.0, 3000.0).ravel().tolist(), inside)
    assert inside.tolist() == [w for row in phys[:100].clip(-3000.0, 3000.0).tolist() for w in words(*row)]


def test_block_rows_equal_values_across_blocks() -> None:
    cache = noise.BlockCache(5, noise.STREAM_SENSOR, 4)
    first = noise.BLOCK - 3
    rows = cache.rows(first, 10)
    block0 = noise.normal_block(5, noise.STREAM_SENSOR, 0, 4 * noise.BLOCK)
    block1 = noise.normal_block(5, noise.STREAM_SENSOR, 1, 4 * noise.BLOCK)
    assert rows.shape == (10, 4)
    assert rows.ravel().tolist() == block0[4 * first:] + block1[:4 * 7]
    off = cache.load(first)
    assert rows[0].tolist() == cache.values[off:off + 4]


def _script() -> list[tuple[Actuators, int]]:
    run = Actuators(pump_ml_min=250.0, clamp_open=True, heparin_u_h=1200.0, heparin_bolus_u=0.0)
    return [(Actuators(), 120), (run, 3000), (Actuators(0.0, True, 1200.0, 2000.0), 700),
            (Actuators(250.0, False, 800.0, 2000.0), 300), (Actuators(400.0, True, 800.0, 4000.0), 2500)]


def _run(chunk: int) -> tuple[Plant, array]:
    p = Plant(patient=PatientParams(), device=DeviceParams.preset("cytosorb"), seed=4, trace_every=100)
    p.connect_patient()
    p.faults.clot_boost = 400.0  # clots within the run: the outlet limit moves the flow target
    out = array("h")
    for act, n in _script():
        while n > 0:
            k = min(n, chunk)
            p.advance(act, k, out)
            n -= k
    return p, out


def test_batched_ticks_equal_tick_by_tick() -> None:
    """Calls of 400 periods take the batched path, calls of 15 the per-tick one."""
    batched, out_b = _run(400)
    each, out_e = _run(15)
    assert batched.observe()["clot_fraction"] > 0.5  # the flow was throttled by the clot
    assert out_b == out_e
    assert batched.trace_rows == each.trace_rows
    assert batched.observe() == each.observe()
