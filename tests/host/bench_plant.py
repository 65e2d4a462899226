"""Measure the plant's cost per control period (not collected by pytest).

Usage: python tests/host/bench_plant.py [hours]

Runs the default patient connected at 200 mL/min with heparin for the given
plant time (default 2 h) twice: one tick per ``advance`` call (a closed loop
that exchanges data every period) and 600 ticks per call; prints microseconds
per tick of wall time for each.
"""

from __future__ import annotations

import sys
import time
from array import array
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from host.patient import DeviceParams, PatientParams  # noqa: E402
from host.plant import Actuators, Plant  # noqa: E402


def run(hours: float, chunk: int) -> float:
    """Wall time per tick in microseconds.

    Args:
        hours: Plant time to simulate.
        chunk: Ticks per ``advance`` call.

    Returns:
        Microseconds per tick.
    """
    plant = Plant(patient=PatientParams(), device=DeviceParams.preset("cytosorb"), seed=1)
    plant.connect_patient()
    act = Actuators(pump_ml_min=200.0, clamp_open=True, heparin_u_h=1260.0, heparin_bolus_u=5600.0)
    ticks = int(hours * 36000) // chunk * chunk
    out = array("h")
    t0 = time.perf_counter()
    for _ in range(ticks // chunk):
        plant.advance(act, chunk, out)
    dt = time.perf_counter() - t0
    assert len(out) == ticks * 5
    return dt / ticks * 1e6


if __name__ == "__main__":
    h = float(sys.argv[1]) if len(sys.argv) > 1 else 2.0
    print(f"1 tick per call:   {run(h, 1):.2f} us/tick")
    print(f"600 ticks per call: {run(h, 600):.2f} us/tick")
