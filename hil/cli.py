"""The command-line tool: ``python -m hil`` (also installed as ``hil``).

Subcommands:
    board   start a virtual board and print its serial port
    demo    run a closed-loop therapy and write its report
    bench   measure speed and memory, write out/bench/bench.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from hil.client import BoardError
from hil.link import LinkError
from hil.loop import LoopError


def _cmd_board(args: argparse.Namespace) -> int:
    from hil.virtual_board import serve

    return serve(args.board, args.heapsize)


def _cmd_demo(args: argparse.Namespace) -> int:
    from hil.operator import OperatorPlan
    from hil.progress import ProgressBar
    from hil.report import write_all
    from hil.therapy import TherapyPlan, run_therapy

    plan = TherapyPlan(hours=args.hours, seed=args.seed, board=args.board, port=args.port,
                       heapsize=args.heapsize, max_batch=1 if args.lockstep else args.max_batch,
                       operator=OperatorPlan(weight_kg=args.weight, flow_ml_min=args.flow))
    out = Path(args.out)
    where = args.port or "a virtual Pico (MicroPython unix port on a pty)"
    print(f"Closed-loop therapy: {plan.hours:g} h, {args.weight:g} kg septic-shock patient, "
          f"blood flow {args.flow} mL/min, seed {plan.seed}, firmware on {where}")
    bar = ProgressBar("therapy") if not args.quiet else None
    result = run_therapy(plan, progress=bar, firmware_log=out / "firmware.log")
    s = write_all(result, out)
    fw = s["firmware"]
    print(f"firmware {fw['firmware_version']} on {fw['implementation']} {fw['version']} "
          f"(board {fw['board']}, {fw['hal']} HAL)")
    print(f"{s['virtual_s'] / 3600:.1f} h virtual in {s['wall_s']:.1f} s wall: {s['speedup']:,}x real time, "
          f"{s['link']['frames']} STEP frames")
    print(f"final state {s['final_state']}; cartridges used {s['cartridges']['used']}, "
          f"exchanges {s['cartridges']['exchanges']}; alarms {s['alarm_counts'] or 'none'}")
    print(f"{'cytokine':8} {'start':>10} {'end treated':>12} {'end untreated':>14} {'vs untreated':>13}")
    for name, c in s["cytokines"].items():
        print(f"{name:8} {c['treated']['start']:10.1f} {c['treated']['end']:12.1f} "
              f"{c['untreated']['end']:14.1f} {c['end_vs_untreated_pct']:12.1f}%")
    print(f"report: {out / 'report.html'}  ({out / 'report.json'}, {out / 'trace.csv'})")
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    from hil.bench import run_bench

    figures = run_bench(Path(args.out), hours=args.hours)
    print(json.dumps(figures, indent=1))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hil", description="Hardware-in-the-loop harness of the "
                                "hemoadsorption controller.")
    sub = p.add_subparsers(dest="cmd", required=True)

    b = sub.add_parser("board", help="start a virtual board and print its serial port")
    b.add_argument("--board", default="virtual", help="board config name or JSON path")
    b.add_argument("--heapsize", default="192K", help="MicroPython heap (default 192K, as a Pico)")
    b.set_defaults(func=_cmd_board)

    d = sub.add_parser("demo", help="closed-loop therapy with a report")
    d.add_argument("--hours", type=float, default=48.0)
    d.add_argument("--seed", type=int, default=1)
    d.add_argument("--weight", type=float, default=70.0, help="patient weight, kg")
    d.add_argument("--flow", type=int, default=200, help="blood flow set point, mL/min")
    d.add_argument("--board", default="virtual")
    d.add_argument("--port", default=None, help="serial port or pyserial URL of a board "
                   "(default: start a virtual board)")
    d.add_argument("--heapsize", default="192K")
    d.add_argument("--max-batch", type=int, default=400, help="control periods per STEP frame")
    d.add_argument("--lockstep", action="store_true", help="one control period per frame")
    d.add_argument("--out", default="out/demo")
    d.add_argument("--quiet", action="store_true", help="no progress bar")
    d.set_defaults(func=_cmd_demo)

    r = sub.add_parser("bench", help="speed and memory figures")
    r.add_argument("--hours", type=float, default=24.0)
    r.add_argument("--out", default="out/bench")
    r.set_defaults(func=_cmd_bench)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (LinkError, BoardError, LoopError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
