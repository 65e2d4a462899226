"""The virtual board: the firmware in the MicroPython unix port, with its
serial link on a pseudo-terminal that the host opens with pyserial exactly
as it would open ``/dev/ttyACM0``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import tty
from pathlib import Path
from typing import IO

from hil.fw import FIRMWARE_DIR, board_config_path, micropython_executable


class VirtualBoard:
    """Start the firmware on a pseudo-terminal.

    The board process holds the pty's master side; the host opens the slave
    side by its path. This object keeps a slave descriptor open as well so
    that the host may close and reopen the port without the board seeing a
    hang-up.

    Args:
        board: board config name (``virtual``) or path to a JSON file.
        heapsize: MicroPython heap, e.g. ``"192K"`` as on a Pico.
        log: where the firmware's own prints go (default: discarded).
        heap_stats: have the firmware measure its peak heap (slower).
    """

    def __init__(self, board: str = "virtual", heapsize: str = "192K",
                 log: Path | None = None, heap_stats: bool = False) -> None:
        self.board_path = board_config_path(board).resolve()
        if not self.board_path.exists():
            raise FileNotFoundError(f"board config {self.board_path} does not exist")
        self.heapsize = heapsize
        self.log = log
        self.heap_stats = heap_stats
        self.proc: subprocess.Popen[bytes] | None = None
        self._slave_fd = -1
        self.port = ""
        self._log_file: IO[bytes] | None = None

    def start(self) -> str:
        """Launch the firmware; return the serial port path to open."""
        master, slave = os.openpty()
        tty.setraw(slave)
        tty.setraw(master)
        cmd = [micropython_executable(), "-X", f"heapsize={self.heapsize}",
               str(FIRMWARE_DIR / "main.py"), "--board", str(self.board_path),
               "--fd", str(master)]
        if self.heap_stats:
            cmd.append("--heap-stats")
        if self.log is not None:
            self.log.parent.mkdir(parents=True, exist_ok=True)
            self._log_file = open(self.log, "wb")
            out: IO[bytes] | int = self._log_file
        else:
            out = subprocess.DEVNULL
        self.proc = subprocess.Popen(cmd, pass_fds=(master,), cwd=FIRMWARE_DIR,
                                     stdin=subprocess.DEVNULL, stdout=out,
                                     stderr=subprocess.STDOUT)
        os.close(master)
        self._slave_fd = slave
        self.port = os.ttyname(slave)
        return self.port

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> int | None:
        """Stop the firmware; return its exit code."""
        code = None
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.terminate()
                try:
                    self.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            code = self.proc.returncode
            self.proc = None
        if self._slave_fd >= 0:
            os.close(self._slave_fd)
            self._slave_fd = -1
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        return code

    def __enter__(self) -> "VirtualBoard":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve(board: str = "virtual", heapsize: str = "192K") -> int:
    """``python -m hil board``: start a virtual board, print its port, wait."""
    vb = VirtualBoard(board, heapsize)
    port = vb.start()
    print(port, flush=True)
    print(f"virtual board '{vb.board_path.stem}' running; open {port} with pyserial. "
          "Ctrl-C stops it.", file=sys.stderr, flush=True)
    stop = False

    def _stop(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, _stop)
    try:
        while not stop and vb.alive():
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    alive = vb.alive()
    vb.stop()
    if not alive and not stop:
        print("virtual board: the firmware exited", file=sys.stderr)
        return 1
    return 0
