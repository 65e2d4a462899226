"""``python -m hil trial``: run a virtual trial, print the figures per arm,
write ``trial.json`` and ``trial.html``. The exit code is 0 when every run
went to its end, 2 when an arm spec is wrong, a run could not be set up, or
a run was cut short (the outputs are written all the same)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``hil trial``."""
    p.add_argument("--arms", default=None, help="arms to run, comma-separated (default: table,none; "
                   "with --arm: table and the arms defined)")
    p.add_argument("--arm", action="append", default=[], metavar="NAME=SPEC",
                   help="define an arm: SPEC is table:NAME, a board config .json (or board:NAME), "
                   "rev:GITREV, or parts of these joined by '+'")
    p.add_argument("--patients", type=int, default=16, help="virtual patients per arm")
    p.add_argument("--hours", type=float, default=48.0, help="therapy hours per patient")
    p.add_argument("--seed", type=int, default=1, help="patient i has seed SEED+i, in every arm")
    p.add_argument("--flow", type=int, default=200, help="blood flow set point, mL/min")
    p.add_argument("--workers", type=int, default=None, help="parallel runs: worker processes of the Dask "
                   "LocalCluster (default: CPU count)")
    p.add_argument("--scheduler", default=None, metavar="tcp://HOST:PORT",
                   help="run on an existing Dask cluster instead (docs/campaigns.md)")
    p.add_argument("--out", default="out/trial")
    p.add_argument("--quiet", action="store_true", help="no line per finished run")


def _progress(r: dict[str, Any], done: int, total: int) -> None:
    c = r["circuits"][0] if r["circuits"] else None
    first = "no circuit" if c is None else f"first circuit {c['end']} at {c['flow_h']:.1f} h"
    cut = f", CUT SHORT: {r['aborted']}" if r["aborted"] else ""
    print(f"[{done:3d}/{total}] {r['arm']:>10} patient {r['index']:2d} (seed {r['seed']}): "
          f"{r['virtual_h']:g} h, {r['cartridges']} cartridge(s), {first}, {r['wall_s']:.1f} s{cut}",
          flush=True)


def _fmt(v: Any, spec: str = ".3f") -> str:
    if v is None:
        return "-"
    if isinstance(v, list):
        return "[" + ", ".join(format(x, spec) for x in v) + "]"
    return format(v, spec) if isinstance(v, float) else str(v)


def print_summary(s: dict[str, Any], out: Path) -> None:
    arms = s["arms"]
    w = max(14, *(len(n) for n in arms))
    rows = (("patients", "patients", ""), ("cartridges", "cartridges", ""),
            ("clotted<24h", "clotted_before_24h_frac", ".3f"), ("95% CI", "clotted_before_24h_ci", ".3f"),
            ("KM median h", "circuit_life_median_h", ".1f"), ("aPTT in rng", "aptt_in_range_frac", ".3f"),
            ("aPTT >100", "aptt_above_100_frac", ".3f"), ("IL-6 AUC rel", "il6_auc_rel", ".3f"),
            ("alarms/day", "alarms_per_day", ".2f"), ("overrides", "overrides", ""),
            ("heparin U/pt", "heparin_infused_u_mean", ".0f"))
    print(f"\n{'':14}" + "".join(f"{n:>{w + 2}}" for n in arms))
    for label, key, spec in rows:
        cells = ["not reached" if key == "circuit_life_median_h" and a[key] is None and a["circuits"]
                 else _fmt(a[key], spec or ".3f") for a in arms.values()]
        print(f"{label:14}" + "".join(f"{c:>{w + 2}}" for c in cells))
    comp = s["comparison"]
    for name, c in comp["arms"].items():
        verdict = {True: "overlap", False: "do NOT overlap", None: "cannot be compared"}[
            c["clotted_before_24h_ci_overlap"]]
        print(f"{name} vs {comp['reference']}: clotted before 24 h "
              f"{_fmt(arms[name]['clotted_before_24h_frac'])} vs "
              f"{_fmt(arms[comp['reference']]['clotted_before_24h_frac'])}; 95% intervals {verdict}")
    print(f"wall time {s['run']['wall_s']:.0f} s on {s['run']['workers']} worker(s); "
          f"{out / 'trial.json'}, {out / 'trial.html'}")


def main_trial(args: argparse.Namespace) -> int:
    """Run ``hil trial`` with parsed arguments; return the exit code."""
    # Imported here: the parser (add_arguments) is built on every ``hil`` command.
    from hil.trial.arms import ArmError, parse_arm, select_arms
    from hil.trial.report import write_all
    from hil.trial.trial import TrialError, TrialPlan, run_trial

    try:
        specs = select_arms(args.arms, [parse_arm(a) for a in args.arm])
        plan = TrialPlan(arms=tuple(specs), patients=args.patients, hours=args.hours, seed=args.seed,
                         flow_ml_min=args.flow, workers=args.workers, scheduler=args.scheduler)
        plan.check()
    except (ArmError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    out = Path(args.out)
    print(f"Virtual trial: {' vs '.join(s.name for s in specs)}; {plan.patients} patients per arm "
          f"(seeds {plan.seeds[0]}-{plan.seeds[-1]}), {plan.hours:g} h each, firmware in the MicroPython VM",
          flush=True)
    try:
        summary = run_trial(plan, out, progress=None if args.quiet else _progress)
    except (ArmError, TrialError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    write_all(summary, out)
    print_summary(summary, out)
    cut = sum(a["patients_aborted"] for a in summary["arms"].values())
    if cut:
        print(f"error: {cut} run(s) were cut short (see 'aborted' in trial.json)", file=sys.stderr)
        return 2
    return 0


__all__ = ["add_arguments", "main_trial", "print_summary"]
