"""The host's side of the pins, without the emulator: pressures to ADC
inputs through the board config's calibration, as the firmware reads them;
the heparin step pattern the pin loop assumes ahead."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from hil.board.pico_boards import adc_inputs
from hil.board.pico_emu import is_emulated, load_config
from hil.loop.pins import PinLoop

pytestmark = pytest.mark.no_emulator
CFG = load_config("pico-emu")


def firmware_reading(cfg: dict, channel: str, raw12: int) -> int:
    # firmware/devices/pressure.py after MicroPython's read_u16() (raw << 4 | raw >> 8)
    offset, num = cfg["calibration"]["pressure"][channel]
    return ((raw12 << 4 | raw12 >> 8) - offset) * num // cfg["calibration"]["pressure"]["den"]


@pytest.mark.parametrize("channel,index,lo,hi", [("access", 0, -4900, 4900), ("pre", 1, -800, 7900),
                                                 ("return", 2, -800, 7900)])
def test_the_firmware_reads_the_plant_pressure_within_one_adc_step(channel, index, lo, hi) -> None:
    offset, num = CFG["calibration"]["pressure"][channel]
    step = 16 * num / CFG["calibration"]["pressure"]["den"] + 1   # 0.1 mmHg per ADC count, and rounding
    pin = CFG["pins"][("p_access_adc", "p_pre_adc", "p_return_adc")[index]]
    for value in range(lo, hi, 37):
        readings = [0, 0, 0]
        readings[index] = value
        raw = adc_inputs(CFG, tuple(readings))[pin - 26]
        assert 0 <= raw <= 4095
        assert abs(firmware_reading(CFG, channel, raw) - value) <= step / 2 + 1, (channel, value, raw)


def test_only_the_emulated_config_is_emulated() -> None:
    assert is_emulated("pico-emu")
    assert not is_emulated("pico") and not is_emulated("virtual") and not is_emulated("no-such-board")


def doser_steps(rate: int, periods: int, spu: int = 8, period_ms: int = 100, acc: int = 0) -> list[int]:
    # firmware/devices/syringe.py's Doser at a steady rate (0.1 U/h)
    per_step = 36000 * (1000 // period_ms)
    out = []
    for _ in range(periods):
        acc += rate * spu
        out.append(acc // per_step)
        acc -= out[-1] * per_step
    return out


@pytest.mark.parametrize("rate", [0, 12600, 11700, 36000, 36000 + 12600, 5000])
def test_the_step_pattern_ahead_is_the_syringes(rate: int) -> None:
    # The pin loop assumes the steps of the coming periods repeat the last
    # ones' pattern; at a steady rate the syringe's accumulator gives one
    # (1,260 U/h at 8 steps/U: 7 steps in 25 periods; 1,170 U/h: 13 in 50).
    steps = doser_steps(rate, 150, acc=12345)
    ahead = PinLoop._predict(SimpleNamespace(_hist=steps[:128]), 10)
    assert ahead == steps[128:138]


def test_no_pattern_no_steps_assumed() -> None:
    assert PinLoop._predict(SimpleNamespace(_hist=[0, 1, 2, 0, 3, 1, 1, 0, 2, 2, 0, 1, 3, 0, 0, 2]), 3) == [0, 0, 0]
    assert PinLoop._predict(SimpleNamespace(_hist=[1, 1]), 2) == [0, 0]     # too short to tell
