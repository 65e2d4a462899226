"""Flash the firmware onto an emulated Pico the way ``make flash`` does it:
``hil.board.flash``'s mpremote commands, over the pseudo-terminal of an
emulated Pico that starts from MicroPython's UF2 on erased flash. Nothing
is put in the flash any other way.

The result, a flash image with the firmware, ``main.py`` and ``board.json``
in MicroPython's littlefs, is kept under ``out/pico-emu/images/``, named by
what went into it (the firmware build, the resolved board config, the UF2,
the emulator's sources), so that a run of scenarios flashes once; each run
starts from a copy.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import time
from pathlib import Path
from typing import Any

from hil.board.firmware import ROOT, board_config_path
from hil.board.pico_emu import EMULATOR_DIR, SHA256, UF2, EmulatorError, load_config

IMAGES = ROOT / "out" / "pico-emu" / "images"
STEP_TIMEOUT_S = 300
KEEP_IMAGES = 3


def image_key(board: str) -> str:
    """What a flashed image depends on, hashed."""
    from hil.board.build import compile_firmware

    h = hashlib.sha256()
    h.update(compile_firmware("armv6m").name.encode())   # content-hashed build folder
    h.update(repr(sorted(load_config(board).items())).encode())
    h.update(SHA256[UF2].encode())
    for f in sorted(EMULATOR_DIR.glob("*.mjs")) + [EMULATOR_DIR / "package-lock.json"]:
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def flash_over_port(port: str, board: str, log: Any = None) -> None:
    """Run ``make flash``'s commands (``hil.board.flash.plan``) on ``port``.

    Raises:
        EmulatorError: a copy failed (the folder step may fail: it exists).
    """
    from hil.board.flash import plan

    for i, cmd in enumerate(plan(port, board)):
        proc = subprocess.run(cmd, stdout=log or subprocess.DEVNULL, stderr=subprocess.STDOUT,
                              timeout=STEP_TIMEOUT_S)
        if proc.returncode and i > 0:
            raise EmulatorError(f"mpremote failed ({proc.returncode}): {' '.join(cmd)}")


def wait_hello(port: str, timeout_s: float = 60.0) -> dict[str, Any]:
    """The HELLO of the controller on ``port`` once it has booted."""
    from hil.transport.client import BoardClient, BoardError
    from hil.transport.link import LinkError, SerialLink

    deadline = time.monotonic() + timeout_s
    while True:
        link = SerialLink(port)
        try:
            return BoardClient(link, timeout_s=2.0, retries=0).hello()
        except (BoardError, LinkError):
            if time.monotonic() > deadline:
                raise
        finally:
            link.close()


def flash_image(board: str, out: Path, log: Path | None = None) -> dict[str, Any]:
    """Flash a fresh emulated Pico (MicroPython's UF2 on erased flash) with
    ``make flash``'s commands, check that it boots into the controller, and
    leave its flash image in ``out``. Returns the controller's HELLO."""
    from hil.board.pico_pty import bridge_for

    if out.exists():
        out.unlink()
    emu, bridge = bridge_for(out, speed=1.0, log=log)
    try:
        logf = open(log, "ab") if log is not None else None
        try:
            flash_over_port(bridge.port, board, logf)
        finally:
            if logf is not None:
                logf.close()
        return wait_hello(bridge.port)
    finally:
        bridge.stop()
        emu.stop()


def flashed_image(board: str = "pico-emu", log: Path | None = None) -> Path:
    """The flash image of an emulated Pico flashed with ``board`` (made once)."""
    name = board_config_path(board).stem
    image = IMAGES / f"{name}-{image_key(board)}.img"
    if image.exists():
        return image
    IMAGES.mkdir(parents=True, exist_ok=True)
    tmp = image.with_name(f"{image.name}.{os.getpid()}.tmp")
    try:
        flash_image(board, tmp, log)
        os.replace(tmp, image)
    finally:
        if tmp.exists():
            tmp.unlink()
    # Keep the last few images of this config (each firmware change makes one).
    old = sorted(IMAGES.glob(f"{name}-*.img"), key=lambda p: p.stat().st_mtime, reverse=True)
    for stale in old[KEEP_IMAGES:]:
        stale.unlink(missing_ok=True)
    return image


__all__ = ["IMAGES", "flash_image", "flash_over_port", "flashed_image", "image_key", "wait_hello"]
