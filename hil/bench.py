"""``make bench``: speed and memory figures, printed and written to
``out/bench/bench.json`` (existing keys from other benchmarks are kept)."""

from __future__ import annotations

import json
import platform
import time
from array import array
from pathlib import Path
from typing import Any

from hil.therapy import TherapyPlan, run_therapy


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


def run_bench(out_dir: Path, hours: float = 24.0) -> dict[str, Any]:
    """Run the benchmarks and return the figures.

    Args:
        out_dir: where bench.json goes.
        hours: virtual hours of the closed-loop run (24 h by the spec).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "bench.json"
    figures: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    result = run_therapy(TherapyPlan(hours=hours, seed=1, heapsize="192K"))
    # A second run measures the heap: the board collects after every frame,
    # which costs time, so it is kept out of the speed figure.
    heap = run_therapy(TherapyPlan(hours=hours, seed=1, heapsize="192K", heap_stats=True))
    figures.update({
        "closed_loop_speedup": round(result.virtual_s / result.wall_s, 1),
        "closed_loop_virtual_s": result.virtual_s,
        "closed_loop_wall_s": round(result.wall_s, 3),
        "closed_loop_frames": result.frames,
        "control_period_s": result.period_s,
        "firmware_peak_heap_bytes": heap.diag["heap_peak"],
        "firmware_heap_total_bytes": heap.diag["heap_total"],
        "firmware_heap_live_end_bytes": heap.diag["mem_alloc"],
        "plant_us_per_tick": round(_plant_us_per_tick(), 3),
        "machine": f"{platform.machine()} {platform.python_implementation()} {platform.python_version()}",
    })
    path.write_text(json.dumps(figures, indent=1) + "\n")
    return figures
