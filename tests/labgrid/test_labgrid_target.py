"""The board as a labgrid target, with labgrid's local resources against
the virtual board (tests/labgrid/virtual-env.yaml): the strategy's states,
the scenario library through ``--lg-env`` with the power cut going
through the target's power driver, the link surviving a port that
vanishes, and the example bench environment in docs/."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from labgrid import Environment

from hil.board.virtual import VirtualBoard
from hil.labgrid.run import ReopeningLink
from hil.transport.client import BoardClient

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[2]
ENV = ROOT / "tests" / "labgrid" / "virtual-env.yaml"


def test_strategy_takes_the_virtual_board_through_its_states() -> None:
    env = Environment(str(ENV))
    try:
        target = env.get_target("main")
        strategy = target.get_driver("HilStrategy")
        power = target.get_driver("HilVirtualPowerDriver")
        strategy.transition("running")
        assert strategy.hello["hal"] == "sim" and power.get()
        strategy.transition("off")
        assert not power.get()
        strategy.transition("running")
        assert power.get() and strategy.hello["implementation"] == "micropython"
    finally:
        env.cleanup()
    assert not target.get_resource("HilVirtualBoard", wait_avail=False).powered


FIXTURES_TEST = """
def test_fixtures_are_the_targets(hil_board, hil_power, hil_client):
    assert hil_board.kind == "labgrid" and hil_client.hello()["hal"] == "sim"
    hil_power.cycle(0.1)
    assert hil_client.wait_boot()["boots"] >= 1
"""


def test_power_cut_scenario_runs_through_lg_env(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.mkdir("scenarios")
    shutil.copy(ROOT / "scenarios" / "power_cut_mid_therapy.yaml", pytester.path / "scenarios")
    pytester.makepyfile(test_fixtures=FIXTURES_TEST)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", f"--lg-env={ENV}", "-rA",
                                           "--log-cli-level=INFO", "--hil-out=records")
    result.assert_outcomes(passed=2)
    # The strategy brings the board up, then the scenario's cut goes through
    # labgrid's power driver: off, then on.
    result.stdout.fnmatch_lines(["*HilStrategy.transition(status='running')*",
                                 "*HilBoardDriver.hello()*",
                                 "*← HilStrategy.transition()*",
                                 "*→ HilVirtualPowerDriver.off()*",
                                 "*→ HilVirtualPowerDriver.on()*",
                                 "PASSED scenarios/power_cut_mid_therapy.yaml::power_cut_mid_therapy"])
    result.stdout.fnmatch_lines(["PASSED test_fixtures.py::test_fixtures_are_the_targets"])
    rec = json.loads((pytester.path / "records" / "power_cut_mid_therapy.json").read_text())
    assert rec["outcome"] == "pass" and rec["options"]["port"].startswith("/dev/")


class _Ports:
    """What ReopeningLink asks of its driver: the port as it is now."""

    boot_timeout = 5.0

    def __init__(self, port: str) -> None:
        self.port = port

    def wait_port(self) -> str:
        return self.port


def test_the_link_reopens_a_port_that_vanished_and_came_back() -> None:
    first = VirtualBoard("virtual")
    ports = _Ports(first.start())
    link = ReopeningLink(ports)
    try:
        assert BoardClient(link).hello()["hal"] == "sim"
        first.stop()                       # the port goes away, as a Pico's USB on a power cut
        with VirtualBoard("virtual") as second:
            ports.port = second.port       # and comes back (here under another name)
            assert BoardClient(link).hello()["hal"] == "sim"
            assert link.reopened == 1 and link.inner.name == second.port
    finally:
        link.close()
        first.stop()


def test_the_example_bench_environment_binds_the_pdu_to_the_board() -> None:
    env = Environment(str(ROOT / "docs" / "labgrid-pico.yaml"))
    target = env.get_target("main")
    board = target.get_driver("HilBoardDriver", activate=False)
    strategy = target.get_driver("HilStrategy", activate=False)
    assert type(board.power).__name__ == "NetworkPowerDriver" and strategy.power is board.power
    assert board.port.port == "/dev/ttyACM0" and board.board == "pico" and not board.virtual


def test_a_network_serial_port_is_opened_as_a_pyserial_url(tmp_path: Path) -> None:
    env_file = tmp_path / "env.yaml"
    env_file.write_text("imports: [hil.labgrid]\ntargets:\n  main:\n    resources:\n"
                        "      NetworkSerialPort: {host: localhost, port: 5000}\n"
                        "    drivers:\n      HilBoardDriver: {}\n")
    board = Environment(str(env_file)).get_target("main").get_driver("HilBoardDriver", activate=False)
    assert board.path == "rfc2217://localhost:5000" and board.power is None
