"""The closed loop: firmware and plant advancing together in virtual time.

The host owns the clock. Each STEP frame hands the board the sensor samples
of up to ``max_batch`` control periods, computed by the plant on the
assumption that the board's outputs stay as they are. The board runs one
control tick per sample and stops right after a tick that changed its
outputs or raised an event. The plant then rewinds to that tick and goes on
with the new outputs. The result is identical, sample for sample, to strict
lockstep (``max_batch=1``), which the tests check.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Protocol

import numpy as np

from hil.board.firmware import TherapyLimits
from hil.transport import contract, frames
from hil.transport.client import BoardClient, BoardReset
from hil.transport.frames import Event, Status
from hil.run.observers import Observers
from hil.loop.speculate import Batch, ahead

P = frames.P
C = frames.C
_CHANNELS = len(contract.SAMPLE)


# Whether loops made in this context compute the plant's next batch while
# the board runs (None: ClosedLoop.PIPELINE). Set by :func:`batches_ahead`.
_BATCHES_AHEAD: ContextVar[bool | None] = ContextVar("hil_batches_ahead", default=None)


@contextmanager
def batches_ahead(on: bool) -> Iterator[None]:
    """Within the block, closed loops made without an explicit ``pipeline``
    compute the next batch ahead (``on``) or take turns with the board.

    A campaign worker turns it off: the campaign already gives every core a
    worker, so a batch computed ahead only takes CPU from the other runs
    (and is thrown away whenever the board changes its outputs); the
    samples and results are the same either way."""
    token = _BATCHES_AHEAD.set(on)
    try:
        yield
    finally:
        _BATCHES_AHEAD.reset(token)


class PlantLike(Protocol):
    """What the loop needs of a plant (see :class:`host.plant.Plant`)."""

    tick: int

    def advance(self, act: object, n: int, out: array | None) -> None: ...
    def snapshot(self) -> object: ...
    def restore(self, snap: object) -> None: ...


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


class ClosedLoop(BoardRun):
    """Advance a board and a plant together.

    Args:
        client: protocol client of the board under test.
        plant: the plant model; its ``tick`` must equal the board's.
        max_batch: most control periods per STEP frame; 1 is strict lockstep.
        flowing_ml_min: measured flow counted as blood flowing, for the
            per-cartridge flow-time accounting (the board's
            ``therapy.flowing_ml_min``).
        observers: the run's notification bus (:mod:`hil.run.observers`): the
            loop publishes ``event`` (each firmware event as it arrives, its
            tick converted to the plant's, i.e. virtual time since the
            start), ``boot`` (the board's BOOT notice when it restarted) and
            ``status`` ((plant tick, status block) after every reply, so that
            a change of outputs is seen at the tick it happened). Default: a
            bus of its own.
        on_event, on_boot, on_status: shorthands that subscribe one callable
            each to those notifications.
        pipeline: compute the plant's next batch while the board runs the
            current one (:mod:`hil.loop.speculate`; same samples, same
            result). Off: plant and board take turns. Default: the
            context's :func:`batches_ahead`, else ``ClosedLoop.PIPELINE``;
            never with ``max_batch=1``.
    """

    PIPELINE = True

    def __init__(self, client: BoardClient, plant: PlantLike, max_batch: int = P.MAX_SAMPLES,
                 flowing_ml_min: float = 50.0,
                 observers: Observers | None = None,
                 on_event: Callable[[Event], None] | None = None,
                 on_boot: Callable[[int, dict[str, Any]], None] | None = None,
                 on_status: Callable[[int, Status], None] | None = None,
                 pipeline: bool | None = None) -> None:
        if not 1 <= max_batch <= P.MAX_SAMPLES:
            raise ValueError(f"max_batch must be 1..{P.MAX_SAMPLES}")
        self.client = client
        self.plant = plant
        self.max_batch = max_batch
        # Lockstep stays strict: one frame, then the plant, then the next.
        if pipeline is None:
            pipeline = _BATCHES_AHEAD.get()
        self.pipeline = (self.PIPELINE if pipeline is None else pipeline) and max_batch > 1
        # Compared with the samples as they go out, in wire counts.
        self.flowing_threshold = contract.CHANNEL["q_blood"].wire(flowing_ml_min)
        # Plant tick = board tick + offset; the board counts from 0 at
        # every boot, virtual time does not.
        self._init_run(observers, on_event, on_boot, on_status)
        # Windows [start, end) of plant ticks whose sensor samples never
        # reach the board (sensor link down): sent flagged as missing.
        self.outages: list[tuple[int, int]] = []
        # Plant bolus total = board bolus total + base (see _rebooted).
        self.bolus_base_u = 0.0
        reply = client.status()
        self._take_reply(reply)
        if self.status.tick != plant.tick:
            raise LoopError(f"board is at tick {self.status.tick}, plant at {plant.tick}: "
                            "reset the board before closing the loop")
        self.act = actuators_from(self.status)

    @property
    def tick(self) -> int:
        return self.plant.tick

    def _status_seen(self) -> None:
        self.observers.status(self.plant.tick, self.status)

    def add_outage(self, start_tick: int, end_tick: int) -> None:
        """Make the samples of plant ticks in [start_tick, end_tick) arrive
        at the board flagged as missing, as when its sensor link is down."""
        if end_tick > start_tick:
            self.outages.append((start_tick, end_tick))

    def _mask(self, out: array, first_tick: int, n: int) -> None:
        for a, b in self.outages:
            lo = max(a, first_tick)
            hi = min(b, first_tick + n)
            for t in range(lo, hi):
                out[_CHANNELS * (t - first_tick) + contract.FLAGS] = contract.FLAG_MISSING

    def command(self, code: int, arg: int = 0) -> frames.Reply:
        """Send an operator command at the current tick."""
        reply = self.client.command(code, arg)
        self._take_reply(reply)
        return reply

    def run_until(self, end_tick: int, horizon: Callable[[], int] | None = None) -> None:
        """Advance board and plant to ``end_tick`` exactly, or to the tick
        ``horizon()`` returns if that is earlier (it is asked again after
        every frame, so an event can bring it forward).

        With ``pipeline`` on, the plant computes the next batch while the
        board runs this one (:mod:`hil.loop.speculate`); the board receives
        the same samples either way."""
        plant = self.plant
        nxt: Batch | None = None
        while True:
            target = end_tick if horizon is None else min(end_tick, horizon())
            if plant.tick >= target:
                return
            n = min(target - plant.tick, self.max_batch)
            act = self.act
            if nxt is not None and nxt.fits(plant.tick, n, act):
                # The batch ahead started from this very state: its
                # snapshot is the one a rewind needs.
                snap = nxt.start
                out = nxt.apply(plant)
                self.stats.ahead_used += 1
            else:
                snap = plant.snapshot()
                out = array("h")
                plant.advance(act, n, out)
            if self.outages:
                self._mask(out, plant.tick - n + 1, n)
            board_tick0 = plant.tick - n + 1 - self.offset
            reply, nxt = self._exchange(board_tick0, out, target, act, snap)
            if reply is not None:
                self._settle(reply, snap, act, out, n)

    def _exchange(self, board_tick0: int, out: array, target: int, act: object,
                  snap: object) -> tuple[frames.Reply | None, Batch | None]:
        """Send one STEP frame and wait for its reply; with ``pipeline``,
        compute the batch that follows (if nothing changes) between writing
        the frame and reading the reply, while the board runs. A board that
        resets part-way through is handled here (reply None)."""
        made: list[Batch] = []

        def next_batch() -> None:
            n_next = min(target - self.plant.tick, self.max_batch)
            if n_next > 0:
                made.append(ahead(self.plant, act, n_next))

        try:
            reply = self.client.step(board_tick0, out.tobytes(),
                                     next_batch if self.pipeline else None)
        except BoardReset as r:
            self._reset_mid_frame(r, board_tick0, len(out) // _CHANNELS, act, snap)
            return None, None
        return reply, (made[0] if made else None)

    def _reset_mid_frame(self, r: BoardReset, board_tick0: int, n: int, act: object,
                         snap: object) -> None:
        """The board reset part-way through a frame: it had run up to the
        tick its notice names. Rewind the plant to there."""
        k = int(r.notice.get("last_tick", board_tick0 - 1)) - (board_tick0 - 1)
        if not 0 <= k <= n:
            raise LoopError(f"board reset at tick {r.notice.get('last_tick')}, outside the "
                            f"frame {board_tick0}..{board_tick0 + n - 1}") from r
        self.plant.restore(snap)
        self.plant.advance(act, k, None)
        self.stats.ticks += k
        self._rebooted(r.notice)

    def _settle(self, reply: frames.Reply, snap: object, act: object, out: array, n: int) -> None:
        """Line the plant up with what the board took of the frame, count
        the flow time, and take the board's new outputs and events."""
        plant = self.plant
        stats = self.stats
        before = self.status
        k = reply.consumed
        stats.frames += 1
        if not 1 <= k <= n:
            raise LoopError(f"board consumed {k} of {n} samples")
        if k < n:
            plant.restore(snap)
            plant.advance(act, k, None)
            stats.rewinds += 1
        stats.ticks += k
        if reply.status.tick + self.offset != plant.tick:
            raise LoopError(f"board reports tick {reply.status.tick} (+{self.offset}), "
                            f"plant is at {plant.tick}")
        if before.state == C.RUNNING:
            flowing = flowing_ticks(out, k, self.flowing_threshold)
            cart = before.cartridge
            stats.flow_ticks_by_cartridge[cart] = stats.flow_ticks_by_cartridge.get(cart, 0) + flowing
        self.status = reply.status
        if reply.status.outputs() != before.outputs():
            self.act = actuators_from(reply.status, self.bolus_base_u)
        self._take_events(reply.events)
        self._status_seen()

    def _unpowered(self, off_s: float) -> None:
        """Advance the plant ``off_s`` virtual seconds with the board off: the
        pump stopped, the clamp closed, no heparin (nothing new into the line)."""
        from host.plant import Actuators

        off = Actuators(pump_ml_min=0.0, clamp_open=False, heparin_u_h=0.0,
                        heparin_bolus_u=self.act.heparin_bolus_u)
        ticks = round(off_s / self.plant.period_s) if hasattr(self.plant, "period_s") else 0
        if ticks:
            self.plant.advance(off, ticks, None)

    def _rebooted(self, notice: dict[str, Any]) -> None:
        """The board is up again at tick 0: line its clock up with the plant's.
        A board that cut its own power (``off_s`` in the notice: a cut inside
        a storage write, :class:`~hil.board.virtual.CutBench`) stayed off
        that long first."""
        if notice.get("off_s"):
            self._unpowered(float(notice["off_s"]))
        self.stats.resets += 1
        self.offset = self.plant.tick
        self.observers.boot(self.plant.tick, notice)
        reply = self.client.status()
        if reply.status.tick != 0:
            raise LoopError(f"board restarted at tick {reply.status.tick}, expected 0")
        self.status = reply.status
        # The board restores its bolus total and counts all of it as given
        # (a bolus it held when the power went is dropped, never given on
        # boot): the plant's total carries on from what it was given.
        self.bolus_base_u = self.act.heparin_bolus_u - float(self.status.bolus_total_u)
        self.act = actuators_from(self.status, self.bolus_base_u)
        self._take_events(reply.events)
        self._status_seen()

    def power_cycle(self, power: Any, off_s: float = 0.0) -> dict[str, Any]:
        """Cut the board's power at the current tick, leave it off for
        ``off_s`` virtual seconds (pump stopped, clamp closed, no heparin, as
        without power), then power it on and wait for it to boot.

        Args:
            power: the board's :class:`~hil.board.providers.PowerControl` (``Board.power``),
                or a :class:`~hil.board.virtual.VirtualBoard`.
            off_s: virtual seconds without power.

        Returns:
            The board's BOOT notice.

        Raises:
            LoopError: the board has no power control (None: a serial port).
        """
        from hil.board.providers import power_control

        switch = power_control(power)
        if switch is None:
            raise LoopError("the harness cannot switch this board's power (no power control)")
        switch.off()
        self._unpowered(off_s)
        switch.on()
        notice = self.client.wait_boot()
        self._rebooted(notice)
        return notice
