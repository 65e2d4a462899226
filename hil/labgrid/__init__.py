"""labgrid support: the controller board as a labgrid target.

Importing this package registers, with labgrid's target factory:

- :class:`~hil.labgrid.resources.HilVirtualBoard`: a resource, the virtual
  board (the firmware in the MicroPython unix port on a pty), for a rig
  with no hardware and for CI;
- :class:`~hil.labgrid.drivers.HilVirtualPowerDriver`: labgrid's
  ``PowerProtocol`` over that board (off kills the firmware wherever it
  is, on boots it on the same flash and pty);
- :class:`~hil.labgrid.drivers.HilBoardDriver`: the harness's driver: it
  binds a serial port (``RawSerialPort``, ``USBSerialPort`` or
  ``HilVirtualBoard``) and, optionally, any labgrid power driver (a relay
  through ``DigitalOutputPowerDriver``, a PDU through
  ``NetworkPowerDriver``, ``ExternalPowerDriver``, ...), and runs
  scenarios on them; power-cut scenarios cut the power through that
  driver;
- :class:`~hil.labgrid.strategy.HilStrategy`: the states ``off``,
  ``flashed`` and ``running``.

An environment file names the package under ``imports:``; with
``pytest --lg-env FILE`` the ``hil`` pytest plugin runs the scenario
library on the environment's ``main`` target. See docs/labgrid.md.
"""

from __future__ import annotations

from hil.labgrid.resources import HilVirtualBoard
from hil.labgrid.drivers import HilBoardDriver, HilVirtualPowerDriver
from hil.labgrid.strategy import HilStrategy

__all__ = ["HilBoardDriver", "HilStrategy", "HilVirtualBoard", "HilVirtualPowerDriver"]
