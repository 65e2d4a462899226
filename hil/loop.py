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
from dataclasses import dataclass, field
from typing import Callable, Protocol

from hil import frames
from hil.client import BoardClient
from hil.frames import Event, Status

P = frames.P
C = frames.C


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
    flow_ticks_by_cartridge: dict[int, int] = field(default_factory=dict)


def actuators_from(status: Status) -> "object":
    """Convert the firmware's integer outputs to the plant's actuator values."""
    from host.plant import Actuators

    return Actuators(pump_ml_min=status.pump / 10.0, clamp_open=status.clamp_open,
                     heparin_u_h=status.heparin / 10.0,
                     heparin_bolus_u=float(status.bolus_total))


class ClosedLoop:
    """Advance a board and a plant together.

    Args:
        client: protocol client of the board under test.
        plant: the plant model; its ``tick`` must equal the board's.
        max_batch: most control periods per STEP frame; 1 is strict lockstep.
        flowing_threshold: measured flow (0.1 mL/min) counted as blood
            flowing, for the per-cartridge flow-time accounting.
        on_event: called with each firmware event as it arrives.
    """

    def __init__(self, client: BoardClient, plant: PlantLike, max_batch: int = P.MAX_SAMPLES,
                 flowing_threshold: int = 500,
                 on_event: Callable[[Event], None] | None = None) -> None:
        if not 1 <= max_batch <= P.MAX_SAMPLES:
            raise ValueError(f"max_batch must be 1..{P.MAX_SAMPLES}")
        self.client = client
        self.plant = plant
        self.max_batch = max_batch
        self.flowing_threshold = flowing_threshold
        self.on_event = on_event
        self.stats = LoopStats()
        self.events: list[Event] = []
        reply = client.status()
        self.status = reply.status
        self._take_events(reply.events)
        if self.status.tick != plant.tick:
            raise LoopError(f"board is at tick {self.status.tick}, plant at {plant.tick}: "
                            "reset the board before closing the loop")
        self.act = actuators_from(self.status)

    @property
    def tick(self) -> int:
        return self.plant.tick

    def _take_events(self, events: list[Event]) -> None:
        for e in events:
            self.events.append(e)
            if self.on_event is not None:
                self.on_event(e)

    def command(self, code: int, arg: int = 0) -> frames.Reply:
        """Send an operator command at the current tick."""
        reply = self.client.command(code, arg)
        self.status = reply.status
        self._take_events(reply.events)
        return reply

    def run_until(self, end_tick: int, horizon: Callable[[], int] | None = None) -> None:
        """Advance board and plant to ``end_tick`` exactly, or to the tick
        ``horizon()`` returns if that is earlier (it is asked again after
        every frame, so an event can bring it forward)."""
        plant = self.plant
        client = self.client
        stats = self.stats
        while True:
            target = end_tick if horizon is None else min(end_tick, horizon())
            if plant.tick >= target:
                return
            n = min(target - plant.tick, self.max_batch)
            before = self.status
            act = self.act
            snap = plant.snapshot()
            out = array("h")
            plant.advance(act, n, out)
            reply = client.step(plant.tick - n + 1, out.tobytes())
            k = reply.consumed
            stats.frames += 1
            if not 1 <= k <= n:
                raise LoopError(f"board consumed {k} of {n} samples")
            if k < n:
                plant.restore(snap)
                plant.advance(act, k, None)
                stats.rewinds += 1
            stats.ticks += k
            if reply.status.tick != plant.tick:
                raise LoopError(f"board reports tick {reply.status.tick}, plant is at {plant.tick}")
            if before.state == C.RUNNING:
                q = out[3::5][:k]
                thr = self.flowing_threshold
                flowing = sum(1 for v in q if v >= thr)
                cart = before.cartridge
                stats.flow_ticks_by_cartridge[cart] = stats.flow_ticks_by_cartridge.get(cart, 0) + flowing
            self.status = reply.status
            if reply.status.outputs() != before.outputs():
                self.act = actuators_from(reply.status)
            self._take_events(reply.events)
