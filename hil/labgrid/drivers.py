"""labgrid drivers: the virtual board's power switch, and the harness's
driver for a board on a serial port with an optional power driver."""

from __future__ import annotations

import os
import subprocess
import time
from typing import Any

import attr
from labgrid.driver.common import Driver
from labgrid.driver.powerdriver import PowerResetMixin
from labgrid.factory import target_factory
from labgrid.protocol import PowerProtocol
from labgrid.step import step

from hil.board.providers import SwitchPower


@target_factory.reg_driver
@attr.s(eq=False)
class HilVirtualPowerDriver(Driver, PowerResetMixin, PowerProtocol):
    """labgrid's ``PowerProtocol`` for a :class:`~hil.labgrid.resources.HilVirtualBoard`:
    ``off()`` kills the firmware wherever it is (a storage write included),
    ``on()`` boots it on the same flash and pty, ``cycle()`` does both with
    ``delay`` seconds between. Deactivating the driver stops the board."""

    bindings = {"board": "HilVirtualBoard"}
    delay = attr.ib(default=0.0, validator=attr.validators.instance_of(float))

    def on_deactivate(self) -> None:
        self.board.release()

    @Driver.check_active
    @step()
    def on(self) -> None:
        self.board.switch_on()

    @Driver.check_active
    @step()
    def off(self) -> None:
        self.board.switch_off()

    @Driver.check_active
    @step()
    def cycle(self) -> None:
        self.off()
        if self.delay > 0:
            time.sleep(self.delay)
        self.on()

    @Driver.check_active
    def get(self) -> bool:
        return bool(self.board.powered)


class LabgridPower(SwitchPower):
    """The harness's :class:`~hil.board.providers.PowerControl` over a labgrid
    power driver (``cycle`` takes the off time, as the harness's does)."""

    def on(self) -> None:
        self.switch.on()

    def off(self) -> None:
        self.switch.off()


@target_factory.reg_driver
@attr.s(eq=False)
class HilBoardDriver(Driver):
    """The controller board as the harness drives it.

    Bindings:
        port: ``RawSerialPort`` or ``USBSerialPort`` (a Pico on USB), a
            ``NetworkSerialPort`` (a port an exporter serves, opened as a
            pyserial ``rfc2217://`` or ``socket://`` URL), or a ``HilVirtualBoard``.
        power: any labgrid ``PowerProtocol`` driver (optional; without it
            power-cut scenarios are skipped, as on a bare serial port).

    Args:
        board: the board config flashed by :meth:`flash` (default ``pico``).
        boot_timeout: seconds to wait for the port to appear after power-on
            (a Pico's USB enumerates again after every cut).
    """

    bindings = {"port": {"RawSerialPort", "USBSerialPort", "NetworkSerialPort", "HilVirtualBoard"},
                "power": {"PowerProtocol", None}}
    board = attr.ib(default="pico", validator=attr.validators.instance_of(str))
    boot_timeout = attr.ib(default=10.0, validator=attr.validators.instance_of(float))

    @property
    def virtual(self) -> bool:
        return type(self.port).__name__ == "HilVirtualBoard"

    @property
    def path(self) -> str:
        """What the link opens: a device path, a pty, or a pyserial URL."""
        if type(self.port).__name__ == "NetworkSerialPort":
            scheme = "socket" if self.port.protocol == "raw" else "rfc2217"
            return f"{scheme}://{self.port.host}:{self.port.port}"
        return str(self.port.port)

    def power_control(self) -> LabgridPower | None:
        """The bound power driver as the harness's power switch, or None."""
        if self.power is None:
            return None
        self.target.activate(self.power)
        return LabgridPower(self.power)

    def provider(self) -> Any:
        """A :class:`~hil.board.providers.BoardProvider` for a
        :class:`~hil.run.session.Session` on this board."""
        from hil.labgrid.run import LabgridBoards

        return LabgridBoards(self)

    @Driver.check_active
    def wait_port(self) -> str:
        """Wait (``boot_timeout``) for the port to exist; return its path."""
        end = time.monotonic() + self.boot_timeout
        while True:
            try:
                path = self.path
                if "://" in path or os.path.exists(path):
                    return path
            except RuntimeError:
                pass
            if time.monotonic() > end:
                raise TimeoutError(f"no serial port for target {self.target.name} after "
                                   f"{self.boot_timeout:g} s")
            time.sleep(0.1)

    @Driver.check_active
    @step(result=True)
    def hello(self) -> dict[str, Any]:
        """Open the link, check HELLO (protocol version), and return it."""
        from hil.run.session import Session

        self.wait_port()
        with Session(self.provider(), timeout_s=self.boot_timeout) as session:
            session.start_board()
            return dict(session.open())

    @Driver.check_active
    @step()
    def flash(self) -> None:
        """Put the firmware on the board: for a Pico, maintenance mode if the
        controller runs (:func:`hil.board.flash.enter_maintenance`), then the
        mpremote commands of :func:`hil.board.flash.plan` for ``board``; for a virtual board,
        compile it (it runs that build on its next power-on)."""
        from hil.board.build import compile_firmware

        if self.virtual:
            compile_firmware()
            return
        from hil.board.flash import enter_maintenance, plan

        port = self.wait_port()
        # A board running the controller ignores Ctrl-C: it is asked to
        # restart to its REPL first (NotFlashed if it refuses).
        enter_maintenance(port)
        for i, cmd in enumerate(plan(port, self.board)):
            proc = subprocess.run(cmd, capture_output=True, text=True)
            # The first command makes folders that may exist: only the copy must succeed.
            if proc.returncode and i > 0:
                raise RuntimeError(f"flashing {self.path} failed: {proc.stderr.strip()[-300:]}")

    def run(self, scenario: Any, options: Any = None) -> Any:
        """Run a loaded scenario on this board; returns its
        :class:`~hil.run.runner.ScenarioResult`."""
        from hil.labgrid.run import run_on

        self.target.activate(self)
        return run_on(self, scenario, options)
