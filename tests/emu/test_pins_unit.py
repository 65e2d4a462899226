"""The host's side of the pins, without the emulator: pressures to ADC
inputs through the board config's calibration, as the firmware reads them."""

from __future__ import annotations

import pytest

from hil.board.pico_boards import adc_inputs
from hil.board.pico_emu import is_emulated, load_config

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
