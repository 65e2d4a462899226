"""Flashing a real Pico: the plan mpremote carries out (no board needed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hil.board.flash import main, plan


@pytest.mark.parametrize("board", ["pico", "picow", "pico2"])
def test_plan_copies_compiled_modules_main_and_config(board: str) -> None:
    mkdir, copy = plan("/dev/ttyACM0", board)
    assert mkdir[-2] == "exec" and "'hal', 'devices'" in mkdir[-1]
    assert copy[1:3] == ["connect", "/dev/ttyACM0"]
    names = [Path(a).name for a in copy]
    assert "main.py" in names and "app.mpy" in names and "controller.mpy" in names
    assert "rp2.mpy" in names and "names.mpy" not in names and "names.py" not in names
    assert copy[-6:] == ["+", "cp", copy[-4], ":board.json", "+", "reset"]
    assert copy[-4].endswith(f"{board}.json")


def test_rp2350_gets_its_own_architecture() -> None:
    pico = plan("p", "pico")[1]
    pico2 = plan("p", "pico2")[1]
    assert any("armv6m" in a for a in pico) and any("armv7emsp" in a for a in pico2)


def test_bad_config_is_refused_before_anything_runs(tmp_path: Path, capsys) -> None:
    cfg = json.loads(Path("board-configs/pico.json").read_text())
    cfg["watchdog_ms"] = 9000          # above the RP2040's 8,388 ms
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(cfg))
    assert main(["--port", "/dev/ttyACM0", "--board", str(bad), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "bad.json" in err and "watchdog_ms" in err
    assert main(["--port", "/dev/ttyACM0", "--board", "virtual", "--dry-run"]) == 2
    assert "not a Pico" in capsys.readouterr().err


def test_a_port_that_does_not_exist_is_one_error_before_mpremote(capsys) -> None:
    from hil.board import flash

    assert flash.main(["--port", "/dev/ttyNOPE-hil"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "/dev/ttyNOPE-hil does not exist" in err[0]


def test_a_port_that_opens_has_no_problem() -> None:
    import os

    from hil.board.flash import port_problem

    master, slave = os.openpty()
    try:
        assert port_problem(os.ttyname(slave)) is None
        assert "cannot be opened" in port_problem("socket://127.0.0.1:1")
    finally:
        os.close(master)
        os.close(slave)
