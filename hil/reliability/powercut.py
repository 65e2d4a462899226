"""``make powercut``: power cuts of the virtual board during therapy, many of
them inside a storage write, each followed by a reboot on the same flash and
a check of what survived.

One therapy runs from set-up to blood flow on one virtual board; then, trial
after trial, the board loses its power at a random virtual time while blood
flows (the cartridge timer counting, the alarm log being written), comes
back on the same flash, is checked, and the scripted operator acknowledges
the restart and resumes. Two kinds of cut:

* ``between``: the host cuts the power at a random tick, between two frames
  (``ClosedLoop.power_cycle``), and leaves it off for 0-60 virtual seconds;
* ``inside``: at a random tick the host arms the board's storage
  (``firmware/cutstorage.py``) with a budget of k bytes: the write that does
  not fit reaches the flash with only the rest of the budget in its
  temporary file, no rename, and the board kills itself. The host sees the
  board die, reads the flash as the power left it, and powers it on again
  at the tick it died.

What counts as a failure is defined in docs/reliability.md; in short, after
every cut: the stored records load with the right content
(``corrupt_records``), the cartridge time is the last one the board stored,
never less than what the host last saw acknowledged and never more than
the board had counted (``cartridge_time_errors``), and no alarm-log entry
stored before the cut is missing (``lost_log_entries``).

A run is a function of its seed: the trials, their kinds, times, budgets
and faults come from ``random.Random`` seeded per trial.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, Callable

from hil.transport import frames
from hil.transport.client import BoardError
from hil.transport.link import LinkError
from hil.loop.closed import LoopError
from hil.reliability.powercut_checks import (  # noqa: F401  (names of this module's API)
    ALARM_LOG, IN_THERAPY, LOG_LEN, RECORD, RECORD_KEYS, VISIBLE, Trial, compare_logs, parse_log,
    parse_record, read_flash,
)
from hil.reliability.powercut_trial import Campaign, CutBench, PowerLost  # noqa: F401

C = frames.C
P = frames.P


def run_campaign(trials: int = 200, seed: int = 1, inside_share: float = 0.5,
                 out: Path = Path("out/powercut"), max_batch: int = P.MAX_SAMPLES,
                 window_s: tuple[float, float] = (5.0, 180.0),
                 progress: Callable[[int, int, Trial], None] | None = None,
                 tamper: Callable[[Path, int], None] | None = None) -> dict[str, Any]:
    """Run the campaign and return its figures (also written to powercut.json)."""
    t0 = time.perf_counter()
    camp = Campaign(seed, out, max_batch, window_s, tamper)
    done: list[Trial] = []
    aborted = None
    try:
        camp.setup()
        for i in range(trials):
            tr = camp.trial(i, inside_share)
            done.append(tr)
            if progress is not None:
                progress(i + 1, trials, tr)
    except (LinkError, BoardError, LoopError) as e:
        aborted = f"{type(e).__name__}: {e}"
    finally:
        virtual_s = camp.loop.tick * camp.period_s
        camp.close()
    wall = time.perf_counter() - t0
    inside = [t for t in done if t.kind == "inside"]
    lags = [t.lag for t in done if t.lag is not None]
    failures = [t for t in done if t.failed]
    figures: dict[str, Any] = {
        "campaign": "powercut",
        "seed": seed,
        "trials": len(done),
        "trials_planned": trials,
        "cuts_inside_write": len(inside),
        "cuts_between_frames": len(done) - len(inside),
        "cuts_inside_by_file": {n: sum(1 for t in inside if t.file == n) for n in (RECORD, ALARM_LOG)},
        "cuts_inside_by_frame": {n: sum(1 for t in inside if t.frame == n) for n in ("STEP", "CMD")},
        "cuts_inside_complete_tmp": sum(1 for t in inside if t.written == t.size),
        "cuts_inside_empty_tmp": sum(1 for t in inside if t.written == 0),
        "cuts_with_air_alarm": sum(1 for t in done if t.air),
        "torn_temp_files": sum(1 for t in inside if t.torn_tmp),
        "corrupt_records": sum(1 for t in done if t.corrupt),
        "cartridge_time_errors": sum(1 for t in done if t.cartridge),
        "lost_log_entries": sum(t.lost_log for t in done),
        "log_errors": sum(1 for t in done if t.log_problems),
        "bench_errors": sum(1 for t in done if t.bench) + (1 if aborted else 0),
        "failures": len(failures) + (1 if aborted else 0),
        "cartridge_lag_max_periods": max(lags) if lags else None,
        "cartridge_lag_over_one_period": sum(1 for x in lags if x > 1),
        "cartridge_lag_bound_periods": max_batch,
        "cartridge_lag_total_periods": sum(lags),
        "max_batch": max_batch,
        "window_s": list(window_s),
        "inside_share": inside_share,
        "virtual_s": round(virtual_s, 1),
        "wall_s": round(wall, 2),
        "aborted": aborted,
        "replay": f"python -m hil.reliability.powercut --seed {seed} --trials {trials}"
                  f" --inside-share {inside_share} --max-batch {max_batch}",
        "examples": [_example(t) for t in failures[:10]],
        "trial_log": [_brief(t) for t in done],
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "powercut.json").write_text(json.dumps(figures, indent=1) + "\n")
    return figures


def _brief(t: Trial) -> list[Any]:
    return [t.index, t.kind, t.t_s, t.state, t.file, t.written, t.size, t.k_ticks, t.lag,
            "FAIL" if t.failed else "ok"]


def _example(t: Trial) -> dict[str, Any]:
    d = {k: v for k, v in vars(t).items() if v not in (None, [], 0, False) or k in ("index", "kind")}
    d["replay_trials"] = t.index + 1
    return d


FAILURE_KEYS = ("corrupt_records", "cartridge_time_errors", "lost_log_entries", "log_errors", "bench_errors")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m hil.reliability.powercut", description=__doc__.split("\n\n")[0])
    ap.add_argument("--trials", type=int, default=200, help="power cuts (default 200)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--inside-share", type=float, default=0.5,
                    help="share of the cuts made inside a storage write (default 0.5)")
    ap.add_argument("--max-batch", type=int, default=P.MAX_SAMPLES,
                    help="most control periods per STEP frame (1: strict lockstep)")
    ap.add_argument("--out", type=Path, default=Path("out/powercut"))
    ap.add_argument("-q", "--quiet", action="store_true")
    a = ap.parse_args(argv)

    def progress(i: int, n: int, t: Trial) -> None:
        if not a.quiet and (t.failed or i % 20 == 0 or i == n):
            print(f"  {i}/{n} {t.kind:7s} t={t.t_s:9.1f} s {t.state:8s} "
                  f"{(t.file or '') + (f' {t.written}/{t.size} B' if t.file else ''):24s} "
                  f"lag {t.lag} {'FAIL ' + str(_example(t)) if t.failed else 'ok'}", flush=True)

    fig = run_campaign(a.trials, a.seed, a.inside_share, a.out, a.max_batch, progress=progress)
    print(f"powercut: {fig['trials']} cuts ({fig['cuts_inside_write']} inside a write: "
          f"{fig['cuts_inside_by_file']}), corrupt records {fig['corrupt_records']}, "
          f"cartridge time errors {fig['cartridge_time_errors']}, lost log entries "
          f"{fig['lost_log_entries']}, log errors {fig['log_errors']}, bench errors {fig['bench_errors']}; "
          f"cartridge lag max {fig['cartridge_lag_max_periods']} periods; "
          f"{fig['virtual_s'] / 3600:.1f} virtual h in {fig['wall_s']:.1f} s -> {a.out / 'powercut.json'}")
    if fig["aborted"]:
        print(f"powercut: aborted: {fig['aborted']}", file=sys.stderr)
    bad = fig["aborted"] or fig["trials"] < a.trials or any(fig[k] for k in FAILURE_KEYS)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
