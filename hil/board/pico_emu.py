"""The emulated Pico: the official MicroPython firmware on an RP2040 emulated
by rp2040js (``emulator/``, a Node package), with its flash in a file.

:class:`Emulator` runs ``node emulator/pico.mjs`` and speaks its control
protocol (``emulator/control.mjs``): bytes on the board's USB CDC link both
ways, and commands (power, run to a virtual time, set the ADC and pin inputs,
read the pin and PWM outputs). Time is virtual: the board runs only when told
to, idle time is skipped, and the same commands give the same run.

On top of it: :mod:`hil.board.pico_pty` (the board on a pseudo-terminal, for
``hil board --board pico-emu``, mpremote and ``make flash``),
:mod:`hil.board.pico_deploy` (a board flashed with ``make flash``'s own
mpremote commands) and :mod:`hil.board.pico_boards` (the board kind the
harness runs scenarios on). ``docs/pico-emu.md`` says what is emulated.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import struct
import subprocess
from functools import lru_cache
from pathlib import Path
from typing import IO, Any

from hil.board.firmware import ROOT, board_config_path

EMULATOR_DIR = ROOT / "emulator"
# Third-party binaries stay out of the repository: they are read from beside it.
VENDOR_DIR = Path(os.environ.get("HIL_RP2040_VENDOR", ROOT.parent / "shared" / "vendor" / "rp2040"))
UF2 = "RPI_PICO-20250415-v1.25.0.uf2"
BOOTROM = "bootrom-b1.bin"
SHA256 = {
    UF2: "e0c40eacf1afc550a6add74888c48bb981b28788a6d75a62a0e2444e997b9864",
    BOOTROM: "90b31e108faedfa6bbcfcc33ba05dac61e645108cfbbdc385f8dafc71fde44ae",
}
NS = 1_000_000_000
# The config key that marks a board config as the emulated Pico's.
EMULATED_KEY = "_emulator"


class EmulatorError(RuntimeError):
    """The emulator is missing, failed, or refused a command."""


def is_emulated(board: str | Path) -> bool:
    """True if the board config (name or path) is for the emulated Pico."""
    try:
        cfg = json.loads(board_config_path(str(board)).read_text())
    except (OSError, ValueError):
        return False
    return isinstance(cfg, dict) and cfg.get(EMULATED_KEY) == "rp2040js"


def load_config(board: str | Path) -> dict[str, Any]:
    """The board config resolved (``extends``) and checked."""
    try:
        from hil.board.firmware import load_board_config
    except ImportError:   # a harness without "extends"
        from hil.board.firmware import board_config_path, firmware_module

        return firmware_module("board").load(str(board_config_path(str(board))))
    return load_board_config(board)


@lru_cache(maxsize=None)
def vendor_file(name: str) -> Path:
    """A vendor binary, checked against its SHA-256."""
    path = VENDOR_DIR / name
    if not path.exists():
        raise EmulatorError(f"{path} is missing: the emulated Pico reads MicroPython's UF2 and the "
                            f"RP2040 boot ROM from {VENDOR_DIR} (see its README.md)")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != SHA256[name]:
        raise EmulatorError(f"{path}: SHA-256 {digest}, expected {SHA256[name]}")
    return path


def node_executable() -> str:
    node = shutil.which("node")
    if node is None:
        raise EmulatorError("Node.js is not installed: the emulated Pico runs rp2040js on Node (>= 18)")
    return node


def check_installed() -> None:
    """The emulator's npm package must be installed (``make emulator``)."""
    if not (EMULATOR_DIR / "node_modules" / "rp2040js" / "package.json").exists():
        raise EmulatorError("rp2040js is not installed: run 'make emulator' "
                            "(npm ci --prefix emulator, from the committed lock file)")


class Emulator:
    """One emulated Pico (a Node process) and its flash file.

    Args:
        flash: the flash image file; made from MicroPython's UF2 (erased
            flash with the firmware in it) if it does not exist.
        log: file for the emulator's own messages (stderr).

    Attributes:
        rx: bytes the board sent on its USB CDC link, not yet taken.
        t_ns: the virtual time after the last command, ns.
        powered: whether the board had power after the last command.
    """

    def __init__(self, flash: Path, log: Path | None = None) -> None:
        self.flash = Path(flash)
        self.log = Path(log) if log is not None else None
        self.proc: subprocess.Popen[bytes] | None = None
        self.rx = bytearray()
        self.t_ns = 0
        self.powered = False
        self._log_file: IO[bytes] | None = None
        self.commands = 0
        self.last_info: dict[str, Any] = {}    # the emulator's counters when it stopped

    # -- life cycle -------------------------------------------------------------

    def start(self, power: bool = True) -> None:
        check_installed()
        # HIL_PICO_EMU_NODE_ARGS: more arguments for node (e.g. --cpu-prof), for profiling.
        extra = os.environ.get("HIL_PICO_EMU_NODE_ARGS", "").split()
        cmd = [node_executable(), *extra, str(EMULATOR_DIR / "pico.mjs"), "--flash", str(self.flash),
               "--uf2", str(vendor_file(UF2)), "--bootrom", str(vendor_file(BOOTROM))]
        err: IO[bytes] | None = None          # the emulator's own errors: to ours, or to the log
        if self.log is not None:
            self.log.parent.mkdir(parents=True, exist_ok=True)
            self._log_file = err = open(self.log, "ab")
        self.flash.parent.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err,
                                     cwd=EMULATOR_DIR)
        if power:
            self.command(power=True)

    def stop(self) -> None:
        """End the emulator; the flash file keeps what the board wrote."""
        proc = self.proc
        if proc is None:
            return
        try:
            if proc.poll() is None:
                self.last_info = self.info()
                self._send(b"J", b'{"quit": true}')
                proc.wait(timeout=5)
        except (OSError, EmulatorError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait()
        finally:
            self.proc = None
            for f in (proc.stdin, proc.stdout):
                try:
                    if f is not None:
                        f.close()
                except OSError:
                    pass
            if self._log_file is not None:
                self._log_file.close()
                self._log_file = None

    def __enter__(self) -> "Emulator":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the control protocol ---------------------------------------------------------

    def _send(self, kind: bytes, payload: bytes) -> None:
        if self.proc is None or self.proc.stdin is None:
            raise EmulatorError("the emulator is not running")
        try:
            self.proc.stdin.write(struct.pack("<I", len(payload) + 1) + kind + payload)
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError) as e:
            raise EmulatorError(f"the emulator has gone: {e}") from e

    def _read(self, n: int) -> bytes:
        assert self.proc is not None and self.proc.stdout is not None
        data = self.proc.stdout.read(n)
        if data is None or len(data) < n:
            code = self.proc.poll()
            raise EmulatorError(f"the emulator has gone (exit code {code})"
                                + (f"; see {self.log}" if self.log else ""))
        return data

    def send(self, data: bytes) -> None:
        """Bytes from the host to the board's USB CDC link (at the current virtual time)."""
        if data:
            self._send(b"D", bytes(data))

    def command(self, **cmd: Any) -> dict[str, Any]:
        """Do one command (see emulator/control.mjs) and return its reply; the
        board's CDC bytes sent before the reply are added to ``rx``."""
        self._send(b"J", json.dumps(cmd, separators=(",", ":")).encode())
        self.commands += 1
        while True:
            (n,) = struct.unpack("<I", self._read(4))
            body = self._read(n)
            if body[:1] == b"D":
                self.rx += body[1:]
                continue
            reply = json.loads(body[1:])
            if "error" in reply:
                raise EmulatorError(f"the emulator refused {cmd}: {reply['error']}")
            self.t_ns = reply["t"]
            self.powered = reply["powered"]
            return reply

    def take(self, max_bytes: int | None = None) -> bytes:
        """The board's CDC bytes received so far (at most ``max_bytes``)."""
        n = len(self.rx) if max_bytes is None else min(max_bytes, len(self.rx))
        out = bytes(self.rx[:n])
        del self.rx[:n]
        return out

    # -- shorthands -----------------------------------------------------------------

    def run(self, until_ns: int, stop_bytes: int = 0) -> dict[str, Any]:
        """Run to virtual time ``until_ns`` (or until the board has sent
        ``stop_bytes`` bytes, counted from ``rx`` being empty)."""
        cmd: dict[str, Any] = {"run": int(until_ns)}
        if stop_bytes:
            cmd["stop_bytes"] = stop_bytes
        return self.command(**cmd)

    def run_for(self, seconds: float) -> dict[str, Any]:
        return self.run(self.t_ns + round(seconds * NS))

    def power(self, on: bool) -> dict[str, Any]:
        return self.command(power=on)

    def cut_at(self, t_ns: int) -> dict[str, Any]:
        """Run to ``t_ns`` and cut the power there, wherever the board is
        (inside a flash erase or program if one is under way)."""
        return self.command(cut_at=int(t_ns))

    def info(self) -> dict[str, Any]:
        return self.command(info=True)["info"]


__all__ = ["EMULATED_KEY", "Emulator", "EmulatorError", "NS", "check_installed", "is_emulated",
           "load_config", "vendor_file"]
