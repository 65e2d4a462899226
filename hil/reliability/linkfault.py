"""``make linkfault``: many short closed-loop runs, each with link faults in
the middle, and two questions after every one: was the pump ever running
with a high alarm latched, and do host and board still agree about the
state once the faults have passed?

Runs are grouped in blocks on one virtual board: a block starts a board on
a fresh flash, sets the therapy up to blood flow with the scripted operator
(about half an hour of virtual time), then carries out its runs one after
the other on the same therapy. A run lasts well under a minute of virtual
time:

1. a clean stretch of 2-20 virtual seconds;
2. one fault armed on the :class:`~hil.transport.faultlink.FaultyLink` (``corrupt``,
   ``drop``, ``delay``, ``noise``; direction ``to_board``, ``to_host`` or
   ``both``) or a ``disconnect`` (the port closed and opened again, and
   0.1-3 virtual seconds of sensor samples lost), followed at once by a
   probe that gives it frames to act on: STEP frames, a STATUS, LOG or DIAG
   request, or an operator command (set the flow, enter an aPTT, pause and
   resume);
3. 10-40 virtual seconds more, until every armed fault has been used up;
4. a fresh STATUS, compared field by field with the host's view from its
   last reply.

Faults stay within what protocol v1 promises to ride through (docs/protocol.md:
a frame is resent up to three times): at most three damaged or lost frames
in one direction, one in each for ``both``, delays shorter than the four
attempts' wall time. A run counts as unsafe if the pump ran with a high
alarm latched or active in any reply (the firmware stops the pump in the
tick that raises a high alarm, and no command restarts it while one is
latched), or if the fresh STATUS differs from the host's view. It counts
as recovered if it is not unsafe and the client never gave up. After a run
that did not recover, the block goes on with a new board (a new therapy).

Everything is seeded per run (``random.Random("linkfault:SEED:RUN")``) and
per block, so a run replays by running its block up to it (``--replay``).
"""

from __future__ import annotations
import argparse
import json
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from hil.transport import frames  # noqa: F401  (names of this module's API)
from hil.reliability.linkfault_blocks import _block_job, _injected, run_block  # noqa: F401
from hil.reliability.linkfault_rig import (  # noqa: F401
    DIRECTIONS, KINDS, PERIOD_S, PROBES, Fault, Rig, RunResult, draw_fault, high_alarm_mask,
)

C = frames.C
P = frames.P


def _nested(flat: dict[str, int]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {k: {} for k in KINDS}
    for key, n in sorted(flat.items()):
        kind, direction = key.split("/")
        out.setdefault(kind, {})[direction] = out[kind].get(direction, 0) + n
    return out


def run_campaign(runs: int = 1000, seed: int = 1, block_size: int = 100, jobs: int = 1,
                 timeout_s: float = 0.1, out: Path = Path("out/linkfault"),
                 only: list[int] | None = None, verbose: bool = False) -> dict[str, Any]:
    """Run the campaign (or only the given runs, each with its block from
    the block's start) and return its figures, also written to linkfault.json."""
    t0 = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    blocks: dict[int, list[int]] = {}
    if only:
        # A run depends on the runs before it on its board: replay its
        # block from the start.
        last: dict[int, int] = {}
        for i in only:
            last[i // block_size] = max(last.get(i // block_size, -1), i)
        blocks = {b: list(range(b * block_size, i + 1)) for b, i in last.items()}
    else:
        for i in range(runs):
            blocks.setdefault(i // block_size, []).append(i)
    wanted = [i for rs in blocks.values() for i in rs]
    jobs_args = [(seed, b, rs, timeout_s, out, verbose) for b, rs in sorted(blocks.items())]
    if jobs > 1 and len(jobs_args) > 1:
        with ProcessPoolExecutor(max_workers=jobs) as ex:
            parts = list(ex.map(_block_job, jobs_args))
    else:
        parts = [_block_job(a) for a in jobs_args]
    results = [r for p in parts for r in p["results"]]
    armed: Counter[str] = Counter()
    injected: Counter[str] = Counter()
    for p in parts:
        armed.update(p["armed"])
        injected.update(p["injected"])
    unsafe = [r for r in results if r["unsafe"]]
    not_recovered = [r for r in results if not r["recovered"]]
    errors = [e for p in parts for e in p["errors"]]
    examples = []
    for r in (unsafe + [x for x in not_recovered if x not in unsafe])[:10]:
        ex = {k: v for k, v in r.items() if v not in ([], None)}
        ex["replay"] = (f"python -m hil.reliability.linkfault --seed {seed} --block-size {block_size} "
                        f"--timeout {timeout_s} --replay {r['run']}")
        examples.append(ex)
    figures: dict[str, Any] = {
        "campaign": "linkfault",
        "seed": seed,
        "runs": len(results),
        "runs_planned": len(wanted),
        "faults_armed": _nested(dict(armed)),
        "faults_injected": _nested(dict(injected)),
        "frames_damaged": sum(r["frames_damaged"] for r in results),
        "resends": sum(r["resends"] for r in results),
        # STEP frames the host wrote ahead of the reply before, and those the
        # board refused (docs/protocol.md): faults fell on both kinds.
        "frames_sent_ahead": sum(r.get("sent_ahead", 0) for r in results),
        "frames_ahead_refused": sum(r.get("ahead_refused", 0) for r in results),
        "probes": dict(Counter(r["probe"] for r in results)),
        "states_at_fault": dict(Counter(r["state"] for r in results)),
        "unsafe_outcomes": len(unsafe),
        "pump_with_high_alarm": sum(1 for r in results if r["pump_with_high_alarm"]),
        "state_disagreements": sum(1 for r in results if r["disagreement"]),
        "event_gaps": sum(1 for r in results if r["event_gaps"]),
        "recovered": len(results) - len(not_recovered),
        "not_recovered": len(not_recovered),
        "link_lost": sum(1 for r in results if r["link_lost"]),
        "bench_errors": len(errors),
        "failures": len(not_recovered) + len(errors) + len(wanted) - len(results),
        "errors": errors,
        "boards": sum(p["boards"] for p in parts),
        "block_size": block_size,
        "jobs": jobs,
        "timeout_s": timeout_s,
        "virtual_s": round(sum(p["virtual_s"] for p in parts), 1),
        "wall_s": round(time.perf_counter() - t0, 2),
        "examples": examples,
    }
    (out / "linkfault.json").write_text(json.dumps(figures, indent=1) + "\n")
    return figures


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m hil.reliability.linkfault",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=1000, help="short runs (default 1000)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--block-size", type=int, default=100, help="runs per board and therapy (default 100)")
    ap.add_argument("--jobs", type=int, default=2, help="blocks run in parallel processes (default 2)")
    ap.add_argument("--timeout", type=float, default=0.1,
                    help="the client's wait for a reply before it resends, wall seconds (default 0.1)")
    ap.add_argument("--replay", type=int, nargs="+", metavar="RUN",
                    help="carry out only these runs (each with its block from the block's start), verbosely")
    ap.add_argument("--out", type=Path, default=Path("out/linkfault"))
    a = ap.parse_args(argv)
    fig = run_campaign(a.runs, a.seed, a.block_size, 1 if a.replay else a.jobs, a.timeout, a.out,
                       only=a.replay, verbose=bool(a.replay))
    print(f"linkfault: {fig['runs']} runs, {fig['frames_damaged']} frames damaged, {fig['resends']} resends; "
          f"unsafe {fig['unsafe_outcomes']} (pump with a high alarm {fig['pump_with_high_alarm']}, "
          f"state disagreements "
          f"{fig['state_disagreements']}); recovered {fig['recovered']}/{fig['runs']}; "
          f"{fig['wall_s']:.1f} s wall -> {a.out / 'linkfault.json'}")
    for e in fig["errors"]:
        print(f"linkfault: {e}", file=sys.stderr)
    return 1 if fig["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
