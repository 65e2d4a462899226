"""The virtual board as a labgrid resource (local to the exporter or to
the test process)."""

from __future__ import annotations

from typing import Any

import attr
from labgrid.factory import target_factory
from labgrid.resource.common import Resource


@target_factory.reg_resource
@attr.s(eq=False)
class HilVirtualBoard(Resource):
    """A virtual board: the firmware in the MicroPython unix port, its
    serial link on a pseudo-terminal (:class:`~hil.board.virtual.VirtualBoard`).

    The board process exists only while powered; the pty is made on the
    first power-on and kept across power cuts, so ``port`` does not change.

    Args:
        config: board config name or JSON path (default ``virtual``).
        heapsize: MicroPython heap (default ``192K``, as a Pico).
    """

    config = attr.ib(default="virtual", validator=attr.validators.instance_of(str))
    heapsize = attr.ib(default="192K", validator=attr.validators.instance_of(str))

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        self._board: Any = None

    @property
    def port(self) -> str:
        """The pty the host opens; an error while the board was never powered."""
        if self._board is None or not self._board.port:
            raise RuntimeError(f"the virtual board {self.name or self.config!r} has no port "
                               "until it is first powered on")
        return str(self._board.port)

    @property
    def powered(self) -> bool:
        return self._board is not None and self._board.alive()

    def switch_on(self) -> None:
        """Power on: the first time, make the pty and boot; later, boot again
        on the same flash and pty."""
        from hil.board.virtual import VirtualBoard

        if self._board is None:
            self._board = VirtualBoard(self.config, self.heapsize)
            self._board.start()
        else:
            self._board.power_on()

    def switch_off(self) -> None:
        """Cut the power (the firmware dies wherever it is); nothing if never on."""
        if self._board is not None:
            self._board.power_cut()

    def release(self) -> None:
        """Stop the board and free its pty and flash."""
        if self._board is not None:
            self._board.stop()
            self._board = None
