"""Adsorber cartridge: per-pass extraction and its decline as the beads load.

The bed is treated as a mass exchanger with a transfer capacity K (mL/min of
plasma, the "kA" of the bed).  Per-pass extraction of a cytokine at plasma flow
Qp is

    E = 1 - exp(-r * K / Qp)

(r: relative affinity of the cytokine, 1 for IL-6), so E falls at higher flow
(shorter contact time).  K falls as plasma passes through the bed and proteins
occupy the binding surface; the loading variable is the plasma volume V
processed by this cartridge:

    K(V) = K_inf + (K0 - K_inf) / (1 + V / V_half)

Adsorber clearance = Qp * E, and removal = clearance * C (first order in C, as
Gubensek found similar extraction above and below 1,000 pg/mL).

Calibration (CytoSorb, Gubensek, Front Med 2025): K0, V_half, K_inf were fitted
to IL-6 extraction 26% at 30 min and 10% at 6 h for Qb 175 mL/min, Hct 0.30,
with ~5% at 24 h (the reported 9-16% over 6-24 h includes low-flow circuits).
The same constants give 8% at 6 h for Qb 200 and 6% at Qb 250 (reported: ~6% at
Qb >= 200) and 17% at 6 h for Qb 120 (reported ~20% held at Qb < 200).
"""

from __future__ import annotations

from dataclasses import dataclass

from host.numeric import Num, exp


@dataclass(frozen=True)
class AdsorberParams:
    """Constants of one adsorber type."""

    name: str
    k0_ml_min: float  # fresh transfer capacity for IL-6
    k_inf_ml_min: float  # residual capacity of a fully loaded bed
    v_half_l: float  # processed plasma volume that halves the loadable capacity
    # relative affinities (IL-6 = 1)
    rel_tnf: float = 1.0
    rel_il1b: float = 1.0
    rel_il10: float = 1.0
    max_hours: float = 24.0  # labelled maximum use of one cartridge


# assumption: relative affinities follow the ranking of the effect against
# control in human endotoxaemia (Jansen, Crit Care 2023: IL-6 -71%, TNF -58%,
# IL-10 -26%); IL-1b (17 kDa, inside the 5-60 kDa range) taken equal to IL-6.
CYTOSORB = AdsorberParams(name="cytosorb", k0_ml_min=46.5, k_inf_ml_min=3.4, v_half_l=12.5,
                          rel_tnf=0.8, rel_il1b=1.0, rel_il10=0.4)
# A cartridge-free (sham) circuit: blood passes, nothing is adsorbed.
SHAM = AdsorberParams(name="sham", k0_ml_min=0.0, k_inf_ml_min=0.0, v_half_l=1.0,
                      rel_tnf=0.0, rel_il1b=0.0, rel_il10=0.0)

PRESETS: dict[str, AdsorberParams] = {p.name: p for p in (CYTOSORB, SHAM)}


def capacity_ml_min(processed_l: Num, a: AdsorberParams) -> Num:
    """Transfer capacity K of a cartridge that has processed ``processed_l`` of plasma.

    Args:
        processed_l: Plasma volume processed by this cartridge (L).
        a: Adsorber constants.

    Returns:
        K in mL/min.
    """
    return a.k_inf_ml_min + (a.k0_ml_min - a.k_inf_ml_min) / (1.0 + processed_l / a.v_half_l)


def extraction(capacity: Num, plasma_ml_min: Num, rel: float = 1.0) -> Num:
    """Per-pass extraction ratio.

    Args:
        capacity: Transfer capacity K (mL/min).
        plasma_ml_min: Plasma flow through the cartridge (mL/min, > 0).
        rel: Relative affinity of the cytokine (IL-6 = 1).

    Returns:
        Extraction ratio in [0, 1).
    """
    return 1.0 - exp(-rel * capacity / plasma_ml_min)


def plasma_flow(blood_ml_min: Num, hematocrit: Num) -> Num:
    """Plasma flow = blood flow x (1 - haematocrit).

    Args:
        blood_ml_min: Blood flow (mL/min).
        hematocrit: Haematocrit fraction.

    Returns:
        Plasma flow (mL/min).
    """
    return blood_ml_min * (1.0 - hematocrit)
