"""``make bench``: speed and memory figures, printed and written to
``out/bench/bench.json`` (existing keys from other benchmarks are kept)."""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from array import array
from pathlib import Path
from typing import Any

from hil.transport.client import BoardError
from hil.run.therapy import TherapyPlan, run_therapy


def _plant_us_per_tick(ticks: int = 200_000) -> float:
    from host.patient import DeviceParams, PatientParams
    from host.plant import Actuators, Plant

    plant = Plant(patient=PatientParams(), device=DeviceParams.preset("cytosorb"), seed=1,
                  period_s=0.1, trace_every=100)
    plant.connect_patient()
    act = Actuators(pump_ml_min=200.0, clamp_open=True, heparin_u_h=1260.0, heparin_bolus_u=0.0)
    out = array("h")
    t0 = time.perf_counter()
    for _ in range(ticks // 400):
        del out[:]
        plant.advance(act, 400, out)
    return (time.perf_counter() - t0) / ticks * 1e6


_TICK_BENCH = """
import time, json, micropython
from controller import Controller
import codes as C
cfg = json.load(open(CFG))
ctl = Controller(cfg)
ctl.command(C.CMD_SET_WEIGHT, 700)
ctl.command(C.CMD_PRIME, 0)
for _ in range(3000):
    ctl.tick(-800, 1400, 800, ctl.out_pump, 0)
ctl.command(C.CMD_HEPARIN_START, 0)
ctl.command(C.CMD_APTT, 700)
ctl.command(C.CMD_START, 0)
for _ in range(2000):
    ctl.tick(-800, 1400, 800, ctl.out_pump, 0)
def run(n):
    # As the HALs run it: with the heap locked (docs/firmware.md, Memory).
    ev = ctl.events
    tick = ctl.tick
    micropython.heap_lock()
    t0 = time.ticks_us()
    for _ in range(n):
        tick(-800, 1400, 800, 2000, 0)
    t1 = time.ticks_us()
    micropython.heap_unlock()
    ev.drop(ev.count)
    return time.ticks_diff(t1, t0)
if SECONDS:
    # Runs of a full STEP frame's periods for SECONDS of wall time: each
    # run's time, in microseconds.
    runs = []
    t_end = time.ticks_add(time.ticks_ms(), int(SECONDS * 1000))
    while time.ticks_diff(t_end, time.ticks_ms()) > 0:
        runs.append(run(400))
    print("RUNS_400", " ".join(str(r) for r in runs))
else:
    best = min(run(20000) for _ in range(5))
    print("TICK_US", best / 20000)
"""


def _tick_bench(seconds: float) -> str:
    import os
    import subprocess

    from hil.board.build import compile_firmware
    from hil.board.firmware import BOARD_CONFIGS, micropython_executable

    build = compile_firmware()
    script = (f"CFG = {str(BOARD_CONFIGS / 'virtual.json')!r}\nSECONDS = {seconds!r}\n"
              + _TICK_BENCH)
    env = dict(os.environ, MICROPYPATH=os.pathsep.join([".frozen", str(build)]))
    return subprocess.run([micropython_executable(), "-X", "heapsize=192K", "-c", script],
                          capture_output=True, text=True, env=env, check=True).stdout


def firmware_tick_us() -> float:
    """The controller's own time per control tick while running, in the
    MicroPython VM, on the compiled firmware, with the heap locked as both
    HALs tick: the best of five runs of 20,000 (the machine's fast moments)."""
    return float(_tick_bench(0).split("TICK_US")[1].split()[0])


def firmware_tick_runs_us(seconds: float = 3.0) -> list[float]:
    """The same tick, timed in runs of 400 (a full STEP frame) for about
    ``seconds`` of wall time: microseconds per tick of each run, in order.
    Their mean is what a closed loop running in that time pays per tick
    (docs/benchmarks.md, "A tick's cost on a machine whose speed swings")."""
    out = _tick_bench(seconds)
    return [int(r) / 400 for r in out.split("RUNS_400", 1)[1].split()]


# The therapy pico_emu_speed times: set-up, priming, heparin, then blood flow
# at 200 mL/min, the operator's actions as steps (no lab in the loop).
_PICO_EMU_THERAPY = """
name: pico_emu_therapy
description: closed-loop therapy on the emulated Pico, for make bench
seed: 1
duration: {minutes} min
operator: {{scripted: false}}
steps:
  - {{id: weight, at: 0, command: {{name: set_weight, arg: 700}}}}
  - {{id: prime, at: 1 s, command: {{name: prime}}}}
  - {{id: heparin, at: {{after: ready, plus: 2 s}}, command: {{name: heparin_start}}}}
  - {{id: aptt, at: {{after: ready, plus: 3 s}}, aptt: 70}}
  - {{id: start, at: {{after: ready, plus: 4 s}}, start: true, expect_result: ok}}
expect:
  - {{final_state: running}}
"""


def pico_emu_speed(minutes: float = 25.0) -> dict[str, Any]:
    """Closed-loop therapy on the emulated Pico (docs/pico-emu.md): virtual
    seconds per wall second from power-on to the end (the one-time flash
    with mpremote excluded), and what it is made of: the instructions the
    firmware ran per virtual second, the emulator's instructions per second
    of its own CPU time (so that a loaded machine can be told apart)."""
    from hil.board.pico_deploy import flashed_image
    from hil.run.runner import RunOptions, ScenarioRun
    from hil.scenario import loads

    flashed_image("pico-emu")
    run = ScenarioRun(loads(_PICO_EMU_THERAPY.format(minutes=minutes), "<pico_emu_therapy>"),
                      RunOptions(board="pico-emu"))
    result = run.run()
    if result.error or not result.passed:
        raise BoardError(f"the emulated-Pico therapy failed: {result.error or result.failure_messages()}")
    info = run.session.loop.board.emulator.last_info
    instructions = info["stats"]["instructions"]
    return {
        "pico_emu_speed": round(result.virtual_s / result.wall_s, 2),
        "pico_emu_virtual_s": result.virtual_s,
        "pico_emu_wall_s": round(result.wall_s, 2),
        "pico_emu_instructions_per_virtual_s": round(instructions / result.virtual_s),
        "pico_emu_mips_per_cpu_s": round(instructions / info["cpu_s"] / 1e6, 1),
    }


def _children_cpu_s() -> float:
    """CPU time (user and system) of this process's ended, waited-for children."""
    import resource

    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def _plant_cohort_s() -> float:
    """The plant alone: 10,000 patients for 7 days at a 1-minute step."""
    from host.cohort import bench_plant_cohort

    return bench_plant_cohort()


def _fits(heapsize: str, hours: float = 2.0) -> bool:
    try:
        return run_therapy(TherapyPlan(hours=hours, seed=1, heapsize=heapsize)).aborted is None
    except BoardError:
        return False


# The reliability campaigns (docs/reliability.md) are not run here: they
# take minutes. Their last results, if any, are copied into bench.json.
CAMPAIGNS = {
    # key in bench.json: (file under the campaigns folder, its failure total)
    "powercut_failures": ("powercut/powercut.json", "failures"),
    "linkfault_failures": ("linkfault/linkfault.json", "failures"),
    "fuzz_failures": ("fuzz/fuzz.json", "failures"),
    "fuzz_inputs_per_s": ("fuzz/fuzz.json", "inputs_per_s"),
}


def _failure_sum(data: dict[str, Any]) -> int | None:
    """A campaign file without a ``failures`` total (fuzz.json keeps one
    count per kind of failure): the sum of its failure counts."""
    try:
        from hil.reliability.fuzz import FAILURES
    except ImportError:
        FAILURES = ("crashes", "hangs", "probes_failed", "state_changes", "wrong_replies",
                    "missed_replies")
    counts = [data[k] for k in FAILURES if isinstance(data.get(k), int)]
    return sum(counts) if counts else None


def campaign_figures(campaigns_dir: Path = Path("out")) -> dict[str, Any]:
    """The failure totals of the last reliability campaigns, read from
    their JSON files (``make powercut``, ``make linkfault``, ``make fuzz``);
    null, with a note in ``campaign_notes``, where a file or key is missing."""
    figures: dict[str, Any] = {}
    notes: list[str] = []
    for key, (rel, field) in CAMPAIGNS.items():
        path = campaigns_dir / rel
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            figures[key] = None
            note = f"{path} missing: run make {rel.split('/')[0]}"
            if note not in notes:
                notes.append(note)
            continue
        except ValueError as e:
            figures[key] = None
            notes.append(f"{path} unreadable: {e}")
            continue
        value = data.get(field) if isinstance(data, dict) else None
        if value is None and field == "failures" and isinstance(data, dict):
            value = _failure_sum(data)
        if value is None:
            notes.append(f"{path} has no '{field}'")
        figures[key] = value
    figures["campaign_notes"] = notes
    return figures


def add_campaigns(out_dir: Path, campaigns_dir: Path = Path("out")) -> dict[str, Any]:
    """Copy the campaigns' figures into ``out_dir/bench.json`` (other keys
    kept) without running any benchmark."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "bench.json"
    figures: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    figures.update(campaign_figures(campaigns_dir))
    path.write_text(json.dumps(figures, indent=1) + "\n")
    return figures


def closed_loop_mqtt(hours: float) -> dict[str, Any]:
    """The closed-loop speed run again, publishing its telemetry (every
    event, the status rate-limited) to a Mosquitto of its own on this
    machine (docs/telemetry.md); null, with a note, without mosquitto."""
    from hil.telemetry.brokers import Accounts, LocalMosquitto, mosquitto_executable
    from hil.telemetry.observer import TelemetryObserver

    if mosquitto_executable() is None:
        return {"closed_loop_speedup_mqtt": None,
                "closed_loop_mqtt_note": "mosquitto is not installed (apt-get install mosquitto)"}
    with LocalMosquitto(Accounts.default()) as broker:
        telemetry = TelemetryObserver(broker.url(), "bench", info={"run": "bench"})
        telemetry.start()
        try:
            result = run_therapy(TherapyPlan(hours=hours, seed=1, heapsize="192K"), observers=[telemetry])
        finally:
            telemetry.close()
    if result.aborted:
        raise BoardError(f"the MQTT speed run stopped early: {result.aborted}")
    return {"closed_loop_speedup_mqtt": round(result.virtual_s / result.wall_s, 1),
            "closed_loop_mqtt_messages": dict(telemetry.counts)}


def _speed_run(hours: float) -> tuple[Any, float, list[float], float]:
    """The closed-loop speed run, with the tick timed right before and right
    after it so that its mean covers the machine's speed around the run (its
    fast moments alone are :func:`firmware_tick_us`). Returns the run's
    result, the board's CPU seconds in it, the 400-tick runs' microseconds
    per tick (sorted) and the mean of the two windows' means."""
    runs_before = firmware_tick_runs_us()
    board_cpu0 = _children_cpu_s()
    result = run_therapy(TherapyPlan(hours=hours, seed=1, heapsize="192K"))
    # The board's own CPU time over the run (its process has ended and been
    # waited for; its start, about 0.1 s, is included).
    board_cpu_s = _children_cpu_s() - board_cpu0
    runs_after = firmware_tick_runs_us()
    if result.aborted:
        raise BoardError(f"the speed run stopped early: {result.aborted}")
    tick_mean_us = (statistics.fmean(runs_before) + statistics.fmean(runs_after)) / 2
    return result, board_cpu_s, sorted(runs_before + runs_after), tick_mean_us


def _loop_figures(result: Any, board_cpu_s: float, tick_us: float, tick_mean_us: float) -> dict[str, Any]:
    """The speed run against its bound: the firmware's tick as the board
    timed it in the run, ``loop_efficiency`` and its older readings, and
    what the board's CPU went to (docs/benchmarks.md)."""
    ticks = result.virtual_s / result.period_s
    speedup = result.virtual_s / result.wall_s
    if result.diag.get("boots") != 1:
        # A board that restarted counted only its last boot's ticks.
        raise BoardError(f"the speed run's board booted {result.diag.get('boots')} times")
    tick_loop_us = result.diag["tick_us"] / ticks
    return {
        # The firmware's tick in that run, timed by the board itself around
        # each STEP frame's run of ticks (DIAG tick_us): the same therapy's
        # readings and states, at the machine's speed of that moment.
        "firmware_tick_loop_us": round(tick_loop_us, 3),
        # The closed loop against its bound, period / firmware_tick_loop_us:
        # the share of the loop's wall time the firmware spent in its
        # ticks; 1.0 would mean plant, link, host and the board's frame
        # handling cost nothing beside them (docs/benchmarks.md). Against
        # the tick timed alone with fixed readings, around the run and at
        # its fast moments, the same run reads differently:
        # loop_efficiency_tick_around and loop_efficiency_best_tick.
        "loop_efficiency": round(speedup * tick_loop_us / (result.period_s * 1e6), 3),
        "loop_efficiency_tick_around": round(speedup * tick_mean_us / (result.period_s * 1e6), 3),
        "loop_efficiency_best_tick": round(speedup * tick_us / (result.period_s * 1e6), 3),
        # Where the loop's time goes: the board's CPU per control period in
        # that run, the share of the loop's wall time the board was busy,
        # and the share of the board's CPU that went to the ticks (the most
        # loop_efficiency can be with the board at that cost).
        "closed_loop_board_cpu_us_per_tick": round(board_cpu_s / ticks * 1e6, 2),
        "closed_loop_board_busy": round(board_cpu_s / result.wall_s, 3),
        "loop_board_bound_efficiency": round(tick_loop_us / (board_cpu_s / ticks * 1e6), 3),
    }


def run_bench(out_dir: Path, hours: float = 24.0) -> dict[str, Any]:
    """Run the benchmarks and return the figures.

    Args:
        out_dir: where bench.json goes.
        hours: virtual hours of the closed-loop run (24 h by the spec).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "bench.json"
    figures: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    result, board_cpu_s, runs, tick_mean_us = _speed_run(hours)
    # A second run measures the heap: the 48 h demo under a 64 KB heap, the
    # board collecting after every frame (which costs time, so it is kept
    # out of the speed figure).
    heap_diag: dict[str, Any] = {"heap_peak": None, "heap_total": None, "mem_alloc": None}
    try:
        heap = run_therapy(TherapyPlan(hours=48.0, seed=1, heapsize="64K", heap_stats=True))
        if heap.aborted is None:
            heap_diag = heap.diag
    except BoardError:
        pass
    tick_us = firmware_tick_us()
    figures.update({
        "closed_loop_speedup": round(result.virtual_s / result.wall_s, 1),
        "closed_loop_virtual_s": result.virtual_s,
        "closed_loop_wall_s": round(result.wall_s, 3),
        "closed_loop_frames": result.frames,
        **closed_loop_mqtt(hours),
        "control_period_s": result.period_s,
        "firmware_peak_heap_bytes": heap_diag["heap_peak"],
        "firmware_heap_total_bytes": heap_diag["heap_total"],
        "firmware_heap_live_end_bytes": heap_diag["mem_alloc"],
        "firmware_heap_run": "48 h demo, -X heapsize=64K",
        "plant_us_per_tick": round(_plant_us_per_tick(), 3),
        "firmware_tick_us": round(tick_us, 2),
        # The same tick around the speed run: the mean of 400-tick runs for
        # 3 s before and 3 s after it, and the spread of those runs.
        "firmware_tick_mean_us": round(tick_mean_us, 2),
        "firmware_tick_runs_us": {"runs": len(runs), "min": round(runs[0], 2),
                                  "median": round(statistics.median(runs), 2),
                                  "max": round(runs[-1], 2)},
        **_loop_figures(result, board_cpu_s, tick_us, tick_mean_us),
        "plant_cohort_s": round(_plant_cohort_s(), 3),
        "firmware_fits_56k_heap": _fits("56K"),
        "machine": f"{platform.machine()} {platform.python_implementation()} {platform.python_version()}",
    })
    # Where a tick goes (docs/benchmarks.md): the board alone on its pty,
    # with no plant; its efficiency is the most the closed loop can reach.
    from hil.loop.ceiling import ceiling_figures

    figures.update(ceiling_figures(tick_mean_us))
    figures.update(pico_emu_speed())
    figures.update(campaign_figures())
    # Campaign throughput on 1 and 2 local workers (docs/campaigns.md);
    # HIL_BENCH_CAMPAIGN_RUNS=N for fewer runs.
    from hil.campaign.bench import scaling_figures

    figures.update(scaling_figures(int(os.environ.get("HIL_BENCH_CAMPAIGN_RUNS", "100"))))
    path.write_text(json.dumps(figures, indent=1) + "\n")
    return figures


if __name__ == "__main__":
    # python -m hil.bench --campaigns [OUT]: only copy the campaigns'
    # figures into OUT/bench.json (default out/bench).
    import sys

    if sys.argv[1:2] != ["--campaigns"]:
        sys.exit("usage: python -m hil.bench --campaigns [OUT]   (the benchmarks: make bench)")
    out = add_campaigns(Path(sys.argv[2] if len(sys.argv) > 2 else "out/bench"))
    print(json.dumps({k: out[k] for k in (*CAMPAIGNS, "campaign_notes")}, indent=1))
