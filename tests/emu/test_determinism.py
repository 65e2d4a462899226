"""Virtual time: the same scenario and seed give the same run on the
emulated Pico, to the instruction, however loaded the machine is; and
however many periods the pin loop puts in one command to the emulator."""

from __future__ import annotations

from pathlib import Path

import pytest

from hil.loop.pins import PinLoop
from hil.run.runner import RunOptions, ScenarioRun
from hil.scenario import load

SCENARIO = Path(__file__).resolve().parent / "pico_scenarios" / "emu_determinism.yaml"


def run_once(scenario=None, batch: int | None = None, monkeypatch: pytest.MonkeyPatch | None = None) -> dict:
    if batch is not None:
        assert monkeypatch is not None
        monkeypatch.setattr(PinLoop, "default_batch", batch)
    run = ScenarioRun(scenario or load(SCENARIO), RunOptions(board="pico-emu"))
    result = run.run()
    assert result.passed, result.failure_messages()
    loop = run.session.loop
    emu = loop.board.emulator
    info = emu.last_info
    return {"events": result.timeline.events, "statuses": result.timeline.statuses,
            "trace": result.timeline.trace_rows, "pins": loop.pin_events, "inputs": loop.input_events,
            "pin_log": loop.pin_log, "heparin_steps": list(loop.heparin_steps),
            "instructions": info["stats"]["instructions"], "virtual_ns": info["stats"]["idleNs"],
            "flash": (info["stats"]["flashErases"], info["stats"]["flashPrograms"]),
            "commands": emu.commands}


def test_same_scenario_same_seed_same_run() -> None:
    a = run_once()
    b = run_once()
    assert a["trace"] and len(a["pins"]) > 10 and a["instructions"] > 10_000_000
    for key in a:
        assert a[key] == b[key], f"{key} differs between two runs"


def same_run(a: dict, b: dict) -> None:
    for key in a:
        if key != "commands":
            assert a[key] == b[key], f"{key} differs between one command per period and several"


def test_several_periods_per_command_give_the_run_of_one_per_period(monkeypatch) -> None:
    # The flow set-point change and the PWM writes stop the emulator's runs
    # of several periods where the board's outputs differ from the assumed.
    one = run_once(batch=1, monkeypatch=monkeypatch)
    many = run_once(batch=10, monkeypatch=monkeypatch)
    assert one["pin_log"] and len(one["pins"]) > 10
    same_run(one, many)
    assert many["commands"] < one["commands"] / 2, (one["commands"], many["commands"])
