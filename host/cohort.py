"""Virtual cohorts: many patients at once, each run treated and untreated.

The physiology is the plant's own (the equations of ``host.physiology.step``),
vectorised over patients: every state variable is an array of shape (n,).  The treated arm is
a simplified open-loop device, no firmware: a fixed blood flow, a session of
``hours_per_day`` every day from the patient's start, a fresh cartridge every
24 h, for ``days`` days.  Clotting, heparin and sensors are left out (the
cartridge is assumed to last its day).  Since device removal does not feed back
into the inflammation driver (see host/cytokines.py), the driver is integrated
once and both arms share it.

Time runs from infection onset; each patient's window is
``[start_h, start_h + 24 * days)``.  Before the start both arms are the same.

Run ``python -m host.cohort --n 1000 --out out/cohort`` for a JSON summary.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np

from host import cartridge, inflammation, physiology
from host.numeric import pos
from host.patient import PatientParams

# Damas (Ann Surg 1992): mortality rises above 1,000 pg/mL of IL-6.  Used both
# to group patients by baseline IL-6 and for the outcome proxy below.
IL6_THRESHOLD = 1000.0
# CytoSorb is best started within 24 h of sepsis diagnosis (review).
EARLY_START_H = 24.0
# assumption: a patient "responds" when the device lowers his IL-6 exposure
# (AUC over the treatment window) by at least 10% against his own untreated course.
RESPONDER_AUC_REDUCTION = 0.10


@dataclass(frozen=True)
class CohortPatients:
    """Per-patient parameters, arrays of shape (n,)."""

    weight_kg: np.ndarray
    hematocrit: np.ndarray
    k_pg: np.ndarray
    p0: np.ndarray
    start_h: np.ndarray
    cytokine_gain: np.ndarray

    @property
    def n(self) -> int:
        """Number of patients."""
        return int(self.weight_kg.shape[0])

    @classmethod
    def from_params(cls, patients: list[PatientParams]) -> "CohortPatients":
        """Cohort made of given patients (``hours_since_onset`` is the start).

        Args:
            patients: Patient parameters.

        Returns:
            The cohort.
        """
        def col(name: str) -> np.ndarray:
            return np.array([float(getattr(p, name)) for p in patients], dtype=np.float64)
        return cls(weight_kg=col("weight_kg"), hematocrit=col("hematocrit"), k_pg=col("k_pg"),
                   p0=col("p0"), start_h=col("hours_since_onset"), cytokine_gain=col("cytokine_gain"))


def sample_patients(n: int, seed: int, dt_s: float = 60.0) -> CohortPatients:
    """Draw a virtual cohort.

    Distributions (domain.md where it gives a range, otherwise assumptions):

    * k_pg uniform 0.25-0.65 (domain.md: mild ... severe) and P(0) uniform
      1.0-1.5 (domain.md).
    * assumption: weight normal, mean 78 kg, SD 15, clipped to 45-140 kg.
    * assumption: haematocrit normal, mean 0.30, SD 0.04, clipped to 0.20-0.42.
    * assumption: time from diagnosis to device start uniform 4-48 h, so that
      both sides of the 24 h boundary are populated; diagnosis is taken at the
      onset of the modelled infection.  Rounded to the step.
    * assumption: individual multiplier of pro-inflammatory cytokine production
      log-normal, median 0.5, sigma 0.8 (between-patient spread of the
      cytokine response).  With it the cohort's median IL-6 at the start,
      ~1.5 ng/mL, lies between Calandra's medians for survivors (0.5) and
      non-survivors (3.5), and a third of the patients start below
      1,000 pg/mL; the default patient (gain 1) is the non-survivor median.

    Args:
        n: Number of patients.
        seed: Cohort seed (numpy PCG64).
        dt_s: Step the start times are rounded to (s).

    Returns:
        The cohort.
    """
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, 77])))
    weight = np.clip(rng.normal(78.0, 15.0, n), 45.0, 140.0)
    hct = np.clip(rng.normal(0.30, 0.04, n), 0.20, 0.42)
    k_pg = rng.uniform(0.25, 0.65, n)
    p0 = rng.uniform(1.0, 1.5, n)
    start_steps = np.round(rng.uniform(4.0, 48.0, n) * 3600.0 / dt_s)
    gain = 0.5 * np.exp(0.8 * rng.standard_normal(n))
    return CohortPatients(weight_kg=weight, hematocrit=hct, k_pg=k_pg, p0=p0,
                          start_h=start_steps * dt_s / 3600.0, cytokine_gain=gain)


class _Driver:
    """In-place Reynolds step on (n,) arrays, bit-identical to ``inflammation.step``.

    The same operations in the same order as :func:`host.inflammation.step`
    and :func:`host.inflammation.pro_drive`, written into preallocated buffers
    (a cohort step then allocates no new arrays for the driver).
    """

    def __init__(self, s: inflammation.ReynoldsState, k_pg: np.ndarray, q: inflammation.ReynoldsParams) -> None:
        n = k_pg.shape[0]
        self.p, self.n, self.d, self.ca = (np.array(v, dtype=np.float64) + np.zeros(n) for v in (s.p, s.n, s.d, s.ca))
        self.k_pg = k_pg
        self.q = q
        self.sup, self.fn, self.t0, self.t1, self.t2, self.t3 = (np.empty(n) for _ in range(6))
        x_dn2 = q.x_dn * q.x_dn
        self.x_dn6 = x_dn2 * x_dn2 * x_dn2
        self.ca_base = q.ca_baseline

    def pro_anti(self) -> tuple[np.ndarray, np.ndarray]:
        """Drives of the current state: ``(pro_drive, anti_drive)`` (new arrays)."""
        q = self.q
        np.divide(self.ca, q.c_inf, out=self.t0)
        np.multiply(self.t0, self.t0, out=self.t0)
        np.add(self.t0, 1.0, out=self.t0)
        np.divide(1.0, self.t0, out=self.sup)
        np.multiply(self.n, self.sup, out=self.fn)
        return self.fn.copy(), self.ca - self.ca_base

    def step(self, dt_h: float) -> None:
        """Advance by ``dt_h`` hours; :meth:`pro_anti` must have been called on this state."""
        q = self.q
        p, n, d, ca, sup, fn = self.p, self.n, self.d, self.ca, self.sup, self.fn
        t0, t1, t2, t3 = self.t0, self.t1, self.t2, self.t3
        # r = (k_nn n + k_np p + k_nd d) sup  -> t1
        np.multiply(n, q.k_nn, out=t1)
        np.multiply(p, q.k_np, out=t0)
        np.add(t1, t0, out=t1)
        np.multiply(d, q.k_nd, out=t0)
        np.add(t1, t0, out=t1)
        np.multiply(t1, sup, out=t1)
        # x_c = (n + k_cnd d) sup  -> t2
        np.multiply(d, q.k_cnd, out=t2)
        np.add(n, t2, out=t2)
        np.multiply(t2, sup, out=t2)
        # dp -> t3
        np.multiply(self.k_pg, p, out=t3)
        np.divide(p, q.p_inf, out=t0)
        np.subtract(1.0, t0, out=t0)
        np.multiply(t3, t0, out=t3)
        np.multiply(p, q.k_mp, out=t0)
        np.add(t0, q.mu_m, out=t0)
        np.multiply(p, q.k_pm * q.s_m, out=sup)  # sup no longer needed
        np.divide(sup, t0, out=sup)
        np.subtract(t3, sup, out=t3)
        np.multiply(fn, q.k_pn, out=t0)
        np.multiply(t0, p, out=t0)
        np.subtract(t3, t0, out=t3)
        # dn -> sup
        np.add(t1, q.mu_nr, out=t0)
        np.multiply(t1, q.s_nr, out=t1)
        np.divide(t1, t0, out=t1)
        np.multiply(n, q.mu_n, out=t0)
        np.subtract(t1, t0, out=t1)  # t1 = dn
        # dd -> fn (f_n6)
        np.multiply(fn, fn, out=fn)
        np.multiply(fn, fn, out=t0)
        np.multiply(t0, fn, out=fn)  # f_n6
        np.add(fn, self.x_dn6, out=t0)
        np.multiply(fn, q.k_dn, out=fn)
        np.divide(fn, t0, out=fn)
        np.multiply(d, q.mu_d, out=t0)
        np.subtract(fn, t0, out=fn)  # fn = dd
        # dca -> t2
        np.add(t2, 1.0, out=t0)
        np.multiply(t2, q.k_cn, out=t2)
        np.divide(t2, t0, out=t2)
        np.add(t2, q.s_c, out=t2)
        np.multiply(ca, q.mu_c, out=t0)
        np.subtract(t2, t0, out=t2)
        # Euler
        for x, dx in ((p, t3), (n, t1), (d, fn), (ca, t2)):
            np.multiply(dx, dt_h, out=dx)
            np.add(x, dx, out=x)


class _Device:
    """Clearances of one adsorber on (n,) arrays (same formulas as ``cartridge.clearances``).

    Molecules whose sorption shares IL-6's fouling volume compute the fouling
    factor once.
    """

    def __init__(self, a: cartridge.AdsorberParams, qp: np.ndarray) -> None:
        self.a = a
        self.f = cartridge.ntu_factor(qp, a)
        self.neg_f = -self.f
        self.qp = qp
        self.v_half = [s.v_half_l for s in a.sorptions()]

    def transfer(self, processed: np.ndarray, bound: np.ndarray) -> list[Optional[np.ndarray]]:
        """``1 - exp(-NTU)`` per molecule (None where the device has no capacity)."""
        out: list[Optional[np.ndarray]] = []
        g_cache: dict[float, np.ndarray] = {}
        for j, s in enumerate(self.a.sorptions()):
            if s.k0_ml_min == 0.0:
                out.append(None)
                continue
            if j == 4 and s.m_half != cartridge.INF:
                k = cartridge.capacity_ml_min(processed, s, bound)
            else:
                g = g_cache.get(s.v_half_l)
                if g is None:
                    g = 1.0 / (1.0 + processed / s.v_half_l)
                    g_cache[s.v_half_l] = g
                k = s.k_inf_ml_min + (s.k0_ml_min - s.k_inf_ml_min) * g
            out.append(1.0 - np.exp(k * self.neg_f))
        return out


def run_cohort(n: int = 1000, days: float = 7.0, dt_s: float = 60.0, seed: int = 0,
               device: str = "cytosorb", blood_ml_min: float = 200.0, hours_per_day: float = 24.0,
               patients: Optional[CohortPatients] = None,
               record_every_s: Optional[float] = None) -> dict[str, Any]:
    """Run a cohort treated and untreated.

    Args:
        n: Number of patients (ignored when ``patients`` is given).
        days: Treatment days per patient (one cartridge per day).
        dt_s: Physiology step (s); the plant uses 1 s, cohorts 60 s.
        seed: Cohort seed (draws the patients).
        device: Adsorber preset name (``host.cartridge.PRESETS``).
        blood_ml_min: Fixed blood flow during sessions (mL/min).
        hours_per_day: Session length each day (24 = continuous; the
            cartridge's own ``max_hours`` caps it).
        patients: Explicit cohort instead of a random one.
        record_every_s: If given, trajectories are sampled every this many
            seconds from onset (arrays (T, n) per arm) for tests and plots.

    Returns:
        Dict with ``patients`` (the cohort), per-patient metric arrays
        (``baseline_il6``, ``start_h`` and, per arm ``treated`` /
        ``untreated``: ``il6_auc`` (pg/mL x h), ``il6_end``, ``il6_hours_above``
        (h with IL-6 > 1,000 pg/mL), ``tnf_auc``, ``il10_auc``,
        ``endotoxin_auc`` (EU/mL x h)) and, when recording, ``t_s`` and
        ``traj``.
    """
    pts = patients if patients is not None else sample_patients(n, seed, dt_s)
    n = pts.n
    adsorber = cartridge.PRESETS[device.lower()]
    session_h = min(float(hours_per_day), adsorber.max_hours)
    steps_per_h = 3600.0 / dt_s
    start_step = np.round(pts.start_h * steps_per_h).astype(np.int64)
    window = int(round(days * 24.0 * steps_per_h))
    day_steps = int(round(24.0 * steps_per_h))
    session_steps = int(round(session_h * steps_per_h))
    end_step = start_step + window
    total = int(end_step.max())

    inputs = physiology.cohort_inputs(pts.weight_kg, pts.hematocrit, pts.k_pg, pts.cytokine_gain)
    r = inputs.rates
    onset = physiology.onset_state(pts.p0, inputs)
    drv = _Driver(onset.driver, np.asarray(inputs.k_pg), physiology.REYNOLDS)
    arms = ("treated", "untreated")
    # Per-arm state: il6, tnf, tnf_p, il1b, il1b_p, il10, endotoxin.
    state = {arm: [np.array(v, dtype=np.float64) for v in
                   (onset.cyto.il6, onset.cyto.tnf, onset.cyto.tnf_p, onset.cyto.il1b, onset.cyto.il1b_p,
                    onset.cyto.il10, onset.endo)] for arm in arms}
    qp = cartridge.plasma_flow(blood_ml_min, pts.hematocrit)
    processed = np.zeros(n)
    bound = np.zeros(n)

    # The Euler step of host.cytokines.step / host.endotoxin.step, rearranged:
    #   C' = C (1 - dt k - dt CL/V) + dt k (basal + G drive)
    # (identical algebra; the production term is computed once for both arms).
    dt_min = dt_s / 60.0
    dt_h = dt_s / 3600.0
    cp = physiology.CYTOKINES
    ep = physiology.ENDOTOXIN
    a6 = 1.0 - dt_min * r.il6_k
    at = 1.0 - dt_min * (r.tnf_k10 + r.tnf_k12)
    atp = 1.0 - dt_min * r.tnf_k21
    a1 = 1.0 - dt_min * (r.il1b_k10 + r.il1b_k12)
    a1p = 1.0 - dt_min * r.il1b_k21
    a10 = 1.0 - dt_min * r.il10_k
    ae = 1.0 - dt_min * ep.k_el_per_min
    inv_v = [dt_min / r.il6_v + 0.0 * qp, dt_min / r.tnf_v + 0.0 * qp, dt_min / r.il1b_v + 0.0 * qp,
             dt_min / r.il10_v + 0.0 * qp, dt_min / r.il6_v + 0.0 * qp]

    # Exposure metrics: running sums from onset, differenced over each window.
    names = ("il6", "tnf", "il10", "endo", "above")
    cum = {arm: {k: np.zeros(n) for k in names} for arm in arms}
    at_start = {arm: {k: np.zeros(n) for k in names} for arm in arms}
    at_end = {arm: {k: np.zeros(n) for k in names} for arm in arms}
    baseline = np.zeros(n)
    il6_end = {arm: np.zeros(n) for arm in arms}
    above = np.zeros(n, dtype=bool)

    # Patients whose window starts at each step.
    order = np.argsort(start_step, kind="stable")
    uniq, first = np.unique(start_step[order], return_index=True)
    bounds = list(first) + [n]
    starts_at = {int(s_val): order[bounds[j]:bounds[j + 1]] for j, s_val in enumerate(uniq)}
    ends_at = {s_val + window: idx for s_val, idx in starts_at.items()}

    rec_every = None if record_every_s is None else int(round(record_every_s / dt_s))
    rec_t: list[float] = []
    rec_names = ("IL-6", "TNF-a", "IL-1b", "IL-10", "endotoxin")
    rec_pos = (0, 1, 3, 5, 6)
    rec: dict[str, dict[str, list[np.ndarray]]] = {arm: {k: [] for k in rec_names} for arm in arms}
    # Session events: each day from the start a fresh cartridge goes on; it
    # comes off after the session (or at the end of the window).
    events: dict[int, list[tuple[np.ndarray, bool]]] = {}
    n_days = int(math.ceil(window / day_steps))
    for s_val, idx in starts_at.items():
        for d in range(n_days):
            t_on = s_val + d * day_steps
            t_off = min(t_on + session_steps, s_val + window)
            if t_on >= t_off:
                continue
            events.setdefault(t_on, []).append((idx, True))
            events.setdefault(t_off, []).append((idx, False))
    onf = np.zeros(n)
    on_inv_v = [np.zeros(n) for _ in range(5)]  # dt Qp / V while on session, else 0
    dev = _Device(adsorber, qp)
    qp_inv_v = [qp * iv for iv in inv_v]
    vp_step = qp * (dt_s / 60000.0)  # plasma volume (L) per step
    zero = np.zeros(n)
    n_on = 0
    for k in range(total + 1):
        idx = starts_at.get(k)
        if idx is not None:
            baseline[idx] = state["treated"][0][idx]
            for arm in arms:
                for key in names:
                    at_start[arm][key][idx] = cum[arm][key][idx]
        idx = ends_at.get(k)
        if idx is not None:
            for arm in arms:
                il6_end[arm][idx] = state[arm][0][idx]
                for key in names:
                    at_end[arm][key][idx] = cum[arm][key][idx]
        if rec_every is not None and k % rec_every == 0:
            rec_t.append(k * dt_s)
            for arm in arms:
                for key, j in zip(rec_names, rec_pos):
                    rec[arm][key].append(state[arm][j].copy())
        if k == total:
            break
        for arm in arms:
            x = state[arm]
            m = cum[arm]
            m["il6"] += x[0]
            m["tnf"] += x[1]
            m["il10"] += x[5]
            m["endo"] += x[6]
            np.greater(x[0], IL6_THRESHOLD, out=above)
            m["above"] += above

        # Device: sessions switch on (with a fresh cartridge) and off.
        for idx, turn_on in events.get(k, ()):
            # Off events come after the on events of the same step by construction
            # only for different patients; apply in list order.
            onf[idx] = 1.0 if turn_on else 0.0
            for j in range(5):
                on_inv_v[j][idx] = qp_inv_v[j][idx] if turn_on else 0.0
            if turn_on:
                processed[idx] = 0.0
                bound[idx] = 0.0
            n_on += idx.shape[0] if turn_on else -idx.shape[0]
        rc = None
        if n_on:
            ex = dev.transfer(processed, bound)
            rc = [zero if e is None else e * iv for e, iv in zip(ex, on_inv_v)]  # dt CL / V, 0 off session
            processed += vp_step * onf
            if ex[4] is not None:
                bound += rc[4] * r.il6_v * state["treated"][6]

        # Production (shared by both arms), then each arm's linear step.
        pro, anti = drv.pro_anti()
        pro = pos(pro * inputs.gain)
        anti = pos(anti)
        p6 = (dt_min * r.il6_k) * (cp.il6_basal + cp.il6_gain * pro)
        pt = (dt_min * r.tnf_k10) * (cp.tnf_basal + cp.tnf_gain * pro)
        p1 = (dt_min * r.il1b_k10) * (cp.il1b_basal + cp.il1b_gain * pro)
        p10 = (dt_min * r.il10_k) * (cp.il10_basal + cp.il10_gain * anti)
        pe = (dt_min * ep.k_el_per_min * ep.gain_eu_ml) * drv.p
        for arm in arms:
            il6, tnf, tnf_p, il1b, il1b_p, il10, e = state[arm]
            if arm == "treated" and rc is not None:
                new = [il6 * (a6 - rc[0]) + p6,
                       tnf * (at - rc[1]) + (dt_min * r.tnf_k21) * tnf_p + pt,
                       tnf_p * atp + (dt_min * r.tnf_k12) * tnf,
                       il1b * (a1 - rc[2]) + (dt_min * r.il1b_k21) * il1b_p + p1,
                       il1b_p * a1p + (dt_min * r.il1b_k12) * il1b,
                       il10 * (a10 - rc[3]) + p10,
                       e * (ae - rc[4]) + pe]
            else:
                new = [il6 * a6 + p6,
                       tnf * at + (dt_min * r.tnf_k21) * tnf_p + pt,
                       tnf_p * atp + (dt_min * r.tnf_k12) * tnf,
                       il1b * a1 + (dt_min * r.il1b_k21) * il1b_p + p1,
                       il1b_p * a1p + (dt_min * r.il1b_k12) * il1b,
                       il10 * a10 + p10,
                       e * ae + pe]
            state[arm] = new
        drv.step(dt_h)

    out: dict[str, Any] = {"patients": pts, "start_h": pts.start_h, "baseline_il6": baseline,
                           "device": adsorber.name, "blood_ml_min": blood_ml_min,
                           "hours_per_day": session_h, "days": days, "dt_s": dt_s}
    for arm in arms:
        d = {key: (at_end[arm][key] - at_start[arm][key]) * dt_h for key in names}
        out[arm] = {"il6_auc": d["il6"], "tnf_auc": d["tnf"], "il10_auc": d["il10"],
                    "endotoxin_auc": d["endo"], "il6_hours_above": d["above"], "il6_end": il6_end[arm]}
    if rec_every is not None:
        out["t_s"] = np.asarray(rec_t)
        out["traj"] = {arm: {key: np.asarray(v) for key, v in rec[arm].items()} for arm in arms}
    return out


def _rel_reduction(treated: np.ndarray, untreated: np.ndarray) -> np.ndarray:
    """Fractional reduction of a per-patient quantity (0 where untreated is 0)."""
    safe = np.where(untreated > 0.0, untreated, 1.0)
    return np.where(untreated > 0.0, 1.0 - treated / safe, 0.0)


def _describe(x: np.ndarray) -> dict[str, float]:
    """Median and quartiles (percent values are passed in already scaled)."""
    if x.size == 0:
        return {"median": math.nan, "q1": math.nan, "q3": math.nan}
    q1, med, q3 = np.percentile(x, [25.0, 50.0, 75.0])
    return {"median": round(float(med), 2), "q1": round(float(q1), 2), "q3": round(float(q3), 2)}


def group_masks(result: dict[str, Any]) -> dict[str, np.ndarray]:
    """Boolean masks of the groups the clinical review's hypotheses name.

    Args:
        result: Output of :func:`run_cohort`.

    Returns:
        ``{"all", "il6_high", "il6_low", "early", "late", "il6_high_early", ...}``;
        high = baseline IL-6 > 1,000 pg/mL, early = start within 24 h of diagnosis.
    """
    high = result["baseline_il6"] > IL6_THRESHOLD
    early = result["start_h"] <= EARLY_START_H
    masks = {"all": np.ones_like(high), "il6_high": high, "il6_low": ~high, "early": early, "late": ~early}
    for a, ma in (("il6_high", high), ("il6_low", ~high)):
        for b, mb in (("early", early), ("late", ~early)):
            masks[f"{a}_{b}"] = ma & mb
    return masks


def summarise_cohort(result: dict[str, Any]) -> dict[str, Any]:
    """Benefit of the device, overall and by group.

    Benefit measures, per patient, treated against the same patient untreated:

    * ``il6_auc_reduction_pct``: IL-6 exposure (area under the curve over the
      treatment window) removed, percent.
    * ``il6_end_reduction_pct``: IL-6 at the end of the window, percent lower.
    * ``hours_above_1000_saved``: outcome proxy, hours of the window spent with
      IL-6 above 1,000 pg/mL avoided (Damas 1992: mortality rises above that
      level).  The model has no mortality, so this is exposure, not survival.
    * ``tnf_auc_reduction_pct``, ``il10_auc_reduction_pct`` (IL-10 is
      anti-inflammatory: its removal is a cost, not a benefit),
      ``endotoxin_auc_reduction_pct``.
    * ``responders_pct``: patients with IL-6 AUC reduced by >= 10% (assumption).

    Args:
        result: Output of :func:`run_cohort`.

    Returns:
        JSON-ready summary.
    """
    tr, un = result["treated"], result["untreated"]
    per = {
        "il6_auc_reduction_pct": 100.0 * _rel_reduction(tr["il6_auc"], un["il6_auc"]),
        "il6_end_reduction_pct": 100.0 * _rel_reduction(tr["il6_end"], un["il6_end"]),
        "hours_above_1000_saved": un["il6_hours_above"] - tr["il6_hours_above"],
        "tnf_auc_reduction_pct": 100.0 * _rel_reduction(tr["tnf_auc"], un["tnf_auc"]),
        "il10_auc_reduction_pct": 100.0 * _rel_reduction(tr["il10_auc"], un["il10_auc"]),
        "endotoxin_auc_reduction_pct": 100.0 * _rel_reduction(tr["endotoxin_auc"], un["endotoxin_auc"]),
    }
    groups = {}
    for name, m in group_masks(result).items():
        g: dict[str, Any] = {"n": int(m.sum())}
        if g["n"]:
            g["baseline_il6"] = _describe(result["baseline_il6"][m])
            for key, v in per.items():
                g[key] = _describe(v[m])
            g["hours_above_1000_untreated_mean"] = round(float(un["il6_hours_above"][m].mean()), 2)
            g["hours_above_1000_treated_mean"] = round(float(tr["il6_hours_above"][m].mean()), 2)
            g["responders_pct"] = round(100.0 * float(np.mean(per["il6_auc_reduction_pct"][m]
                                                                >= 100.0 * RESPONDER_AUC_REDUCTION)), 2)
        groups[name] = g
    return {"n": int(result["baseline_il6"].shape[0]), "device": result["device"],
            "blood_ml_min": result["blood_ml_min"], "hours_per_day": result["hours_per_day"],
            "days": result["days"], "dt_s": result["dt_s"],
            "il6_threshold_pg_ml": IL6_THRESHOLD, "early_start_h": EARLY_START_H,
            "groups": groups}


def bench_plant_cohort(n: int = 10000, days: float = 7.0, dt_s: float = 60.0, seed: int = 0) -> float:
    """Wall seconds of the plant alone for a cohort, both arms.

    Runs :func:`run_cohort` for ``n`` patients (default 10,000), each treated
    and untreated for ``days`` (default 7) at a ``dt_s`` step (default 60 s),
    including each patient's pre-run from onset to his start (4-48 h).

    Returns:
        Wall-clock seconds (``time.perf_counter``).
    """
    t0 = time.perf_counter()
    run_cohort(n=n, days=days, dt_s=dt_s, seed=seed)
    return time.perf_counter() - t0


def main(argv: Optional[list[str]] = None) -> int:
    """Command line: run a cohort and write ``summary.json``.

    Args:
        argv: Arguments (default: ``sys.argv``).

    Returns:
        Exit code.
    """
    ap = argparse.ArgumentParser(prog="python -m host.cohort", description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--days", type=float, default=7.0)
    ap.add_argument("--dt", type=float, default=60.0, help="step in seconds")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cytosorb", choices=sorted(cartridge.PRESETS))
    ap.add_argument("--flow", type=float, default=200.0, help="blood flow, mL/min")
    ap.add_argument("--hours-per-day", type=float, default=24.0)
    ap.add_argument("--out", default="out/cohort")
    a = ap.parse_args(argv)
    t0 = time.perf_counter()
    res = run_cohort(n=a.n, days=a.days, dt_s=a.dt, seed=a.seed, device=a.device,
                     blood_ml_min=a.flow, hours_per_day=a.hours_per_day)
    summary = summarise_cohort(res)
    summary["seed"] = a.seed
    summary["wall_s"] = round(time.perf_counter() - t0, 3)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"{summary['n']} patients, {a.device} at {a.flow:g} mL/min, {summary['hours_per_day']:g} h/day "
          f"for {a.days:g} days ({summary['wall_s']} s)")
    print(f"{'group':16} {'n':>6} {'IL-6 AUC -% (median)':>21} {'mean h>1000 untr -> tr':>23} {'responders %':>13}")
    for name, g in summary["groups"].items():
        if g["n"]:
            print(f"{name:16} {g['n']:6d} {g['il6_auc_reduction_pct']['median']:21.1f} "
                  f"{g['hours_above_1000_untreated_mean']:12.1f} -> {g['hours_above_1000_treated_mean']:6.1f} "
                  f"{g['responders_pct']:13.1f}")
    print(f"wrote {out / 'summary.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
