"""The emulated Pico on a pseudo-terminal: whatever opens the port
(mpremote, miniterm, the harness with ``--port``, ``make flash PORT=...``)
talks to the board's USB CDC link, as to ``/dev/ttyACM0``.

Here the board runs on its own, in virtual time paced to the wall clock: at
most real time (so that a host polling it in real time, or waiting for it,
sees what a Pico would show), slower while the emulated CPU is busier than
the emulator can follow (then the board's time simply runs slower; it never
catches up in a burst). ``speed`` > 1 lets it run that much faster than real
time; ``None`` as fast as it goes (idle time skipped).
"""

from __future__ import annotations

import os
import select
import signal
import sys
import threading
import time
import tty
from pathlib import Path
from typing import Any

from hil.board.firmware import ROOT
from hil.board.pico_emu import NS, Emulator, EmulatorError

CHUNK_NS = 5_000_000         # at most this much virtual time between looks at the port
MAX_LAG_NS = 50_000_000      # behind the wall clock by more: stop trying to catch up
MAX_PENDING = 1 << 16        # bytes from the board kept while nobody reads the port
DEFAULT_FLASH = ROOT / "out" / "pico-emu" / "flash.img"


class PtyBridge:
    """Bridge an :class:`Emulator` to a pseudo-terminal, in a thread.

    Args:
        emu: a started emulator.
        speed: virtual seconds per wall second at most (None: no limit).
    """

    def __init__(self, emu: Emulator, speed: float | None = 1.0) -> None:
        self.emu = emu
        self.speed = speed
        self._master, self._slave = os.openpty()
        tty.setraw(self._master)
        tty.setraw(self._slave)
        os.set_blocking(self._master, False)
        self.port = os.ttyname(self._slave)
        self._pending = bytearray()
        self.lock = threading.Lock()     # held around every use of the emulator
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="pico-emu-pty", daemon=True)
        self.error: BaseException | None = None
        self.bytes_in = 0
        self.bytes_out = 0

    def start(self) -> str:
        self._anchor()
        self._thread.start()
        return self.port

    def _anchor(self) -> None:
        self._w0 = time.monotonic()
        self._v0 = self.emu.t_ns

    def _target(self) -> int:
        now_v = self.emu.t_ns
        if self.speed is None:
            return now_v + CHUNK_NS
        target = self._v0 + int((time.monotonic() - self._w0) * self.speed * NS)
        if target - now_v > MAX_LAG_NS:
            # The emulated CPU is busier than the emulator can follow in real
            # time: let its time run slower instead of rushing later.
            self._w0 = time.monotonic()
            self._v0 = now_v
            target = now_v + CHUNK_NS
        return min(target, now_v + CHUNK_NS)

    def _loop(self) -> None:
        try:
            while not self._stop.is_set():
                r, _, _ = select.select([self._master], [], [], 0)
                if r:
                    try:
                        data = os.read(self._master, 4096)
                    except BlockingIOError:
                        data = b""
                    self.bytes_in += len(data)
                    with self.lock:
                        if self.emu.powered:
                            self.emu.send(data)
                with self.lock:
                    target = self._target()
                    ran = target > self.emu.t_ns
                    if ran:
                        self.emu.run(target)
                    out = self.emu.take()
                if out:
                    self.bytes_out += len(out)
                    self._pending += out
                if self._pending:
                    self._flush()
                if not ran:
                    select.select([self._master], [], [], 0.002)
        except (EmulatorError, OSError) as e:
            self.error = e

    def _flush(self) -> None:
        # Nobody may be reading the port: what the board sends then waits,
        # up to MAX_PENDING bytes (the oldest go first), as in a USB host's
        # buffers; the board's time never waits for a reader.
        try:
            n = os.write(self._master, self._pending)
        except BlockingIOError:
            n = 0
        del self._pending[:n]
        if len(self._pending) > MAX_PENDING:
            del self._pending[:len(self._pending) - MAX_PENDING]

    def alive(self) -> bool:
        return self._thread.is_alive() and self.error is None

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        for fd in (self._master, self._slave):
            try:
                os.close(fd)
            except OSError:
                pass

    # -- power, from another thread ----------------------------------------------------

    def power(self, on: bool) -> None:
        with self.lock:
            self.emu.power(on)
            self._anchor()


def serve(board: str = "pico-emu", flash: Path | None = None, speed: float | None = 1.0,
          fresh: bool = False, log: Path | None = None) -> int:
    """``python -m hil board --board pico-emu``: start the emulated Pico,
    print its port as the first line, run until Ctrl-C or SIGTERM."""
    flash = Path(flash) if flash is not None else DEFAULT_FLASH
    if fresh and flash.exists():
        flash.unlink()
    emu = Emulator(flash, log=log)
    try:
        emu.start()
    except EmulatorError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    bridge = PtyBridge(emu, speed)
    port = bridge.start()
    print(port, flush=True)
    pace = "real time" if speed == 1.0 else ("as fast as it goes" if speed is None else f"{speed:g} x real time")
    print(f"emulated Pico (rp2040js, MicroPython {emu_version()}) on {port}, {pace}; flash image {flash}. "
          "Ctrl-C stops it.", file=sys.stderr, flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.is_set() and bridge.alive():
            stop.wait(0.2)
    except KeyboardInterrupt:
        pass
    error = bridge.error
    bridge.stop()
    emu.stop()
    if error is not None:
        print(f"emulated Pico: {error}", file=sys.stderr)
        return 1
    return 0


def emu_version() -> str:
    from hil.board.pico_emu import UF2

    return UF2.split("-v")[-1].removesuffix(".uf2")


def bridge_for(flash: Path, speed: float | None = None, log: Path | None = None) -> tuple[Emulator, PtyBridge]:
    """A started emulator on ``flash`` and its started pty bridge."""
    emu = Emulator(flash, log=log)
    emu.start()
    bridge = PtyBridge(emu, speed)
    bridge.start()
    return emu, bridge


__all__ = ["DEFAULT_FLASH", "PtyBridge", "bridge_for", "serve"]
