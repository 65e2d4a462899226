"""Plasma endotoxin (lipopolysaccharide) released by the pathogen.

One compartment (plasma), concentration E in EU/mL, time in minutes:

    dE/dt = k_el * (g_E * P - E) - CL_ads * E / V

``P`` is the pathogen load of the inflammation driver, so without a device the
quasi-steady level is ``g_E * P``.  Endotoxin does not feed back into the
driver (assumption, as for the cytokines: the driver already represents the
infection, and no source in domain.md links removed endotoxin to its course).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from host.numeric import Num

# assumption: endotoxin units per ng of lipopolysaccharide (the usual order of
# the reference standards, ~10 EU/ng); used only to convert the in-vitro load
# of Malard 2018 (15.8 ug) into EU.
EU_PER_NG = 10.0


@dataclass(frozen=True)
class EndotoxinParams:
    """Endotoxin constants."""

    # assumption: plasma half-life 60 min.  No figure in domain.md; an hour
    # keeps the endogenous clearance (~40 mL/min for 3.4 L of plasma) of the
    # same order as the device clearances, so device differences are visible.
    half_life_min: float = 60.0
    # assumption: level per unit pathogen load.  A severe case (k_pg 0.6) 12 h
    # after onset has P ~7.6, i.e. ~0.75 EU/mL, well above the 0.03 EU/mL
    # inclusion threshold of Broman (PLoS One 2019) for endotoxaemic shock.
    gain_eu_ml: float = 0.1

    @property
    def k_el_per_min(self) -> float:
        """First-order elimination rate (per minute)."""
        return math.log(2.0) / self.half_life_min


def step(e: Num, pathogen: Num, vol_ml: Num, clearance_ml_min: Num, dt_min: float,
         p: EndotoxinParams = EndotoxinParams()) -> Num:
    """Advance plasma endotoxin by one explicit Euler step.

    Args:
        e: Concentration (EU/mL).
        pathogen: Pathogen load ``P`` of the driver.
        vol_ml: Plasma volume (mL).
        clearance_ml_min: Device clearance (mL/min of plasma).
        dt_min: Step (min).
        p: Constants.

    Returns:
        The new concentration.
    """
    k = p.k_el_per_min
    return e + dt_min * (k * (p.gain_eu_ml * pathogen - e) - clearance_ml_min * e / vol_ml)
