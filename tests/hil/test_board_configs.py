"""Board configs that extend a base (board-configs/pico.json): the merge
rule, resolved in one place on the host (hil.board.firmware) and by the
firmware's own board.py, what reaches a board, and hostile configs that
must never act."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hil.board.firmware import (BOARD_CONFIGS, ConfigError, TherapyLimits, firmware_module,
                                load_board_config, resolve_board_config, write_resolved_config)
from hil.board.flash import plan

PICO = json.loads((BOARD_CONFIGS / "pico.json").read_text())
# What each variant of the family differs in from pico.json.
VARIANTS = {
    "picow": {"name": "picow", "wireless": True},
    "pico2": {"name": "pico2", "mcu": "rp2350", "march": "armv7emsp", "watchdog_ms": 4000},
    "fake-pico": {"name": "fake-pico", "test_mode": True},
    "pico-pil": {"name": "pico-pil", "hal": "sim", "test_mode": True},
}


def _write(folder: Path, name: str, cfg: object) -> Path:
    path = folder / f"{name}.json"
    path.write_text(cfg if isinstance(cfg, str) else json.dumps(cfg))
    return path


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_variants_say_only_what_differs_from_the_pico(name: str) -> None:
    raw = json.loads((BOARD_CONFIGS / f"{name}.json").read_text())
    assert raw["extends"] == "pico"
    assert set(raw) - {"extends", "_about"} == set(VARIANTS[name])
    cfg = load_board_config(name)
    assert "extends" not in cfg
    want = {**PICO, **VARIANTS[name]}
    assert {k: v for k, v in cfg.items() if k != "_about"} == want


def test_pico_and_virtual_are_complete() -> None:
    for name in ("pico", "virtual"):
        raw = json.loads((BOARD_CONFIGS / f"{name}.json").read_text())
        assert "extends" not in raw
        assert load_board_config(name) == raw


@pytest.mark.parametrize("name", ["pico", "picow", "pico2", "fake-pico", "pico-pil", "virtual"])
def test_the_firmware_resolves_the_shipped_configs_as_the_host_does(name: str) -> None:
    board = firmware_module("board")
    assert board.load(str(BOARD_CONFIGS / f"{name}.json")) == load_board_config(name)


def test_deep_merge_objects_key_by_key_values_replaced(tmp_path: Path) -> None:
    _write(tmp_path, "mine", {"extends": "pico", "name": "mine",
                              "limits": {"delays_ms": {"air": 200}},
                              "calibration": {"pressure": {"access": [32000, 150]}},
                              "therapy": {"max_cartridges": 5}})
    cfg = load_board_config(tmp_path / "mine.json")
    assert cfg["limits"]["delays_ms"]["air"] == 200
    assert cfg["limits"]["delays_ms"]["no_flow"] == PICO["limits"]["delays_ms"]["no_flow"]
    assert cfg["limits"]["access_low_mmhg"] == PICO["limits"]["access_low_mmhg"]
    assert cfg["calibration"]["pressure"] == {**PICO["calibration"]["pressure"], "access": [32000, 150]}
    assert TherapyLimits.of(tmp_path / "mine.json").max_cartridges == 5


def test_a_chain_and_a_config_elsewhere_that_extends_a_shipped_one(tmp_path: Path) -> None:
    # Beside it first; else board-configs/: even one of its own name.
    _write(tmp_path, "pico", {"extends": "pico", "watchdog_ms": 3000})
    _write(tmp_path, "bench", {"extends": "pico", "name": "bench", "test_mode": True})
    cfg = load_board_config(tmp_path / "bench.json")
    assert (cfg["name"], cfg["watchdog_ms"], cfg["test_mode"], cfg["hal"]) == ("bench", 3000, True, "rp2")
    assert load_board_config(tmp_path / "pico.json")["name"] == "pico"


def test_therapy_limits_of_the_shipped_configs() -> None:
    for name in ("pico", "picow", "pico2", "fake-pico", "pico-pil", "virtual"):
        lim = TherapyLimits.of(name)
        assert (lim.flow_min_ml_min, lim.flow_max_ml_min, lim.flow_default_ml_min) == (150, 500, 200)
        assert (lim.cartridge_hours, lim.max_cartridges, lim.therapy_hours) == (24, 7, 168)
        assert lim.flowing_ml_min == 50


# -- hostile configs: a clear error naming the file and the key ------------------------------


@pytest.mark.parametrize("extends, match", [
    (7, r"extends must name a board config"),
    ("", r"extends must name a board config"),
    ("../board-configs/pico", r"extends must name a board config"),
    ("pico.json", r"extends must name a board config"),
    (["pico"], r"extends must name a board config"),
    ("no-such-base", r"extends: no board config 'no-such-base' \(looked for .*no-such-base.json"),
])
def test_bad_or_missing_base(tmp_path: Path, extends: object, match: str) -> None:
    path = _write(tmp_path, "bad", {"extends": extends, "name": "bad"})
    with pytest.raises(ConfigError, match=match) as e:
        load_board_config(path)
    assert "bad.json" in str(e.value)


def test_cycles(tmp_path: Path) -> None:
    _write(tmp_path, "a", {"extends": "b"})
    _write(tmp_path, "b", {"extends": "c"})
    _write(tmp_path, "c", {"extends": "a"})
    cycle = r"c.json: extends: a cycle, .*a.json -> .*b.json -> .*c.json -> .*a.json"
    with pytest.raises(ConfigError, match=cycle):
        resolve_board_config(tmp_path / "a.json")
    # A config that extends only itself, with no shipped config of its name.
    _write(tmp_path, "selfish", {"extends": "selfish"})
    with pytest.raises(ConfigError, match=r"selfish.json: extends: no board config 'selfish'"):
        resolve_board_config(tmp_path / "selfish.json")


def test_the_firmware_names_file_and_key_too(tmp_path: Path) -> None:
    board = firmware_module("board")
    _write(tmp_path, "a", {"extends": "b"})
    _write(tmp_path, "b", {"extends": "a"})
    with pytest.raises(board.ConfigError, match=r"b.json: extends: a cycle"):
        board.load(str(tmp_path / "a.json"))
    _write(tmp_path, "lonely", {"extends": "pico"})   # no pico.json beside it: the board looks nowhere else
    with pytest.raises(board.ConfigError, match=r"lonely.json: extends: no board config 'pico' \(looked"):
        board.load(str(tmp_path / "lonely.json"))


@pytest.mark.parametrize("over, match", [
    ({"pins": 5}, r"wrong.json: pins must be an object, as in the config it extends"),
    ({"period_ms": {"ms": 100}}, r"wrong.json: period_ms must not be an object"),
    ({"limits": {"delays_ms": [1, 2]}}, r"wrong.json: limits.delays_ms must be an object"),
    ({"period_ms": "100"}, r"wrong.json: period_ms must be an integer"),
    ({"watchdog_ms": 9000}, r"wrong.json: watchdog_ms must be an integer 0..8388 on rp2040"),
    ({"pins": {"pump_pwm": 26}}, r"wrong.json: pin 26 is used twice"),
])
def test_wrong_types_after_the_merge(tmp_path: Path, over: dict, match: str) -> None:
    path = _write(tmp_path, "wrong", {"extends": "pico", **over})
    with pytest.raises(ConfigError, match=match):
        load_board_config(path)


def test_malformed_files_in_the_chain(tmp_path: Path) -> None:
    _write(tmp_path, "base", "{ not json")
    _write(tmp_path, "top", {"extends": "base"})
    with pytest.raises(ConfigError, match=r"base.json: not valid JSON"):
        load_board_config(tmp_path / "top.json")
    _write(tmp_path, "base", "[1, 2]")
    with pytest.raises(ConfigError, match=r"base.json: the top level must be an object"):
        load_board_config(tmp_path / "top.json")


def test_a_malformed_config_never_reaches_a_board(tmp_path: Path, capsys) -> None:
    from hil.board.flash import main
    from hil.board.virtual import VirtualBoard

    path = _write(tmp_path, "broken", {"extends": "pico", "pins": 5})
    with pytest.raises(ConfigError, match="broken.json: pins"):
        VirtualBoard(str(path))
    assert main(["--port", "/dev/ttyACM0", "--board", str(path), "--dry-run"]) == 2
    assert "broken.json: pins" in capsys.readouterr().err


# -- what reaches a board --------------------------------------------------------------------


@pytest.mark.parametrize("name", ["pico", "picow", "pico2"])
def test_flash_copies_the_resolved_config(name: str) -> None:
    copy = plan("/dev/ttyACM0", name)[1]
    sent = Path(copy[-4])
    assert copy[-3] == ":board.json" and sent.name == f"{name}.json"
    assert json.loads(sent.read_text()) == load_board_config(name)


def test_write_resolved_config(tmp_path: Path) -> None:
    out = write_resolved_config("pico2", tmp_path / "x")
    assert out == tmp_path / "x" / "pico2.json"
    assert json.loads(out.read_text()) == load_board_config("pico2")


def test_the_virtual_board_gets_a_merged_file(tmp_path: Path) -> None:
    from hil.board.virtual import VirtualBoard
    from hil.transport.client import BoardClient
    from hil.transport.link import SerialLink

    _write(tmp_path, "quick", {"extends": "fake-pico", "name": "quick", "link_timeout_s": 3})
    vb = VirtualBoard(str(tmp_path / "quick.json"))
    assert vb.config["hal"] == "rp2" and vb.config["link_timeout_s"] == 3
    vb.start()
    try:
        given = vb.config_file
        assert given != vb.board_path and json.loads(given.read_text()) == vb.config
        link = SerialLink(vb.port)
        try:
            hello = BoardClient(link, timeout_s=10.0).hello()
        finally:
            link.close()
        assert (hello["board"], hello["hal"], hello["test_mode"]) == ("quick", "rp2", True)
    finally:
        vb.stop()
    assert not given.exists()
    assert VirtualBoard("virtual").config_file == BOARD_CONFIGS.resolve() / "virtual.json"
