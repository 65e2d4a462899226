"""Put the firmware on a real Pico with mpremote: resolve the board config
(its ``extends`` chain merged in) and check it, compile the modules for the
board's CPU, copy them (with their folders hal/ and devices/) with main.py
and the resolved config (as board.json), then reset the board.

A board that already runs the controller ignores Ctrl-C (frames carry
0x03), so mpremote cannot take it over: if the port answers HELLO, the
board is first asked for maintenance (CMD_MAINTENANCE, docs/protocol.md),
restarts to its REPL once, and is flashed from there; a board in therapy
refuses, and nothing is flashed. A board that does not answer HELLO (a
fresh MicroPython) is flashed straight away.

    python -m hil.board.flash --port /dev/ttyACM0 --board pico [--dry-run]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from hil.board.build import board_march, build_for_board
from hil.board.firmware import board_config_path, load_board_config, write_resolved_config
from hil.transport.client import BoardClient, BoardError
from hil.transport.frames import C, Reply
from hil.transport.link import LinkError, SerialLink


def mpremote() -> str:
    exe = Path(sys.executable).parent / "mpremote"
    return str(exe) if exe.exists() else "mpremote"


# The folders, made where missing (mpremote's own mkdir fails, loudly, on
# one that exists).
_MKDIRS = "import os\nfor d in ('hal', 'devices'):\n    d in os.listdir() or os.mkdir(d)"


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
        base + ["exec", _MKDIRS],
        base + copy + ["+", "cp", str(resolved), ":board.json", "+", "reset"],
    ]


# HELLO is tried for at most PROBE_TIMEOUT_S * (PROBE_RETRIES + 1) seconds.
# Its frame (seq 1, resent as is) holds no Ctrl-B, Ctrl-C or Ctrl-D: typed
# into a REPL it can make no soft reset that would start main.py.
PROBE_TIMEOUT_S = 1.0
PROBE_RETRIES = 1
REPL_TIMEOUT_S = 60.0
REPL_MARKS = (b"maintenance mode", b">>> ")


class NotFlashed(RuntimeError):
    """The board cannot be taken over for flashing; nothing was flashed."""


def _refusal(port: str, hello: dict[str, Any], reply: Reply) -> str:
    """Why the board refused maintenance, in one line."""
    result = reply.result
    state = reply.status.state_name
    names = C.RESULT_NAMES
    why = names[result] if 0 <= result < len(names) else f"result {result}"
    if result == C.E_STATE:
        return (f"the board on {port} is in state {state}: a therapy is under way "
                "(maintenance only from idle); nothing was flashed")
    if result == C.E_UNSUPPORTED:
        return (f"the board on {port} (hal {hello.get('hal')}) is not a Pico: it has no maintenance "
                "mode and nothing to flash; nothing was flashed")
    if result == C.E_UNKNOWN:
        return (f"the firmware on {port} ({hello.get('firmware')}) has no maintenance command; "
                "erase it by BOOTSEL (flash_nuke.uf2, then MicroPython's UF2) and flash it again; "
                "nothing was flashed")
    return (f"the board on {port} (hal {hello.get('hal')}, state {state}) refused maintenance "
            f"({why}); nothing was flashed")


def wait_repl(port: str, timeout_s: float = REPL_TIMEOUT_S) -> None:
    """Wait until MicroPython's REPL answers on ``port``: the maintenance
    line, or the prompt a carriage return brings. The port may vanish and
    come back meanwhile (a Pico's USB while it resets).

    Raises:
        NotFlashed: no REPL within ``timeout_s``.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            link = SerialLink(port)
        except LinkError:
            time.sleep(0.2)
            continue
        seen = b""
        try:
            while time.monotonic() < deadline:
                # Before the reset this reaches the controller, which skips it.
                link.write(b"\r")
                seen = (seen + link.read(4096, 0.5))[-256:]
                if any(m in seen for m in REPL_MARKS):
                    return
        except LinkError:
            time.sleep(0.2)
        finally:
            link.close()
    raise NotFlashed(f"the board on {port} did not come back to its REPL within {timeout_s:g} s; "
                     "nothing was flashed")


def enter_maintenance(port: str, repl_timeout_s: float = REPL_TIMEOUT_S) -> dict[str, Any] | None:
    """Make the board on ``port`` ready for mpremote. If it answers HELLO
    (the controller runs), ask it for maintenance and wait for its REPL;
    return its HELLO. None: it does not speak protocol v1 (a REPL already).

    Raises:
        NotFlashed: the board refused (a therapy under way, a virtual board,
            a firmware without the command) or did not come back.
    """
    link = SerialLink(port)
    try:
        client = BoardClient(link, timeout_s=PROBE_TIMEOUT_S, retries=PROBE_RETRIES)
        try:
            hello = client.hello()
        except BoardError:
            return None
        try:
            reply = client.command(C.CMD_MAINTENANCE)
        except BoardError as e:
            raise NotFlashed(f"the board on {port} did not answer the maintenance command ({e}); "
                             "nothing was flashed") from e
    finally:
        link.close()
    if reply.result != C.OK:
        raise NotFlashed(_refusal(port, hello, reply))
    wait_repl(port, repl_timeout_s)
    return hello


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
        try:
            hello = enter_maintenance(args.port)
        except (NotFlashed, LinkError) as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
        if hello is not None:
            print(f"{hello.get('board')} ran the controller ({hello.get('firmware')}): "
                  "restarted to its REPL in maintenance mode")
    else:
        print("# if the port answers HELLO: CMD_MAINTENANCE, then wait for the REPL")
    for cmd in steps:
        print(" ".join(cmd))
        if args.dry_run:
            continue
        if shutil.which(cmd[0]) is None and not Path(cmd[0]).exists():
            print("error: mpremote is not installed", file=sys.stderr)
            return 2
        proc = subprocess.run(cmd)
        if proc.returncode:
            print(f"error: mpremote failed ({proc.returncode})", file=sys.stderr)
            return proc.returncode
    return 0


if __name__ == "__main__":
    sys.exit(main())
