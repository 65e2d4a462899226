"""pytest plugin: scenario files collected as tests, and fixtures for the
board, the link, the plant and the closed loop.

Installed as the ``hil`` plugin (entry point ``pytest11``). Every YAML file
in a folder named in the ``hil_scenario_dirs`` ini option (default
``scenarios``) is one test; a malformed file is a collection error naming
the file and the line. Each run writes its JSON record and its trace under
``--hil-out`` (default ``out/scenarios``) and puts its measurements in the
JUnit XML as test-case properties.

A board that keeps its own time (HELLO ``clock: board``, the ``rp2`` HAL:
a Pico on a bench, or the virtual board with ``--hil-board fake-pico``)
runs on its own clock: scenarios that need the plant are skipped on it,
and ``hil_loop`` is a :class:`~hil.loop.freerun.FreeRunningLoop`. The fixtures
are built by the composition root, :class:`~hil.run.session.Session`
(``hil_session``).

Options:
    --port PORT        run on a real board (a device path or a pyserial URL)
    --hil-board NAME   board config of the virtual board
    --hil-speed N      lock virtual time to N x real time (a board that keeps
                       its own time: N x faster, in test mode only)
    --hil-realtime     lock virtual time to real time
    --hil-lockstep     one control period per STEP frame
    --hil-record DIR   record serial traffic and plant inputs for replay
    --hil-out DIR      folder of the JSON records and traces
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from hil.scenario import Scenario, ScenarioError, load, loads


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("hil", "hardware-in-the-loop scenarios")
    g.addoption("--port", default=None, help="serial port or pyserial URL of a real board "
                "(default: a virtual board per test)")
    g.addoption("--hil-board", default=None, help="board config of the virtual board")
    g.addoption("--hil-speed", type=float, default=None, help="lock virtual time to N x real time")
    g.addoption("--hil-realtime", action="store_true", help="lock virtual time to real time")
    g.addoption("--hil-lockstep", action="store_true", help="one control period per STEP frame")
    g.addoption("--hil-record", default=None, metavar="DIR", help="record each run for replay")
    g.addoption("--hil-out", default="out/scenarios", metavar="DIR",
                help="folder of the JSON records and traces")
    parser.addini("hil_scenario_dirs", "folders whose YAML files are scenarios", type="args",
                  default=["scenarios"])


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "scenario: a HIL scenario file run as a test")


def _scenario_dir(path: Path, config: pytest.Config) -> bool:
    names = config.getini("hil_scenario_dirs")
    root = config.rootpath
    for n in names:
        d = (root / n).resolve()
        if path.parent.resolve() == d or path.parent.name == n:
            return True
    return False


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.suffix in (".yaml", ".yml") and _scenario_dir(file_path, parent.config):
        return ScenarioFile.from_parent(parent, path=file_path)
    return None


def _rel(path: Path, config: pytest.Config) -> str:
    try:
        return os.path.relpath(path, config.rootpath)
    except ValueError:
        return str(path)


def run_options(config: pytest.Config, name: str) -> Any:
    """The :class:`~hil.run.runner.RunOptions` the command line asks for."""
    from hil.transport.frames import P
    from hil.run.runner import RunOptions

    out = Path(config.getoption("--hil-out"))
    port = config.getoption("--port")
    speed = 1.0 if config.getoption("--hil-realtime") else config.getoption("--hil-speed")
    return RunOptions(port=port, board=config.getoption("--hil-board"), speed=speed,
                      max_batch=1 if config.getoption("--hil-lockstep") else P.MAX_SAMPLES,
                      record_dir=config.getoption("--hil-record"),
                      firmware_log=None if port else str(out / f"{name}.firmware.log"))


class ScenarioFailed(AssertionError):
    """A scenario run whose checks failed, or that could not run."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__("\n".join(messages))
        self.messages = messages


class ScenarioFile(pytest.File):
    """One scenario file: one test."""

    def collect(self) -> Iterator[pytest.Item]:
        try:
            sc = load(_rel(self.path, self.config))
        except ScenarioError as e:
            raise self.CollectError(str(e)) from None
        yield ScenarioItem.from_parent(self, name=sc.name, scenario=sc)


class ScenarioItem(pytest.Item):
    """Runs one scenario and decides it on its checks."""

    def __init__(self, *, scenario: Scenario, **kw: Any) -> None:
        super().__init__(**kw)
        self.scenario = scenario
        # Tags select with -k (e.g. -k "protective and not long").
        self.extra_keyword_matches.update(scenario.tags)
        self.add_marker("scenario")

    def runtest(self) -> None:
        from hil.output.record import write_record
        from hil.run.runner import run_scenario

        r = run_scenario(self.scenario, run_options(self.config, self.scenario.name))
        out = Path(self.config.getoption("--hil-out"))
        path = write_record(r, out)
        self.user_properties.append(("record", str(path)))
        self.user_properties.append(("virtual_s", r.virtual_s))
        if r.hello:
            self.user_properties.append(("firmware", r.hello.get("firmware")))
        for c in r.verdict.checks:
            if c.kind == "measurement":
                self.user_properties.append((f"measurement.{c.name}", f"{c.value} {c.unit} [{c.outcome}]"))
        if r.outcome == "skip":
            pytest.skip(r.error or "skipped")
        if not r.passed:
            raise ScenarioFailed(r.failure_messages())

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, ScenarioFailed):
            return "\n".join(excinfo.value.messages)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"scenario {self.scenario.name}"


# -- fixtures ---------------------------------------------------------------------


@pytest.fixture
def hil_session(request: pytest.FixtureRequest) -> Iterator[Any]:
    """The run's composition root (:class:`~hil.run.session.Session`): a fresh
    virtual board, or the real one named by ``--port``, started but not yet
    opened; the other fixtures open its link and client on first use. Its
    ``observers`` bus carries what the loop publishes."""
    from hil.board.providers import provider_for
    from hil.run.session import Session

    config = request.config
    session = Session(provider_for(config.getoption("--port"), config.getoption("--hil-board") or "virtual"))
    session.start_board()
    try:
        yield session
    finally:
        session.close()


def _opened(session: Any) -> Any:
    if session.client is None:
        session.open()
    return session


@pytest.fixture
def hil_board(hil_session: Any) -> Any:
    """The board under test (:class:`~hil.board.providers.Board`): its ``port`` is
    what to open, its ``power`` the power switch (None on a real board)."""
    return hil_session.board


@pytest.fixture
def hil_power(hil_board: Any) -> Any:
    """The board's :class:`~hil.board.providers.PowerControl`; skips the test on a
    board the harness cannot switch."""
    if hil_board.power is None:
        pytest.skip(f"the harness cannot switch the power of the board on {hil_board.port}")
    return hil_board.power


@pytest.fixture
def hil_link(hil_session: Any) -> Any:
    """The :class:`~hil.transport.link.SerialLink` to the board."""
    return _opened(hil_session).link.bottom


@pytest.fixture
def hil_client(hil_session: Any) -> Any:
    """A :class:`~hil.transport.client.BoardClient` on the link (HELLO checked)."""
    return _opened(hil_session).client


@pytest.fixture
def hil_plant(hil_session: Any, hil_client: Any) -> Any:
    """A plant (default patient and device, seed 1) on the board's period.
    Skips the test on a board that keeps its own time (HELLO ``clock``)."""
    from host.plant import Plant

    if hil_session.free:
        hello = hil_session.hello
        pytest.skip(f"the board reads its own sensors ({hello.get('hal')} HAL): no plant")
    return Plant(seed=1, period_s=hil_session.period_s)


@pytest.fixture
def hil_loop(request: pytest.FixtureRequest, hil_session: Any, hil_client: Any) -> Any:
    """A :class:`~hil.loop.closed.ClosedLoop` of the board and the plant, or, on
    a board that keeps its own time, a :class:`~hil.loop.freerun.FreeRunningLoop`
    at the speed ``--hil-speed`` / ``--hil-realtime`` ask for (real time by
    default)."""
    if hil_session.free:
        config = request.config
        speed = 1.0 if config.getoption("--hil-realtime") else config.getoption("--hil-speed")
        return hil_session.free_loop(speed)
    return hil_session.closed_loop(request.getfixturevalue("hil_plant"))


@pytest.fixture
def hil_run(request: pytest.FixtureRequest) -> Callable[[str | Path], Any]:
    """Run a scenario (a file, or YAML text) with the command line's
    options; returns its :class:`~hil.run.runner.ScenarioResult`."""
    from hil.run.runner import run_scenario

    def run(source: str | Path) -> Any:
        p = Path(source)
        sc = load(p) if isinstance(source, Path) or (p.suffix in (".yaml", ".yml") and p.exists()) \
            else loads(str(source), "<inline>")
        return run_scenario(sc, run_options(request.config, sc.name))

    return run
