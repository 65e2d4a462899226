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

Options (all prefixed ``--hil-``, so the plugin loads beside pytest-embedded
and labgrid's plugin; the old ``--port`` clashed with pytest-embedded's and
is gone):
    --hil-port PORT    run on a real board (a device path or a pyserial URL)
    --hil-board NAME   board config of the virtual board
    --hil-speed N      lock virtual time to N x real time (a board that keeps
                       its own time: N x faster, in test mode only)
    --hil-realtime     lock virtual time to real time
    --hil-lockstep     one control period per STEP frame
    --hil-record DIR   record serial traffic and plant inputs for replay
    --hil-out DIR      folder of the JSON records and traces

With labgrid's ``--lg-env FILE`` (an environment whose ``main`` target has a
:class:`~hil.labgrid.drivers.HilBoardDriver`, docs/labgrid.md) every
scenario runs on that target, power cuts through its power driver.

Each scenario's tags are markers (``-m "protective and not long"``),
registered as they are collected, so ``--strict-markers`` passes.
"""

from __future__ import annotations

import os
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from hil.scenario import Scenario, ScenarioError, load, loads


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("hil", "hardware-in-the-loop scenarios")
    g.addoption("--hil-port", default=None, help="serial port or pyserial URL of a real board "
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


_RESERVED = pytest.StashKey[frozenset]()
_LABGRID = pytest.StashKey[Any]()


def _labgrid_env_given(config: pytest.Config) -> bool:
    return bool(getattr(config.option, "lg_env", None) or os.environ.get("LG_ENV"))


def _embedded_target(fn: Callable[[Any], Any]) -> types.ModuleType:
    """A plugin holding pytest-embedded's ``target`` fixture again (``fn`` is
    its function), to be registered after labgrid's plugin so that it wins."""
    mod = types.ModuleType("hil_embedded_target")

    @pytest.fixture(name="target")
    def target(request: pytest.FixtureRequest) -> Any:
        return fn(request)

    mod.target = target   # type: ignore[attr-defined]
    return mod


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "scenario: a HIL scenario file run as a test")
    # labgrid's plugin and pytest-embedded's both define a fixture named
    # ``target``. pytest-embedded's autouse fixtures request it, and labgrid's,
    # without an environment, skips the test: with both installed every test
    # would be skipped. Without --lg-env (or LG_ENV), where labgrid's has
    # nothing to give, pytest-embedded's is registered again, last, so it wins.
    pm = config.pluginmanager
    if pm.has_plugin("labgrid") and pm.has_plugin("pytest_embedded") and not _labgrid_env_given(config):
        import pytest_embedded.plugin as embedded

        fn = getattr(embedded.target, "__wrapped__", None)
        if callable(fn):
            pm.register(_embedded_target(fn), "hil-embedded-target")


def _marker_names(config: pytest.Config) -> set[str]:
    return {line.split(":")[0].split("(")[0].strip() for line in config.getini("markers")}


def _tag_markers(config: pytest.Config, tags: tuple[str, ...]) -> list[str]:
    """The scenario's tags that can be markers, registered on first sight;
    markers other plugins own (skip, xfail, asyncio, ...) are never tags."""
    known = _marker_names(config)
    if _RESERVED not in config.stash:
        config.stash[_RESERVED] = frozenset(known)
    reserved = config.stash[_RESERVED]
    names = []
    for tag in tags:
        if tag in reserved or not tag.isidentifier():
            continue
        if tag not in known:
            config.addinivalue_line("markers", f"{tag}: scenarios tagged '{tag}'")
            known.add(tag)
        names.append(tag)
    return names


def labgrid_driver(config: pytest.Config) -> Any:
    """The :class:`~hil.labgrid.drivers.HilBoardDriver` of ``--lg-env``'s
    ``main`` target (brought to ``running`` once), or None without
    ``--lg-env``. A target the harness cannot use ends the session with
    one message."""
    if _LABGRID in config.stash:
        return config.stash[_LABGRID]
    if not _labgrid_env_given(config):
        config.stash[_LABGRID] = None
        return None
    env = None
    try:
        from labgrid.pytestplugin.hooks import LABGRID_ENV_KEY

        from hil.labgrid.run import target_driver

        env = config.stash.get(LABGRID_ENV_KEY, None)
        if env is None:
            raise LookupError("labgrid's pytest plugin is not loaded")
        driver = target_driver(env, getattr(config.option, "lg_initial_state", None))
    except Exception as e:   # labgrid raises many kinds; each ends the session the same way
        pytest.exit(f"hil: labgrid target of {getattr(env, 'config_file', '--lg-env')}: {e}", returncode=2)
    config.add_cleanup(env.cleanup)
    config.stash[_LABGRID] = driver
    return driver


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
    port = config.getoption("--hil-port")
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
        # What plugins written for function items look at (labgrid's setup
        # hook reads fixturenames, pytest-embedded's call hook funcargs).
        self.fixturenames: list[str] = []
        self.funcargs: dict[str, Any] = {}
        # Tags select with -k (e.g. -k "protective and not long").
        self.extra_keyword_matches.update(scenario.tags)
        self.add_marker("scenario")
        for tag in _tag_markers(self.config, scenario.tags):
            self.add_marker(tag)

    def runtest(self) -> None:
        from hil.output.record import write_record
        from hil.run.runner import run_scenario

        opts = run_options(self.config, self.scenario.name)
        driver = labgrid_driver(self.config)
        r = driver.run(self.scenario, opts) if driver is not None else run_scenario(self.scenario, opts)
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
    virtual board, the real one named by ``--hil-port``, or the ``--lg-env``
    target's, started but not yet
    opened; the other fixtures open its link and client on first use. Its
    ``observers`` bus carries what the loop publishes."""
    from hil.board.providers import provider_for
    from hil.run.session import Session

    config = request.config
    driver = labgrid_driver(config)
    session = Session(driver.provider() if driver is not None else
                      provider_for(config.getoption("--hil-port"), config.getoption("--hil-board") or "virtual"))
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
    what to open, its ``power`` the power switch (None on a bare serial port;
    the target's power driver under ``--lg-env``)."""
    return hil_session.board


@pytest.fixture
def hil_power(hil_board: Any) -> Any:
    """The board's :class:`~hil.board.providers.PowerControl`; skips the test on a
    board the harness cannot switch."""
    if hil_board.power is None:
        pytest.skip(f"the harness cannot switch the power of the board on {hil_board.port}")
    return hil_board.power


@pytest.fixture
def hil_dut(hil_client: Any) -> Any:
    """The device under test as the harness talks to it: the
    :class:`~hil.transport.client.BoardClient` (``hil_client`` by the name
    pytest-embedded and labgrid users reach for; not ``dut`` itself, which
    is pytest-embedded's)."""
    return hil_client


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
