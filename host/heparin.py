"""Unfractionated heparin: one-compartment kinetics, the aPTT response, and the
path from the device's syringe through the extracorporeal line to the patient.

Kinetics (concentration C in IU/mL of plasma, time in minutes, volume V in mL):

    dC/dt = -Vmax * C / (Km + C) - k_lin * C + delivered / V

Saturable plus linear clearance (de Swart, Blood 1982) makes the apparent
half-life grow with dose.  V is the plasma volume, 0.04 L/kg (domain.md
section 3: "from about plasma volume (0.04-0.045 L/kg) to about blood volume
(0.07 L/kg)"; heparin stays in plasma, and the low-dose half-life with the
plasma volume gives the usual maintenance doses, see HeparinParams).  Vmax, Km
and k_lin are least-squares fitted (host/calibration.py re-runs the fit) to
the bolus half-lives ~30 / 60 / 150 min after 25 / 100 / 400 U/kg (Hirsh,
CHEST): 30.0 / 60.0 / 150.0 min.

aPTT: ln(aPTT) linear in C (McGowan 1983), least-squares fit to the calibration
table 0.1 IU/mL 38.4 s, 0.2 55 s, 0.3 74.5 s, 0.4 99 s.

The line (see :func:`line_delivery`): the syringe feeds the blood line before
the cartridge.  What it delivers (infusion and boluses) sits in the circuit
until blood flowing to a connected patient washes it out, with the time
constant of the circuit volume over the flow.  Delivered while the pump is
stopped or the clamp closed, it accumulates and reaches the patient as a bolus
when the flow resumes; delivered before the patient is connected it is in the
prime, which reaches the patient when blood first flows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from host.numeric import Num, exp, log, pos


@dataclass(frozen=True)
class HeparinParams:
    """Heparin constants."""

    # Plasma volume, domain.md section 3 (0.04-0.045 L/kg); the lower end:
    # assumption: fixed per kg, not scaled by the patient's haematocrit.
    volume_l_per_kg: float = 0.04
    # Fitted (host/calibration.py, fit_heparin) to the Hirsh half-lives with
    # this volume; least squares on log half-life.
    vmax_u_ml_min: float = 0.02598  # saturable elimination capacity
    km_u_ml: float = 0.7410  # half-saturation concentration
    k_lin_per_min: float = 0.001320  # linear (renal-like) elimination
    aptt_zero_s: float = 28.63  # exp(intercept) of the log-linear aPTT fit
    aptt_slope_per_u_ml: float = 3.145  # slope of ln(aPTT) per IU/mL
    # assumption: blood volume between the syringe's port (pre-cartridge) and
    # the patient: the HP-X set holds 108 mL (domain.md section 4), of which
    # about half lies after the port, plus ~150 mL of adsorber (no figure in
    # domain.md).  It sets the wash-out time (1 min at 200 mL/min).
    line_volume_ml: float = 200.0


def volume_ml(weight_kg: Num, p: HeparinParams = HeparinParams()) -> Num:
    """Distribution (plasma) volume.

    Args:
        weight_kg: Body weight (kg).
        p: Heparin constants.

    Returns:
        Volume in mL.
    """
    return 1000.0 * p.volume_l_per_kg * weight_kg


def elimination(conc: Num, p: HeparinParams = HeparinParams()) -> Num:
    """Elimination rate at a concentration (IU/mL per minute).

    Args:
        conc: Concentration (IU/mL).
        p: Heparin constants.

    Returns:
        ``Vmax C / (Km + C) + k_lin C``.
    """
    return p.vmax_u_ml_min * conc / (p.km_u_ml + conc) + p.k_lin_per_min * conc


def step(conc: Num, infused_u: Num, vol_ml: Num, dt_min: float, p: HeparinParams = HeparinParams()) -> Num:
    """Advance plasma heparin by one explicit Euler step.

    Args:
        conc: Concentration (IU/mL).
        infused_u: Units that entered the patient during the step.
        vol_ml: Distribution volume (mL).
        dt_min: Step in minutes.
        p: Heparin constants.

    Returns:
        New concentration (IU/mL), never negative.
    """
    return pos(conc - dt_min * elimination(conc, p) + infused_u / vol_ml)


def line_delivery(line_u: float, flow_ml_min: float, to_patient: bool, dt_min: float,
                  p: HeparinParams = HeparinParams()) -> float:
    """Units the circuit passes to the patient in one step.

    Args:
        line_u: Heparin units in the circuit (delivered by the syringe, not yet
            in the patient).
        flow_ml_min: Mean blood flow over the step (mL/min).
        to_patient: True when the circuit is connected to the patient.
        dt_min: Step in minutes.
        p: Heparin constants.

    Returns:
        Units washed into the patient: ``line_u (1 - exp(-Q dt / V_line))``,
        0 when no blood flows to a connected patient.
    """
    if not to_patient or flow_ml_min <= 0.0 or line_u <= 0.0:
        return 0.0
    return line_u * (1.0 - math.exp(-flow_ml_min * dt_min / p.line_volume_ml))


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


def steady_dose_u_kg_h(aptt: float, p: HeparinParams = HeparinParams()) -> float:
    """Constant infusion that holds a given aPTT at steady state.

    Args:
        aptt: Target aPTT (s).
        p: Heparin constants.

    Returns:
        Infusion in U/kg/h (elimination at the target concentration x volume).
    """
    return float(elimination(conc_for_aptt(aptt, p), p)) * 1000.0 * p.volume_l_per_kg * 60.0


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


def course(bolus_u_kg: float, infusion: Sequence[tuple[float, float]], minutes: float,
           dt_min: float = 0.1, p: HeparinParams = HeparinParams()) -> tuple[np.ndarray, np.ndarray]:
    """Plasma heparin after an IV bolus and a stepwise infusion given straight to
    the patient (no circuit), as a published regimen is given.

    Doses are per kg and so is the volume, so the course does not depend on
    the weight.

    Args:
        bolus_u_kg: Bolus at t = 0 (U/kg), mixed at once into the volume.
        infusion: ``(from_min, u_kg_h)`` pairs in time order: the rate from
            each time on (0 before the first).
        minutes: Length of the course (min).
        dt_min: Integration step (min).
        p: Heparin constants.

    Returns:
        ``(t_min, conc)``: times (0, dt, ...) and concentrations (IU/mL), the
        first just after the bolus.
    """
    n = int(round(minutes / dt_min))
    t = np.arange(n + 1) * dt_min
    starts = np.array([a for a, _ in infusion] or [0.0])
    rates = np.array([r for _, r in infusion] or [0.0])
    # Rate over each step [t_i, t_i + dt): the last change at or before t_i
    # (a hair of tolerance, so that a change at 60 min applies from the step
    # whose start i * dt rounds to 59.99999...).
    k = np.searchsorted(starts, t[:-1] + 1e-9 * dt_min, side="right") - 1
    per_step = np.where(k >= 0, rates[np.maximum(k, 0)], 0.0) * dt_min / 60.0  # U/kg
    vol_ml_kg = 1000.0 * p.volume_l_per_kg
    conc = np.empty(n + 1)
    c = conc[0] = bolus_u_kg / vol_ml_kg
    for i in range(n):
        c = float(step(c, float(per_step[i]), vol_ml_kg, dt_min, p))
        conc[i + 1] = c
    return t, conc


BASELINE_APTT_S = HeparinParams().aptt_zero_s
