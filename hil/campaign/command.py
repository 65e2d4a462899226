"""``python -m hil.campaign SPEC.yaml`` (and ``python -m hil campaign`` once
``hil/cli.py`` registers it): run a campaign (docs/campaigns.md).

The exit code is 0 when every run passed (or was skipped), 1 when a run
failed or could not be run, 2 when the campaign file is wrong or the
cluster cannot be reached (nothing is run then).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``hil campaign``."""
    p.add_argument("spec", help="campaign file (YAML), e.g. campaigns/default.yaml")
    p.add_argument("--out", default="out/campaign", help="folder of the table of runs and the summary")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, default=None,
                       help="worker processes of the LocalCluster (default: one per core)")
    where.add_argument("--scheduler", default=None, metavar="tcp://HOST:PORT",
                       help="run on an existing Dask cluster instead of a LocalCluster")
    p.add_argument("--fresh", action="store_true", help="forget the runs already in the table; run all")
    p.add_argument("--list", action="store_true", help="print the runs the campaign expands to; run nothing")
    p.add_argument("--rerun", default=None, metavar="RUN_ID",
                   help="run one run of the campaign again, here, and print its row")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--batch-ahead", action="store_true",
                   help="each run computes the plant's next batch while its board runs (uses a second "
                        "core per run; worth it only with more cores than workers)")


def _rerun(c: Any, out: Path, rid: str) -> int:
    """Run the run ``rid`` of campaign ``c`` in this process; print its row."""
    from hil.campaign.campaign import plan_runs, prepare
    from hil.campaign.kinds import execute
    from hil.campaign.spec import run_id

    arms = prepare(c, out)
    specs = [s for _, s in plan_runs(c, arms) if run_id(s) == rid]
    if not specs:
        print(f"error: {c.path}: no run {rid!r} in this campaign (see --list)", file=sys.stderr)
        return 2
    row = execute(specs[0], arms[specs[0]["firmware"]], str(out.resolve()))
    print(json.dumps(row, indent=1, default=str))
    return 0 if row["outcome"] in ("pass", "marginal", "skip") else 1


def _print_summary(s: dict[str, Any]) -> None:
    rate = "-" if s["pass_rate"] is None else f"{s['pass_rate'] * 100:.1f} %"
    w = max([10, *(len(n) for n in s["by_label"])])
    print(f"\n{'runs':{w}}  {'runs':>5}  {'passed':>6}  pass rate")
    for name, g in [*s["by_label"].items(), *((f"firmware {n}", g) for n, g in s["by_firmware"].items())]:
        pr = "-" if g["pass_rate"] is None else f"{g['pass_rate'] * 100:.1f} %"
        print(f"{name:{w}}  {g['runs']:5d}  {g['passed']:6d}  {pr}")
    for f in s["failures"][:20]:
        print(f"FAILED {f['label']} ({f['firmware']}, seed {f['seed']}): {f['why'][0] if f['why'] else ''}\n"
              f"  replay: {f['replay']}", file=sys.stderr)
    run = s["run"]
    print(f"{s['runs']} runs, {s['passed']} passed ({rate}); {run['runs_this_time']} run now, "
          f"{run['runs_resumed']} already done; {run['wall_s']:.0f} s on {run['workers']} worker(s)")


def main_campaign(args: argparse.Namespace) -> int:
    """Run ``hil campaign`` with parsed arguments; return the exit code."""
    from hil.campaign.campaign import CampaignOptions, plan_runs, prepare, run_campaign
    from hil.campaign.spec import CampaignError, load_file, run_id
    from hil.campaign.store import RESULTS
    from hil.trial.arms import ArmError

    out = Path(args.out)
    try:
        c = load_file(args.spec)
        if args.workers is not None and args.workers < 1:
            raise CampaignError(args.spec, 0, f"--workers must be at least 1, not {args.workers}")
        if args.rerun:
            return _rerun(c, out, args.rerun)
        if args.list:
            for gi, s in plan_runs(c, prepare(c, out)):
                print(run_id(s), gi, json.dumps(s, sort_keys=True))
            return 0
        if args.fresh:
            (out / RESULTS).unlink(missing_ok=True)
        s = run_campaign(c, CampaignOptions(out=out, workers=args.workers, scheduler=args.scheduler,
                                            progress=not args.quiet, batch_ahead=args.batch_ahead))
    except (CampaignError, ArmError) as e:
        print(f"error: {e}\nnothing was run", file=sys.stderr)
        return 2
    except OSError as e:   # the scheduler cannot be reached, the folder cannot be written
        print(f"error: {e}", file=sys.stderr)
        return 2
    _print_summary(s)
    print(f"table {out / 'runs.parquet'}, summary {out / 'summary.json'}, {out / 'summary.html'}")
    return 0 if s["failures_total"] == 0 else 1


def main(argv: list[str] | None = None) -> int:
    """``python -m hil.campaign``."""
    p = argparse.ArgumentParser(prog="hil campaign", description="Run a campaign of HIL runs on Dask.")
    add_arguments(p)
    return main_campaign(p.parse_args(argv))


__all__ = ["add_arguments", "main", "main_campaign"]
