"""The emulated Pico as a board kind of the harness (``--board pico-emu``).

:class:`PicoEmuBoards` (the provider) flashes the firmware onto an emulated
Pico the real way, with ``make flash``'s mpremote commands
(:mod:`hil.board.pico_deploy`, done once per firmware build and config and
kept as a flash image), and starts a fresh emulator on a copy of that image
for each run. :class:`PicoEmuBoard` is the started board:

- its link (:class:`EmuLink`) is the board's USB CDC byte stream, in the
  harness's process: reading it when nothing has arrived advances the
  board's virtual time (through :attr:`PicoEmuBoard.driver`) until
  something does, so a run is a function of what the host sends, never of
  the wall clock;
- its power switch cuts the emulated chip wherever it is (an instruction,
  or inside a flash erase) and powers it on again on the same flash file;
- ``emulator`` and ``config`` give the loop (:mod:`hil.loop.pins`) the pins.

Until a loop takes over the board's time, :class:`Resting` drives it: the
emulator alone, with the sensors at rest (0 mmHg, no air, no flow).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from hil.board.pico_emu import NS, Emulator, load_config
from hil.transport.link import Link, LinkError


def adc_inputs(cfg: dict[str, Any], readings: tuple[int, int, int]) -> list[int]:
    """12-bit ADC inputs that make the firmware read these pressures
    (0.1 mmHg: access, pre-cartridge, return) through its calibration.

    The firmware reads ``read_u16()`` = raw12 << 4 | raw12 >> 8 (MicroPython's
    rp2 port) and computes ``(u16 - offset) * num // den``; the input chosen
    is the one whose reading is nearest the plant's value.
    """
    pins = cfg["pins"]
    cal = cfg["calibration"]["pressure"]
    den = cal["den"]
    adc = [0, 0, 0, 0]
    for (pin_key, ch), value in zip((("p_access_adc", "access"), ("p_pre_adc", "pre"),
                                     ("p_return_adc", "return")), readings):
        offset, num = cal[ch]
        raw16 = offset + value * den / num
        guess = min(4095, max(0, round(raw16 / 16)))
        best = min((g for g in (guess - 1, guess, guess + 1) if 0 <= g <= 4095),
                   key=lambda g: abs(((g << 4 | g >> 8) - offset) * num // den - value))
        adc[pins[pin_key] - 26] = best
    return adc


class Resting:
    """Drives the board's time while no loop does: the emulator alone,
    sensors at rest."""

    def __init__(self, board: "PicoEmuBoard") -> None:
        self.board = board
        cfg = board.config
        pins = cfg["pins"]
        idle_air = 1 - cfg["calibration"]["air_active_level"]
        board.emulator.command(adc=adc_inputs(cfg, (0, 0, 0)),
                               inputs={str(pins["air_detect"]): idle_air},
                               pulses={str(pins["flow_pulse"]): 0})

    def wait_output(self, budget_ns: int) -> None:
        emu = self.board.emulator
        if not emu.rx:
            emu.run(emu.t_ns + budget_ns, stop_bytes=1)

    def power(self, on: bool) -> None:
        self.board.emulator.power(on)


class EmuLink(Link):
    """The board's USB CDC link, in process (see the module docstring)."""

    def __init__(self, board: "PicoEmuBoard") -> None:
        self.board = board
        self.name = board.port
        self.closed = False

    def write(self, data: bytes) -> None:
        if self.closed:
            raise LinkError(f"{self.name} is closed")
        emu = self.board.emulator
        if emu.powered:      # an unpowered USB device takes nothing
            emu.send(data)

    def read(self, max_bytes: int, timeout_s: float) -> bytes:
        """The board's bytes, at most ``max_bytes``; if none are there, the
        board's time advances by up to ``timeout_s`` virtual seconds first."""
        if self.closed:
            raise LinkError(f"{self.name} is closed")
        emu = self.board.emulator
        if not emu.rx:
            self.board.driver.wait_output(max(1, round(timeout_s * NS)))
        return emu.take(max_bytes)

    def close(self) -> None:
        self.closed = True


class EmuPower:
    """The emulated board's power switch (a :class:`~hil.board.providers.PowerControl`)."""

    def __init__(self, board: "PicoEmuBoard") -> None:
        self.board = board

    def on(self) -> None:
        self.board.driver.power(True)

    def off(self) -> None:
        self.board.driver.power(False)

    def cycle(self, off_s: float = 0.0) -> None:
        self.off()
        if off_s > 0:
            emu = self.board.emulator
            emu.run(emu.t_ns + round(off_s * NS))
        self.on()


class PicoEmuBoard:
    """An emulated Pico started for one run (see the module docstring).

    Args:
        image: the flashed image to start from (copied, never changed).
        config: the board config's name or path.
        log: file for the emulator's own messages.
    """

    kind = "pico-emu"
    replays = False

    def __init__(self, image: Path, config: str | Path, log: Path | None = None) -> None:
        self.config_name = str(config)
        self.config = load_config(config)
        self.tmp = Path(tempfile.mkdtemp(prefix="pico-emu-"))
        self.flash = self.tmp / "flash.img"
        shutil.copyfile(image, self.flash)
        self.emulator = Emulator(self.flash, log=log)
        self.port = f"pico-emu:{self.flash}"
        self.power = EmuPower(self)
        self.driver: Any = None

    def start(self) -> "PicoEmuBoard":
        self.emulator.start()
        self.driver = Resting(self)
        return self

    def connect(self) -> Link:
        return EmuLink(self)

    def reconnect(self, link: Link) -> Link:
        # Closing and opening the port: what was in flight is lost.
        link.close()
        self.emulator.take()
        return EmuLink(self)

    def stop(self) -> None:
        self.emulator.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)


class PicoEmuBoards:
    """Provider of a freshly flashed emulated Pico per run.

    Args:
        config: board config name or path (``pico-emu``).
        log: file for the emulator's and the deployment's messages.
    """

    def __init__(self, config: str | Path = "pico-emu", log: Path | None = None) -> None:
        self.config = str(config)
        self.log = log

    def start(self) -> PicoEmuBoard:
        from hil.board.pico_deploy import flashed_image

        image = flashed_image(self.config, log=self.log)
        return PicoEmuBoard(image, self.config, log=self.log).start()


__all__ = ["EmuLink", "EmuPower", "PicoEmuBoard", "PicoEmuBoards", "Resting", "adc_inputs"]
