"""The virtual board: the firmware in the MicroPython unix port, with its
serial link on a pseudo-terminal that the host opens with pyserial exactly
as it would open ``/dev/ttyACM0``, and its flash in a directory.

The board can be power-cycled (the process is killed, wherever it is, and
started again on the same flash and the same port), and when its watchdog
resets it (the firmware exits with code 75) a supervisor starts it again,
as a Pico comes back after a reset.

A board config with the ``rp2`` HAL runs the real Pico HAL against the
stand-in ``machine`` module of ``hil/fakepico`` (a Pico on a bench with no
plant: see that module), put first on MicroPython's module path. That is
for the harness's own tests (``fake-pico``); a user runs the Pico firmware
without hardware on the emulated Pico (``pico-emu``, docs/pico-emu.md).

The board config is resolved and checked on the host first
(:func:`~hil.board.firmware.load_board_config`): a malformed one is refused
before anything starts, and a config that ``extends`` another reaches the
firmware as one merged file.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import tty
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any, Callable

from hil.board.build import compile_firmware
from hil.transport import frames
from hil.transport.client import BoardError, BoardReset
from hil.transport.link import Link, SerialLink
from hil.board.firmware import (FAKE_PICO_DIR, FIRMWARE_DIR, board_config_path, load_board_config,
                                micropython_executable)

RESET_EXIT = 75   # the firmware's exit code for "reset me" (hal/sim.py)
P = frames.P


def _default_module_path(cfg: dict[str, Any]) -> list[Path]:
    """Folders MicroPython searches before its own: the stand-in machine
    module for a board config with the rp2 HAL, none otherwise."""
    return [FAKE_PICO_DIR] if cfg.get("hal") == "rp2" else []


class VirtualBoard:
    """Start the firmware on a pseudo-terminal.

    The board process holds the pty's master side; the host opens the slave
    side by its path. This object keeps both sides open as well, so that the
    host may close and reopen the port, and the board restart, without the
    port changing or anyone seeing a hang-up.

    Args:
        board: board config name (``virtual``) or path to a JSON file.
        heapsize: MicroPython heap, e.g. ``"192K"`` as on a Pico.
        log: where the firmware's own prints go (default: discarded).
        heap_stats: have the firmware measure its peak heap (slower).
        flash: directory holding the board's flash; default a fresh
            temporary one, removed by :meth:`stop`.
        compiled: run the firmware compiled with mpy-cross (as flashed on a
            Pico, the default) rather than from source.
        module_path: folders MicroPython searches for modules before its
            own (``MICROPYPATH``); default: ``hil/fakepico`` for a board
            config with the rp2 HAL, nothing otherwise.
        cut_after: test bench: the power fails inside a storage write after
            this many more bytes (``--cut-after``, firmware/cutstorage.py);
            applies to every launch while set.
        cut_file: test bench: a file (outside the flash) the host writes a
            byte budget into to arm such a cut later; the firmware writes
            ``<cut_file>.report`` before it dies (``--cut-file``).
    """

    def __init__(self, board: str = "virtual", heapsize: str = "192K",
                 log: Path | None = None, heap_stats: bool = False,
                 flash: Path | None = None, compiled: bool = True,
                 module_path: Sequence[str | Path] | None = None,
                 cut_after: int | None = None, cut_file: Path | None = None) -> None:
        self.board_path = board_config_path(board).resolve()
        if not self.board_path.exists():
            raise FileNotFoundError(f"board config {self.board_path} does not exist")
        # Resolved and checked here: raises ConfigError naming the file and key.
        self.config = load_board_config(self.board_path)
        self._extends = "extends" in json.loads(self.board_path.read_text())
        self._config_dir: Path | None = None
        self.heapsize = heapsize
        self.log = log
        self.heap_stats = heap_stats
        self.firmware_dir = compile_firmware() if compiled else FIRMWARE_DIR
        self.module_path = [Path(p).resolve() for p in (
            _default_module_path(self.config) if module_path is None else module_path)]
        self._own_flash = flash is None
        self.flash = Path(flash) if flash is not None else None
        self.proc: subprocess.Popen[bytes] | None = None
        self._master = -1
        self._slave = -1
        self.port = ""
        self._log_file: IO[bytes] | None = None
        self._lock = threading.Lock()
        self._powered = False
        self._supervisor: threading.Thread | None = None
        self.resets = 0
        self.cut_after = cut_after
        self.cut_file = cut_file

    # -- life cycle -------------------------------------------------------------

    @property
    def config_file(self) -> Path:
        """The file the firmware is given: the board config itself, or for
        one that extends another, the merged config written beside the run."""
        if not self._extends:
            return self.board_path
        if self._config_dir is None:
            self._config_dir = Path(tempfile.mkdtemp(prefix="virtual-board-"))
        out = self._config_dir / self.board_path.name
        if not out.exists():
            out.write_text(json.dumps(self.config, indent=1))
        return out

    def start(self) -> str:
        """Create the port and power the board on; return the port path."""
        if self.flash is None:
            self.flash = Path(tempfile.mkdtemp(prefix="virtual-flash-", dir=ram_dir()))
        self.flash.mkdir(parents=True, exist_ok=True)
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        tty.setraw(self._master)
        # The board reads without blocking (firmware/link.py): a frame that
        # stops short must time out, not hold the read until more bytes come.
        # Only the board uses the master side; this process just keeps it open.
        os.set_blocking(self._master, False)
        self.port = os.ttyname(self._slave)
        if self.log is not None:
            self.log.parent.mkdir(parents=True, exist_ok=True)
            self._log_file = open(self.log, "ab")
        self.power_on()
        self._supervisor = threading.Thread(target=self._supervise, daemon=True)
        self._supervisor.start()
        return self.port

    def _launch(self) -> None:
        # main.py by its bare name, from the build folder (the process's
        # working folder): MicroPython keeps every module's path on its heap
        # (__file__, sys.path), so a long absolute path would cost the board
        # RAM, more the deeper the checkout sits, and a 64 KB heap has
        # little to spare (docs/firmware.md, Memory).
        cmd = [micropython_executable(), "-X", f"heapsize={self.heapsize}",
               "main.py", "--board", str(self.config_file),
               "--fd", str(self._master), "--flash", str(self.flash)]
        if self.heap_stats:
            cmd.append("--heap-stats")
        if self.cut_after is not None:
            cmd += ["--cut-after", str(self.cut_after)]
        if self.cut_file is not None:
            cmd += ["--cut-file", str(self.cut_file)]
        out: IO[bytes] | int = self._log_file if self._log_file is not None else subprocess.DEVNULL
        env = None
        if self.module_path:
            # The script's own folder stays first (MicroPython puts it
            # there); these come before the frozen and installed modules.
            env = dict(os.environ, MICROPYPATH=os.pathsep.join(
                [str(p) for p in self.module_path] + [".frozen"]))
        self.proc = subprocess.Popen(cmd, pass_fds=(self._master,), cwd=self.firmware_dir,
                                     stdin=subprocess.DEVNULL, stdout=out,
                                     stderr=subprocess.STDOUT, env=env)

    def power_on(self) -> None:
        """Start the firmware (it boots and announces itself on the link)."""
        with self._lock:
            if self._powered:
                return
            self._launch()
            self._powered = True

    def power_cut(self) -> None:
        """Kill the firmware at once, wherever it is (mid-write included)."""
        with self._lock:
            self._powered = False
            if self.proc is not None and self.proc.poll() is None:
                self.proc.send_signal(signal.SIGKILL)
                self.proc.wait()

    def _supervise(self) -> None:
        # Restart the firmware when it asks for a reset (watchdog).
        while True:
            with self._lock:
                proc = self.proc
                if self._master < 0:
                    return
                if (self._powered and proc is not None and proc.poll() is not None
                        and proc.returncode == RESET_EXIT):
                    self.resets += 1
                    self._launch()
            time.sleep(0.005)

    def alive(self) -> bool:
        """True while powered and the firmware runs (or is being restarted)."""
        return self._powered and self.proc is not None and (
            self.proc.poll() is None or self.proc.returncode == RESET_EXIT)

    def stop(self) -> int | None:
        """Stop the firmware and release the port; return its exit code."""
        code = None
        with self._lock:
            self._powered = False
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
            for fd in (self._master, self._slave):
                if fd >= 0:
                    os.close(fd)
            self._master = self._slave = -1
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        if self._own_flash and self.flash is not None:
            shutil.rmtree(self.flash, ignore_errors=True)
            self.flash = None
        if self._config_dir is not None:
            shutil.rmtree(self._config_dir, ignore_errors=True)
            self._config_dir = None
        return code

    def __enter__(self) -> "VirtualBoard":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class PowerLost(BoardReset):
    """The board died inside a storage write and has been powered on again.

    ``notice`` is its new BOOT notice with ``last_tick`` set to the tick it
    died at (so that :class:`~hil.loop.closed.ClosedLoop` rewinds the plant
    there), ``off_s`` the virtual seconds it stays without power (the loop
    advances the plant through them) and ``cut`` the firmware's note of the
    write it died in; ``cut`` is that note too.
    """

    def __init__(self, notice: dict[str, Any], cut: dict[str, Any]) -> None:
        super().__init__(notice)
        self.cut = cut


class CutBench(Link):
    """The host end of the link to a board started with a ``cut_file``: one
    that may cut its own power inside a storage write
    (``firmware/cutstorage.py``, docs/reliability.md).

    It passes bytes through a :class:`~hil.transport.link.SerialLink`,
    remembers the last frame the host sent, and while waiting for a reply
    watches the board process: if it died on its own (the armed cut), it
    calls ``on_cut(note)`` (the board is still off: read its flash now),
    powers the board on, waits for its BOOT notice and raises
    :class:`PowerLost`.

    The power-cut campaign arms the board by writing a budget into its
    ``cut_file`` itself; :meth:`arm_step` arms it for the writes of the next
    STEP frame only (a scenario's ``power_cut_in_write`` step).

    It tells which frame a cut fell in by the last one written, so a host
    must not write the next STEP frame before the reply to the one before
    (``frames_ahead`` False; :attr:`BoardClient.steps_ahead`).
    """

    frames_ahead = False

    def __init__(self, board: VirtualBoard, on_cut: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.board = board
        self.inner: Link = SerialLink(board.port)
        self.name = self.inner.name
        self.on_cut = on_cut
        self.last_frame = b""
        self.step_budget: str | None = None   # armed for the next STEP frame's writes
        self.off_s = 0.0                        # virtual seconds off after that cut
        self._in_step = False

    def arm_step(self, budget: int, off_s: float = 0.0) -> None:
        """Cut the power after ``budget`` bytes of the first storage write the
        board makes while serving a STEP frame (0: an empty temporary file),
        and leave it off ``off_s`` virtual seconds. A STEP frame that writes
        nothing leaves it armed for the next one; no other frame is cut."""
        self.step_budget = str(budget)
        self.off_s = off_s

    def write(self, data: bytes) -> None:
        if len(data) >= 12 and data[0] == P.SOF:
            self.last_frame = bytes(data)
            self._in_step = self.step_budget is not None and data[2] == P.T_STEP
            if self._in_step:
                assert self.board.cut_file is not None
                self.board.cut_file.write_text(f"{self.step_budget}\n")
        self.inner.write(data)

    def read(self, max_bytes: int, timeout_s: float) -> bytes:
        deadline = time.monotonic() + timeout_s
        while True:
            data = self.inner.read(max_bytes, 0.02)
            if data:
                if self._in_step:
                    # The board stores before it replies: a budget it has
                    # not taken by now was not for this frame's writes.
                    self._in_step = False
                    assert self.board.cut_file is not None
                    self.board.cut_file.unlink(missing_ok=True)
                return data
            if not self.board.alive():
                raise self._reboot()
            if time.monotonic() >= deadline:
                return b""

    def _reboot(self) -> PowerLost:
        board = self.board
        assert board.cut_file is not None
        report = Path(str(board.cut_file) + ".report")
        try:
            note = json.loads(report.read_text())
            report.unlink()
        except (OSError, ValueError) as e:
            raise BoardError(f"the board died without a cut report ({e}): "
                             f"exit status {board.proc.returncode if board.proc else None}") from e
        self.step_budget = None
        self._in_step = False
        if self.on_cut is not None:
            self.on_cut(note)
        board.power_cut()      # already dead: only marks it off
        board.power_on()
        parser = frames.FrameParser()
        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline:
            data = self.inner.read(65536, 0.05)
            for f in parser.feed(data) if data else []:
                if f.ftype == P.T_BOOT:
                    notice = dict(json.loads(f.payload))
                    notice["last_tick"] = note["tick"]
                    notice["cut"] = {k: note[k] for k in ("name", "written", "size") if k in note}
                    if self.off_s:
                        notice["off_s"] = self.off_s
                    return PowerLost(notice, note)
        raise BoardError("no BOOT notice after the power came back")

    def close(self) -> None:
        self.inner.close()


# Board configs kept for the harness's own tests, with what a user should pick
# instead: fake-pico runs the rp2 HAL on the unix port against a stand-in
# machine module (hil/fakepico); pico-emu runs the same firmware, flashed as
# on a Pico, on an emulated RP2040 with the plant at its pins.
STAND_IN_BOARDS = {"fake-pico": "pico-emu"}


def stand_in_note(config: str | Path) -> str | None:
    """A one-line note if ``config`` names a board config kept for tests
    only (:data:`STAND_IN_BOARDS`), saying what to use instead; else None."""
    name = Path(str(config)).stem
    instead = STAND_IN_BOARDS.get(name)
    if instead is None:
        return None
    return (f"board '{name}' is a stand-in kept for the harness's tests (no pins, no real boot); "
            f"for the Pico firmware without hardware use --board {instead} (docs/pico-emu.md)")


def ram_dir() -> str | None:
    """Where a board's own flash folder goes: a RAM file system when the
    machine has one (``/dev/shm``), else the usual temporary folder.

    The firmware saves its record after STEP frames by writing a file and
    renaming it over the old one; on a disk file system (ext4) that rename
    forces the data out to the disk, which costs the closed loop a
    millisecond or more per frame (docs/benchmarks.md, "Where a tick goes").
    A RAM folder still outlives the board's process, which is all a power
    cut needs; the folder is removed when the board stops.
    """
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK | os.X_OK) else None


def serve(board: str = "virtual", heapsize: str = "192K", flash: Path | None = None) -> int:
    """``python -m hil board``: start a virtual board, print its port, wait."""
    note = stand_in_note(board)
    if note is not None:
        print(f"note: {note}", file=sys.stderr, flush=True)
    vb = VirtualBoard(board, heapsize, flash=flash)
    port = vb.start()
    print(port, flush=True)
    print(f"virtual board '{vb.board_path.stem}' running; open {port} with pyserial. "
          f"Flash in {vb.flash}. Ctrl-C stops it.", file=sys.stderr, flush=True)
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
