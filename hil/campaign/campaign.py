"""A campaign from its file to its outputs: prepare the firmware
configurations, expand the groups into run specs, skip the runs already in
the table, run the others on Dask, write the table and the summary.

Outputs in the campaign's folder (default ``out/campaign``): ``runs.jsonl``
and ``runs.parquet`` (:mod:`hil.campaign.store`), ``summary.json`` and
``summary.html`` (:mod:`hil.campaign.summary`), ``firmware/NAME/`` (what
each firmware configuration ran), ``recordings/RUN_ID/`` (a failed scenario
run's recording, record and firmware log), and for a ``trial`` group
``trial-N/trial.json`` and ``trial.html`` as ``hil trial`` writes them.
"""

from __future__ import annotations

import hashlib
import os
import platform
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hil.campaign.engine import ProgressLine, cluster_workers, dask_client, dispatch
from hil.campaign.groups import EXPANDERS
from hil.campaign.kinds import execute
from hil.campaign.spec import MAX_RUNS, Campaign, CampaignError, run_id
from hil.campaign.store import TABLE, RowWriter, read_rows, write_table
from hil.campaign.summary import summarise, write_summary
from hil.trial.arms import Arm, parse_spec, prepare_arm


@dataclass
class CampaignOptions:
    """How to run a campaign (what to run is the campaign file)."""

    out: Path = Path("out/campaign")
    workers: int | None = None       # LocalCluster workers (None: one per core)
    scheduler: str | None = None     # tcp://HOST:PORT of an existing cluster
    progress: bool = True
    # Each run's loop computes the plant's next batch while its board runs
    # (hil.loop.closed.batches_ahead); off: one core per run (docs/campaigns.md).
    batch_ahead: bool = False


def prepare(c: Campaign, out: Path) -> dict[str, Arm]:
    """Each firmware configuration the campaign uses, written and compiled under ``out/firmware``."""
    return {name: prepare_arm(parse_spec(name, c.firmware[name]), out / "firmware" / name)
            for name in c.firmware_used()}


def firmware_digest(arm: Arm) -> str:
    """What a run's result depends on in a firmware configuration: its sources and its board config."""
    h = hashlib.sha256(arm.firmware_digest.encode())
    h.update(arm.config_path.read_bytes())
    return h.hexdigest()[:16]


def plan_runs(c: Campaign, arms: dict[str, Arm]) -> list[tuple[int, dict[str, Any]]]:
    """(group index, run spec) of every run, in order, each run once."""
    digests = {name: firmware_digest(a) for name, a in arms.items()}
    seen: set[str] = set()
    out: list[tuple[int, dict[str, Any]]] = []
    for gi, g in enumerate(c.groups):
        for spec in EXPANDERS[g.kind](g.options, digests):
            rid = run_id(spec)
            if rid not in seen:
                seen.add(rid)
                out.append((gi, spec))
        if len(out) > MAX_RUNS:
            raise CampaignError(c.path, g.line, f"the campaign expands to more than {MAX_RUNS:,} runs")
    return out


def setup_error_row(spec: dict[str, Any], exc: BaseException) -> dict[str, Any]:
    """The row of a run that could not be set up; it is run again when the campaign resumes."""
    return {"run_id": run_id(spec), "kind": spec["kind"], "label": spec.get("scenario") or spec["kind"],
            "firmware": spec["firmware"], "seed": spec["seed"], "spec": spec, "outcome": "error",
            "failures": [f"could not be set up: {type(exc).__name__}: {exc}"], "measurements": [],
            "virtual_s": 0.0, "replay": None, "result": None, "setup_error": True,
            "timing": {"started_at": None, "wall_s": None, "worker": None}}


def run_campaign(c: Campaign, opts: CampaignOptions) -> dict[str, Any]:
    """Run what is not done yet; write the table and the summary; return the summary."""
    out = opts.out
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    arms = prepare(c, out)
    planned = plan_runs(c, arms)
    done = read_rows(out)
    todo = [spec for _, spec in planned if run_id(spec) not in done]
    bar = ProgressLine(len(todo), c.name) if opts.progress and todo else None
    writer = RowWriter(out)
    fresh: dict[str, dict[str, Any]] = {}

    def took(row: dict[str, Any]) -> None:
        nonlocal t_last
        t_last = time.perf_counter()
        writer.write(row)
        fresh[row["run_id"]] = row
        if bar is not None:
            bar(row["outcome"] not in ("pass", "marginal", "skip"))

    workers = 0
    t_runs = t_last = time.perf_counter()
    try:
        if todo:
            with dask_client(opts.workers, opts.scheduler) as client:
                workers = cluster_workers(client)
                t_runs = time.perf_counter()
                token = uuid.uuid4().hex[:8]
                dispatch(client, execute,
                         [(s, arms[s["firmware"]], str(out.resolve()), opts.batch_ahead) for s in todo],
                         [f"run-{run_id(s)}-{token}" for s in todo], lambda i, row: took(row),
                         lambda i, exc: took(setup_error_row(todo[i], exc)))
    finally:
        writer.close()
    # From the cluster's first task to its last result: the cluster's start and
    # its shut-down are not the runs' time.
    runs_wall = (t_last if fresh else time.perf_counter()) - t_runs
    ids = [run_id(s) for _, s in planned]
    rows = [fresh.get(rid) or done[rid] for rid in ids if rid in fresh or rid in done]
    write_table(rows, out / TABLE)
    run = {"wall_s": round(time.perf_counter() - t0, 2), "runs_wall_s": round(runs_wall, 2),
           "runs_this_time": len(fresh), "runs_resumed": len(rows) - len(fresh), "workers": workers,
           "scheduler": opts.scheduler or "LocalCluster", "cpu_count": os.cpu_count(),
           "runs_per_min": round(len(fresh) / runs_wall * 60.0, 2) if fresh and runs_wall > 0 else None,
           "python": platform.python_version()}
    summary = summarise(c, rows, run)
    write_summary(summary, out)
    write_trials(c, planned, {r["run_id"]: r for r in rows}, arms, out, workers)
    return summary


def write_trials(c: Campaign, planned: list[tuple[int, dict[str, Any]]], rows: dict[str, dict[str, Any]],
                 arms: dict[str, Arm], out: Path, workers: int) -> None:
    """For each ``trial`` group, ``trial-N/trial.json`` and ``trial.html`` (docs/trials.md)."""
    from hil.trial import trial as tr
    from hil.trial.report import write_all

    for gi, g in enumerate(c.groups):
        if g.kind != "trial":
            continue
        o = g.options
        mine = [rows[run_id(s)] for i, s in planned if i == gi and rows.get(run_id(s), {}).get("result")]
        results = [dict(r["result"]) for r in mine]
        walls = [float(r["timing"]["wall_s"]) for r in mine] or [0.0]
        plan = tr.TrialPlan(arms=tuple(parse_spec(a, c.firmware[a]) for a in o["firmware"]),
                            patients=o["patients"], hours=o["hours"], seed=o["seed"],
                            flow_ml_min=o["flow_ml_min"])
        summary = tr.summarise(plan, [arms[a] for a in o["firmware"]], results,
                               {"campaign": c.name, "wall_s": round(sum(walls), 1),
                                "run_wall_s_mean": round(sum(walls) / len(walls), 2),
                                "run_wall_s_max": round(max(walls), 2), "workers": workers,
                                "git": tr.git_state()})
        write_all(summary, out / f"trial-{gi}")


__all__ = ["CampaignOptions", "firmware_digest", "plan_runs", "prepare", "run_campaign", "setup_error_row"]
