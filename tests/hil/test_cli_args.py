"""The command line's checks and listings (no board is started): argument
ranges as one-line errors, "did you mean" for scenarios, tags and boards,
the port checked before anything runs, ``hil list`` wrapping whole words
and showing steps and actions, ``hil ports``, and the run's progress."""

from __future__ import annotations

import pytest

from hil.cli import main
from hil.cliargs import RunProgress
from hil.scenario import load
from hil.scenario.actions import ACTIONS


def _error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    """Run the CLI expecting a usage error; return its one line."""
    try:
        rc = main(argv)
    except SystemExit as e:        # argparse's own errors
        rc = e.code
    out, err = capsys.readouterr()
    assert rc == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.mark.parametrize("speed", ["0", "-5", "1e9", "nan", "fast"])
def test_speed_out_of_range_is_one_line(capsys: pytest.CaptureFixture[str], speed: str) -> None:
    line = _error(capsys, ["run", "--speed", speed, "setup_only"])
    assert line.startswith("hil run: error: argument --speed: ") and speed in line


@pytest.mark.parametrize("argv, arg", [(["demo", "--flow", "900"], "--flow"),
                                       (["demo", "--max-batch", "0"], "--max-batch"),
                                       (["demo", "--hours", "0"], "--hours"),
                                       (["board", "--speed", "-1"], "--speed")])
def test_other_ranges(capsys: pytest.CaptureFixture[str], argv: list[str], arg: str) -> None:
    assert f"error: argument {arg}: must be" in _error(capsys, argv)


def test_unknown_scenario_tag_and_board_get_suggestions(capsys: pytest.CaptureFixture[str]) -> None:
    assert "did you mean air_in_return_line?" in _error(capsys, ["run", "air_in_retrun_line"])
    assert "did you mean protective?" in _error(capsys, ["list", "-k", "protectve"])
    line = _error(capsys, ["run", "--board", "pico3", "setup_only"])
    assert "unknown board config 'pico3' (did you mean pico" in line and "known: " in line


def test_a_missing_port_is_one_error_and_nothing_runs(capsys: pytest.CaptureFixture[str], tmp_path) -> None:
    out = tmp_path / "out"
    line = _error(capsys, ["run", "--port", str(tmp_path / "ttyACM9"), "--out", str(out),
                           "power_cut_mid_therapy", "air_in_return_line"])
    assert line == f"hil run: error: serial port {tmp_path / 'ttyACM9'} does not exist; " \
                   "'hil ports' lists the serial ports"
    assert not out.exists()


@pytest.mark.parametrize("columns", [100, 75])
def test_list_wraps_whole_words_and_shows_steps(capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch, columns: int) -> None:
    monkeypatch.setenv("COLUMNS", str(columns))
    assert main(["list", "--steps", "power_cut_mid_therapy"]) == 0
    lines = capsys.readouterr().out.splitlines()
    sc = load("scenarios/power_cut_mid_therapy.yaml")
    start = lines[0].index("description")
    body = [ln[start:] for ln in lines[1:-1]]
    steps = body.index(next(ln for ln in body if ln.startswith("- at ")))
    text = " ".join(body[:steps])
    assert text == " ".join(sc.description.split())            # nothing cut, every word whole
    assert all(len(ln) <= max(columns, start + 40) for ln in lines)   # at least 40 wide
    assert " ".join(ln.strip() for ln in body[steps:]) == f"- at {sc.steps[0].at}: {sc.steps[0].describe()}"


def test_list_actions_shows_the_registry(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "--actions"]) == 0
    out = capsys.readouterr().out
    assert all(f"`{a.example}`" in out for a in ACTIONS.values())


def test_ports_lists_what_pyserial_sees(capsys: pytest.CaptureFixture[str]) -> None:
    from serial.tools import list_ports

    assert main(["ports"]) == 0
    out = capsys.readouterr().out.splitlines()
    seen = [ln.split()[0] for ln in out[1:]] if out[0].startswith("port") else []
    assert seen == sorted(p.device for p in list_ports.comports())


def test_run_progress_adds_up_its_parts() -> None:
    bar = RunProgress("scenarios", 300.0)
    first = bar.part("a", 100.0)
    first(50.0, 100.0)
    task = bar.bar.tasks[0]
    assert task.completed == 50.0 and task.description == "a"
    second = bar.part("b", 200.0)              # "a" ended early: b starts after a's 100 s
    assert task.completed == 100.0
    second(150.0, 200.0)
    assert task.completed == 250.0 and task.description == "b"
    bar.close()
    assert task.completed == 300.0 and task.finished
