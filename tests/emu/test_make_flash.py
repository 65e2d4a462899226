"""Deploying the real way: ``make flash PORT=<pty> BOARD=pico`` onto an
emulated Pico that has nothing but MicroPython's UF2 on erased flash; the
board reboots into the controller and answers protocol v1 on the same pty,
and does so again after a power cycle, from what the flash kept. And again
onto a board that runs the controller (Ctrl-C off, watchdog on): make flash
puts it in maintenance mode first (CMD_MAINTENANCE)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from hil.board.pico_deploy import wait_hello
from hil.board.pico_pty import bridge_for
from hil.transport import frames
from hil.transport.client import BoardClient
from hil.transport.link import SerialLink

ROOT = Path(__file__).resolve().parents[2]
C = frames.C


def test_make_flash_then_the_board_boots_into_the_controller(tmp_path: Path) -> None:
    emu, bridge = bridge_for(tmp_path / "flash.img", speed=1.0)
    try:
        proc = subprocess.run(["make", "-C", str(ROOT), "flash", f"PORT={bridge.port}", "BOARD=pico"],
                              capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
        assert "reset" in proc.stdout and ":board.json" in proc.stdout
        hello = wait_hello(bridge.port)
        assert hello["board"] == "pico" and hello["hal"] == "rp2" and hello["clock"] == "board"
        assert hello["implementation"] == "micropython" and hello["version"] == "1.25.0"
        assert hello["test_mode"] is False
        # mpremote's reset is a forced watchdog reboot: not a watchdog timeout.
        assert hello["boot"]["cause"] == 0
        first_boots = hello["boot"]["boots"]
        # A command the board stores in its flash (littlefs) before it answers.
        link = SerialLink(bridge.port)
        try:
            reply = BoardClient(link, timeout_s=5.0).command(C.CMD_SET_WEIGHT, 723)
        finally:
            link.close()
        assert reply.result == C.OK and reply.status.weight == 723

        # A reboot: power off and on. main.py starts the controller again.
        bridge.power(False)
        bridge.power(True)
        link = SerialLink(bridge.port)
        try:
            client = BoardClient(link, timeout_s=5.0)
            notice = client.wait_boot(timeout_s=60.0)
            again = client.hello()
            status = client.status().status
        finally:
            link.close()
        assert notice["cause"] == 0 and notice["boots"] == first_boots + 1
        assert again["board"] == "pico" and again["boot"] == notice
        assert status.state == 0 and status.pump == 0 and not status.clamp_open
        assert status.weight == 723          # read back from the flash
        with bridge.lock:
            info = emu.info()
        assert info["boots"] >= 3        # the UF2's first boot, mpremote's reset, the power cycle
        assert info["stats"]["flashPrograms"] > 50
    finally:
        bridge.stop()
        emu.stop()


def test_hello_names_the_machine_as_the_board_knows_it(flashed_image: Path) -> None:
    from hil.board.pico_boards import PicoEmuBoard

    board = PicoEmuBoard(flashed_image, "pico-emu").start()
    try:
        link = board.connect()
        hello = BoardClient(link, timeout_s=5.0).hello()
    finally:
        board.stop()
    assert hello["version"] == "1.25.0"
    assert hello.get("machine") == "Raspberry Pi Pico with RP2040"
    assert hello["micropython"].startswith("MicroPython v1.25.0 on ")
    # The build it runs: make compile BOARD=pico's, named by its content hash.
    from hil.board.build import build_for_board
    assert build_for_board("pico").name.endswith("-" + hello["build"])


def test_make_flash_again_over_a_running_controller(flash_copy: Path) -> None:
    emu, bridge = bridge_for(flash_copy, speed=1.0)
    try:
        before = wait_hello(bridge.port)
        assert before["board"] == "pico-emu" and before["state"] == C.IDLE
        # Another config, so that the HELLO after shows the new flash.
        proc = subprocess.run(["make", "-C", str(ROOT), "flash", f"PORT={bridge.port}", "BOARD=pico"],
                              capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
        assert "pico-emu ran the controller" in proc.stdout and "maintenance mode" in proc.stdout
        assert ":board.json" in proc.stdout
        after = wait_hello(bridge.port)
        assert after["board"] == "pico" and after["hal"] == "rp2"
        assert after["config"] != before["config"]
        # mpremote's reset is a forced reboot, not a watchdog timeout.
        assert after["boot"]["cause"] == 0
        with bridge.lock:
            info = emu.info()
        assert info["boots"] >= 3        # the image's boot, the maintenance boot, mpremote's reset
    finally:
        bridge.stop()
        emu.stop()
