"""A labgrid strategy for the controller board: off, flashed, running."""

from __future__ import annotations

import enum
from typing import Any

import attr
from labgrid.factory import target_factory
from labgrid.step import step
from labgrid.strategy.common import Strategy, StrategyError, never_retry


class Status(enum.Enum):
    unknown = 0
    off = 1
    flashed = 2
    running = 3


@target_factory.reg_driver
@attr.s(eq=False)
class HilStrategy(Strategy):
    """Brings the board to a state:

    - ``off``: the power driver switches it off (needs a power driver);
    - ``flashed``: powered on, the firmware put on it
      (:meth:`~hil.labgrid.drivers.HilBoardDriver.flash`: mpremote for a
      Pico, a build for the virtual board);
    - ``running``: ``flashed`` first (unless ``flash`` is false: the board
      already holds the firmware), then a power cycle so it boots from
      flash, then the link opened and HELLO checked (kept in ``hello``).

    Args:
        flash: put the firmware on the board on the way to ``running``
            (default true).
    """

    bindings = {"hil": "HilBoardDriver", "power": {"PowerProtocol", None}}
    status = attr.ib(default=Status.unknown)
    flash = attr.ib(default=True, validator=attr.validators.instance_of(bool))

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        self.hello: dict[str, Any] = {}

    def _switch(self) -> Any:
        if self.power is None:
            return None
        self.target.activate(self.power)
        return self.power

    @never_retry
    @step(args=["status"])
    def transition(self, status: Any, *, step: Any) -> None:  # noqa: ARG002 (labgrid's signature)
        if not isinstance(status, Status):
            status = Status[status]
        power = self._switch()
        if status == Status.unknown:
            raise StrategyError(f"can not transition to {status}")
        if status == self.status:
            step.skip("nothing to do")
            return
        self.target.activate(self.hil)
        if status == Status.off:
            if power is None:
                raise StrategyError(f"target {self.target.name} has no power driver: it cannot be "
                                    "switched off")
            power.off()
        elif status == Status.flashed:
            if power is not None:
                power.on()
            self.hil.flash()
        elif status == Status.running:
            if self.flash and self.status != Status.flashed:
                self.transition(Status.flashed)
            if power is not None:
                power.cycle()
            self.hello = self.hil.hello()
        self.status = status

    @never_retry
    @step(args=["status"])
    def force(self, status: Any, *, step: Any) -> None:  # noqa: ARG002
        if not isinstance(status, Status):
            status = Status[status]
        self._switch()
        self.target.activate(self.hil)
        self.status = status
