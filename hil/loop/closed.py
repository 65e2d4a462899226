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
from dataclasses import dataclass
from typing import Any, Callable, Protocol

from hil.transport import contract, frames
from hil.transport.client import BoardClient, BoardReset
from hil.transport.frames import Event, Status
from hil.run.observers import Observers
from hil.loop.boardrun import BoardRun, LoopError, LoopStats, actuators_from, flowing_ticks
from hil.loop.speculate import Batch, ahead

P = frames.P
C = frames.C
_CHANNELS = len(contract.SAMPLE)

__all__ = ["BoardRun", "ClosedLoop", "LoopError", "LoopStats", "PlantLike", "actuators_from",
           "batches_ahead", "flowing_ticks"]


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


@dataclass
class _Open:
    """A STEP frame written to the board whose reply is not taken yet."""

    sent: Any            # the client's handle (hil.transport.client.Sent)
    board_tick0: int     # the board's tick of its first sample
    n: int
    act: object          # the outputs its samples assume
    snap: object         # the plant at its start
    out: array           # its samples
    batch: Batch | None = None   # sent ahead: the plant's state after it
    limit: int | None = None     # sent ahead: the loop's target when the board went on with it


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
            result), and, if the board takes STEP frames sent ahead
            (``client.steps_ahead``, from its HELLO), write that batch to it
            before its reply to the current one comes, so that the board
            never waits for the host. Off: plant and board take turns.
            Default: the context's :func:`batches_ahead`, else
            ``ClosedLoop.PIPELINE``; never with ``max_batch=1``.
        send_ahead: overrides whether batches computed ahead are sent ahead
            (only with ``pipeline``; True needs a board that takes them).
    """

    PIPELINE = True

    def __init__(self, client: BoardClient, plant: PlantLike, max_batch: int = P.MAX_SAMPLES,
                 flowing_ml_min: float = 50.0,
                 observers: Observers | None = None,
                 on_event: Callable[[Event], None] | None = None,
                 on_boot: Callable[[int, dict[str, Any]], None] | None = None,
                 on_status: Callable[[int, Status], None] | None = None,
                 pipeline: bool | None = None, send_ahead: bool | None = None) -> None:
        if not 1 <= max_batch <= P.MAX_SAMPLES:
            raise ValueError(f"max_batch must be 1..{P.MAX_SAMPLES}")
        self.client = client
        self.plant = plant
        self.max_batch = max_batch
        # Lockstep stays strict: one frame, then the plant, then the next.
        if pipeline is None:
            pipeline = _BATCHES_AHEAD.get()
        self.pipeline = (self.PIPELINE if pipeline is None else pipeline) and max_batch > 1
        if send_ahead is None:
            send_ahead = bool(getattr(client, "steps_ahead", False))
        self.send_ahead = self.pipeline and send_ahead
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
            target = self._target(end_tick, horizon)
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
            if self.send_ahead:
                self._run_ahead(_Open(self.client.send_step(board_tick0, out.tobytes()),
                                      board_tick0, n, act, snap, out), end_tick, horizon)
                nxt = None
                continue
            reply, nxt = self._exchange(board_tick0, out, target, act, snap)
            if reply is not None:
                self._settle(reply, snap, act, out, n)

    @staticmethod
    def _target(end_tick: int, horizon: Callable[[], int] | None) -> int:
        return end_tick if horizon is None else min(end_tick, horizon())

    def _run_ahead(self, cur: "_Open", end_tick: int, horizon: Callable[[], int] | None) -> None:
        """Frames sent ahead (docs/protocol.md, "STEP frames sent ahead").

        ``cur`` is written and the plant is at its end. While the board
        runs it, the plant computes the next batch with the same outputs
        and writes it at once, flagged ahead; then the loop takes the reply
        to ``cur``. If ``cur`` ran to its end with no change (all samples
        consumed, the same outputs, no event), the board goes straight on
        with the frame ahead, which becomes ``cur``, and so on. Otherwise
        the board refuses the frame ahead (NAK), and the loop goes back to
        :meth:`run_until` with the new outputs, as without sending ahead.
        The board runs exactly the samples lockstep would send it."""
        plant = self.plant
        client = self.client
        stats = self.stats
        while True:
            # Written ahead now, so that the board never waits for the host.
            nxt: _Open | None = None
            n_next = min(self._target(end_tick, horizon) - plant.tick, self.max_batch)
            if n_next > 0:
                batch = ahead(plant, cur.act, n_next)
                tick0 = cur.board_tick0 + cur.n
                if self.outages:
                    self._mask(batch.out, plant.tick + 1, n_next)
                nxt = _Open(client.send_step(tick0, batch.out.tobytes(), ahead=True),
                            tick0, n_next, cur.act, batch.start, batch.out, batch)
                stats.sent_ahead += 1
            try:
                reply = client.finish_step(cur.sent, refusable=cur.batch is not None)
            except BoardReset as r:
                self._reset_mid_frame(r, cur.board_tick0, cur.n, cur.act, cur.snap)
                return
            if reply is None:
                # The board did not run a frame sent ahead (damaged on the
                # way, or a change the loop did not see): nor the one after.
                plant.restore(cur.snap)
                stats.ahead_refused += 1
                self._refused(nxt)
                return
            self._settle(reply, cur.snap, cur.act, cur.out, cur.n)
            if cur.limit is not None and plant.tick > cur.limit:
                raise LoopError(f"the horizon moved to tick {cur.limit} without a change on the "
                                f"board, which had run to {plant.tick} on a frame sent ahead")
            if nxt is None:
                return
            if reply.consumed < cur.n or self.act != cur.act or reply.events:
                # Something changed: the board refuses the frame ahead.
                self._refused(nxt)
                return
            nxt.batch.apply(plant)
            stats.ahead_used += 1
            nxt.limit = self._target(end_tick, horizon)
            cur = nxt

    def _refused(self, sent: "_Open | None") -> None:
        """Take the board's refusal of a frame sent ahead that it must not
        run (the one before it changed something, or was not run)."""
        if sent is None:
            return
        try:
            reply = self.client.finish_step(sent.sent, refusable=True)
        except BoardReset as r:
            # After its last reply, before it ran anything more.
            self._reset_mid_frame(r, self.plant.tick - self.offset + 1, 0, sent.act, self.plant.snapshot())
            return
        if reply is not None:
            raise LoopError(f"the board ran a STEP frame sent ahead from tick {sent.board_tick0} "
                            "after a frame that changed its outputs or raised an event")
        self.stats.ahead_refused += 1

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
