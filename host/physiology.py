"""The slow physiology step shared by the plant, the untreated course and cohorts.

One step advances the inflammation driver, the cytokines and endotoxin by ``dt_s``.  The
same function runs with floats (one patient inside the plant) and with (N,)
arrays (a cohort); it only uses operations that give identical results in both.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from host import cytokines, endotoxin, inflammation
from host.numeric import Num
from host.patient import PatientParams

# Physiology step of the plant and of the untreated course (s).
PHYSIO_DT_S = 1.0
# Step used to pre-run from infection onset to the simulation start (s).  The
# fastest rate in the model (IL-1b, 0.24/min) times 10 s is 0.04: stable.
PRERUN_DT_S = 10.0

REYNOLDS = inflammation.ReynoldsParams()
CYTOKINES = cytokines.CytokineParams()
ENDOTOXIN = endotoxin.EndotoxinParams()


@dataclass(frozen=True)
class PhysiologyState:
    """Driver, cytokine and endotoxin state (``endo`` in EU/mL)."""

    driver: inflammation.ReynoldsState
    cyto: cytokines.CytokineState
    endo: Num = 0.0
    t_h: float = 0.0  # hours since infection onset


@dataclass(frozen=True)
class PatientArrays:
    """Per-patient inputs of the step (floats for one patient, (N,) arrays for a cohort)."""

    k_pg: Num
    hematocrit: Num
    rates: cytokines.CytokineRates
    gain: Num = 1.0  # individual multiplier of pro-inflammatory production
    abx_start_h: Num = float("inf")  # first antimicrobial dose, hours after onset
    abx_kill_per_h: Num = 0.0  # pathogen kill rate once antimicrobials run


def patient_inputs(patient: PatientParams) -> PatientArrays:
    """Inputs of the step for one patient (plain floats).

    Args:
        patient: Patient parameters.

    Returns:
        Float inputs.
    """
    return PatientArrays(k_pg=float(patient.k_pg), hematocrit=float(patient.hematocrit),
                         rates=cytokines.rates(float(patient.weight_kg), float(patient.hematocrit),
                                               CYTOKINES),
                         gain=float(patient.cytokine_gain),
                         abx_start_h=float(patient.hours_to_antimicrobials),
                         abx_kill_per_h=float(patient.antimicrobial_kill_per_h))


def cohort_inputs(weight_kg: np.ndarray, hematocrit: np.ndarray, k_pg: np.ndarray,
                  gain: np.ndarray | float = 1.0, abx_start_h: np.ndarray | float = float("inf"),
                  abx_kill_per_h: np.ndarray | float = 0.0) -> PatientArrays:
    """Inputs of the step for a cohort.

    Args:
        weight_kg: (N,) body weights.
        hematocrit: (N,) haematocrits.
        k_pg: (N,) pathogen growth rates.
        gain: (N,) individual multipliers of pro-inflammatory production.
        abx_start_h: (N,) hours from onset to the first antimicrobial dose.
        abx_kill_per_h: (N,) antimicrobial kill rates (per hour).

    Returns:
        Array inputs.
    """
    w = np.asarray(weight_kg, dtype=np.float64)
    h = np.asarray(hematocrit, dtype=np.float64)
    return PatientArrays(k_pg=np.asarray(k_pg, dtype=np.float64), hematocrit=h,
                         rates=cytokines.rates(w, h, CYTOKINES),
                         gain=np.asarray(gain, dtype=np.float64) + 0.0 * w,
                         abx_start_h=np.asarray(abx_start_h, dtype=np.float64) + 0.0 * w,
                         abx_kill_per_h=np.asarray(abx_kill_per_h, dtype=np.float64) + 0.0 * w)


def onset_state(p0: Num, inputs: PatientArrays) -> PhysiologyState:
    """State at infection onset.

    Args:
        p0: Initial pathogen load (float or (N,) array).
        inputs: Patient inputs.

    Returns:
        The onset state.
    """
    return PhysiologyState(driver=inflammation.initial_state(p0, REYNOLDS),
                           cyto=cytokines.initial_state(inputs.rates, CYTOKINES),
                           endo=ENDOTOXIN.gain_eu_ml * p0)


def step(s: PhysiologyState, inputs: PatientArrays, removal: cytokines.Removal,
         dt_s: float) -> PhysiologyState:
    """Advance the physiology by ``dt_s`` seconds.

    Args:
        s: Current state.
        inputs: Patient inputs.
        removal: Adsorber clearances (``cytokines.NO_REMOVAL`` when untreated).
        dt_s: Step (s).

    Returns:
        The new state.
    """
    sig = inflammation.signals(s.driver, REYNOLDS)  # (damping, activation R)
    pro = sig[1] * inputs.gain
    # IL-10 comes from the same stimulated phagocytes (cytokines.py); CA acts
    # inside the driver (it damps the pro-inflammatory signal).
    cyto = cytokines.step(s.cyto, inputs.rates, pro, pro, removal, dt_s / 60.0, CYTOKINES)
    endo = endotoxin.step(s.endo, s.driver.p, inputs.rates.il6_v, removal.endotoxin, dt_s / 60.0, ENDOTOXIN)
    # Standard care: antimicrobials kill the pathogen from their first dose.
    kill = inputs.abx_kill_per_h * (s.t_h >= inputs.abx_start_h)
    driver = inflammation.step(s.driver, inputs.k_pg, dt_s / 3600.0, REYNOLDS, kill, sig)
    return PhysiologyState(driver=driver, cyto=cyto, endo=endo, t_h=s.t_h + dt_s / 3600.0)


def prerun(p0: Num, inputs: PatientArrays, hours: float) -> PhysiologyState:
    """State ``hours`` after onset, untreated, integrated with ``PRERUN_DT_S``.

    Args:
        p0: Initial pathogen load.
        inputs: Patient inputs.
        hours: Time since onset (rounded to whole pre-run steps).

    Returns:
        The state at the simulation start.
    """
    s = onset_state(p0, inputs)
    for _ in range(int(round(hours * 3600.0 / PRERUN_DT_S))):
        s = step(s, inputs, cytokines.NO_REMOVAL, PRERUN_DT_S)
    return s


def start_state(patient: PatientParams) -> PhysiologyState:
    """State of one patient at the simulation start (floats).

    Args:
        patient: Patient parameters.

    Returns:
        The pre-run state.
    """
    return prerun(float(patient.p0), patient_inputs(patient), patient.hours_since_onset)


def concentrations(s: PhysiologyState) -> dict[str, Num]:
    """Reported plasma concentrations.

    Args:
        s: State.

    Returns:
        ``{"IL-6", "TNF-a", "IL-1b", "IL-10"}`` in pg/mL and ``"endotoxin"`` in EU/mL.
    """
    c = s.cyto
    return {"IL-6": c.il6, "TNF-a": c.tnf, "IL-1b": c.il1b, "IL-10": c.il10, "endotoxin": s.endo}
