"""The longer runs on the emulated Pico (``make test-emu``): library
scenarios, written for the virtual board, on the real firmware and HAL at
the pins with the scripted operator; and what the pins deliver of heparin."""

from __future__ import annotations

from pathlib import Path

import pytest

from hil.run.runner import RunOptions, ScenarioRun, run_scenario
from hil.scenario import load, loads
from tests.emu.test_determinism import run_once, same_run

pytestmark = pytest.mark.pico_emu_long
ROOT = Path(__file__).resolve().parents[2]
LIBRARY = ROOT / "scenarios"


@pytest.mark.parametrize("name", ["air_in_return_line", "access_pressure_low_occlusion",
                                  "power_cut_mid_therapy"])
def test_library_scenario_passes_on_the_emulated_pico(name: str) -> None:
    result = run_scenario(load(LIBRARY / f"{name}.yaml"), RunOptions(board="pico-emu"))
    assert result.error is None, result.error
    assert result.passed, "\n".join(result.failure_messages())


def test_watchdog_reset_takes_a_real_boot() -> None:
    # The library's watchdog scenario expects the board back 1.9-2.1 s after
    # the hang (the virtual board restarts at once). A Pico boots MicroPython,
    # mounts littlefs and imports the firmware first: everything else holds.
    result = run_scenario(load(LIBRARY / "watchdog_reset.yaml"), RunOptions(board="pico-emu"))
    assert result.error is None, result.error
    failed = {c.name for c in result.verdict.failures}
    assert failed <= {"reset_after"}, result.failure_messages()
    boot = next(e for e in result.timeline.events if e.get("type") == "boot")
    hang = next(e for e in result.timeline.events if e.get("type") == "step" and e.get("id") == "hang")
    assert boot["cause"] == "watchdog"
    assert 2.0 <= boot["t_s"] - hang["t_s"] <= 4.0


_HEPARIN = """
name: heparin_at_the_pins
seed: 3
duration: 35 min
operator: {scripted: false}
steps:
  - {id: weight, at: 0, command: {name: set_weight, arg: 700}}
  - {id: prime, at: 1 s, command: {name: prime}}
  - {id: heparin, at: {after: ready, plus: 2 s}, command: {name: heparin_start}}
  - {id: aptt, at: {after: ready, plus: 3 s}, aptt: 70}
  - {id: start, at: {after: ready, plus: 4 s}, start: true, expect_result: ok}
"""


def test_heparin_steps_computed_ahead_give_the_run_of_one_command_per_period(monkeypatch) -> None:
    # The pin loop computes the plant ahead assuming the step pulses keep
    # their pattern; the emulator stops where they do not. Priming, blood
    # flow and a minute and a half of infusion: the same run either way.
    scenario = loads(_HEPARIN.replace("35 min", "5 min"), "<heparin_ahead>")
    one = run_once(scenario, batch=1, monkeypatch=monkeypatch)
    many = run_once(scenario, batch=10, monkeypatch=monkeypatch)
    assert sum(one["heparin_steps"]) > 100
    same_run(one, many)
    assert many["commands"] < one["commands"] / 2, (one["commands"], many["commands"])


def test_the_pins_deliver_the_heparin_rate_the_board_reports() -> None:
    # 1,260 U/h at 8 steps/U is 2.8 steps/s, below the 8 Hz an RP2040's PWM
    # reaches: the firmware gives each step from its control period.
    run = ScenarioRun(loads(_HEPARIN, "<heparin_at_the_pins>"), RunOptions(board="pico-emu"))
    result = run.run()
    assert result.error is None, result.error
    status = result.timeline.statuses[-1]
    # The cartridge's table leaves the loading dose to the nurse (IV): the
    # device gives the infusion alone, from the start of blood flow.
    assert status.heparin == 12600 and status.bolus_total == 0
    loop = run.session.loop
    steps = loop.heparin_steps
    delivered = sum(steps[-3000:]) / 8 * 12                    # the last 5 minutes; U/h
    assert delivered == pytest.approx(status.heparin / 10, abs=2 * 12 / 8), \
        f"the pins deliver {delivered:.0f} U/h, the board reports {status.heparin / 10:.0f} U/h"
    # The syringe is enabled first when blood flows (pump on, clamp open),
    # not in ready: not one step before; in all, the infusion of the
    # flowing time, to a unit.
    first, pump, clamp, _enabled = next(e for e in loop.pin_log if e[3])
    assert pump > 0 and clamp, loop.pin_log
    assert sum(steps[:first]) == 0
    given = sum(steps)
    want = 12600 * 8 * (len(steps) - first) // 360000
    assert abs(given - want) <= 8, f"{given} steps given, {want} asked for"
