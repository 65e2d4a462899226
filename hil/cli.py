"""The command-line tool: ``python -m hil`` (also installed as ``hil``).

Subcommands:
    list    list the scenarios (the library in scenarios/, or given files)
    run     run scenarios; a summary table; the exit code says pass (0) or fail (1)
    replay  replay a recording offline and check the host reproduces it
    board   start a virtual board and print its serial port
    demo    run a closed-loop therapy and write its report
    bench   measure speed and memory, write out/bench/bench.json
    trial   a virtual trial: one cohort under two firmware configurations (docs/trials.md)
    campaign  many runs on Dask: scenarios x seeds x patients x firmware (docs/campaigns.md)
    live    a therapy live, paced, with its dashboard on the web (docs/telemetry.md)
    ports   list the serial ports (a Pico on USB shows up here)
    info, status, monitor, log, cmd
            a board on a port: identity, status, events, alarm log, one command (hil/inspect/)

A malformed argument is one line on standard error (``hil run: error:
argument --speed: ...``) and exit code 2; an unknown scenario or board
config gets the nearest names ("did you mean ...").
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import textwrap
from pathlib import Path
from typing import Any

from hil.transport.client import BoardError
from hil.transport.link import LinkError
from hil.loop.closed import LoopError
from hil.scenario import ScenarioError
from hil.telemetry.setup import add_arguments as mqtt_arguments, telemetry_for
from hil.telemetry.topics import TelemetryError
from hil.cliargs import (MAX_SPEED, Parser, RunProgress, UsageError, board_arg, check_port, number,
                         suggest)


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
    from hil.output.report import write_all
    from hil.run.therapy import TherapyPlan, run_therapy

    check_port(args.port)
    plan = TherapyPlan(hours=args.hours, seed=args.seed, board=args.board, port=args.port,
                       heapsize=args.heapsize, max_batch=1 if args.lockstep else args.max_batch,
                       operator=OperatorPlan(weight_kg=args.weight, flow_ml_min=args.flow))
    out = Path(args.out)
    where = args.port or "a virtual Pico (MicroPython unix port on a pty)"
    print(f"Closed-loop therapy: {plan.hours:g} h, {args.weight:g} kg septic-shock patient, "
          f"blood flow {args.flow} mL/min, seed {plan.seed}, firmware on {where}")
    bar = RunProgress("therapy", plan.hours * 3600) if not args.quiet else None
    telemetry = telemetry_for(args, "demo")
    try:
        result = run_therapy(plan, progress=bar.part("therapy", plan.hours * 3600) if bar else None,
                             firmware_log=out / "firmware.log", observers=[telemetry] if telemetry else [])
    finally:
        if bar is not None:
            bar.close()
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
    """Load every scenario named; report every malformed one, run none. A
    name that is neither a file, a folder nor a library scenario is refused
    with the library's nearest names."""
    from hil.scenario import ScenarioError, discover, load

    library = sorted(p.stem for p in Path("scenarios").glob("*.y*ml"))
    for p in paths:
        if not Path(p).exists() and p not in library:
            raise UsageError(f"no scenario file, folder or library scenario {p!r}{suggest(p, library)}; "
                              "'hil list' shows the library")
    scenarios, errors = [], []
    for f in discover(paths or None):
        try:
            scenarios.append(load(f))
        except ScenarioError as e:
            errors.append(e)
    if errors:
        raise _Malformed(errors)
    return scenarios


def _select(scenarios: list, k: str | None) -> list:
    """The scenarios whose name or tags contain ``k``; none matching is refused
    with the nearest names and tags."""
    if not k:
        return scenarios
    chosen = [s for s in scenarios if k in s.name or k in s.tags]
    if not chosen:
        words = [s.name for s in scenarios] + [t for s in scenarios for t in s.tags]
        raise UsageError(f"no scenario name or tag contains {k!r}{suggest(k, words)}")
    return chosen


class _Malformed(Exception):
    def __init__(self, errors: list) -> None:
        super().__init__("\n".join(f"error: {e}" for e in errors))


def _hms(seconds: float) -> str:
    h = seconds / 3600
    return f"{h:g} h" if h >= 1 else f"{seconds / 60:g} min"


def _cmd_list(args: argparse.Namespace) -> int:
    if args.actions:
        from hil.scenario.actions import table

        for group in ("plant", "board", "operator"):
            print(f"{group} actions\n{table(group)}\n")
        return 0
    scenarios = _select(_load_all(args.paths), args.k)
    w = max((len(s.name) for s in scenarios), default=8)
    indent = w + 28
    width = max(40, shutil.get_terminal_size((110, 24)).columns - indent)
    print(f"{'scenario':{w}}  {'duration':>9}  {'steps':>5}  {'checks':>6}  description")
    for s in scenarios:
        desc = " ".join(s.description.split()) if args.steps else s.description.split(". ")[0]
        lines = textwrap.wrap(" ".join(desc.split()), width, break_on_hyphens=False) or [""]
        print(f"{s.name:{w}}  {_hms(s.duration_s):>9}  {len(s.steps):>5}  "
              f"{len(s.expectations) + len(s.measurements):>6}  {lines[0]}")
        for line in lines[1:]:
            print(" " * indent + line)
        for st in s.steps if args.steps else ():
            for line in textwrap.wrap(f"- at {st.at}: {st.describe()}", width, subsequent_indent="  "):
                print(" " * indent + line)
    print(f"{len(scenarios)} scenario(s)")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from hil.output.record import write_junit

    check_port(args.port)
    scenarios = _select(_load_all(args.paths), args.k)
    if not scenarios:
        print("no scenario to run", file=sys.stderr)
        return 2
    results = _run_all(args, scenarios)
    if args.junit is None:
        args.junit = str(Path(args.out) / "junit.xml")
    write_junit(results, Path(args.junit))
    return _summary(results, args)


def _run_all(args: argparse.Namespace, scenarios: list) -> list:
    """Run the scenarios in turn under one progress bar; on a board that
    does not answer at all, stop after the first with one error."""
    from hil.output.record import write_record
    from hil.run.runner import RunOptions, output_stem, run_scenario
    from hil.transport.frames import P

    out = Path(args.out)
    results: list = []
    telemetry = telemetry_for(args, "scenarios")
    bar = None if args.quiet else RunProgress("scenarios", sum(s.duration_s for s in scenarios))
    try:
        for sc in scenarios:
            opts = RunOptions(port=args.port, board=args.board, speed=1.0 if args.realtime else args.speed,
                              record_dir=args.record, max_batch=1 if args.lockstep else P.MAX_SAMPLES,
                              firmware_log=str(out / f"{output_stem(sc)}.firmware.log") if args.port is None else None,
                              progress=bar.part(sc.name, sc.duration_s) if bar else None,
                              observers=(telemetry,) if telemetry else ())
            r = run_scenario(sc, opts)
            results.append(r)
            write_record(r, out)
            for m in r.failure_messages() if not r.passed else []:
                print(m, file=sys.stderr)
            if (args.port and r.outcome == "error" and not r.hello and not r.setup_refused
                    and sc is not scenarios[-1]):
                print(f"error: no answer from the board on {args.port}; the other "
                      f"{len(scenarios) - len(results)} scenario(s) were not run", file=sys.stderr)
                break
    finally:
        if bar is not None:
            bar.close()
        if telemetry:
            telemetry.close()
    return results


def _summary(results: list, args: argparse.Namespace) -> int:
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
    print(", ".join(f"{v} {k}" for k, v in counts.items() if v) + f"; records in {args.out}/, JUnit {args.junit}")
    return 0 if counts["fail"] == 0 and counts["error"] == 0 else 1


def _cmd_ports(args: argparse.Namespace) -> int:
    """The serial ports pyserial sees; a Raspberry Pi USB id (2e8a) is marked."""
    from serial.tools import list_ports

    ports = sorted(list_ports.comports(), key=lambda p: p.device)
    if not ports:
        print("no serial port found (a Pico on USB appears as /dev/ttyACM0 or COM3; "
              "'hil board' starts a virtual one)")
        return 0
    w = max(len(p.device) for p in ports)
    print(f"{'port':{w}}  {'usb id':9}  description")
    for p in ports:
        usb = f"{p.vid:04x}:{p.pid:04x}" if p.vid is not None else "-"
        pico = "  (Raspberry Pi: a Pico?)" if p.vid == 0x2E8A else ""
        print(f"{p.device:{w}}  {usb:9}  {p.description}{pico}")
    return 0


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


def _cmd_campaign(args: argparse.Namespace) -> int:
    from hil.campaign.command import main_campaign

    return main_campaign(args)


def _cmd_trial(args: argparse.Namespace) -> int:
    from hil.trial.command import main_trial

    return main_trial(args)


_SPEED = number(float, 0, MAX_SPEED, above=True, hint="; leave --speed out to run as fast as the board goes")
_HOURS = number(float, 0, 24 * 7 * 4, above=True)


def _add_run(sub: Any) -> None:
    ru = sub.add_parser("run", help="run scenarios and check their expectations")
    ru.add_argument("paths", nargs="*", help="scenario files, folders or library names (default: all)")
    ru.add_argument("-k", default=None, help="only scenarios whose name or tags contain this")
    ru.add_argument("--port", default=None, help="serial port or pyserial URL of a board "
                    "(default: a virtual board per scenario; 'hil ports' lists them)")
    ru.add_argument("--board", type=board_arg, default=None,
                    help="board config of the board the harness starts (virtual, pico-emu, ...)")
    pace = ru.add_mutually_exclusive_group()
    pace.add_argument("--realtime", action="store_true", help="lock virtual time to real time")
    pace.add_argument("--speed", type=_SPEED, default=None, help="lock virtual time to N x real time, "
                      f"0 < N <= {MAX_SPEED:,g} (a board that keeps its own time: run its clock N x "
                      "faster, test mode only)")
    ru.add_argument("--lockstep", action="store_true", help="one control period per STEP frame "
                    "(the same run, many more frames)")
    ru.add_argument("--record", default=None, metavar="DIR", help="record serial traffic and plant "
                    "inputs for replay")
    ru.add_argument("--out", default="out/scenarios", help="folder of the JSON records and traces")
    ru.add_argument("--junit", default=None, help="JUnit XML file (default: junit.xml in --out)")
    ru.add_argument("--quiet", action="store_true", help="no progress bar")
    mqtt_arguments(ru)
    ru.set_defaults(func=_cmd_run)


def _add_board(sub: Any) -> None:
    b = sub.add_parser("board", help="start a virtual board and print its serial port")
    b.add_argument("--board", type=board_arg, default="virtual",
                   help="board config name or JSON path (pico-emu: the emulated Pico)")
    b.add_argument("--heapsize", default="192K", help="MicroPython heap (default 192K, as a Pico)")
    b.add_argument("--flash", default=None, help="emulated Pico (--board pico-emu): its flash image "
                   "file (default out/pico-emu/flash.img; made from MicroPython's UF2 if missing)")
    b.add_argument("--fresh", action="store_true", help="emulated Pico: start from MicroPython's UF2 "
                   "on erased flash (the flash image file is made again)")
    b.add_argument("--speed", type=number(float, 0, MAX_SPEED), default=1.0, help="emulated Pico: "
                   "virtual seconds per wall second at most (default 1, real time; 0: as fast as it goes)")
    b.set_defaults(func=_cmd_board)


def _add_demo(sub: Any) -> None:
    from hil.transport.frames import P

    d = sub.add_parser("demo", help="closed-loop therapy with a report")
    d.add_argument("--hours", type=_HOURS, default=48.0, help="virtual hours (at most 4 weeks)")
    d.add_argument("--seed", type=number(int, 0, 2**32 - 1), default=1)
    # Bounds against typing mistakes (assumption: adult and paediatric patients), not model limits.
    d.add_argument("--weight", type=number(float, 3, 300), default=70.0, help="patient weight, kg (3-300)")
    d.add_argument("--flow", type=number(int, 150, 500), default=200,
                   help="blood flow set point, mL/min (150-500, the device's range)")
    d.add_argument("--board", type=board_arg, default="virtual")
    d.add_argument("--port", default=None, help="serial port or pyserial URL of a board "
                   "(default: start a virtual board)")
    d.add_argument("--heapsize", default="192K")
    d.add_argument("--max-batch", type=number(int, 1, P.MAX_SAMPLES), default=P.MAX_SAMPLES,
                   help=f"control periods per STEP frame (1-{P.MAX_SAMPLES})")
    d.add_argument("--lockstep", action="store_true", help="one control period per frame")
    d.add_argument("--out", default="out/demo")
    d.add_argument("--quiet", action="store_true", help="no progress bar")
    mqtt_arguments(d)
    d.set_defaults(func=_cmd_demo)


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog="hil", description="Hardware-in-the-loop harness of the hemoadsorption controller.")
    sub = p.add_subparsers(dest="cmd", required=True)

    ls = sub.add_parser("list", help="list the scenarios")
    ls.add_argument("paths", nargs="*", help="scenario files, folders or library names (default: scenarios/)")
    ls.add_argument("-k", default=None, help="only scenarios whose name or tags contain this")
    ls.add_argument("--steps", action="store_true", help="the whole description and each step")
    ls.add_argument("--actions", action="store_true", help="the step actions a scenario can use")
    ls.set_defaults(func=_cmd_list)
    _add_run(sub)
    rp = sub.add_parser("replay", help="replay a recording offline, without a board")
    rp.add_argument("file", help="a .rec.jsonl.gz file written by 'run --record'")
    rp.add_argument("--quiet", action="store_true")
    rp.set_defaults(func=_cmd_replay)
    _add_board(sub)
    _add_demo(sub)
    r = sub.add_parser("bench", help="speed and memory figures")
    r.add_argument("--hours", type=_HOURS, default=24.0)
    r.add_argument("--out", default="out/bench")
    r.set_defaults(func=_cmd_bench)
    sub.add_parser("ports", help="list the serial ports").set_defaults(func=_cmd_ports)

    from hil.inspect import add_commands as inspect_commands

    inspect_commands(sub)     # info, status, monitor, log, cmd: a board on a port (hil/inspect/)

    from hil.trial.command import add_arguments as trial_arguments

    t = sub.add_parser("trial", help="virtual trial of firmware configurations (docs/trials.md)")
    trial_arguments(t)
    t.set_defaults(func=_cmd_trial)

    from hil.campaign.command import add_arguments as campaign_arguments

    ca = sub.add_parser("campaign", help="a campaign of runs on Dask (docs/campaigns.md)")
    campaign_arguments(ca)
    ca.set_defaults(func=_cmd_campaign)

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
    except UsageError as e:
        print(f"hil {args.cmd}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (hil list | head): no traceback on the way out.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
