"""Campaign throughput for ``make bench``: the same one-hour runs on a
LocalCluster of 1 and of 2 workers.

Keys: ``campaign_runs_per_min_1w``, ``campaign_runs_per_min_2w`` (finished
runs per minute of wall time, from the first submission to the last
result), ``campaign_scaling`` (2w over 1w), ``campaign_bench_runs`` and
``campaign_bench_scenario``; ``campaign_run_wall_s_1w`` and ``_2w``: the
mean wall time of one run as its worker timed it (board start, plant,
loop, records). The cluster is started, and its workers warmed
(:func:`warm_worker`), before the timing starts, and
stopped after it ends: the campaign reaches it by its scheduler's address,
so neither the start nor the teardown of the worker processes (about a
second for two) is counted as if it were part of the runs.

``python -m hil.campaign.bench [--runs N] [--out out/bench]`` measures only
these and merges them into ``bench.json`` (other keys kept).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

SCENARIO = "flow_at_75_percent_no_alarm"
SPEC = """\
campaign: bench
groups:
  - kind: scenarios
    scenarios: [{scenario}]
    seeds: {{from: 1, count: {runs}}}
    duration: 1 h
"""


def warm_worker() -> str:
    """Import what a run needs (the harness, the plant, numpy, the scenario
    language), which the first run on a fresh worker process would
    otherwise pay for (about 0.3 s on an idle machine, 0.8 s on a loaded
    one). Returns the worker's Python version, to show that it answered."""
    import platform

    import hil.campaign.kinds  # noqa: F401
    import hil.run.runner  # noqa: F401
    import hil.scenario  # noqa: F401
    import hil.trial.patient  # noqa: F401
    import host.plant  # noqa: F401

    return platform.python_version()


def scaling_figures(runs: int = 100, scenario: str = SCENARIO, batch_ahead: bool = False) -> dict[str, Any]:
    """Run ``runs`` one-hour runs of ``scenario`` (seeds 1..runs) on 1 and on 2
    workers; each run's loop with the batch ahead or not (campaign default: not)."""
    from hil.campaign.campaign import CampaignOptions, run_campaign
    from hil.campaign.engine import dask_client
    from hil.campaign.spec import loads
    from hil.campaign.store import read_rows

    c = loads(SPEC.format(scenario=scenario, runs=runs), "<bench campaign>")
    rates: dict[int, float] = {}
    failed: dict[int, int] = {}
    run_wall: dict[int, float] = {}
    with tempfile.TemporaryDirectory(prefix="hil-campaign-bench-") as tmp:
        for workers in (1, 2):
            out = Path(tmp) / f"{workers}w"
            with dask_client(workers, warm=warm_worker) as client:
                s = run_campaign(c, CampaignOptions(out=out, scheduler=client.scheduler.address,
                                                    progress=False, batch_ahead=batch_ahead))
            rates[workers] = s["run"]["runs_per_min"]
            failed[workers] = s["failures_total"]
            walls = [r["timing"]["wall_s"] for r in read_rows(out).values()]
            run_wall[workers] = round(sum(walls) / len(walls), 3) if walls else None
    return {"campaign_runs_per_min_1w": rates[1], "campaign_runs_per_min_2w": rates[2],
            "campaign_scaling": round(rates[2] / rates[1], 3) if rates[1] else None,
            "campaign_run_wall_s_1w": run_wall[1], "campaign_run_wall_s_2w": run_wall[2],
            "campaign_bench_runs": runs, "campaign_bench_scenario": f"{scenario}, 1 h, seeds 1-{runs}",
            "campaign_bench_failed_runs": failed[1] + failed[2]}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m hil.campaign.bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=100, help="one-hour runs per cluster size (default 100)")
    p.add_argument("--out", default="out/bench")
    p.add_argument("--batch-ahead", action="store_true",
                   help="runs compute the plant ahead (hil campaign --batch-ahead); printed only, not merged")
    args = p.parse_args(argv)
    if args.runs < 1:
        p.error(f"--runs must be at least 1, not {args.runs}")
    figures = scaling_figures(args.runs, batch_ahead=args.batch_ahead)
    if args.batch_ahead:
        # Not the campaigns' configuration: shown for comparison, not stored.
        print(json.dumps(figures, indent=1))
        return 0
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "bench.json"
    data: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    data.update(figures)
    path.write_text(json.dumps(data, indent=1) + "\n")
    print(json.dumps(figures, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
