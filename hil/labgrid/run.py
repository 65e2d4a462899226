"""Scenarios on a labgrid target: the board kind the harness sees, and the
hook the pytest plugin calls when ``--lg-env`` names an environment."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from hil.board.providers import Board, PortBoard
from hil.transport.link import Link, LinkError, SerialLink
from hil.run.runner import RunOptions, ScenarioResult, ScenarioRun
from hil.scenario import Scenario


class ReopeningLink(Link):
    """A serial link that outlives its port: a Pico's USB port goes away
    when its power is cut and comes back when it boots. A read or write
    that fails reopens the port once it exists again (within the driver's
    ``boot_timeout``); what was in flight is lost, as on the wire."""

    def __init__(self, driver: Any) -> None:
        self.driver = driver
        self.inner = SerialLink(driver.wait_port())
        self.name = self.inner.name
        self.reopened = 0

    def _reopen(self, error: LinkError) -> None:
        self.inner.close()
        end = time.monotonic() + self.driver.boot_timeout
        while True:
            try:
                self.inner = SerialLink(self.driver.wait_port())
                self.reopened += 1
                return
            except (LinkError, TimeoutError):
                if time.monotonic() > end:
                    raise error from None
                time.sleep(0.1)

    def write(self, data: bytes) -> None:
        try:
            self.inner.write(data)
        except LinkError as e:
            self._reopen(e)
            self.inner.write(data)

    def read(self, max_bytes: int, timeout_s: float) -> bytes:
        try:
            return self.inner.read(max_bytes, timeout_s)
        except LinkError as e:
            self._reopen(e)
            return b""

    def close(self) -> None:
        self.inner.close()


class LabgridBoard(PortBoard):
    """A board on a labgrid target: its serial port (reopened after a power
    cut if it vanished), and its power through the target's power driver
    (None without one)."""

    kind = "labgrid"

    def __init__(self, driver: Any) -> None:
        super().__init__(driver.wait_port())
        self.driver = driver
        self.power = driver.power_control()

    def connect(self) -> Link:
        return ReopeningLink(self.driver)

    def reconnect(self, link: Link) -> Link:
        link.close()
        return ReopeningLink(self.driver)


class LabgridBoards:
    """Provider of the board of a :class:`~hil.labgrid.drivers.HilBoardDriver`."""

    def __init__(self, driver: Any) -> None:
        self.driver = driver

    def start(self) -> Board:
        return LabgridBoard(self.driver)


def run_on(driver: Any, sc: Scenario, opts: RunOptions | None = None) -> ScenarioResult:
    """Run ``sc`` on the board of ``driver`` (a
    :class:`~hil.labgrid.drivers.HilBoardDriver`), the rest of ``opts``
    (speed, recording, observers) as given; the port is the target's."""
    opts = replace(opts or RunOptions(), port=driver.path, firmware_log=None,
                   provider=LabgridBoards(driver))
    return ScenarioRun(sc, opts).run()


def target_driver(env: Any, initial_state: str | None = None) -> Any:
    """The :class:`~hil.labgrid.drivers.HilBoardDriver` of a labgrid
    environment's ``main`` target, brought to ``running`` by its
    :class:`~hil.labgrid.strategy.HilStrategy` if it has one (which is first
    told it is in ``initial_state``, labgrid's ``--lg-initial-state``, if given).

    Raises:
        LookupError: the environment has no ``main`` target or it has no
            ``HilBoardDriver``.
    """
    from labgrid.exceptions import NoDriverFoundError

    target = env.get_target("main")
    if target is None:
        raise LookupError(f"{env.config_file}: no target 'main'")
    try:
        driver = target.get_driver("HilBoardDriver", activate=False)
    except NoDriverFoundError:
        raise LookupError(f"{env.config_file}: target 'main' has no HilBoardDriver "
                          "(add 'imports: [hil.labgrid]' and the driver)") from None
    try:
        strategy = target.get_driver("HilStrategy", activate=False)
    except NoDriverFoundError:
        strategy = None
    if strategy is not None:
        if initial_state:
            strategy.force(initial_state)
        strategy.transition("running")
    target.activate(driver)
    return driver


__all__ = ["LabgridBoard", "LabgridBoards", "ReopeningLink", "run_on", "target_driver"]
