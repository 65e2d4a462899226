"""The safety subset on the emulated Pico: the firmware flashed with make
flash's mpremote commands, the rp2 HAL at its pins, the plant closed around
them in virtual time (hil.loop.pins). Each scenario is run by the harness
exactly as ``hil run NAME --board pico-emu`` runs it; the checks here add
what only the pins and the emulator can tell."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hil.board.pico_emu import load_config
from hil.run.runner import RunOptions, ScenarioRun
from hil.scenario import load

SCENARIOS = Path(__file__).resolve().parent / "pico_scenarios"
ROOT = Path(__file__).resolve().parents[2]
PERIOD_NS = 100_000_000
PINS = load_config("pico-emu")["pins"]


def run_emulated(name: str) -> tuple[Any, Any]:
    """Run tests/emu/pico_scenarios/NAME.yaml on the emulated Pico: (result, its loop)."""
    sc = load(SCENARIOS / f"{name}.yaml")
    log = ROOT / "out" / "pico-emu" / f"{name}.log"
    run = ScenarioRun(sc, RunOptions(board="pico-emu", firmware_log=str(log)))
    result = run.run()
    assert result.error is None, result.error
    assert result.passed, "\n".join(result.failure_messages())
    return result, run.session.loop


def pins_safe_after(loop: Any, t0: int) -> int:
    """The first time after t0 (ns) at which the pump's PWM duty is 0 and the
    clamp pin is low (closed), from the emulator's pin log."""
    state = {PINS["pump_pwm"]: None, PINS["clamp_open"]: None}
    for t, pin, level, duty in loop.pin_events:
        if pin in state:
            state[pin] = (level, duty)
        if t < t0 or None in state.values():
            continue
        pump, clamp = state[PINS["pump_pwm"]], state[PINS["clamp_open"]]
        if not pump[1] and clamp[0] != 1:
            return t
    raise AssertionError("the pump and clamp never went safe")


def first_event(result: Any, **match: Any) -> dict[str, Any]:
    for e in result.timeline.events:
        if all(e.get(k) == v for k, v in match.items()):
            return e
    raise AssertionError(f"no event {match}")


def test_air_and_access_pressure_stop_the_pump_and_close_the_clamp() -> None:
    result, loop = run_emulated("emu_air_access")
    # At the pins: from air at the detector (GPIO) to pump off and clamp
    # closed, within one control period of the firmware seeing it.
    t_air = next(t for t, name, v in loop.input_events if name == "air" and v)
    assert pins_safe_after(loop, t_air) - t_air <= PERIOD_NS + 5_000_000
    # The access pressure the firmware saw came through the ADC calibration.
    alarm = first_event(result, type="alarm", alarm="access_pressure_low")
    assert alarm["value"] < -250
    # Blood flowed again after each acknowledgement.
    assert result.timeline.statuses[-1].pump_ml_min == 200.0


def test_power_cut_mid_therapy_comes_back_safe_with_the_cartridge_time() -> None:
    result, loop = run_emulated("emu_power_cut")
    boot = first_event(result, type="boot")
    assert boot["cause"] == "power_on"
    restored = first_event(result, type="restored")
    assert restored["from"] == "running" and restored["to"] == "safe"
    # The cartridge's blood-flow time came back from the flash (saved every minute of flow).
    assert restored["flow_time_s"] >= 60.0
    cut = first_event(result, type="step", id="cut")
    assert restored["t_s"] > cut["t_s"] + 5.0
    # While the power was off (5 s), the pins drove nothing.
    (t_off, on1), (t_on, on2) = loop.power_events
    assert (on1, on2) == (False, True) and t_on - t_off == 5_000_000_000
    off = [e for e in loop.pin_events if t_off <= e[0] <= t_on]
    assert off and all(level == -1 and duty is None for _, _, level, duty in off)


def test_watchdog_resets_a_hung_control_task() -> None:
    result, loop = run_emulated("emu_watchdog")
    boot = first_event(result, type="boot")
    assert boot["cause"] == "watchdog"
    resets = loop.board.emulator.last_info["resets"]
    assert [cause for _, cause in resets] == ["watchdog"]
    # The watchdog fires its timeout (pico-emu.json, under the RP2040's
    # 8,388 ms) after the last feed, which is at most a period before the
    # board serves the hang command, at most a period after it was sent. The
    # board then boots for real before it announces itself (docs/pico-emu.md,
    # "Watchdog timing").
    timeout_s = load_config("pico-emu")["watchdog_ms"] / 1000
    period_s = PERIOD_NS / 1e9
    assert timeout_s <= 8.388
    hang = first_event(result, type="step", id="hang")
    fired = (resets[0][0] - loop.t_start_ns) / 1e9 - hang["t_s"]
    assert timeout_s - period_s <= fired <= timeout_s + period_s, fired
    announced = boot["t_s"] - hang["t_s"]
    assert fired < announced <= fired + 1.0, (fired, announced)
    first_event(result, type="alarm", alarm="power_restored")
