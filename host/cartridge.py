"""Adsorber cartridge: per-molecule extraction, its decline with load, device presets.

Each device is a mass exchanger.  For molecule ``m`` its transfer capacity
(mL/min of plasma, the "kA" of the bed or membrane) is

    K_m = K_inf,m + (K0_m - K_inf,m) / (1 + V / V_half,m + M_m / M_half,m)

where ``V`` is the plasma volume (L) this cartridge has processed (fouling of
the surface by plasma proteins, shared by all molecules) and ``M_m`` is the
amount of ``m`` the cartridge has bound (Langmuir-type self-saturation; only
endotoxin uses it, the cytokine masses are far too small to load a bed, as
Gubensek found the same extraction above and below 1,000 pg/mL).  The number of
transfer units at plasma flow ``Qp`` and the per-pass extraction are

    NTU = (K_m / Qp) * (Q_ref / Qp) ** beta
    E   = 1 - exp(-NTU)

``beta = 0`` is the plain exchanger (E falls with flow only through the
contact time).  For CytoSorb ``beta = -1/3``: the film mass-transfer
coefficient of a packed bed grows with the flow (see CYTOSORB), so the fresh
clearance Qp * E rises with flow.  Adsorber clearance = Qp * E, and the
removal rate is clearance x concentration (first order in C).

Calibration: ``host.calibration`` re-runs every figure below.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from host.cytokines import Removal
from host.numeric import Num, exp

# Molecules with a per-device sorption, in a fixed order: that of the
# clearances (``Removal``) the cartridge gives the physiology.
MOLECULES: tuple[str, ...] = Removal._fields

INF = math.inf


@dataclass(frozen=True)
class Sorption:
    """Sorption constants of one molecule on one device.

    Attributes:
        k0_ml_min: Transfer capacity of a fresh device (mL/min).
        k_inf_ml_min: Residual capacity of a fully fouled device (mL/min).
        v_half_l: Processed plasma volume (L) that halves the foulable capacity.
        m_half: Bound amount (ng for cytokines, EU for endotoxin) that halves
            it (``inf``: no self-saturation).
    """

    k0_ml_min: float = 0.0
    k_inf_ml_min: float = 0.0
    v_half_l: float = INF
    m_half: float = INF

    def scaled(self, factor: float) -> "Sorption":
        """Same saturation, capacities multiplied by ``factor``.

        Args:
            factor: Relative affinity.

        Returns:
            The scaled sorption.
        """
        return replace(self, k0_ml_min=self.k0_ml_min * factor, k_inf_ml_min=self.k_inf_ml_min * factor)


NONE = Sorption()


@dataclass(frozen=True)
class AdsorberParams:
    """Constants of one adsorber type.

    Attributes:
        name: Preset name.
        il6, tnf, il1b, il10, endotoxin: Per-molecule sorption.
        flow_ref_ml_min: Reference plasma flow of the flow term (mL/min).
        flow_exponent: ``beta`` of the flow term (0: plain exchanger).
        max_hours: Labelled maximum use of one cartridge (h).
        clot_multiplier: Clot-rate multiplier of this device relative to the
            calibrated circuit (1 = CytoSorb).
    """

    name: str
    il6: Sorption = NONE
    tnf: Sorption = NONE
    il1b: Sorption = NONE
    il10: Sorption = NONE
    endotoxin: Sorption = NONE
    flow_ref_ml_min: float = 126.0
    flow_exponent: float = 0.0
    max_hours: float = 24.0
    clot_multiplier: float = 1.0

    def sorptions(self) -> tuple[Sorption, ...]:
        """Per-molecule sorption in ``MOLECULES`` order."""
        return (self.il6, self.tnf, self.il1b, self.il10, self.endotoxin)


# CytoSorb IL-6.  Flow term: beta = -1/3, i.e. the bed's transfer capacity
# grows with flow as Qp^(1/3), the film mass-transfer law of liquid flow
# through packed beds at low Reynolds number (Wilson & Geankoplis, Ind Eng
# Chem Fundam 1966: Sh ~ Re^(1/3) Sc^(1/3)); the fresh clearance then rises
# with flow (35.7 / 40.7 / 44.8 / 54.5 mL/min at Qb 150 / 200 / 250 / 400)
# while the extraction falls.  K0, K_inf, V_half: least-squares fit
# (host/calibration_rows.py re-runs it) to Gubensek (Front Med 2025, Hct 0.30):
# pooled 26% at 30 min and 10% at 6 h (taken at Qb 180, assumption: a flow
# between the two reported groups) and ~6% at 6 h for Qb >= 200 (taken at
# Qb 250).  The fit puts K_inf at 0.  The other Gubensek figures are held out
# (predictions); "~20% held to 12 h at Qb < 200" is not reproduced (7.5%).
_CYTOSORB_IL6 = Sorption(k0_ml_min=46.43, k_inf_ml_min=0.0, v_half_l=17.30)
# assumption: relative affinities follow the ranking of the effect against
# control in human endotoxaemia (Jansen, Crit Care 2023: IL-6 -71%, TNF -58%,
# IL-10 -26%); IL-1b (17 kDa, inside the 5-60 kDa range) taken equal to IL-6.
_REL_TNF, _REL_IL1B, _REL_IL10 = 0.8, 1.0, 0.4


def _cytokines(il6: Sorption) -> dict[str, Sorption]:
    """The four cytokines' sorption from IL-6's, at the relative affinities above."""
    return {"il6": il6, "tnf": il6.scaled(_REL_TNF), "il1b": il6.scaled(_REL_IL1B),
            "il10": il6.scaled(_REL_IL10)}


CYTOSORB = AdsorberParams(
    name="cytosorb", **_cytokines(_CYTOSORB_IL6),
    # Malard (ICMx 2018, in vitro): endotoxin clearance ~1 mL/min over the first
    # 30 min and no net removal at 2 h; fitted as a small capacity that its own
    # load saturates quickly (see host/calibration.py for the in-vitro set-up).
    endotoxin=Sorption(k0_ml_min=2.0, m_half=2000.0),
    flow_ref_ml_min=126.0, flow_exponent=-1.0 / 3.0, max_hours=24.0)

# oXiris (AN69-ST membrane with PEI and heparin grafting).
# assumption: cytokine sorption equal to CytoSorb's at the reference flow (Malard
# 2018: "removal rates of cytokines similar between oXiris and CytoSorb"); no
# flow data, so beta = 0.  Endotoxin fitted to Malard 2018: ~8 mL/min over the
# first 30 min, 68% removed at 2 h.
# assumption: clot multiplier 0.8 for the heparin-grafted membrane ("less
# thrombosis", review); domain.md gives no number.
OXIRIS = AdsorberParams(
    name="oxiris", **_cytokines(_CYTOSORB_IL6),
    endotoxin=Sorption(k0_ml_min=9.0, m_half=5.0e5),
    flow_exponent=0.0, max_hours=24.0, clot_multiplier=0.8)

# Toraymyxin (polymyxin-B fibre column).  Endotoxin fitted to Malard 2018:
# ~20 mL/min over the first 30 min, 83% removed at 2 h.
# assumption: cytokine capacity 1/4 of CytoSorb's (Malard 2018: cytokine removal
# "higher with CytoSorb and oXiris vs Toraymyxin", no specific protein
# adsorption).  Sessions of 2 h (Crit Care 2018;22:262, table 3: "2-h session
# daily for 2 consecutive days").  Clotting is its main risk (review) but no
# figure is given: multiplier 1.
_TORAY_IL6 = _CYTOSORB_IL6.scaled(0.25)
TORAYMYXIN = AdsorberParams(
    name="toraymyxin", **_cytokines(_TORAY_IL6),
    endotoxin=Sorption(k0_ml_min=120.0, m_half=1.0e4),
    flow_exponent=0.0, max_hours=2.0)

# PMMA hemofilter (CH-1.8W, 1.8 m2).  IL-6 capacity per m2 of membrane fitted
# to 41.1 mL/min at 15 min for 1.8 m2 (Membranes 2022, in vitro, flow
# 100 mL/min assumed); the same per-m2 value gives 25.5 mL/min for 1.0 m2
# (published 25.4).  assumption: no loss of capacity within a 24 h filter life
# on the scale of the study (> 70% fall again after re-adding IL-6 at 3 h):
# V_half 40 L.  assumption: no endotoxin binding (no ligand); relative cytokine
# affinities as CytoSorb's.  PMMA "clots easily, change every 24 h":
# assumption: clot multiplier 1.5.
PMMA_K_PER_M2 = 30.5
PMMA_AREA_M2 = 1.8


def pmma(area_m2: float = PMMA_AREA_M2) -> AdsorberParams:
    """PMMA hemofilter preset for a membrane area.

    Args:
        area_m2: Membrane area (m2); capacity is proportional to it.

    Returns:
        The adsorber constants.
    """
    il6 = Sorption(k0_ml_min=PMMA_K_PER_M2 * area_m2, v_half_l=40.0)
    return AdsorberParams(name="pmma" if area_m2 == PMMA_AREA_M2 else f"pmma-{area_m2:g}",
                          **_cytokines(il6), flow_exponent=0.0, max_hours=24.0,
                          clot_multiplier=1.5)


PMMA = pmma()

# A cartridge-free (sham) circuit: blood passes, nothing is adsorbed.
SHAM = AdsorberParams(name="sham")

PRESETS: dict[str, AdsorberParams] = {p.name: p for p in (CYTOSORB, OXIRIS, TORAYMYXIN, PMMA, SHAM)}


def capacity_ml_min(processed_l: Num, s: Sorption, bound: Num = 0.0) -> Num:
    """Transfer capacity K of one molecule.

    Args:
        processed_l: Plasma volume processed by this cartridge (L).
        s: Sorption constants of the molecule on the device.
        bound: Amount of this molecule already bound (ng or EU).

    Returns:
        K in mL/min.
    """
    load = 1.0 + processed_l / s.v_half_l
    if s.m_half != INF:
        load = load + bound / s.m_half
    return s.k_inf_ml_min + (s.k0_ml_min - s.k_inf_ml_min) / load


def ntu_factor(plasma_ml_min: Num, a: AdsorberParams) -> Num:
    """Transfer units per mL/min of capacity at a plasma flow.

    Args:
        plasma_ml_min: Plasma flow (mL/min, > 0).
        a: Adsorber constants.

    Returns:
        ``(1 / Qp) * (Q_ref / Qp) ** beta``.
    """
    if a.flow_exponent == 0.0:
        return 1.0 / plasma_ml_min
    if a.flow_exponent == 1.0:
        return a.flow_ref_ml_min / (plasma_ml_min * plasma_ml_min)
    return (a.flow_ref_ml_min / plasma_ml_min) ** a.flow_exponent / plasma_ml_min


def extraction(capacity: Num, plasma_ml_min: Num, a: AdsorberParams | float = 1.0) -> Num:
    """Per-pass extraction ratio.

    Args:
        capacity: Transfer capacity K (mL/min).
        plasma_ml_min: Plasma flow through the cartridge (mL/min, > 0).
        a: Adsorber constants (for the flow term); a plain number is read as
            a relative affinity on a plain exchanger (beta = 0).

    Returns:
        Extraction ratio in [0, 1).
    """
    if isinstance(a, AdsorberParams):
        return 1.0 - exp(-capacity * ntu_factor(plasma_ml_min, a))
    return 1.0 - exp(-a * capacity / plasma_ml_min)


def plasma_flow(blood_ml_min: Num, hematocrit: Num) -> Num:
    """Plasma flow = blood flow x (1 - haematocrit).

    Args:
        blood_ml_min: Blood flow (mL/min).
        hematocrit: Haematocrit fraction.

    Returns:
        Plasma flow (mL/min).
    """
    return blood_ml_min * (1.0 - hematocrit)


def clearances(processed_l: Num, bound_endotoxin: Num, plasma_ml_min: Num,
               a: AdsorberParams) -> Removal:
    """Adsorber clearances of all molecules at one moment.

    Args:
        processed_l: Plasma processed by this cartridge (L).
        bound_endotoxin: Endotoxin bound by this cartridge (EU).
        plasma_ml_min: Plasma flow (mL/min, > 0).
        a: Adsorber constants.

    Returns:
        The clearances ``(il6, tnf, il1b, il10, endotoxin)`` in mL/min of plasma,
        as the removal the physiology step takes.
    """
    return clearances_at(processed_l, bound_endotoxin, plasma_ml_min, ntu_factor(plasma_ml_min, a), a)


def clearances_at(processed_l: Num, bound_endotoxin: Num, plasma_ml_min: Num, f: Num,
                  a: AdsorberParams) -> Removal:
    """:func:`clearances` with the flow term already evaluated.

    At a constant flow (a cohort's fixed blood flow) ``f`` is computed once
    instead of at every step; with CytoSorb's ``beta = -1/3`` it is a
    fractional power, the costliest part of the clearances on arrays.  A
    plasma flow of 0 (a patient off his session) gives clearances of 0.

    Args:
        processed_l: Plasma processed by this cartridge (L).
        bound_endotoxin: Endotoxin bound by this cartridge (EU).
        plasma_ml_min: Plasma flow (mL/min, >= 0).
        f: ``ntu_factor`` at the flow the cartridge runs at (> 0).
        a: Adsorber constants.

    Returns:
        The clearances, as :func:`clearances` (the same numbers for the same
        flow: the same operations in the same order).
    """
    out = []
    # The same sorption (e.g. IL-1b scaled by 1.0 from IL-6) or fouling volume
    # gives the same numbers: computed once.
    loads: dict[float, Num] = {}
    done: dict[Sorption, Num] = {}
    for s in (a.il6, a.tnf, a.il1b, a.il10):
        if s.k0_ml_min == 0.0:
            out.append(0.0 * f)
        elif s in done:
            out.append(done[s])
        else:
            load = loads.get(s.v_half_l)
            if load is None:
                load = loads[s.v_half_l] = 1.0 + processed_l / s.v_half_l
            k = s.k_inf_ml_min + (s.k0_ml_min - s.k_inf_ml_min) / load
            done[s] = plasma_ml_min * (1.0 - exp(-k * f))
            out.append(done[s])
    s = a.endotoxin
    if s.k0_ml_min == 0.0:
        out.append(0.0 * f)
    else:
        k = capacity_ml_min(processed_l, s, bound_endotoxin)
        out.append(plasma_ml_min * (1.0 - exp(-k * f)))
    return Removal(*out)


@dataclass
class CartridgeState:
    """One fitted cartridge as the plant tracks it: what it has processed and
    bound, its clot, and its latest clearances.  A fresh cartridge is a new
    record: only its number and clot-rate factor differ from the defaults.

    Attributes:
        index: Cartridge number (0 = first).
        clot_factor: Per-cartridge clot-rate factor (log-normal, median 1).
        age_s: Time connected to the patient (s).
        processed_l: Plasma processed (L).
        bound_endo: Endotoxin bound (EU).
        clot: Blocked fraction of the bed.
        extraction_il6: Latest IL-6 extraction ratio (0 without flow).
        clearance_il6: Latest IL-6 clearance (mL/min of plasma).
        clearance_endo: Latest endotoxin clearance (mL/min of plasma).
    """

    index: int = 0
    clot_factor: float = 1.0
    age_s: float = 0.0
    processed_l: float = 0.0
    bound_endo: float = 0.0
    clot: float = 0.0
    extraction_il6: float = 0.0
    clearance_il6: float = 0.0
    clearance_endo: float = 0.0

    def perfuse(self, plasma_ml_min: float, endotoxin_eu_ml: float, dt_s: float,
                a: AdsorberParams) -> Removal:
        """Pass plasma through for ``dt_s``: the clearances at the present load,
        then the load they add.

        Args:
            plasma_ml_min: Plasma flow (mL/min, > 0).
            endotoxin_eu_ml: Plasma endotoxin now (EU/mL).
            dt_s: Step (s).
            a: Adsorber constants.

        Returns:
            The clearances over the step (mL/min of plasma).
        """
        removal = clearances(self.processed_l, self.bound_endo, plasma_ml_min, a)
        self.extraction_il6 = removal.il6 / plasma_ml_min
        self.clearance_il6 = removal.il6
        self.clearance_endo = removal.endotoxin
        self.processed_l += plasma_ml_min * dt_s / 60000.0
        if removal.endotoxin:
            self.bound_endo += removal.endotoxin * endotoxin_eu_ml * dt_s / 60.0
        return removal

    def stand(self) -> None:
        """No plasma flows: no extraction and no clearance (the load stays)."""
        self.extraction_il6 = self.clearance_il6 = self.clearance_endo = 0.0
