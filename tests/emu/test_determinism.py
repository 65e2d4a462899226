"""Virtual time: the same scenario and seed give the same run on the
emulated Pico, to the instruction, however loaded the machine is."""

from __future__ import annotations

from pathlib import Path

from hil.run.runner import RunOptions, ScenarioRun
from hil.scenario import load

SCENARIO = Path(__file__).resolve().parent / "pico_scenarios" / "emu_determinism.yaml"


def run_once() -> dict:
    run = ScenarioRun(load(SCENARIO), RunOptions(board="pico-emu"))
    result = run.run()
    assert result.passed, result.failure_messages()
    loop = run.session.loop
    info = loop.board.emulator.last_info
    return {"events": result.timeline.events, "statuses": result.timeline.statuses,
            "trace": result.timeline.trace_rows, "pins": loop.pin_events, "inputs": loop.input_events,
            "instructions": info["stats"]["instructions"], "virtual_ns": info["stats"]["idleNs"],
            "flash": (info["stats"]["flashErases"], info["stats"]["flashPrograms"])}


def test_same_scenario_same_seed_same_run() -> None:
    a = run_once()
    b = run_once()
    assert a["trace"] and len(a["pins"]) > 10 and a["instructions"] > 10_000_000
    for key in a:
        assert a[key] == b[key], f"{key} differs between two runs"
