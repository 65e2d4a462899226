"""What every loop that drives a board shares: its counters, its error,
the board's events lined up with the run's ticks, and the reading of a
reply's outputs and samples (:class:`~hil.loop.closed.ClosedLoop`,
:class:`~hil.loop.freerun.FreeRunLoop`, :class:`~hil.loop.pins.PinLoop`)."""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field, replace
from typing import Any, Callable

import numpy as np

from hil.board.firmware import TherapyLimits
from hil.transport import contract, frames
from hil.transport.client import BoardReset
from hil.transport.frames import Event, Status
from hil.run.observers import Observers

_CHANNELS = len(contract.SAMPLE)


class LoopError(RuntimeError):
    """Board and plant disagree about virtual time."""


@dataclass
class LoopStats:
    """Counters of one run."""

    frames: int = 0
    rewinds: int = 0
    ticks: int = 0
    resets: int = 0
    ahead_used: int = 0          # batches computed while the board ran the one before
    sent_ahead: int = 0          # STEP frames written before the reply to the one before
    ahead_refused: int = 0       # ... that the board did not run (the one before changed something)
    flow_ticks_by_cartridge: dict[int, int] = field(default_factory=dict)


class BoardRun:
    """What the closed and the free-running loop share: the notification
    bus, the run's counters, and the board's events lined up with the
    run's ticks (``offset`` = run tick - board tick)."""

    observers: Observers
    stats: LoopStats
    events: list[Event]
    offset: int
    status: Status
    # The board's therapy limits, from its config (hil.board.firmware), when
    # the session knows which config it runs; None otherwise.
    limits: TherapyLimits | None = None

    @property
    def max_cartridges(self) -> int:
        """The board's cartridge limit (``therapy.max_cartridges``).

        Raises:
            AttributeError: the board's limits are not known.
        """
        if self.limits is None:
            raise AttributeError("max_cartridges: the board's therapy limits are not known")
        return self.limits.max_cartridges

    def _init_run(self, observers: Observers | None,
                  on_event: Callable[[Event], None] | None,
                  on_boot: Callable[[int, dict[str, Any]], None] | None,
                  on_status: Callable[[int, Status], None] | None) -> None:
        self.observers = observers if observers is not None else Observers()
        self.observers.subscribe(event=on_event, boot=on_boot, status=on_status)
        self.stats = LoopStats()
        self.events = []
        self.offset = 0

    def _status_seen(self) -> None:
        raise NotImplementedError

    def poll(self) -> None:
        """Ask the board for its status (and the events it has queued); a
        board that has restarted answers with its boot notice instead.
        For the loops that poll a board on its own clock (``_update`` and
        ``_rebooted`` are theirs)."""
        try:
            reply = self.client.status()
        except BoardReset as r:
            self._rebooted(r.notice)
            return
        self._update(reply)

    def _take_events(self, events: list[Event]) -> None:
        for e in events:
            if self.offset:
                e = replace(e, tick=e.tick + self.offset)
            self.events.append(e)
            self.observers.event(e)

    def _take_reply(self, reply: frames.Reply) -> None:
        """Hold the reply's status, take its events, publish the status."""
        self.status = reply.status
        self._take_events(reply.events)
        self._status_seen()


def flowing_ticks(out: array, k: int, threshold: int) -> int:
    """Of the first ``k`` samples in ``out`` (wire counts), how many show
    blood flowing: measured flow at least ``threshold``, sample not missing."""
    rows = np.frombuffer(out, dtype=np.int16).reshape(-1, _CHANNELS)[:k]
    return int(np.count_nonzero((rows[:, contract.Q_BLOOD] >= threshold)
                                & (rows[:, contract.FLAGS] >= 0)))


def actuators_from(status: Status, bolus_base_u: float = 0.0) -> "object":
    """The firmware's outputs as the plant's actuator values (physical units).

    The status's bolus total is what the board released into the line
    (cumulative); the plant gives each increase once. ``bolus_base_u`` is
    added to it: what the plant was given before the board's last restart
    beyond what the board counts as given (:meth:`ClosedLoop._rebooted`)."""
    from host.plant import Actuators

    return Actuators(pump_ml_min=float(status.pump_ml_min), clamp_open=status.clamp_open,
                     heparin_u_h=float(status.heparin_u_h),
                     heparin_bolus_u=float(status.bolus_total_u) + bolus_base_u)
