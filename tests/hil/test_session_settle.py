"""Run after run on one board: before each run the session checks the
board's settings against the run's and brings a board on the host's clock
to a known state (stop, then the test-mode reset ``test_reset``), so that
``hil run --port P A B`` passes on one virtual board started apart
(as ``hil board`` does), and a configuration mismatch is refused before
anything runs, naming both values."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hil.board.providers import SerialPortBoards
from hil.board.virtual import VirtualBoard
from hil.run.runner import RunOptions, run_scenario
from hil.run.session import RunSetupError, Session
from hil.scenario import load
from hil.transport import frames
from hil.transport.client import BoardClient, BoardRefused
from hil.transport.link import SerialLink

C = frames.C
ROOT = Path(__file__).resolve().parents[2]


def _hello(port: str) -> dict:
    link = SerialLink(port)
    try:
        return BoardClient(link).hello()
    finally:
        link.close()


def test_hil_run_two_scenarios_in_a_row_on_one_port_board(tmp_path: Path) -> None:
    from hil.cli import main

    names = ("air_in_return_line", "return_pressure_low_disconnection")
    with VirtualBoard("virtual") as vb:
        rc = main(["run", "--port", vb.port, *names, "--out", str(tmp_path), "--quiet"])
        after = _hello(vb.port)
        resets = vb.resets
    records = [json.loads((tmp_path / f"{n}.json").read_text()) for n in names]
    assert rc == 0 and [r["outcome"] for r in records] == ["pass", "pass"]
    # The first ran on the fresh board; the second on the same board, reset
    # (which erases the stored therapy, its boot count with it).
    first, second = (r["firmware"] for r in records)
    assert first["boot"]["boots"] == 1 and second["tick"] == 0 and second["state"] == C.IDLE
    assert resets == 1 and after["tick"] > 0
    # The records name the build, the machine and the config the runs had.
    assert first["build"] == second["build"] == after["build"] and first["machine"]
    assert first["config"] == second["config"] and first["micropython"].startswith("MicroPython")


def test_a_refused_scenario_does_not_stop_the_ones_after_it(tmp_path: Path) -> None:
    from hil.cli import main

    names = ("anticoagulation_raschke_table", "air_in_return_line")
    with VirtualBoard("virtual") as vb:
        rc = main(["run", "--port", vb.port, *names, "--out", str(tmp_path), "--quiet"])
    refused, ran = (json.loads((tmp_path / f"{n}.json").read_text()) for n in names)
    # The board answered and was refused for its table; the next one ran on it.
    assert rc == 1 and refused["outcome"] == "error" and "'raschke'" in refused["error"]
    assert ran["outcome"] == "pass"


def test_a_settings_mismatch_is_refused_naming_both_values() -> None:
    sc = load(ROOT / "scenarios" / "anticoagulation_raschke_table.yaml")
    with VirtualBoard("virtual") as vb:
        r = run_scenario(sc, RunOptions(port=vb.port))
        hello = _hello(vb.port)
    assert r.outcome == "error" and "RunSetupError" in r.error
    assert "'raschke'" in r.error and "'cartridge-60-80'" in r.error
    assert hello["tick"] == 0 and vb.resets == 0     # nothing ran


def _busy(port: str) -> None:
    """Move the board off its fresh state: weight set and priming."""
    link = SerialLink(port)
    try:
        client = BoardClient(link)
        assert client.command(C.CMD_SET_WEIGHT, 700).result == C.OK
        assert client.command(C.CMD_PRIME).result == C.OK
        client.step(1, bytes(10))
    finally:
        link.close()


def test_a_busy_board_is_stopped_and_reset_before_the_run() -> None:
    with VirtualBoard("virtual") as vb:
        _busy(vb.port)
        with Session(SerialPortBoards(vb.port)) as session:
            hello = session.open()
        assert hello["tick"] == 0 and hello["state"] == C.IDLE and not hello["boot"]["restored"]
        assert vb.resets == 1
        status = None
        link = SerialLink(vb.port)
        try:
            status = BoardClient(link).status().status
        finally:
            link.close()
    assert status.weight == 0 and status.state == C.IDLE   # the stored therapy is gone


def test_a_busy_board_outside_test_mode_is_refused(tmp_path: Path) -> None:
    cfg = tmp_path / "bench.json"
    cfg.write_text(json.dumps({"extends": "virtual", "name": "bench", "test_mode": False}))
    with VirtualBoard(cfg) as vb:
        _busy(vb.port)
        with pytest.raises(RunSetupError) as e:
            with Session(SerialPortBoards(vb.port)) as session:
                session.open()
        link = SerialLink(vb.port)
        try:
            client = BoardClient(link)
            with pytest.raises(BoardRefused) as refused:
                client.test_reset(timeout_s=2.0)
        finally:
            link.close()
    assert "not in test mode" in str(e.value) and "priming" in str(e.value)
    assert "test_mode_only" in str(refused.value) and vb.resets == 0


def test_older_firmware_is_judged_by_the_shipped_config_it_names() -> None:
    session = Session(SerialPortBoards("/dev/null"), settings={"anticoagulation": "raschke"})
    with pytest.raises(RunSetupError, match="'raschke'.*has 'cartridge-60-80'"):
        session.check_settings({"board": "virtual"})            # a HELLO without settings
    session.check_settings({"board": "no-such-board"})          # unknown: nothing to check
    session.check_settings({"settings": {"anticoagulation": "raschke"}})
