"""Human endotoxaemia: an intravenous LPS challenge in a healthy volunteer.

A calibration case, not a plant mode.  The septic driver (host/inflammation.py)
is a live infection; an LPS bolus is a short, self-limited stimulus, so the
cytokine drive here is a pulse: plasma LPS ``L`` (ng/kg in the body) decays
with half-life ``lps_half_life_min`` and activates monocytes through two
transit compartments (the delay from LPS to cytokine release):

    dL/dt  = dose(t) - k_L L
    dX1/dt = k_tr (L - X1),   dX2/dt = k_tr (X1 - X2),   drive = s X2

The cytokines then follow host/cytokines.py with the same kinetics and
production gains as the septic patient (``cytokines.step``).  ``k_tr`` and
``s`` are fitted to Copeland 2005 (2 ng/kg: IL-6 ~1,000 pg/mL at 2 h, the
peak); the return to baseline by 4-6 h is then a prediction that tests the IL-6
half-life (20 min, cytokines.py).  Jansen 2023 (1 ng/kg + 0.5 ng/kg/h for 3 h,
CytoSorb vs control) is a prediction of the adsorber in this setting.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from host import cartridge, cytokines

LN2 = math.log(2.0)


@dataclass(frozen=True)
class LpsParams:
    """Constants of the LPS challenge."""

    # assumption: LPS leaves plasma within minutes (hepatic uptake); no figure
    # in domain.md.  Only the pulse shape depends on it.
    lps_half_life_min: float = 10.0
    # Fitted (host/calibration_rows.py): IL-6 peaks at 2 h (Copeland 2005).
    transit_per_h: float = 0.8687
    # Fitted: IL-6 ~1,000 pg/mL at 2 h after 2 ng/kg (Copeland 2005).
    drive_per_ng_kg: float = 0.6131
    # assumption: a healthy young man (Copeland, Jansen: volunteers).
    weight_kg: float = 75.0
    hematocrit: float = 0.43


@dataclass(frozen=True)
class Challenge:
    """An LPS regimen and, optionally, an adsorber.

    Attributes:
        bolus_ng_kg: Bolus at t = 0.
        infusion_ng_kg_h: Continuous infusion from t = 0 ...
        infusion_h: ... for this long.
        device: Adsorber preset name, or None.
        blood_ml_min: Blood flow through the adsorber.
        device_from_h, device_to_h: Hemoperfusion window (h from the bolus).
    """

    bolus_ng_kg: float = 2.0
    infusion_ng_kg_h: float = 0.0
    infusion_h: float = 0.0
    device: str | None = None
    blood_ml_min: float = 200.0
    device_from_h: float = 0.0
    device_to_h: float = 8.0


COPELAND = Challenge(bolus_ng_kg=2.0)
# Jansen 2023: 1 ng/kg bolus then 0.5 ng/kg/h for 3 h.  assumption: blood flow
# 200 mL/min from the bolus to the end of the 8-h observation (not in domain.md).
JANSEN = Challenge(bolus_ng_kg=1.0, infusion_ng_kg_h=0.5, infusion_h=3.0)


def simulate(ch: Challenge, hours: float = 8.0, dt_s: float = 10.0, p: LpsParams = LpsParams(),
             cp: cytokines.CytokineParams = cytokines.CytokineParams()) -> dict[str, np.ndarray]:
    """Cytokine course of one challenge.

    Args:
        ch: Regimen and device.
        hours: Duration (h from the bolus).
        dt_s: Step (s).
        p: LPS constants.
        cp: Cytokine constants (e.g. another IL-6 half-life).

    Returns:
        ``t_h`` and the four cytokines (pg/mL), sampled every step.
    """
    r = cytokines.rates(p.weight_kg, p.hematocrit, cp)
    s = cytokines.initial_state(r, cp)
    adsorber = cartridge.PRESETS[ch.device] if ch.device else None
    qp = cartridge.plasma_flow(ch.blood_ml_min, p.hematocrit)
    dt_h = dt_s / 3600.0
    k_l = LN2 / p.lps_half_life_min * 60.0
    lps, x1, x2, processed = ch.bolus_ng_kg, 0.0, 0.0, 0.0
    n = int(round(hours / dt_h))
    out = {k: np.empty(n + 1) for k in ("t_h",) + cytokines.NAMES}
    for i in range(n + 1):
        t = i * dt_h
        out["t_h"][i] = t
        for name, v in zip(cytokines.NAMES, (s.il6, s.tnf, s.il1b, s.il10)):
            out[name][i] = v
        removal = cytokines.NO_REMOVAL
        if adsorber is not None and ch.device_from_h <= t < ch.device_to_h:
            removal = cartridge.clearances(processed, 0.0, qp, adsorber)
            processed += qp * dt_s / 60000.0
        drive = p.drive_per_ng_kg * x2
        s = cytokines.step(s, r, drive, drive, removal, dt_s / 60.0, cp)
        infusing = ch.infusion_ng_kg_h if t < ch.infusion_h else 0.0
        lps, x1, x2 = (lps + dt_h * (infusing - k_l * lps), x1 + dt_h * p.transit_per_h * (lps - x1),
                       x2 + dt_h * p.transit_per_h * (x1 - x2))
    return out


def effect_vs_control(ch: Challenge, device: str = "cytosorb", hours: float = 8.0,
                      cp: cytokines.CytokineParams = cytokines.CytokineParams()) -> dict[str, float]:
    """Reduction of each cytokine's AUC over ``hours`` by the device (%).

    Args:
        ch: Regimen (its device fields are set here).
        device: Adsorber preset.
        hours: Observation window (h).
        cp: Cytokine constants.

    Returns:
        ``{name: % reduction}``.
    """
    ctrl = simulate(replace(ch, device=None), hours, cp=cp)
    trt = simulate(replace(ch, device=device, device_to_h=hours), hours, cp=cp)
    return {k: 100.0 * (1.0 - float(np.sum(trt[k] - trt[k][0])) / float(np.sum(ctrl[k] - ctrl[k][0])))
            for k in cytokines.NAMES}


def ceiling_il6(ch: Challenge = JANSEN, hours: float = 8.0, p: LpsParams = LpsParams()) -> float:
    """IL-6 AUC reduction with a perfect adsorber (extraction 1) at the
    challenge's flow: the most plasma clearance can do (%)."""
    perfect = cartridge.AdsorberParams(name="perfect", il6=cartridge.Sorption(k0_ml_min=1e9))
    cartridge.PRESETS.setdefault("perfect", perfect)
    return effect_vs_control(ch, "perfect", hours)["IL-6"]


def il6_half_life_for(target_pct: float, ch: Challenge = JANSEN) -> float:
    """IL-6 half-life (min) at which CytoSorb would give ``target_pct`` IL-6
    AUC reduction in this challenge (bisection; everything else unchanged)."""
    lo, hi = 5.0, 2000.0
    for _ in range(30):
        mid = math.sqrt(lo * hi)
        cp = replace(cytokines.CytokineParams(), il6_half_life_min=mid)
        lo, hi = (mid, hi) if effect_vs_control(ch, cp=cp)["IL-6"] < target_pct else (lo, mid)
    return math.sqrt(lo * hi)
