"""Put the firmware on a real Pico with mpremote: resolve the board config
(its ``extends`` chain merged in) and check it, compile the modules for the
board's CPU, copy them (with their folders hal/ and devices/) with main.py
and the resolved config (as board.json), then reset the board.

    python -m hil.board.flash --port /dev/ttyACM0 --board pico [--dry-run]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from hil.board.build import board_march, build_for_board
from hil.board.firmware import board_config_path, load_board_config, write_resolved_config


def mpremote() -> str:
    exe = Path(sys.executable).parent / "mpremote"
    return str(exe) if exe.exists() else "mpremote"


_MKDIRS = "import os; 'devices' in os.listdir() or os.mkdir('devices')"


def plan(port: str, board: str) -> list[list[str]]:
    """The mpremote command lines that flash ``board`` onto ``port``.

    The board gets its config resolved: a file of its own name holding the
    merged config, written to a fresh temporary folder.

    Raises:
        ValueError: the board config is missing, its ``extends`` chain is
            broken, or it fails its schema (ConfigError, naming file and key).
        OSError: the config cannot be read.
    """
    path = board_config_path(board)
    cfg = load_board_config(board)        # raises ConfigError (a ValueError) naming file and key
    if board_march(board) == "x64":
        raise ValueError(f"{path}: board {cfg['name']!r} is not a Pico (mcu {cfg.get('mcu')})")
    resolved = write_resolved_config(board, Path(tempfile.mkdtemp(prefix="hil-flash-")))
    build = build_for_board(board)   # the build make compile BOARD=... makes
    files = sorted(p for p in build.rglob("*") if p.is_file())
    top = [str(p) for p in files if p.parent == build]
    folders = ("hal", "devices")
    base = [mpremote(), "connect", port]
    copy = ["cp", *top, ":"]
    for d in folders:
        copy += ["+", "cp", *[str(p) for p in files if p.parent.name == d], f":{d}/"]
    return [
        # mpremote's mkdir fails on a folder that exists (and ends the
        # chain): the devices folder is made by a script that tolerates it.
        base + ["exec", _MKDIRS, "+", "mkdir", ":hal"],
        base + copy + ["+", "cp", str(resolved), ":board.json", "+", "reset"],
    ]


def port_problem(port: str) -> str | None:
    """Why ``port`` cannot be flashed (it does not exist, or it cannot be
    opened), in one line; None if it opens. Checked once, before mpremote
    runs, so a wrong port gives one error rather than one per command."""
    import serial

    if port.startswith("/") and not Path(port).exists():
        return f"serial port {port} does not exist; 'python -m hil ports' lists the serial ports"
    try:
        serial.serial_for_url(port, timeout=0).close()
    except (serial.SerialException, OSError, ValueError) as e:
        return f"serial port {port} cannot be opened ({e}); is another program using it?"
    return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m hil.board.flash", description=__doc__.split("\n\n")[0])
    ap.add_argument("--port", required=True, help="serial port of the Pico, e.g. /dev/ttyACM0")
    ap.add_argument("--board", default="pico", help="board config name or JSON path")
    ap.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    args = ap.parse_args(argv)
    try:
        steps = plan(args.port, args.board)
    except (ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if not args.dry_run:
        problem = port_problem(args.port)
        if problem:
            print(f"error: {problem}", file=sys.stderr)
            return 2
    for i, cmd in enumerate(steps):
        print(" ".join(cmd))
        if args.dry_run:
            continue
        if shutil.which(cmd[0]) is None and not Path(cmd[0]).exists():
            print("error: mpremote is not installed", file=sys.stderr)
            return 2
        proc = subprocess.run(cmd)
        # The folder may already exist: only the copy must succeed.
        if proc.returncode and i > 0:
            print(f"error: mpremote failed ({proc.returncode})", file=sys.stderr)
            return proc.returncode
    return 0


if __name__ == "__main__":
    sys.exit(main())
