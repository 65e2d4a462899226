"""The scenario reader takes the flow range from the board config the
scenario names (hil.board.firmware.TherapyLimits), and reads `verifies:`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hil.board.firmware import TherapyLimits
from hil.scenario import ScenarioError, loads


def _narrow_board(tmp_path: Path) -> Path:
    cfg = tmp_path / "narrow.json"
    cfg.write_text(json.dumps({"extends": "virtual", "name": "narrow",
                               "therapy": {"flow_min_ml_min": 180, "flow_max_ml_min": 400}}))
    return cfg


def _scenario(flow: int, board: Path | str = "virtual") -> str:
    return f"duration: 1 h\nboard: {{config: '{board}'}}\ndevice: {{flow_ml_min: {flow}}}\n"


def test_flow_range_is_the_board_configs(tmp_path: Path) -> None:
    cfg = _narrow_board(tmp_path)
    lim = TherapyLimits.of(cfg)
    assert (lim.flow_min_ml_min, lim.flow_max_ml_min) == (180, 400)
    assert loads(_scenario(400, cfg), "s.yaml").device.flow_ml_min == 400
    assert loads(_scenario(450, "virtual"), "s.yaml").device.flow_ml_min == 450
    for flow in (450, 170):
        with pytest.raises(ScenarioError) as e:
            loads(_scenario(flow, cfg), "s.yaml")
        assert e.value.line == 3
        assert "must be 180..400" in str(e.value) and "s.yaml:3" in str(e.value)


def test_an_unreadable_board_config_is_an_error_at_the_board_line(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError) as e:
        loads(_scenario(200, tmp_path / "missing.json"), "s.yaml")
    assert e.value.line == 2 and "cannot be read" in e.value.reason


def test_verifies_is_read_and_each_id_checked_with_its_line() -> None:
    sc = loads("name: x\nverifies: [SR-AIR-1, SR-SAFE-1]\nduration: 1 h\n", "x.yaml")
    assert sc.verifies == ("SR-AIR-1", "SR-SAFE-1")
    with pytest.raises(ScenarioError) as e:
        loads("name: x\nverifies:\n  - SR-AIR-1\n  - SR-AIR-99\nduration: 1 h\n", "x.yaml")
    assert str(e.value).startswith("x.yaml:4: unknown requirement id 'SR-AIR-99'")
    for bad, why in (("verifies: SR-AIR-1", "non-empty list"), ("verifies: []", "non-empty list"),
                     ("verifies: [3]", "must be text")):
        with pytest.raises(ScenarioError, match=why):
            loads(f"{bad}\nduration: 1 h\n", "y.yaml")
