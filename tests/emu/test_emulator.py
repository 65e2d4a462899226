"""The emulated Pico itself: the official MicroPython on rp2040js, its REPL
on a pseudo-terminal with mpremote, its flash in a file (littlefs, mpremote
cp, a restart), and the fast decoder equal to rp2040js's own."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from hil.board.pico_emu import EMULATOR_DIR, NS, Emulator
from hil.board.pico_pty import bridge_for


def mpremote(port: str, *args: str) -> str:
    exe = Path(sys.executable).parent / "mpremote"
    proc = subprocess.run([str(exe), "connect", port, *args], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_fast_decoder_runs_as_rp2040js_instruction_by_instruction(flashed_image: Path, vendor) -> None:
    # The controller's boot from littlefs: imports, JSON, the USB stack, flash reads.
    proc = subprocess.run(["node", str(EMULATOR_DIR / "check-fastcore.mjs"), "--flash", str(flashed_image),
                           "--uf2", str(vendor["uf2"]), "--bootrom", str(vendor["bootrom"]),
                           "--steps", "2000000"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    r = json.loads(proc.stdout)
    assert r["first_difference"] is None and r["memories_equal"], r
    assert r["instructions"] > 1_500_000


def test_micropython_repl_and_files_over_the_pty(tmp_path: Path) -> None:
    flash = tmp_path / "flash.img"      # none yet: made from MicroPython's UF2
    emu, bridge = bridge_for(flash, speed=None)
    try:
        out = mpremote(bridge.port, "exec", "import sys, os; print(sys.implementation._machine); "
                       "print(sys.version); print(os.listdir())")
        assert "Raspberry Pi Pico with RP2040" in out
        assert "MicroPython v1.25.0" in out
        assert "[]" in out                 # a fresh littlefs, formatted at first boot
        src = tmp_path / "note.py"
        src.write_text("WORD = 'kept in flash'\n")
        mpremote(bridge.port, "cp", str(src), ":note.py")
    finally:
        bridge.stop()
        with bridge.lock:
            info = emu.info()
        emu.stop()
    assert info["stats"]["flashErases"] > 0 and info["stats"]["flashPrograms"] > 0
    assert info["created"]
    # The emulator restarted on the same file: the file is still there.
    emu, bridge = bridge_for(flash, speed=None)
    try:
        out = mpremote(bridge.port, "exec", "import note; print(note.WORD)")
        assert "kept in flash" in out
    finally:
        bridge.stop()
        emu.stop()


def test_idle_time_is_skipped(tmp_path: Path) -> None:
    emu = Emulator(tmp_path / "flash.img")
    emu.start()
    try:
        emu.run(2 * NS)
        emu.take()
        emu.send(b"import time; time.sleep(20); print('woke', time.ticks_ms() // 1000)\r\n")
        before = emu.info()["stats"]
        emu.run(emu.t_ns + 21 * NS)
        after = emu.info()["stats"]
        assert b"woke 22" in emu.take()       # woke at 22 s of the board's time
        # Twenty seconds asleep cost next to nothing: idle is skipped.
        assert after["idleNs"] - before["idleNs"] > 19.5 * NS
        assert after["instructions"] - before["instructions"] < 2_000_000
    finally:
        emu.stop()
