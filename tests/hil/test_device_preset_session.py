"""The device preset meets the board config when a run is built: a host
cartridge model labelled for fewer hours than the board's cartridge_hours
fails before the board starts; the board's therapy limits reach the loop."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hil.board.firmware import BOARD_CONFIGS, TherapyLimits
from hil.board.providers import VirtualBoards
from hil.transport.client import BoardError
from hil.run.session import RunSetupError, Session, make_plant, patient_params


class NeverStarts:
    """A provider of a board config that must not be started."""

    def __init__(self, config: str) -> None:
        self.config = config

    def start(self) -> object:
        raise AssertionError("the board was started")


class Starts(NeverStarts):
    started = False

    def start(self) -> object:
        self.started = True
        return object()


def _short_board(tmp_path: Path, hours: int) -> Path:
    path = tmp_path / "short.json"
    cfg = {"extends": "virtual", "name": "short", "therapy": {"cartridge_hours": hours}}
    path.write_text(json.dumps(cfg))
    return path


def test_a_mismatch_fails_before_the_board_starts() -> None:
    session = Session(NeverStarts("virtual"), device="toraymyxin")
    with pytest.raises(RunSetupError) as e:
        session.start_board()
    msg = str(e.value)
    assert "'toraymyxin'" in msg and "2 h" in msg and "cartridge_hours = 24" in msg
    assert isinstance(e.value, BoardError) and isinstance(e.value, ValueError)
    assert session.board is None


def test_a_fitting_pair_starts(tmp_path: Path) -> None:
    provider = Starts(str(_short_board(tmp_path, 2)))
    session = Session(provider, device="toraymyxin")
    session.start_board()
    assert provider.started and session.device_checked
    provider = Starts("pico2")
    Session(provider, device="cytosorb").start_board()
    assert provider.started


def test_a_malformed_board_config_fails_as_a_setup_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"extends": "nowhere"}))
    with pytest.raises(RunSetupError, match="bad.json: extends: no board config 'nowhere'"):
        Session(NeverStarts(str(bad)), device="cytosorb").start_board()
    with pytest.raises(RunSetupError, match="bad.json: extends"):
        Session(VirtualBoards(str(bad))).start_board()


def test_without_a_preset_the_plants_adsorber_is_checked() -> None:
    session = Session(NeverStarts("virtual"))
    plant = make_plant(patient_params(70.0), "toraymyxin", 1, 0.1, 10.0)
    with pytest.raises(RunSetupError, match="'toraymyxin' allows at most 2 h"):
        session.closed_loop(plant)


def test_the_board_config_a_run_knows() -> None:
    assert Session(NeverStarts("pico2")).board_config() == "pico2"

    class OnAPort:
        pass

    s = Session(OnAPort())
    assert s.board_config() is None
    s.hello = {"board": "picow"}
    assert s.board_config() == "picow" and (BOARD_CONFIGS / "picow.json").exists()
    for name in ("../etc/passwd", "no-such-board", 7):
        s.hello = {"board": name}
        assert s.board_config() is None


def test_the_demo_refuses_a_mismatch_before_the_board_starts(monkeypatch) -> None:
    from hil.run.therapy import TherapyPlan, run_therapy

    def no_board(self: object) -> object:
        raise AssertionError("the board was started")

    monkeypatch.setattr(VirtualBoards, "start", no_board)
    with pytest.raises(RunSetupError, match="toraymyxin"):
        run_therapy(TherapyPlan(hours=1.0, device="toraymyxin"))


def test_a_scenario_with_a_mismatch_is_an_error_not_a_run() -> None:
    from hil.run.runner import run_scenario
    from hil.scenario import loads

    sc = loads("name: short_cartridge\nduration: 10 min\ndevice:\n  cartridge: toraymyxin\n",
               "short_cartridge.yaml")
    r = run_scenario(sc)
    assert r.outcome == "error" and "toraymyxin" in (r.error or "") and "cartridge_hours" in r.error


def test_the_limits_reach_the_loop() -> None:
    with Session(VirtualBoards("virtual"), device="cytosorb") as session:
        session.open()
        assert session.limits == TherapyLimits.of("virtual")
        loop = session.closed_loop(make_plant(patient_params(70.0), "cytosorb", 1, session.period_s, 10.0))
        assert loop.limits == session.limits and loop.max_cartridges == 7
        assert loop.flowing_threshold == 500          # 50 mL/min in 0.1 mL/min counts
