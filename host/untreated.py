"""The untreated cytokine course: the plant's physiology with no device."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from host import cytokines, physiology
from host.patient import PatientParams


def _steps(duration_s: float, every_s: float) -> tuple[int, int]:
    """Number of physiology steps in total and per sample.

    Args:
        duration_s: Course length (s).
        every_s: Sampling interval (s), a multiple of the physiology step.

    Returns:
        ``(total_steps, steps_per_sample)``.
    """
    per = int(round(every_s / physiology.PHYSIO_DT_S))
    if per < 1 or abs(per * physiology.PHYSIO_DT_S - every_s) > 1e-9:
        raise ValueError("every_s must be a positive multiple of the physiology step")
    total = int(round(duration_s / physiology.PHYSIO_DT_S))
    return total, per


def _run(state: physiology.PhysiologyState, inputs: physiology.PatientArrays,
         duration_s: float, every_s: float) -> dict[str, np.ndarray]:
    """Step an untreated state and sample it.

    Args:
        state: Start state.
        inputs: Patient inputs.
        duration_s: Course length (s).
        every_s: Sampling interval (s).

    Returns:
        Dict of arrays: ``t_s`` (M,) and one (M,) or (M, N) array per cytokine.
    """
    total, per = _steps(duration_s, every_s)
    t = [0.0]
    rows = [physiology.concentrations(state)]
    for i in range(1, total + 1):
        state = physiology.step(state, inputs, cytokines.NO_REMOVAL, physiology.PHYSIO_DT_S)
        if i % per == 0:
            t.append(i * physiology.PHYSIO_DT_S)
            rows.append(physiology.concentrations(state))
    out: dict[str, np.ndarray] = {"t_s": np.asarray(t)}
    for name in cytokines.NAMES + ("endotoxin",):
        out[name] = np.asarray([r[name] for r in rows], dtype=np.float64)
    return out


def simulate(patient: PatientParams, seed: int, duration_s: float, every_s: float) -> dict[str, np.ndarray]:
    """Untreated cytokine course of one patient from the simulation start.

    The physiology is deterministic: ``seed`` is accepted so the call matches a
    plant run of the same (parameters, seed), but no physiological quantity is
    random at present.

    Args:
        patient: Patient parameters (the start is ``hours_since_onset`` after onset).
        seed: Run seed.
        duration_s: Course length (s).
        every_s: Sampling interval (s), a multiple of 1 s.

    Returns:
        ``{"t_s", "IL-6", "TNF-a", "IL-1b", "IL-10", "endotoxin"}``: (M,)
        arrays, t_s from 0 (simulation start) to ``duration_s``; cytokines in
        pg/mL, endotoxin in EU/mL.
    """
    del seed  # no random physiology yet
    inputs = physiology.patient_inputs(patient)
    state = physiology.prerun(float(patient.p0), inputs, patient.hours_since_onset)
    return _run(state, inputs, duration_s, every_s)


def simulate_cohort(patients: Sequence[PatientParams], duration_s: float,
                    every_s: float) -> dict[str, np.ndarray]:
    """Untreated courses of many patients at once (vectorised over patients).

    Args:
        patients: Patients; all must share ``hours_since_onset``.
        duration_s: Course length (s).
        every_s: Sampling interval (s).

    Returns:
        ``t_s`` (M,) and one (M, N) array per cytokine (pg/mL) and for endotoxin (EU/mL).
    """
    hours = {p.hours_since_onset for p in patients}
    if len(hours) != 1:
        raise ValueError("a cohort run needs a common hours_since_onset")
    inputs = physiology.cohort_inputs(np.array([p.weight_kg for p in patients]),
                                      np.array([p.hematocrit for p in patients]),
                                      np.array([p.k_pg for p in patients]),
                                      np.array([p.cytokine_gain for p in patients]),
                                      np.array([p.hours_to_antimicrobials for p in patients]),
                                      np.array([p.antimicrobial_kill_per_h for p in patients]))
    p0 = np.array([p.p0 for p in patients], dtype=np.float64)
    state = physiology.prerun(p0, inputs, hours.pop())
    return _run(state, inputs, duration_s, every_s)
