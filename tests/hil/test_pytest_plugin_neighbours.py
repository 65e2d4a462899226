"""The hil pytest plugin beside pytest-embedded and labgrid's plugin (all
three loaded from their entry points, in a pytest subprocess): the options
do not clash, scenario tags select with -m under --strict-markers, a
scenario runs (the other plugins' hooks see a scenario item), and
``hil_dut`` reaches the board."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

TAGGED = """\
name: tagged_setup
duration: 5 min
tags: [protective, quick]
expect:
  - state: ready
    within: 5 min
"""

UNTAGGED = TAGGED.replace("tagged_setup", "untagged_setup").replace("tags: [protective, quick]\n", "")

CONFTEST = """
def pytest_report_header(config):
    pm = config.pluginmanager
    names = " ".join(n for n in ("hil", "labgrid", "pytest_embedded") if pm.has_plugin(n))
    # pytest-embedded owns --port now; the hil plugin's is --hil-port.
    return [f"loaded: {names}", f"port options: {config.getoption('port')} {config.getoption('hil_port')}"]
"""

DUT_TEST = """
def test_dut_answers(hil_dut):
    assert hil_dut.hello()["implementation"] == "micropython"
"""


def test_loads_beside_pytest_embedded_and_labgrid(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makeconftest(CONFTEST)
    pytester.mkdir("scenarios")
    pytester.path.joinpath("scenarios", "tagged_setup.yaml").write_text(TAGGED)
    pytester.path.joinpath("scenarios", "untagged_setup.yaml").write_text(UNTAGGED)
    pytester.makepyfile(test_dut=DUT_TEST)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--strict-markers", "-rA",
                                           "-m", "protective or not scenario", "--hil-out=records")
    result.stdout.fnmatch_lines(["loaded: hil labgrid pytest_embedded", "port options: None None"])
    result.assert_outcomes(passed=2, deselected=1)
    result.stdout.fnmatch_lines(["PASSED scenarios/tagged_setup.yaml::tagged_setup",
                                 "PASSED test_dut.py::test_dut_answers"])
    assert (pytester.path / "records" / "tagged_setup.json").exists()
    assert not (pytester.path / "records" / "untagged_setup.json").exists()

