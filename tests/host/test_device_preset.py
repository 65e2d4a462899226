"""A host device preset checked against a board config (hil.board.firmware.check_device_preset)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hil.board.firmware import BOARD_CONFIGS, DevicePresetMismatch, check_device_preset


@pytest.mark.parametrize("preset", ["cytosorb", "oxiris", "pmma", "sham", "CytoSorb"])
def test_24_h_presets_fit_every_shipped_board(preset: str) -> None:
    for board in ("virtual", "pico", "picow", "pico2", "fake-pico"):
        check_device_preset(preset, board)


def test_short_preset_on_a_24_h_board_names_both_values() -> None:
    with pytest.raises(DevicePresetMismatch) as e:
        check_device_preset("toraymyxin", "virtual")
    msg = str(e.value)
    assert "'toraymyxin'" in msg and "2 h" in msg
    assert "'virtual'" in msg and "cartridge_hours = 24" in msg


def test_loaded_config_and_path(tmp_path: Path) -> None:
    cfg = json.loads((BOARD_CONFIGS / "virtual.json").read_text())
    cfg["therapy"]["cartridge_hours"] = 2
    check_device_preset("toraymyxin", cfg)
    path = tmp_path / "short.json"
    path.write_text(json.dumps(cfg))
    check_device_preset("toraymyxin", str(path))
    cfg["therapy"]["cartridge_hours"] = 3
    with pytest.raises(DevicePresetMismatch, match="cartridge_hours = 3"):
        check_device_preset("toraymyxin", cfg)
    del cfg["therapy"]["cartridge_hours"]
    with pytest.raises(DevicePresetMismatch, match="missing"):
        check_device_preset("cytosorb", cfg)


def test_unknown_preset() -> None:
    with pytest.raises(KeyError, match="unknown device preset"):
        check_device_preset("nope", "virtual")
