"""A virtual trial: the same virtual cohort (the same seeds) run closed-loop
under each arm, patients in parallel on Dask workers, and the per-arm
figures of ``trial.json`` (docs/trials.md).

Figures per arm:

- ``clotted_before_24h_frac``: the share of patients whose first circuit
  clotted (a clot alarm, or an exchange asked for early) before 24 h of
  blood flow, with its 95% Wilson interval. One circuit per patient, so
  the patients are independent trials of a proportion; a first circuit
  censored before 24 h (a run too short, or cut short) is left out and
  counted in ``clotted_before_24h_unknown``.
- circuit life: Kaplan-Meier over every circuit of every patient, in hours
  of blood flow on the cartridge; an exchange that fell due (24 h used)
  and the end of the run censor it. Circuits of one patient are not
  independent: the curve is a description, no interval is given.
- aPTT: the share of therapy time (from the patient's first connection to
  the end) with the true aPTT in the device's target and above 100 s.
- ``il6_auc_rel``: IL-6 AUC over the run over the AUC of the same patient
  untreated (:func:`host.untreated.simulate`), mean over patients.
- ``alarms_per_day``: alarms raised (every priority) per day of run time.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hil.board.firmware import ROOT
from hil.trial.arms import Arm, ArmSpec, prepare_arm
from hil.trial.patient import APTT_EDGES_S, PatientTask, run_patient
from hil.trial.stats import intervals_overlap, kaplan_meier, km_median, wilson_interval

TRIAL_VERSION = 1
MAX_PATIENTS = 1000
MAX_HOURS = 168.0


class TrialError(RuntimeError):
    """A trial that could not be run (a patient's run could not be set up)."""


@dataclass(frozen=True)
class TrialPlan:
    """What defines a trial; with the firmware and the plant, it fixes the result."""

    arms: tuple[ArmSpec, ...]
    patients: int = 16
    hours: float = 48.0
    seed: int = 1
    flow_ml_min: int = 200
    aptt_target_s: tuple[float, float] = (60.0, 80.0)
    horizon_h: float = 24.0
    device: str = "cytosorb"
    trace_every_s: float = 60.0
    workers: int | None = None       # None: os.cpu_count()
    scheduler: str | None = None     # tcp://HOST:PORT of a Dask cluster (None: a LocalCluster)

    def check(self) -> None:
        if not 1 <= self.patients <= MAX_PATIENTS:
            raise ValueError(f"patients must be 1..{MAX_PATIENTS}, not {self.patients}")
        if not 0 < self.hours <= MAX_HOURS:
            raise ValueError(f"hours must be above 0 and at most {MAX_HOURS:g}, not {self.hours:g}")
        if self.workers is not None and self.workers < 1:
            raise ValueError(f"workers must be at least 1, not {self.workers}")
        if not 0 <= self.seed < 2 ** 31 - self.patients:
            raise ValueError(f"seed must be 0..{2 ** 31 - 1 - self.patients}, not {self.seed}")

    @property
    def seeds(self) -> list[int]:
        """Patient i's seed: ``seed + i``, the same in every arm."""
        return [self.seed + i for i in range(self.patients)]

    def as_dict(self) -> dict[str, Any]:
        return {"patients": self.patients, "hours": self.hours, "seed": self.seed, "seeds": self.seeds,
                "arms": [a.name for a in self.arms], "flow_ml_min": self.flow_ml_min,
                "aptt_target_s": list(self.aptt_target_s), "horizon_h": self.horizon_h,
                "device": self.device, "trace_every_s": self.trace_every_s}


Progress = Callable[[dict[str, Any], int, int], None]


def run_trial(plan: TrialPlan, out_dir: Path, progress: Progress | None = None) -> dict[str, Any]:
    """Prepare the arms, run every patient in every arm, return the summary
    (the content of ``trial.json``; :mod:`hil.trial.report` writes it).

    Raises:
        ArmError: an arm cannot be prepared.
        TrialError: a patient's run could not be set up.
    """
    plan.check()
    t0 = time.perf_counter()
    arms = [prepare_arm(spec, out_dir / "arms" / spec.name) for spec in plan.arms]
    for arm in arms:   # no run of an earlier trial left beside this one's
        shutil.rmtree(out_dir / "runs" / arm.name, ignore_errors=True)
    tasks = [PatientTask(arm=arm, index=i, seed=seed, hours=plan.hours, flow_ml_min=plan.flow_ml_min,
                         aptt_target_s=plan.aptt_target_s, horizon_h=plan.horizon_h, device=plan.device,
                         trace_every_s=plan.trace_every_s, run_dir=out_dir / "runs" / arm.name)
             for i, seed in enumerate(plan.seeds) for arm in arms]
    workers = min(plan.workers or os.cpu_count() or 1, len(tasks))
    results = run_tasks(tasks, workers, progress, plan.scheduler)
    wall = time.perf_counter() - t0
    # Wall times go to the run block only: the rest of trial.json is the same on every run.
    runs = [r.pop("wall_s") for r in results]
    return summarise(plan, arms, results, {
        "wall_s": round(wall, 1), "run_wall_s_mean": round(float(np.mean(runs)), 2),
        "run_wall_s_max": round(max(runs), 2), "workers": workers,
        "scheduler": plan.scheduler or "LocalCluster", "cpu_count": os.cpu_count(),
        "python": platform.python_version(), "git": git_state()})


def run_tasks(tasks: list[PatientTask], workers: int, progress: Progress | None = None,
              scheduler: str | None = None) -> list[dict[str, Any]]:
    """Run the tasks through the campaign engine (:mod:`hil.campaign.engine`):
    on a Dask LocalCluster of ``workers`` processes, or on the cluster at
    ``scheduler``; in this process when ``workers`` is 1 and no scheduler is
    given. The first run that cannot be set up stops the trial (TrialError)."""
    from hil.campaign.engine import dask_client, dispatch

    results: list[dict[str, Any]] = []

    def took(r: dict[str, Any]) -> None:
        results.append(r)
        if progress is not None:
            progress(r, len(results), len(tasks))

    if workers <= 1 and scheduler is None:
        for t in tasks:
            took(_run(t))
        return results
    token = uuid.uuid4().hex[:8]
    with dask_client(workers, scheduler) as client:
        dispatch(client, _run, [(t,) for t in tasks],
                 [f"trial-{t.arm.name}-{t.index}-{token}" for t in tasks], lambda i, r: took(r))
    return results


def _run(task: PatientTask) -> dict[str, Any]:
    try:
        return run_patient(task)
    except Exception as e:   # any setup failure: name the arm, the patient and where, stop the trial
        where = traceback.extract_tb(e.__traceback__)[-1]
        raise TrialError(f"arm {task.arm.name!r}, patient {task.index} (seed {task.seed}): "
                         f"{type(e).__name__}: {e} (at {Path(where.filename).name}:{where.lineno})") from None


def git_state() -> dict[str, Any] | None:
    """The checkout's commit and whether firmware/, host/, hil/ or board-configs/ differ from it."""
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True,
                              check=True).stdout.strip()
    try:
        head = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--", "firmware", "host", "hil", "board-configs"))
    except (OSError, subprocess.CalledProcessError):
        return None
    return {"commit": head, "dirty": dirty}


# -- figures --------------------------------------------------------------------------------------


def _r(x: float | None, nd: int = 4) -> float | None:
    return None if x is None else round(float(x), nd)


def _mean(xs: list[Any]) -> float | None:
    vals = [float(x) for x in xs if x is not None]
    return float(np.mean(vals)) if vals else None


def clot_figures(rs: list[dict[str, Any]]) -> dict[str, Any]:
    """Clotted before 24 h (first circuits) and the Kaplan-Meier circuit life (all circuits)."""
    flags = [r["first_circuit_clotted"] for r in rs]
    known = [f for f in flags if f is not None]
    x, n = sum(known), len(known)
    circuits = [c for r in rs for c in r["circuits"]]
    curve = kaplan_meier([c["flow_h"] for c in circuits], [c["event"] for c in circuits])
    median = km_median(curve)
    return {"clotted_before_24h": x, "clotted_before_24h_n": n,
            "clotted_before_24h_unknown": len(flags) - n,
            "clotted_before_24h_frac": _r(x / n) if n else None,
            "clotted_before_24h_ci": [_r(v) for v in wilson_interval(x, n)] if n else None,
            "circuits": len(circuits), "circuit_events": int(sum(c["event"] for c in circuits)),
            "circuit_ends": {k: sum(1 for c in circuits if c["end"] == k) for k in
                             ("clot_alarm", "early_exchange", "exchange_due", "run_end", "aborted")},
            "circuit_life_median_h": _r(median, 3),
            "circuit_life_median_reached": median is not None,
            "km": {"t_h": [_r(t, 4) for t in curve.t], "survival": [_r(s, 5) for s in curve.s],
                   "at_risk": curve.at_risk.tolist(), "events": curve.events.tolist()}}


def arm_figures(rs: list[dict[str, Any]]) -> dict[str, Any]:
    """The per-arm figures of trial.json from the arm's patients."""
    days = sum(r["virtual_h"] for r in rs) / 24.0
    alarms = [a for r in rs for a in r["alarms"]]
    by_prio: dict[str, int] = {}
    for _, _, prio in alarms:
        by_prio[prio] = by_prio.get(prio, 0) + 1
    hist = np.sum([r["aptt_histogram"] for r in rs], axis=0) if rs else np.zeros(len(APTT_EDGES_S) - 1)
    total = float(hist.sum())
    il6 = [r["il6_auc_rel"] for r in rs if r["il6_auc_rel"] is not None]
    out = {"patients": len(rs), "patients_aborted": sum(1 for r in rs if r["aborted"]),
           "cartridges": int(sum(r["cartridges"] for r in rs)),
           "cartridges_per_patient": _r(_mean([r["cartridges"] for r in rs]), 3)}
    out.update(clot_figures(rs))
    out.update({
        "aptt_in_range_frac": _r(_mean([r["aptt_in_range_frac"] for r in rs])),
        "aptt_above_100_frac": _r(_mean([r["aptt_above_100_frac"] for r in rs])),
        "aptt_histogram": {"edges_s": list(APTT_EDGES_S),
                           "time_frac": [_r(h / total, 5) if total else 0.0 for h in hist]},
        "il6_auc_rel": _r(_mean(il6)),
        "il6_auc_rel_median": _r(float(np.median(il6))) if il6 else None,
        "alarms": len(alarms),
        "alarms_per_day": _r(len(alarms) / days, 3) if days else None,
        "alarms_per_day_by_priority": {k: _r(v / days, 3) for k, v in sorted(by_prio.items())}
        if days else {},
        "overrides": sum(len(r["overrides_h"]) for r in rs),
        "heparin_bolus_u_mean": _r(_mean([r["heparin_bolus_u"] for r in rs]), 1),
        "heparin_infused_u_mean": _r(_mean([r["heparin_infused_u"] for r in rs]), 1),
        "therapy_h_mean": _r(_mean([r["therapy_h"] for r in rs]), 3),
    })
    return out


def compare(arms: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Each arm against the first (the reference): the clotted-before-24h
    fractions, their difference and whether their 95% intervals overlap."""
    names = list(arms)
    ref = arms[names[0]]
    out: dict[str, Any] = {"reference": names[0], "arms": {}}
    for name in names[1:]:
        a = arms[name]
        both = ref["clotted_before_24h_ci"] is not None and a["clotted_before_24h_ci"] is not None
        overlap = (intervals_overlap(ref["clotted_before_24h_ci"], a["clotted_before_24h_ci"])
                   if both else None)
        out["arms"][name] = {
            "clotted_before_24h_frac_diff": _r(a["clotted_before_24h_frac"] - ref["clotted_before_24h_frac"])
            if both else None,
            "clotted_before_24h_ci_overlap": overlap,
            "clots_more_often_clearly": (not overlap and a["clotted_before_24h_frac"]
                                         > ref["clotted_before_24h_frac"]) if both else None}
    return out


def summarise(plan: TrialPlan, arms: list[Arm], results: list[dict[str, Any]],
              run: dict[str, Any]) -> dict[str, Any]:
    """The content of trial.json (docs/trials.md)."""
    order = {a.name: i for i, a in enumerate(arms)}
    results = sorted(results, key=lambda r: (order[r["arm"]], r["index"]))
    per_arm: dict[str, dict[str, Any]] = {}
    for arm in arms:
        rs = [r for r in results if r["arm"] == arm.name]
        fw = {tuple(sorted(r["firmware"].items())) for r in rs}
        per_arm[arm.name] = {**arm.describe(), "firmware_reported": [dict(f) for f in sorted(fw)],
                             **arm_figures(rs)}
    return {"trial_version": TRIAL_VERSION, "plan": plan.as_dict(), "arms": per_arm,
            "comparison": compare(per_arm), "patients": results, "run": run}


__all__ = ["MAX_HOURS", "MAX_PATIENTS", "TRIAL_VERSION", "TrialError", "TrialPlan", "arm_figures",
           "clot_figures", "compare", "git_state", "run_tasks", "run_trial", "summarise"]
