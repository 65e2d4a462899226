"""Plasma cytokines: production from the inflammation driver, endogenous kinetics.

Each cytokine obeys, in its central (plasma-facing) compartment,

    dC/dt = k_el * (C_basal + G * drive) - (k_el + k_12) * C + k_21 * C_p - CL_ads * C / V

so that without an adsorber the quasi-steady plasma level is ``C_basal + G * drive``.
``C_p`` is the peripheral compartment (two-compartment cytokines only), expressed
as the concentration it would have in the central volume.  ``CL_ads`` is the
adsorber clearance in mL/min (zero without treatment).  Concentrations in pg/mL,
time in minutes.

Removal does not feed back into the inflammation driver (assumption: the domain
gives no validated link between removed cytokine mass and the disease course).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

from host.numeric import Num, pos

LN2 = math.log(2.0)

# The cytokines the plant reports, in report order.
NAMES = ("IL-6", "TNF-a", "IL-1b", "IL-10")


@dataclass(frozen=True)
class Production:
    """Production of one cytokine: its quasi-steady plasma level without adsorber,
    ``basal + gain * drive`` (pg/mL), which the endogenous clearance relaxes it to.

    Attributes:
        basal: Resting plasma level (pg/mL).
        gain: Level per unit drive (pg/mL).
    """

    basal: float
    gain: float

    def level(self, drive: Num) -> Num:
        """Quasi-steady plasma level at a drive.

        Args:
            drive: Inflammatory drive (dimensionless, >= 0), float or (N,) array.

        Returns:
            ``basal + gain * drive`` in pg/mL.
        """
        return self.basal + self.gain * drive


@dataclass(frozen=True)
class CytokineParams:
    """Kinetic and production constants (population values)."""

    # assumption: the IV half-life of IL-6 is not published (domain.md); the human
    # LPS course (back to baseline 4-6 h after a 2 h peak) implies well under 1 h.
    il6_half_life_min: float = 20.0
    # assumption: IL-6 distributes in plasma (the volume the adsorber sees).
    blood_volume_l_per_kg: float = 0.07  # assumption: standard adult blood volume, 70 mL/kg
    # TNF-a two-compartment, Clin Sci 1994;87:459: t1/2 5.1 and 49 min, CL 9.5 mL/min/kg.
    tnf_half_life_fast_min: float = 5.1
    tnf_half_life_slow_min: float = 49.0
    tnf_clearance_ml_min_kg: float = 9.5
    # assumption: central volume 0.10 L/kg; with the measured CL and half-lives the
    # central volume cannot be below ~0.07 L/kg, 0.10 keeps all rate constants positive.
    tnf_central_l_per_kg: float = 0.10
    # IL-1b two-compartment, rat data (Reimers 1991): t1/2 2.9 and 41 min.
    il1b_half_life_fast_min: float = 2.9
    il1b_half_life_slow_min: float = 41.0
    # assumption: central volume 0.07 L/kg and a peripheral volume equal to it
    # (no clearance was reported), taking the faster-eliminating solution.
    il1b_central_l_per_kg: float = 0.07
    # IL-10, Huhn (Blood 1996/1997): terminal t1/2 2.3-3.7 h, Vd 0.70-1.35 L/kg.
    il10_half_life_h: float = 3.0  # mid-range of the reported 2.3-3.7 h
    il10_volume_l_per_kg: float = 1.0  # mid-range of the reported 0.70-1.35 L/kg
    # Production per cytokine, all from the driver's activation signal R
    # (inflammation.pro_drive; IL-10 too: it is made by the same stimulated
    # phagocytes, and Reynolds' CA saturates at every severity).
    # basal: assumption: healthy resting plasma levels (pg/mL), low single digits.
    # gain: quasi-steady plasma level per unit drive (pg/mL), fitted
    # (host/calibration_rows.py): the severe case (k_pg 0.6) 12 h after onset,
    # drive ~0.30, has IL-6 3,500 (Calandra 1991: median in fatal shock), TNF-a
    # 250 (Crit Care Med 1989;17:975: median), IL-1b ~5 (assumption for "barely
    # detectable", Damas 1992), IL-10 highest in the first 24 h 48 pg/mL
    # (Marchant 1995: median).
    il6_production: Production = Production(basal=2.0, gain=11850.0)
    tnf_production: Production = Production(basal=5.0, gain=830.0)
    il1b_production: Production = Production(basal=0.5, gain=17.0)
    il10_production: Production = Production(basal=2.0, gain=170.0)


@dataclass(frozen=True)
class CytokineRates:
    """Per-patient rate constants (per minute) and volumes (mL); floats or (N,) arrays."""

    il6_k: Num
    il6_v: Num
    tnf_k10: Num
    tnf_k12: Num
    tnf_k21: Num
    tnf_v: Num
    il1b_k10: Num
    il1b_k12: Num
    il1b_k21: Num
    il1b_v: Num
    il10_k: Num
    il10_v: Num


@dataclass(frozen=True)
class CytokineState:
    """Concentrations in pg/mL; ``*_p`` are peripheral compartments."""

    il6: Num
    tnf: Num
    tnf_p: Num
    il1b: Num
    il1b_p: Num
    il10: Num


class Removal(NamedTuple):
    """Adsorber clearance per molecule in mL/min of plasma (0 without treatment).

    A tuple in the cartridge's molecule order (``cartridge.MOLECULES`` is its
    field names): ``cartridge.clearances`` returns one, and a cohort builds one
    from its per-molecule rows.
    """

    il6: Num = 0.0
    tnf: Num = 0.0
    il1b: Num = 0.0
    il10: Num = 0.0
    endotoxin: Num = 0.0


NO_REMOVAL = Removal()


def two_compartment(alpha: float, beta: float, k10: float) -> tuple[float, float]:
    """Intercompartment constants from the two disposition rates and k10.

    Args:
        alpha: Fast disposition rate (per min).
        beta: Slow disposition rate (per min).
        k10: Elimination rate from the central compartment (per min).

    Returns:
        ``(k12, k21)`` per minute, from ``alpha*beta = k10*k21`` and
        ``alpha + beta = k10 + k12 + k21``.
    """
    k21 = alpha * beta / k10
    k12 = alpha + beta - k10 - k21
    if k12 < 0.0 or k21 <= 0.0:
        raise ValueError("half-lives and k10 are inconsistent")
    return k12, k21


def rates(weight_kg: Num, hematocrit: Num, p: CytokineParams = CytokineParams()) -> CytokineRates:
    """Derive per-patient rate constants.

    Args:
        weight_kg: Body weight (kg), float or (N,) array.
        hematocrit: Haematocrit fraction, float or (N,) array.
        p: Population constants.

    Returns:
        The rate constants and volumes for the cytokine step.
    """
    a_tnf = LN2 / p.tnf_half_life_fast_min
    b_tnf = LN2 / p.tnf_half_life_slow_min
    tnf_k10 = p.tnf_clearance_ml_min_kg / (1000.0 * p.tnf_central_l_per_kg)
    tnf_k12, tnf_k21 = two_compartment(a_tnf, b_tnf, tnf_k10)
    a_il1 = LN2 / p.il1b_half_life_fast_min
    b_il1 = LN2 / p.il1b_half_life_slow_min
    # equal volumes => k12 = k21 => k10^2 - (a+b) k10 + 2ab = 0; larger root
    s = a_il1 + b_il1
    il1b_k10 = 0.5 * (s + math.sqrt(s * s - 8.0 * a_il1 * b_il1))
    il1b_k12, il1b_k21 = two_compartment(a_il1, b_il1, il1b_k10)
    return CytokineRates(
        il6_k=LN2 / p.il6_half_life_min,
        il6_v=1000.0 * p.blood_volume_l_per_kg * weight_kg * (1.0 - hematocrit),
        tnf_k10=tnf_k10, tnf_k12=tnf_k12, tnf_k21=tnf_k21,
        tnf_v=1000.0 * p.tnf_central_l_per_kg * weight_kg,
        il1b_k10=il1b_k10, il1b_k12=il1b_k12, il1b_k21=il1b_k21,
        il1b_v=1000.0 * p.il1b_central_l_per_kg * weight_kg,
        il10_k=LN2 / (60.0 * p.il10_half_life_h),
        il10_v=1000.0 * p.il10_volume_l_per_kg * weight_kg,
    )


def initial_state(r: CytokineRates, p: CytokineParams = CytokineParams()) -> CytokineState:
    """Resting steady state at infection onset (all levels basal, peripheral in balance).

    Args:
        r: Per-patient rates (floats or (N,) arrays; sets the shape).
        p: Population constants.

    Returns:
        The onset state.
    """
    z = r.il6_v * 0.0
    tnf, il1b = p.tnf_production.basal, p.il1b_production.basal
    return CytokineState(il6=z + p.il6_production.basal, tnf=z + tnf,
                         tnf_p=z + tnf * r.tnf_k12 / r.tnf_k21,
                         il1b=z + il1b, il1b_p=z + il1b * r.il1b_k12 / r.il1b_k21,
                         il10=z + p.il10_production.basal)


def step(s: CytokineState, r: CytokineRates, pro: Num, anti: Num, removal: Removal,
         dt_min: float, p: CytokineParams = CytokineParams()) -> CytokineState:
    """Advance all cytokines by one explicit Euler step.

    Args:
        s: Current concentrations.
        r: Per-patient rates.
        pro: Pro-inflammatory drive (dimensionless, >= 0).
        anti: Anti-inflammatory drive (dimensionless, >= 0).
        removal: Adsorber clearances (mL/min).
        dt_min: Step in minutes.
        p: Population constants (basal levels and gains).

    Returns:
        The new concentrations.
    """
    same = anti is pro  # the shared step drives IL-10 with the pro drive itself
    pro = pos(pro)
    anti = pro if same else pos(anti)
    il6 = s.il6 + dt_min * (r.il6_k * (p.il6_production.level(pro) - s.il6)
                            - removal.il6 * s.il6 / r.il6_v)
    tnf = s.tnf + dt_min * (r.tnf_k10 * p.tnf_production.level(pro) - (r.tnf_k10 + r.tnf_k12) * s.tnf
                            + r.tnf_k21 * s.tnf_p - removal.tnf * s.tnf / r.tnf_v)
    tnf_p = s.tnf_p + dt_min * (r.tnf_k12 * s.tnf - r.tnf_k21 * s.tnf_p)
    il1b = s.il1b + dt_min * (r.il1b_k10 * p.il1b_production.level(pro)
                              - (r.il1b_k10 + r.il1b_k12) * s.il1b
                              + r.il1b_k21 * s.il1b_p - removal.il1b * s.il1b / r.il1b_v)
    il1b_p = s.il1b_p + dt_min * (r.il1b_k12 * s.il1b - r.il1b_k21 * s.il1b_p)
    il10 = s.il10 + dt_min * (r.il10_k * (p.il10_production.level(anti) - s.il10)
                              - removal.il10 * s.il10 / r.il10_v)
    return CytokineState(il6=il6, tnf=tnf, tnf_p=tnf_p, il1b=il1b, il1b_p=il1b_p, il10=il10)
