"""Extracorporeal circuit: roller-pump flow, line pressures, cartridge clotting.

Pressures (mmHg, relative to atmosphere, at the transducers):

    x        = (Q / Q_ref) ** n
    P_access = P_static - A * x / (1 - occlusion)^2
    P_return = P_static + B * x
    P_pre    = P_return + C * x * m(clot),   m = 1 / (1 - clot_fraction)^2

The drop coefficients are scaled by a viscosity factor (blood 1; priming fluid
lower).  ``clot_fraction`` is the blocked fraction of the bed; the resistance
multiplier follows the Kozeny-Carman porosity dependence.  The cartridge is
CLOTTED when its pressure drop reaches 4x its fresh value at the same flow,
i.e. clot_fraction >= 0.5.

Clotting: d(clot_fraction)/dt = r0 * F_k * h(aPTT) * s(Q) * (1 + boost), with
F_k a per-cartridge log-normal factor, h = (aPTT_ref / aPTT)^g the heparin
effect (the aPTT of the blood in the cartridge: the patient's plus the syringe's
heparin mixed in before it; while the blood stands, the blood trapped in it),
s the stasis effect.  No published model links clotting to aPTT (domain.md
section 4): the form is an assumption, calibrated to circuit-life figures (see
ClotParams).  Circuits also fail for other reasons (a constant hazard,
``other_failure_per_h``), used by the circuit-life Monte Carlo; the plant
itself only clots.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from host.numeric import Num, pos


@dataclass(frozen=True)
class HydraulicParams:
    """Pressure-flow constants of the circuit."""

    # assumption: CVP ~10 mmHg with the transducers ~7 cm above the catheter.
    static_mmhg: float = 5.0
    flow_ref_ml_min: float = 200.0
    # assumption: empirical power law.  The typical ranges (domain.md section 4:
    # access -50..-150, pre +100..+250, return +50..+150) are quoted for the whole
    # 150-500 mL/min span; a linear (Poiseuille) law cannot meet both ends, which
    # in practice reflects larger catheters at higher prescribed flows.
    exponent: float = 0.7
    access_drop_mmhg: float = 75.0  # access line + catheter drop at Q_ref (fitted to the ranges)
    return_drop_mmhg: float = 64.0  # return line + catheter drop at Q_ref (fitted to the ranges)
    cartridge_drop_mmhg: float = 58.0  # fresh cartridge drop at Q_ref (fitted to the ranges)
    # assumption: saline-like prime ~1 cP against ~2.5 cP for blood at Hct 0.3.
    prime_viscosity_ratio: float = 0.4
    # assumption: roller pump reaches a new set flow with a ~0.5 s time constant.
    pump_tau_s: float = 0.5
    # assumption: below about -350 mmHg the pump segment no longer fills; the
    # delivered flow is limited so that the access pressure does not go lower.
    collapse_mmhg: float = -350.0
    # assumption: the most pressure the roller pump can build against a
    # blocked outlet before its motor stalls and the segment slips; beyond
    # it a clotted cartridge throttles the flow instead of the pressure
    # growing without bound. No source gives a figure; the machine's own
    # pre-cartridge alarm (450 mmHg here) trips long before.
    outlet_max_mmhg: float = 1500.0


@dataclass(frozen=True)
class ClotParams:
    """Constants of the cartridge clotting model.

    The form is an assumption (domain.md section 4: no published model links
    clotting to aPTT); its three numbers are fitted by ``host.clot_calibration``
    (which re-runs the fit) to figures from circuits in patients who were not
    coagulopathic:

    * ``median_life_ref_h`` and ``other_failure_per_h``: the RICH heparin arm
      (JAMA 2020: median filter life 26 h abstract, 27 h key points) with
      clotting ~63% of circuit failures (domain.md section 4);
    * ``heparin_exponent``: HepZero (maintenance haemodialysis without heparin,
      randomised, control arm of 127: half completed 4 h without a clotting
      event; quoted in BMC Nephrol 2014;15:104), for circuits with no
      anticoagulant in patients who clot normally.
    """

    clotted_fraction: float = 0.5  # clot_fraction at which the drop is 4x fresh
    max_fraction: float = 0.95
    # assumption: the RICH heparin arm ran at aPTT ~52.5 s (1.5-2 x a normal
    # 29 s, the usual systemic-heparin target for continuous RRT; the trial's
    # own target is not in domain.md).  The reference point of the law.
    aptt_ref_s: float = 52.5
    # Fitted: median time to CLOTTED of a flowing circuit at aptt_ref (h).
    median_life_ref_h: float = 34.46
    # Fitted: steepness g of (aptt_ref / aPTT)^g.
    heparin_exponent: float = 3.552
    # Fitted: hazard of non-clotting circuit failures (access, kinks, other),
    # per hour of use, independent of anticoagulation (assumption of form).
    other_failure_per_h: float = 0.01231
    # assumption: between-cartridge spread of clotting speed, log-normal sigma.
    sigma_log: float = 0.5
    # assumption: blood standing still clots 12x faster than at full flow: a
    # stagnant circuit without anticoagulant reaches CLOTTED in ~20 min, twice
    # the middle of the normal whole-blood (Lee-White) clotting time of
    # 5-15 min, since the clot must also obstruct the bed ("clots can form
    # within minutes of stasis", domain.md section 4).  Blood trapped at a
    # therapeutic aPTT clots 12x faster than it would flowing: a 10-min stop
    # then uses ~1% of a cartridge's life (docs/models.md section 6).
    stasis_multiplier: float = 12.0
    stasis_flow_ml_min: float = 50.0  # assumption: flows below this count (linearly) as stasis

    @property
    def base_rate_per_h(self) -> float:
        """Growth of clot_fraction per hour for a median cartridge at aptt_ref."""
        return self.clotted_fraction / self.median_life_ref_h


class Coefficients(NamedTuple):
    """Pressure coefficients for one operating state (mmHg at Q_ref): the drops
    of the access line, the return line and the cartridge.  A tuple, so that the
    plant's per-tick loop takes all three at once."""

    access: float
    ret: float
    cart: float


def pump_alpha(period_s: float, h: HydraulicParams = HydraulicParams()) -> float:
    """First-order smoothing factor of the pump flow per control period.

    Args:
        period_s: Control period (s).
        h: Hydraulic constants.

    Returns:
        ``1 - exp(-period / tau)``.
    """
    return 1.0 - math.exp(-period_s / h.pump_tau_s)


def drop_multiplier(clot_fraction: float) -> float:
    """Cartridge pressure-drop multiplier for a partly clotted bed.

    Args:
        clot_fraction: Blocked fraction of the bed, 0..max.

    Returns:
        ``1 / (1 - clot_fraction)^2`` (1 for a fresh cartridge).
    """
    free = 1.0 - clot_fraction
    return 1.0 / (free * free)


def coefficients(clot_fraction: float, occlusion: float, blood: bool,
                 h: HydraulicParams = HydraulicParams()) -> Coefficients:
    """Pressure-drop coefficients for the current circuit condition.

    Args:
        clot_fraction: Blocked fraction of the cartridge bed.
        occlusion: Access occlusion fault, 0 (none) .. 1 (complete).
        blood: True once the circuit carries blood (after connection).
        h: Hydraulic constants.

    Returns:
        Coefficients (mmHg at Q_ref) of the access, return and cartridge drops.
    """
    visc = 1.0 if blood else h.prime_viscosity_ratio
    occ = min(max(occlusion, 0.0), 0.999)
    free = 1.0 - occ
    return Coefficients(access=visc * h.access_drop_mmhg / (free * free),
                        ret=visc * h.return_drop_mmhg,
                        cart=visc * h.cartridge_drop_mmhg * drop_multiplier(clot_fraction))


def max_flow(c: Coefficients, h: HydraulicParams = HydraulicParams()) -> float:
    """Largest flow the pump can draw before the access line collapses.

    Args:
        c: Current coefficients.
        h: Hydraulic constants.

    Returns:
        Flow limit (mL/min).
    """
    return h.flow_ref_ml_min * ((h.static_mmhg - h.collapse_mmhg) / c.access) ** (1.0 / h.exponent)


def max_outlet_flow(c: Coefficients, h: HydraulicParams = HydraulicParams()) -> float:
    """Largest flow the pump can push before the pre-cartridge pressure
    reaches the pump's outlet limit (a clotted cartridge throttles it).

    Args:
        c: Current coefficients.
        h: Hydraulic constants.

    Returns:
        Flow limit (mL/min).
    """
    return h.flow_ref_ml_min * ((h.outlet_max_mmhg - h.static_mmhg) / (c.ret + c.cart)) ** (1.0 / h.exponent)


def pressures(q_ml_min: float, c: Coefficients,
              h: HydraulicParams = HydraulicParams()) -> tuple[float, float, float]:
    """Transducer pressures for a flow.

    Args:
        q_ml_min: Blood (or prime) flow, >= 0.
        c: Current coefficients.
        h: Hydraulic constants.

    Returns:
        ``(p_access, p_pre, p_return)`` in mmHg.
    """
    x = (q_ml_min / h.flow_ref_ml_min) ** h.exponent
    p_ret = h.static_mmhg + c.ret * x
    return h.static_mmhg - c.access * x, p_ret + c.cart * x, p_ret


def clot_factor(z: float, p: ClotParams = ClotParams()) -> float:
    """Per-cartridge clot-rate factor from a standard normal draw.

    Args:
        z: Standard normal value (counter-based, from the seed and cartridge number).
        p: Clot constants.

    Returns:
        Log-normal factor with median 1.
    """
    return math.exp(p.sigma_log * z)


def clot_rate_per_h(aptt_s: Num, q_ml_min: Num, factor: Num, boost: float = 0.0,
                    p: ClotParams = ClotParams()) -> Num:
    """Growth rate of clot_fraction in a blood-filled cartridge.

    Args:
        aptt_s: Current true aPTT (s).
        q_ml_min: Mean blood flow over the step (mL/min).
        factor: Per-cartridge factor (median 1).
        boost: Fault injection: rate multiplied by ``1 + boost``.
        p: Clot constants.

    Returns:
        d(clot_fraction)/dt per hour.
    """
    heparin = (p.aptt_ref_s / aptt_s) ** p.heparin_exponent  # steep: see ClotParams
    stasis = 1.0 + (p.stasis_multiplier - 1.0) * pos(1.0 - q_ml_min / p.stasis_flow_ml_min)
    return p.base_rate_per_h * factor * heparin * stasis * (1.0 + boost)


def life_h(aptt_s: float, q_ml_min: float, z: np.ndarray, p: ClotParams = ClotParams()) -> np.ndarray:
    """Time to CLOTTED for cartridges at constant aPTT and flow (vectorised).

    Args:
        aptt_s: Constant aPTT (s).
        q_ml_min: Constant blood flow (mL/min).
        z: Standard normal draws, one per cartridge.
        p: Clot constants.

    Returns:
        Circuit lives in hours, one per cartridge.
    """
    factor = np.exp(p.sigma_log * z)
    return p.clotted_fraction / clot_rate_per_h(aptt_s, q_ml_min, factor, 0.0, p)
