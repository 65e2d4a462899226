"""Unfractionated heparin: one-compartment kinetics and the aPTT response.

Kinetics (concentration C in IU/mL, time in minutes, volume V in mL):

    dC/dt = -Vmax * C / (Km + C) - k_lin * C + infusion / V

Saturable plus linear clearance (de Swart, Blood 1982) makes the apparent
half-life grow with dose.  Vmax, Km and k_lin were fitted to the bolus
half-lives ~30 / 60 / 150 min after 25 / 100 / 400 U/kg (Hirsh, CHEST); the
fit gives 30.0 / 60.5 / 147.5 min.

aPTT: ln(aPTT) linear in C (McGowan 1983), least-squares fit to the calibration
table 0.1 IU/mL 38.4 s, 0.2 55 s, 0.3 74.5 s, 0.4 99 s.
"""

from __future__ import annotations

from dataclasses import dataclass

from host.numeric import Num, exp, log, pos


@dataclass(frozen=True)
class HeparinParams:
    """Heparin constants."""

    volume_l_per_kg: float = 0.07  # ~plasma volume (domain.md section 3)
    vmax_u_ml_min: float = 0.0143  # saturable elimination capacity, fitted (see module doc)
    km_u_ml: float = 0.40  # half-saturation concentration, fitted
    k_lin_per_min: float = 0.0015  # linear (renal-like) elimination, fitted
    aptt_zero_s: float = 28.63  # exp(intercept) of the log-linear aPTT fit
    aptt_slope_per_u_ml: float = 3.145  # slope of ln(aPTT) per IU/mL


def volume_ml(weight_kg: Num, p: HeparinParams = HeparinParams()) -> Num:
    """Distribution volume.

    Args:
        weight_kg: Body weight (kg).
        p: Heparin constants.

    Returns:
        Volume in mL.
    """
    return 1000.0 * p.volume_l_per_kg * weight_kg


def step(conc: Num, infused_u: Num, vol_ml: Num, dt_min: float, p: HeparinParams = HeparinParams()) -> Num:
    """Advance plasma heparin by one explicit Euler step.

    Args:
        conc: Concentration (IU/mL).
        infused_u: Units that entered the patient during the step (infusion).
        vol_ml: Distribution volume (mL).
        dt_min: Step in minutes.
        p: Heparin constants.

    Returns:
        New concentration (IU/mL), never negative.
    """
    elim = p.vmax_u_ml_min * conc / (p.km_u_ml + conc) + p.k_lin_per_min * conc
    return pos(conc - dt_min * elim + infused_u / vol_ml)


def aptt_s(conc: Num, p: HeparinParams = HeparinParams()) -> Num:
    """True aPTT for a plasma heparin concentration.

    Args:
        conc: Concentration (IU/mL).
        p: Heparin constants.

    Returns:
        aPTT in seconds.
    """
    return p.aptt_zero_s * exp(p.aptt_slope_per_u_ml * conc)


def conc_for_aptt(aptt: Num, p: HeparinParams = HeparinParams()) -> Num:
    """Inverse of :func:`aptt_s`.

    Args:
        aptt: aPTT in seconds.
        p: Heparin constants.

    Returns:
        Concentration (IU/mL) giving that aPTT.
    """
    return log(aptt / p.aptt_zero_s) / p.aptt_slope_per_u_ml


def bolus_half_life_min(dose_u_kg: float, dt_min: float = 0.05, p: HeparinParams = HeparinParams()) -> float:
    """Apparent half-life after an IV bolus (time for C to fall to half its peak).

    Args:
        dose_u_kg: Bolus in U/kg, mixed instantly into the distribution volume.
        dt_min: Integration step in minutes.
        p: Heparin constants.

    Returns:
        Half-life in minutes.
    """
    c0 = dose_u_kg / (1000.0 * p.volume_l_per_kg)
    c = c0
    t = 0.0
    while c > 0.5 * c0:
        c = float(step(c, 0.0, 1.0, dt_min, p))
        t += dt_min
    return t


BASELINE_APTT_S = HeparinParams().aptt_zero_s
