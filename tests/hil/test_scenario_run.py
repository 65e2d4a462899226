"""Scenario runs on the virtual board: a scenario whose expectation is
broken on purpose fails, saying which expectation, at what virtual time,
and what was seen; the command line lists, runs and reports."""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from hil.cli import main
from hil.output.record import record_dict, write_record
from hil.run.runner import RunOptions, run_scenario
from hil.scenario import load, loads

BROKEN = Path("tests/hil/data/broken_expectation.yaml")


@pytest.fixture(scope="module")
def broken():
    return run_scenario(load(BROKEN))


def test_broken_expectation_says_which_when_and_what_was_seen(broken) -> None:
    assert broken.outcome == "fail"
    (msg,) = broken.failure_messages()
    # Which expectation (file, line, its text) ...
    assert msg.startswith("tests/hil/data/broken_expectation.yaml:19: expectation "
                          "'alarm access_pressure_low (high) within 1 s after step:air' FAIL")
    # ... decided at what virtual time (the deadline: 1 s after the step) ...
    step_t = next(e["t_s"] for e in broken.timeline.events if e["type"] == "step")
    assert f"at t={step_t + 1:g} s (virtual)" in msg
    # ... and what was seen instead.
    assert "nothing by the deadline" in msg and "state safe" in msg
    assert f"air_in_line (high) at t={step_t + 0.1:g} s" in msg


def test_record_holds_firmware_steps_checks_and_events(broken, tmp_path: Path) -> None:
    path = write_record(broken, tmp_path)
    rec = json.loads(path.read_text())
    assert path.name == "broken_expectation.json"
    assert rec["firmware"]["implementation"] == "micropython" and rec["firmware"]["firmware"]
    assert rec["scenario"]["seed"] == 5 and len(rec["scenario"]["sha256"]) == 64
    assert rec["steps"][0]["id"] == "air" and rec["steps"][0]["done"]
    good, bad = rec["expectations"]
    assert good["outcome"] == "pass" and bad["outcome"] == "fail"
    assert bad["decided_t_s"] > 0 and "seen" in bad and bad["line"] == 19
    assert any(e["type"] == "alarm" and e["alarm"] == "air_in_line" for e in rec["events"])
    assert record_dict(broken)["failures"]


def test_cli_list_and_run_with_summary_and_exit_code(tmp_path: Path, capsys) -> None:
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "air_in_return_line" in out and "scenario(s)" in out
    junit = tmp_path / "junit.xml"
    code = main(["run", str(BROKEN), "scenarios/link_brief_dropout.yaml", "--quiet",
                 "--out", str(tmp_path), "--junit", str(junit)])
    assert code == 1
    cap = capsys.readouterr()
    assert "broken_expectation  fail" in cap.out and "link_brief_dropout  pass" in cap.out
    assert "expectation 'alarm access_pressure_low" in cap.err
    suite = ET.parse(junit).getroot()
    assert suite.get("tests") == "2" and suite.get("failures") == "1"
    assert (tmp_path / "link_brief_dropout.json").exists()
    assert main(["run", "scenarios/link_brief_dropout.yaml", "--quiet", "--out", str(tmp_path),
                 "--junit", str(junit)]) == 0


def test_cli_refuses_a_malformed_file_before_running(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("duration: 1 h\nsteps:\n  - at: 10\n    air: 1\n    pause: true\n")
    assert main(["run", str(bad), "--quiet", "--out", str(tmp_path)]) == 2
    assert f"{bad}:3: step 1 must have exactly one action" in capsys.readouterr().err
    assert not (tmp_path / "bad.json").exists()


def test_paced_run_does_not_outrun_the_wall_clock() -> None:
    sc = loads("name: paced\nduration: 60 s\nexpect:\n  - no_alarm: any\n", "paced.yaml")
    r = run_scenario(sc, RunOptions(speed=200.0))
    assert r.outcome == "pass", r.failure_messages()
    assert r.wall_s >= 60.0 / 200.0
    assert r.options["max_batch"] == 400 and r.link["frames"] >= 60 / 40
    slow = run_scenario(sc, RunOptions(speed=20.0))
    assert slow.wall_s >= 3.0 and slow.options["max_batch"] == 100
