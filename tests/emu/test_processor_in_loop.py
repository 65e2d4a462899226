"""The processor in the loop: the official MicroPython on the emulated
RP2040, flashed with board config ``pico-pil`` (the ``sim`` HAL), takes its
sensor samples from the host in STEP frames over its USB CDC pty, exactly as
the virtual board does over its pty; a test-mode reset restarts the chip
(``machine.reset``), not the process, and the board comes back at tick 0;
so does the watchdog, counting in the host's periods, when the control
task stalls, and the board says why when it is back."""

from __future__ import annotations

import shutil
from array import array
from pathlib import Path

import pytest

from hil.board.pico_deploy import flashed_image, wait_hello
from hil.board.pico_pty import bridge_for
from hil.transport import contract, frames
from hil.transport.client import BoardClient, BoardError, BoardReset
from hil.transport.link import SerialLink

ROOT = Path(__file__).resolve().parents[2]
C = frames.C


def _samples(n: int) -> bytes:
    """``n`` healthy periods in wire counts: pressures and flow, no flags."""
    one = [contract.CHANNEL["p_access"].wire(-80.0), contract.CHANNEL["p_pre"].wire(140.0),
           contract.CHANNEL["p_return"].wire(80.0), contract.CHANNEL["q_blood"].wire(0.0), 0]
    return array("h", one * n).tobytes()


def test_a_pico_with_the_sim_hal_runs_steps_from_the_host_and_resets_its_chip(tmp_path: Path) -> None:
    image = tmp_path / "flash.img"
    shutil.copyfile(flashed_image("pico-pil", log=ROOT / "out" / "pico-emu" / "deploy-pil.log"), image)
    emu, bridge = bridge_for(image)
    link = None
    try:
        hello = wait_hello(bridge.port)
        link = SerialLink(bridge.port)
        client = BoardClient(link, timeout_s=10.0)
        assert hello["board"] == "pico-pil" and hello["hal"] == "sim" and hello["clock"] == "host"
        assert hello["machine"] == "Raspberry Pi Pico with RP2040" and hello["test_mode"] is True
        # The host holds time: 50 periods, then 30 more, each run when it arrives.
        assert client.step(1, _samples(50)).consumed == 50
        reply = client.step(51, _samples(30))
        assert reply.consumed == 30 and reply.status.tick == 80 and reply.status.state == C.IDLE
        # A frame for a period the board has not reached is refused, not run.
        with pytest.raises(BoardError, match="does not continue from the board's tick"):
            client.step(200, _samples(5))
        assert client.status().status.tick == 80
        # A test-mode reset restarts the chip (the emulator counts its
        # boots), which comes back at tick 0, its therapy forgotten.
        with bridge.lock:
            chip_boots = emu.info()["boots"]
        client.test_reset(timeout_s=60.0)
        status = client.status().status
        assert status.tick == 0 and status.state == C.IDLE
        with bridge.lock:
            assert emu.info()["boots"] == chip_boots + 1
        # The control task stalls for 50 periods (test mode); the watchdog
        # (2,000 ms: 20 periods of 100 ms) bites at period 21 of the next
        # frame. The sim HAL notes why and resets the chip.
        assert client.command(C.CMD_TEST_HANG, 50).result == C.OK
        with pytest.raises(BoardReset) as bite:
            client.step(1, _samples(40))
        notice = bite.value.notice
        assert notice["cause"] == C.RESET_WATCHDOG and notice["last_tick"] == 21
        with bridge.lock:
            assert emu.info()["boots"] == chip_boots + 2
        status = client.status().status
        assert status.tick == 0 and status.state == C.IDLE
    finally:
        if link is not None:
            link.close()
        bridge.stop()
        emu.stop()
