"""Summaries of a virtual cohort: groups and the device's benefit per group.

Split from ``host.cohort`` (which re-exports :func:`group_masks` and
:func:`summarise_cohort`); see that module for the run itself.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

# Damas (Ann Surg 1992): mortality rises above 1,000 pg/mL of IL-6.  Used both
# to group patients by baseline IL-6 and for the outcome proxy below.
IL6_THRESHOLD = 1000.0
# CytoSorb is best started within 24 h of sepsis diagnosis (review).
EARLY_START_H = 24.0
# assumption: a patient "responds" when the device lowers his IL-6 exposure
# (AUC over the treatment window) by at least 10% against his own untreated course.
RESPONDER_AUC_REDUCTION = 0.10


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
