"""Circuit life: the clotting law against circuit-life figures, and its fit.

Circuit life is the first of: the cartridge reaching CLOTTED (its clot grows
at the rate of ``circuit.clot_rate_per_h``), a non-clotting failure (constant
hazard ``ClotParams.other_failure_per_h``), or the scheduled end (72 h for a
CRRT filter, 24 h for an adsorber).  At constant aPTT and flow the clot time of
a cartridge with factor F is ``L(aPTT) / (F s(Q))`` with
``L(aPTT) = L_ref (aPTT / aPTT_ref)^g``, so lives are computed in closed form,
vectorised over cartridges.

Fit (``fit_clot``): ``g`` from HepZero (half of heparin-free circuits in
patients who clot normally complete 4 h without a clotting event: the median
clot time at the baseline aPTT is 4 h), then ``L_ref`` and the non-clotting
hazard from the RICH heparin arm (median filter life 26-27 h, filters changed
at 72 h at the latest) with clotting ~63% of failures (domain.md section 4).
"""

from __future__ import annotations

import math
import numpy as np

from host import circuit, heparin

# assumption: CRRT filters are changed at 72 h at the latest (the usual
# manufacturer limit); the RICH lives are censored there.
CRRT_MAX_H = 72.0
ADSORBER_MAX_H = 24.0  # domain.md: one cartridge at most 24 h
HEPZERO_HOURS = 4.0  # HepZero: 4-h sessions
HEPZERO_SUCCESS = 0.50  # control arm: half completed 4 h without a clotting event
RICH_MEDIAN_H = 26.5  # JAMA 2020: 26 h (abstract), 27 h (key points)
CLOT_SHARE = 0.63  # domain.md section 4: clotting causes ~63% of circuit failures
# Gauss-Hermite nodes for expectations over the cartridge factor.
_Z, _W = np.polynomial.hermite_e.hermegauss(80)
_W = _W / _W.sum()


def clot_hours(aptt_s: np.ndarray | float, flow_ml_min: float, z: np.ndarray,
               p: circuit.ClotParams = circuit.ClotParams()) -> np.ndarray:
    """Time to CLOTTED at constant aPTT and flow, one per cartridge.

    Args:
        aptt_s: aPTT of the blood in the cartridge (s), scalar or per cartridge.
        flow_ml_min: Constant blood flow (mL/min).
        z: Standard normal draws of the cartridge factors.
        p: Clot constants.

    Returns:
        Hours.
    """
    factor = np.exp(p.sigma_log * np.asarray(z, dtype=np.float64))
    return p.clotted_fraction / np.asarray(circuit.clot_rate_per_h(np.asarray(aptt_s, dtype=np.float64),
                                                                   flow_ml_min, factor, 0.0, p))


def lives(aptt_s: np.ndarray | float, flow_ml_min: float, z: np.ndarray, u: np.ndarray, cap_h: float,
          p: circuit.ClotParams = circuit.ClotParams()) -> tuple[np.ndarray, np.ndarray]:
    """Circuit lives with competing failures.

    Args:
        aptt_s: aPTT in the cartridge (s).
        flow_ml_min: Blood flow (mL/min).
        z: Standard normal draws (cartridge factors).
        u: Uniform (0, 1] draws (time of a non-clotting failure).
        cap_h: Scheduled end of use (h).
        p: Clot constants.

    Returns:
        ``(life_h, clotted)``: life per circuit and whether it ended clotted.
    """
    t_clot = clot_hours(aptt_s, flow_ml_min, z, p)
    t_other = -np.log(u) / p.other_failure_per_h if p.other_failure_per_h > 0 else np.full_like(t_clot, np.inf)
    life = np.minimum(np.minimum(t_clot, t_other), cap_h)
    return life, (t_clot <= t_other) & (t_clot < cap_h)


_T = np.linspace(0.0, CRRT_MAX_H, 1441)


def _rich_stats(median_ref_h: float, hazard: float, sigma: float) -> tuple[float, float]:
    """Median life and clotting share of failures at aPTT_ref, 72-h cap (quadrature)."""
    tc = median_ref_h * np.exp(-sigma * _Z)
    s_clot = (_W[None, :] * (tc[None, :] > _T[:, None])).sum(axis=1)
    s_other = np.exp(-hazard * _T)
    surv = s_clot * s_other
    below = np.nonzero(surv <= 0.5)[0]
    med = float(_T[below[0]]) if below.size else CRRT_MAX_H
    f_clot = -np.gradient(s_clot, _T)
    p_clot = float(np.trapezoid(f_clot * s_other, _T))
    p_other = float(np.trapezoid(hazard * s_other * s_clot, _T))
    return med, p_clot / (p_clot + p_other)


def _bisect(fn, lo: float, hi: float, target: float, rising: bool) -> float:
    """x in [lo, hi] with fn(x) = target for a monotone fn."""
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        above = fn(mid) > target
        lo, hi = (lo, mid) if above == rising else (mid, hi)
    return 0.5 * (lo + hi)


def fit_clot(p: circuit.ClotParams = circuit.ClotParams()) -> dict[str, float]:
    """Fit ``L_ref``, the non-clotting hazard and ``g`` (see the module doc).

    Args:
        p: Clot constants (sigma, reference aPTT).

    Returns:
        ``{"median_life_ref_h", "other_failure_per_h", "heparin_exponent"}``.
    """
    def med_ref_for(hazard: float) -> float:
        return _bisect(lambda m: _rich_stats(m, hazard, p.sigma_log)[0], 10.0, 400.0, RICH_MEDIAN_H, True)

    hazard = _bisect(lambda h: _rich_stats(med_ref_for(h), h, p.sigma_log)[1], 1e-4, 0.2, CLOT_SHARE, False)
    med_ref = med_ref_for(hazard)
    g = math.log(med_ref / HEPZERO_HOURS) / math.log(p.aptt_ref_s / heparin.BASELINE_APTT_S)
    return {"median_life_ref_h": med_ref, "other_failure_per_h": hazard, "heparin_exponent": g}


def circuit_aptt_at(patient_aptt_s: float, flow_ml_min: float, hematocrit: float = 0.30,
                    hp: heparin.HeparinParams = heparin.HeparinParams()) -> float:
    """aPTT in the cartridge when the patient is held at ``patient_aptt_s`` by the
    device's own syringe (port before the cartridge).

    Args:
        patient_aptt_s: Patient's steady aPTT (s); at or below baseline: no heparin.
        flow_ml_min: Blood flow (mL/min).
        hematocrit: Haematocrit.
        hp: Heparin constants.

    Returns:
        aPTT of the blood entering the cartridge (s).
    """
    if patient_aptt_s <= hp.aptt_zero_s * 1.0001:
        return hp.aptt_zero_s
    c = float(heparin.conc_for_aptt(patient_aptt_s, hp))
    rate_u_min_per_kg = heparin.steady_dose_u_kg_h(patient_aptt_s, hp) / 60.0
    # per 70 kg, into the plasma flow
    extra = rate_u_min_per_kg * 70.0 / (flow_ml_min * (1.0 - hematocrit))
    return float(heparin.aptt_s(c + extra, hp))


def cartridge_trial(patient_aptt_s: float, flow_ml_min: float = 200.0, n: int = 20000,
                    seed: int = 0) -> dict[str, float]:
    """Virtual trial of adsorber cartridges (24 h labelled use) at one aPTT.

    Args:
        patient_aptt_s: Patient's steady aPTT (s).
        flow_ml_min: Blood flow.
        n: Cartridges.
        seed: numpy seed of the draws.

    Returns:
        Median life (h, to clotting, other failure or the 24 h end), the share
        clotted before 24 h, the median clot time ignoring the 24 h end, and
        the cartridge aPTT.
    """
    rng = np.random.default_rng(seed)
    z = rng.standard_normal(n)
    u = 1.0 - rng.random(n)
    a = circuit_aptt_at(patient_aptt_s, flow_ml_min)
    life, clotted = lives(a, flow_ml_min, z, u, ADSORBER_MAX_H)
    return {"circuit_aptt_s": a, "median_life_h": float(np.median(life)),
            "clotted_before_24h": float(np.mean(clotted)),
            "median_clot_h": float(np.median(clot_hours(a, flow_ml_min, z)))}
