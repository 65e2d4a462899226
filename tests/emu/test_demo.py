"""``python -m hil demo --board pico-emu``: the demo on the emulated Pico,
the plant at its pins (hil/loop/pins.py), for a few virtual minutes: set-up
and priming through the pins, as ``make demo`` begins on the virtual board."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_demo_runs_on_the_emulated_pico(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    proc = subprocess.run([sys.executable, "-m", "hil", "demo", "--board", "pico-emu", "--hours", "0.06",
                           "--out", str(out), "--quiet"], cwd=ROOT, capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads((out / "report.json").read_text())
    assert report.get("aborted") is None, report.get("aborted")
    fw = report["firmware"]
    assert fw["board"] == "pico-emu" and fw["hal"] == "rp2", fw
    assert report["virtual_s"] == 216.0
    states = [e["to"] for e in report["events"] if e["type"] == "state"]
    # The scripted operator primed the circuit: 500 mL at 150 mL/min, 200 s
    # of the pump's PWM read at the pins and the flow-sensor pulses fed back.
    assert states[:2] == ["priming", "ready"], report["events"]
    with open(out / "trace.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    # One row per 10 virtual seconds, the plant's pump flow from the pins.
    assert len(rows) == 21
    assert max(float(r["pump_ml_min"]) for r in rows) == 150.0
