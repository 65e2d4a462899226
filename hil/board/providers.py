"""Board kinds: where the firmware runs, how to reach it, how to power it.

A :class:`BoardProvider` starts (or finds) a board and hands back a
:class:`Board`: what to open (``port``), the bottom of the link stack
(``connect()``/``reconnect()``), its power switch (``power``, a
:class:`PowerControl` in the manner of labgrid's ``PowerProtocol``, or None
where the harness cannot switch it) and ``stop()``. The composition root
(:mod:`hil.run.session`) only ever talks to these two interfaces, so the
virtual board, a board on a serial port and a recording are
interchangeable by construction:

=========================== ======================= ============ ============================
provider                    board                   power        link
=========================== ======================= ============ ============================
:class:`VirtualBoards`      the firmware in the     kills and    pyserial on the pty
                            MicroPython unix port   restarts the
                            on a pty                process
:class:`SerialPortBoards`   a real board on a port  None         pyserial on the port or URL
                            (``/dev/ttyACM0``, URL)
:class:`ReplayBoards`       a recording             no-op (the   :class:`~hil.output.recording.ReplayLink`
                                                    board's side
                                                    is recorded)
``PicoEmuBoards``           an emulated Pico        the chip's   the emulator's USB CDC, in
(:mod:`hil.board.pico_boards`,                      supply       process (``EmuLink``)
chosen by VirtualBoards for
a config with ``_emulator``)
=========================== ======================= ============ ============================

A new kind (a board behind a network power switch, a board farm) is one
more provider and board class here: implement ``start()`` and the
:class:`Board` attributes, and pass the provider to
:class:`~hil.run.session.Session`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from hil.transport.link import Link, SerialLink


@runtime_checkable
class PowerControl(Protocol):
    """A board's power switch (labgrid's ``PowerProtocol``)."""

    def on(self) -> None: ...
    def off(self) -> None: ...
    def cycle(self, off_s: float = 0.0) -> None: ...


class Board(Protocol):
    """A started board, as the session sees it.

    Attributes:
        kind: ``virtual``, ``port`` or ``replay``.
        port: what the link opens (a device path, pty or URL; ``recording``).
        power: its power switch, or None if the harness cannot switch it.
        replays: True if the board's side of the link, damage included, is
            a recording: then no link faults are injected.
    """

    kind: str
    port: str
    power: PowerControl | None
    replays: bool

    def connect(self) -> Link: ...
    def reconnect(self, link: Link) -> Link: ...
    def stop(self) -> None: ...


class BoardProvider(Protocol):
    """Starts a board (or finds one) for one run."""

    def start(self) -> Board: ...


# -- power -------------------------------------------------------------------------


class SwitchPower:
    """:class:`PowerControl` over an object with ``power_cut()`` and
    ``power_on()`` (a :class:`~hil.board.virtual.VirtualBoard`)."""

    def __init__(self, switch: Any) -> None:
        self.switch = switch

    def on(self) -> None:
        self.switch.power_on()

    def off(self) -> None:
        self.switch.power_cut()

    def cycle(self, off_s: float = 0.0) -> None:
        self.off()
        if off_s > 0:
            time.sleep(off_s)
        self.on()


class RecordedPower:
    """The power switch of a replay: the board's side of a cut is in the
    recording, so switching does nothing."""

    def on(self) -> None:
        pass

    def off(self) -> None:
        pass

    def cycle(self, off_s: float = 0.0) -> None:
        pass


def power_control(obj: Any) -> PowerControl | None:
    """The :class:`PowerControl` of ``obj``: itself if it is one, a board's
    ``power``, or a switch over ``power_cut``/``power_on``; None if it has none."""
    if obj is None or isinstance(obj, PowerControl):
        return obj
    if hasattr(obj, "power_cut") and hasattr(obj, "power_on"):
        return SwitchPower(obj)
    return getattr(obj, "power", None)


# -- boards on a serial port ---------------------------------------------------------


class PortBoard:
    """A board on a serial port (or pyserial URL) the harness does not power."""

    kind = "port"
    replays = False
    power: PowerControl | None = None

    def __init__(self, port: str) -> None:
        self.port = port

    def connect(self) -> Link:
        return SerialLink(self.port)

    def reconnect(self, link: Link) -> Link:
        link.close()
        return SerialLink(self.port)

    def stop(self) -> None:
        pass


class SerialPortBoards:
    """Provider of the board on ``port``: a real Pico, or a virtual board
    someone else started (``python -m hil board``)."""

    def __init__(self, port: str) -> None:
        self.port = port

    def start(self) -> Board:
        return PortBoard(self.port)


class VirtualPortBoard(PortBoard):
    """A :class:`~hil.board.virtual.VirtualBoard` this run started: a port
    with a power switch. ``virtual`` is the board object itself."""

    kind = "virtual"

    def __init__(self, vb: Any) -> None:
        super().__init__(vb.port)
        self.virtual = vb
        self.power = SwitchPower(vb)

    def stop(self) -> None:
        self.virtual.stop()


class VirtualBoards:
    """Provider of a fresh virtual board per run.

    Args:
        config: board config name or path.
        heapsize: MicroPython heap.
        log: file for the firmware's own output.
        heap_stats: the firmware measures its peak heap (slower).
    """

    def __init__(self, config: str | Path = "virtual", heapsize: str = "192K",
                 log: Path | None = None, heap_stats: bool = False) -> None:
        self.config = str(config)
        self.heapsize = heapsize
        self.log = log
        self.heap_stats = heap_stats

    def start(self) -> Board:
        from hil.board.pico_emu import is_emulated
        from hil.board.virtual import VirtualBoard

        if is_emulated(self.config):
            # An emulated Pico (board-configs/pico-emu.json): hil/board/pico_boards.py.
            from hil.board.pico_boards import PicoEmuBoards

            return PicoEmuBoards(self.config, log=self.log).start()
        vb = VirtualBoard(self.config, self.heapsize, log=self.log, heap_stats=self.heap_stats)
        vb.start()
        return VirtualPortBoard(vb)


# -- a recording -------------------------------------------------------------------


class ReplayBoard:
    """A recording standing in for the board (see :mod:`hil.run.replay`)."""

    kind = "replay"
    port = "recording"
    replays = True
    resets = 0

    def __init__(self, link: Any = None) -> None:
        self.link = link
        self.power: PowerControl | None = RecordedPower()

    def connect(self) -> Link:
        return self.link

    def reconnect(self, link: Link) -> Link:
        self.link.reopen()
        return self.link

    def stop(self) -> None:
        pass


class ReplayBoards:
    """Provider of a recording's board: ``link`` is a
    :class:`~hil.output.recording.ReplayLink`."""

    def __init__(self, link: Any) -> None:
        self.link = link

    def start(self) -> Board:
        return ReplayBoard(self.link)


def provider_for(port: str | None, config: str | Path = "virtual", heapsize: str = "192K",
                 log: Path | None = None, heap_stats: bool = False) -> BoardProvider:
    """The serial port's board if ``port`` is given, else a fresh virtual board."""
    if port:
        return SerialPortBoards(port)
    return VirtualBoards(config, heapsize, log=log, heap_stats=heap_stats)


__all__ = ["Board", "BoardProvider", "PortBoard", "PowerControl", "RecordedPower", "ReplayBoard",
           "ReplayBoards", "SerialPortBoards", "SwitchPower", "VirtualBoards", "VirtualPortBoard",
           "power_control", "provider_for"]
