"""The pytest plugin, tested with pytest's own pytester: scenario files
collected as tests (in a subprocess: numpy cannot be imported twice in
one), failures reported with the expectation, malformed files
as collection errors, JUnit properties and JSON records, and the fixtures."""

from __future__ import annotations

import json
from xml.etree import ElementTree as ET

import pytest

pytest_plugins = ["pytester"]

OK = """\
name: setup_only
duration: 5 min
expect:
  - state: ready
    within: 5 min
  - no_alarm: any
measure:
  - name: priming_time
    quantity: delay_s
    filter: ready
    limits: [150, 250]
"""

INI = "[pytest]\nasyncio_default_fixture_loop_scope = function\n"

WRONG = OK.replace("name: setup_only", "name: expects_running").replace(
    "  - no_alarm: any\n", "  - final_state: running\n")


def test_scenarios_are_collected_run_and_recorded(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI)
    pytester.mkdir("scenarios")
    pytester.path.joinpath("scenarios", "setup_only.yaml").write_text(OK)
    pytester.path.joinpath("scenarios", "expects_running.yaml").write_text(WRONG)
    pytester.path.joinpath("elsewhere.yaml").write_text("not: a scenario\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--junitxml=junit.xml", "--hil-out=records")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([
        ("*scenarios/expects_running.yaml:6: expectation 'final state running' FAIL at t=300 s (virtual): "
         "expected state running at the end; saw state ready*"),
    ])
    suite = ET.parse(pytester.path / "junit.xml").getroot()
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["measurement.priming_time"].endswith("s [pass]")
    rec = json.loads((pytester.path / "records" / "setup_only.json").read_text())
    assert rec["outcome"] == "pass" and rec["measurements"][0]["unit"] == "s"


def test_a_malformed_file_is_a_collection_error_and_nothing_runs(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI)
    pytester.mkdir("scenarios")
    pytester.path.joinpath("scenarios", "good.yaml").write_text(OK)
    pytester.path.joinpath("scenarios", "bad.yaml").write_text(
        "duration: 1 h\nexpect:\n  - alarm: fire\n    within: 1 s\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*scenarios/bad.yaml:3: unknown alarm 'fire'*",
                                 "*Interrupted: 1 error during collection*"])


def test_fixtures_give_board_client_plant_and_loop(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI)
    pytester.makepyfile("""
        def test_loop(hil_board, hil_client, hil_plant, hil_loop):
            assert hil_client.hello()["hal"] == "sim"
            hil_loop.run_until(50)
            assert hil_loop.tick == hil_plant.tick == 50 and hil_loop.status.tick == 50

        def test_run(hil_run):
            r = hil_run("name: inline\\nduration: 30 s\\nexpect:\\n  - no_alarm: any\\n")
            assert r.outcome == "pass" and r.hello["implementation"] == "micropython"
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
