"""The command-line tool: ``python -m hil`` (also installed as ``hil``).

Subcommands:
    list    list the scenarios (the library in scenarios/, or given files)
    run     run scenarios; a summary table; the exit code says pass (0) or fail (1)
    replay  replay a recording offline and check the host reproduces it
    board   start a virtual board and print its serial port
    demo    run a closed-loop therapy and write its report
    bench   measure speed and memory, write out/bench/bench.json
    trial   a virtual trial: one cohort under two firmware configurations (docs/trials.md)
    live    a therapy live, paced, with its dashboard on the web (docs/telemetry.md)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from hil.transport.client import BoardError
from hil.transport.link import LinkError
from hil.loop.closed import LoopError
from hil.scenario import ScenarioError
from hil.telemetry.setup import add_arguments as mqtt_arguments, telemetry_for
from hil.telemetry.topics import TelemetryError


def _cmd_board(args: argparse.Namespace) -> int:
    from hil.board.pico_emu import is_emulated
    from hil.board.virtual import serve

    if is_emulated(args.board):
        # The emulated Pico (docs/pico-emu.md): its USB CDC on the printed pty.
        from hil.board.pico_pty import serve as serve_emulated

        return serve_emulated(args.board, flash=args.flash, fresh=args.fresh,
                              speed=None if args.speed == 0 else args.speed)
    return serve(args.board, args.heapsize)


def _cmd_demo(args: argparse.Namespace) -> int:
    from hil.run.operator import OperatorPlan
    from hil.output.progress import ProgressBar
    from hil.output.report import write_all
    from hil.run.therapy import TherapyPlan, run_therapy

    plan = TherapyPlan(hours=args.hours, seed=args.seed, board=args.board, port=args.port,
                       heapsize=args.heapsize, max_batch=1 if args.lockstep else args.max_batch,
                       operator=OperatorPlan(weight_kg=args.weight, flow_ml_min=args.flow))
    out = Path(args.out)
    where = args.port or "a virtual Pico (MicroPython unix port on a pty)"
    print(f"Closed-loop therapy: {plan.hours:g} h, {args.weight:g} kg septic-shock patient, "
          f"blood flow {args.flow} mL/min, seed {plan.seed}, firmware on {where}")
    bar = ProgressBar("therapy") if not args.quiet else None
    telemetry = telemetry_for(args, "demo")
    try:
        result = run_therapy(plan, progress=bar, firmware_log=out / "firmware.log",
                             observers=[telemetry] if telemetry else [])
    finally:
        if telemetry:
            telemetry.close()
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
    if result.aborted:
        print(f"error: the run stopped early at {s['virtual_s'] / 3600:.2f} h: {result.aborted}; "
              "the report above covers what was run", file=sys.stderr)
        return 2
    return 0


def _load_all(paths: list[str]) -> list:
    """Load every scenario named; report every malformed one, run none."""
    from hil.scenario import ScenarioError, discover, load

    scenarios, errors = [], []
    for f in discover(paths or None):
        try:
            scenarios.append(load(f))
        except ScenarioError as e:
            errors.append(e)
    if errors:
        raise _Malformed(errors)
    return scenarios


class _Malformed(Exception):
    def __init__(self, errors: list) -> None:
        super().__init__("\n".join(f"error: {e}" for e in errors))


def _hms(seconds: float) -> str:
    h = seconds / 3600
    return f"{h:g} h" if h >= 1 else f"{seconds / 60:g} min"


def _cmd_list(args: argparse.Namespace) -> int:
    scenarios = _load_all(args.paths)
    if args.k:
        scenarios = [s for s in scenarios if args.k in s.name or args.k in s.tags]
    w = max((len(s.name) for s in scenarios), default=8)
    print(f"{'scenario':{w}}  {'duration':>9}  {'steps':>5}  {'checks':>6}  description")
    for s in scenarios:
        desc = s.description.split(". ")[0].replace("\n", " ")
        print(f"{s.name:{w}}  {_hms(s.duration_s):>9}  {len(s.steps):>5}  "
              f"{len(s.expectations) + len(s.measurements):>6}  {desc[:70]}")
    print(f"{len(scenarios)} scenario(s)")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from hil.transport.frames import P
    from hil.output.progress import ProgressBar
    from hil.output.record import write_junit, write_record
    from hil.run.runner import RunOptions, run_scenario

    scenarios = _load_all(args.paths)
    if args.k:
        scenarios = [s for s in scenarios if args.k in s.name or args.k in s.tags]
    if not scenarios:
        print("no scenario to run", file=sys.stderr)
        return 2
    speed = 1.0 if args.realtime else args.speed
    out = Path(args.out)
    results = []
    telemetry = telemetry_for(args, "scenarios")
    for sc in scenarios:
        bar = ProgressBar(sc.name) if not args.quiet else None
        opts = RunOptions(port=args.port, board=args.board, speed=speed, record_dir=args.record,
                          max_batch=1 if args.lockstep else P.MAX_SAMPLES,
                          firmware_log=str(out / f"{sc.name}.firmware.log") if args.port is None else None,
                          progress=bar, observers=(telemetry,) if telemetry else ())
        r = run_scenario(sc, opts)
        results.append(r)
        write_record(r, out)
        if bar is not None and r.outcome in ("pass", "marginal", "fail"):
            bar(r.virtual_s, r.virtual_s)
        for m in r.failure_messages() if not r.passed else []:
            print(m, file=sys.stderr)
    if telemetry:
        telemetry.close()
    if args.junit is None:
        args.junit = str(Path(args.out) / "junit.xml")
    write_junit(results, Path(args.junit))
    w = max(len(r.scenario.name) for r in results)
    print(f"\n{'scenario':{w}}  {'outcome':8}  {'virtual':>9}  {'wall s':>7}  {'speed':>8}  checks")
    for r in results:
        n = len(r.verdict.checks)
        bad = len(r.verdict.failures)
        marg = sum(1 for c in r.verdict.checks if c.outcome == "marginal")
        speed_x = f"{r.virtual_s / r.wall_s:,.0f}x" if r.wall_s and r.virtual_s else "-"
        detail = f"{n - bad}/{n} passed" + (f", {marg} marginal" if marg else "")
        if r.error:
            detail = r.error[:80]
        print(f"{r.scenario.name:{w}}  {r.outcome:8}  {_hms(r.virtual_s) if r.virtual_s else '-':>9}  "
              f"{r.wall_s:7.1f}  {speed_x:>8}  {detail}")
    counts = {k: sum(1 for r in results if r.outcome == k) for k in ("pass", "marginal", "fail", "error", "skip")}
    print(", ".join(f"{v} {k}" for k, v in counts.items() if v) + f"; records in {out}/, JUnit {args.junit}")
    return 0 if counts["fail"] == 0 and counts["error"] == 0 else 1


def _cmd_replay(args: argparse.Namespace) -> int:
    from hil.output.progress import ProgressBar
    from hil.run.replay import ReplayMismatch, replay

    try:
        s = replay(Path(args.file), progress=None if args.quiet else ProgressBar("replay"))
    except ReplayMismatch as e:
        print(f"replay differs: {e}", file=sys.stderr)
        return 1
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"replay of {s['scenario']}: identical ({s['frames_checked']} host frames checked against the "
          f"recording, outcome {s['outcome']} as recorded) in {s['wall_s']:.1f} s")
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    from hil.bench import run_bench

    figures = run_bench(Path(args.out), hours=args.hours)
    print(json.dumps(figures, indent=1))
    return 0


def _cmd_live(args: argparse.Namespace) -> int:
    from hil.live.app import main_live

    return main_live(args)


def _cmd_trial(args: argparse.Namespace) -> int:
    from hil.trial.command import main_trial

    return main_trial(args)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hil", description="Hardware-in-the-loop harness of the "
                                "hemoadsorption controller.")
    sub = p.add_subparsers(dest="cmd", required=True)

    ls = sub.add_parser("list", help="list the scenarios")
    ls.add_argument("paths", nargs="*", help="scenario files, folders or library names (default: scenarios/)")
    ls.add_argument("-k", default=None, help="only scenarios whose name or tags contain this")
    ls.set_defaults(func=_cmd_list)

    ru = sub.add_parser("run", help="run scenarios and check their expectations")
    ru.add_argument("paths", nargs="*", help="scenario files, folders or library names (default: all)")
    ru.add_argument("-k", default=None, help="only scenarios whose name or tags contain this")
    ru.add_argument("--port", default=None, help="serial port or pyserial URL of a board "
                    "(default: a virtual board per scenario)")
    ru.add_argument("--board", default=None, help="board config of the virtual board")
    pace = ru.add_mutually_exclusive_group()
    pace.add_argument("--realtime", action="store_true", help="lock virtual time to real time")
    pace.add_argument("--speed", type=float, default=None, help="lock virtual time to N x real time "
                      "(a board that keeps its own time: run its clock N x faster, test mode only)")
    ru.add_argument("--lockstep", action="store_true", help="one control period per STEP frame "
                    "(the same run, many more frames)")
    ru.add_argument("--record", default=None, metavar="DIR", help="record serial traffic and plant "
                    "inputs for replay")
    ru.add_argument("--out", default="out/scenarios", help="folder of the JSON records and traces")
    ru.add_argument("--junit", default=None, help="JUnit XML file (default: junit.xml in --out)")
    ru.add_argument("--quiet", action="store_true", help="no progress bar")
    mqtt_arguments(ru)
    ru.set_defaults(func=_cmd_run)

    rp = sub.add_parser("replay", help="replay a recording offline, without a board")
    rp.add_argument("file", help="a .rec.jsonl.gz file written by 'run --record'")
    rp.add_argument("--quiet", action="store_true")
    rp.set_defaults(func=_cmd_replay)

    b = sub.add_parser("board", help="start a virtual board and print its serial port")
    b.add_argument("--board", default="virtual", help="board config name or JSON path")
    b.add_argument("--heapsize", default="192K", help="MicroPython heap (default 192K, as a Pico)")
    b.add_argument("--flash", default=None, help="emulated Pico (--board pico-emu): its flash image "
                   "file (default out/pico-emu/flash.img; made from MicroPython's UF2 if missing)")
    b.add_argument("--fresh", action="store_true", help="emulated Pico: start from MicroPython's UF2 "
                   "on erased flash (the flash image file is made again)")
    b.add_argument("--speed", type=float, default=1.0, help="emulated Pico: virtual seconds per wall "
                   "second at most (default 1, real time; 0: as fast as it goes)")
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
    mqtt_arguments(d)
    d.set_defaults(func=_cmd_demo)

    r = sub.add_parser("bench", help="speed and memory figures")
    r.add_argument("--hours", type=float, default=24.0)
    r.add_argument("--out", default="out/bench")
    r.set_defaults(func=_cmd_bench)

    from hil.trial.command import add_arguments as trial_arguments

    t = sub.add_parser("trial", help="virtual trial of firmware configurations (docs/trials.md)")
    trial_arguments(t)
    t.set_defaults(func=_cmd_trial)

    from hil.live.options import add_arguments as live_arguments

    lv = sub.add_parser("live", help="a therapy live, with its dashboard on the web (docs/telemetry.md)")
    live_arguments(lv)
    lv.set_defaults(func=_cmd_live)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (LinkError, BoardError, LoopError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except (ScenarioError, TelemetryError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except _Malformed as e:
        print(f"{e}\nnothing was run", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
