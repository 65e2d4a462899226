"""Run every firmware test module inside the MicroPython VM too, with the
Pico's heap size. The stand-in ``machine`` module is the virtual board's,
hil/fakepico (with no board config on the command line it only records)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from hil.board.firmware import micropython_executable

HERE = Path(__file__).parent
ROOT = HERE.parent.parent
FAKE_PICO = ROOT / "hil" / "fakepico"
MODULES = sorted(p.stem for p in (HERE / "fwtests").glob("test_fw_*.py"))


@pytest.mark.parametrize("module", MODULES)
def test_module_passes_in_micropython(module: str) -> None:
    env = dict(os.environ, MICROPYPATH=os.pathsep.join(
        [".frozen", str(ROOT / "firmware"), str(HERE / "fwtests"), str(FAKE_PICO)]))
    proc = subprocess.run([micropython_executable(), "-X", "heapsize=192K", str(HERE / "mprun.py"),
                           module], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    out = proc.stdout + proc.stderr
    m = re.search(r"^RESULT (\d+) (\d+)$", proc.stdout, re.M)
    assert m is not None, f"no result line from MicroPython:\n{out}"
    passed, failed = int(m.group(1)), int(m.group(2))
    assert failed == 0 and proc.returncode == 0, out
    assert passed > 0, out
