"""The live run: the demo's therapy (patient, plant, scripted operator), paced
to N x real time for a person at the bench, with a hook between frames for
operator commands and injected faults.

It is composed like :func:`hil.run.therapy.run_therapy` (through the
:class:`~hil.run.session.Session`), with what a person watching needs and
the demo does not: pacing (:class:`~hil.loop.pacing.Pacer`; one STEP frame
stands for at most ``frame_wall_s`` of wall time), a speed that may change
while it runs, and faults injected from another thread. Like the demo and
a scenario run, it hands its session to the listeners that act on it (the
bus's ``session`` notification: the telemetry's ``on_session``). A board
on its own clock (``rp2`` HAL) is followed without a plant: the dashboard
shows it and the operator commands it; nothing is scripted.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from hil.board.providers import provider_for
from hil.loop.pacing import Pacer
from hil.run.observers import Observers
from hil.run.operator import FAULTS, FaultStep, ScriptedOperator
from hil.run.session import Session, make_plant, patient_params
from hil.run.therapy import TherapyLog, TherapyPlan


@dataclass
class LiveOptions:
    """How the live run runs (what it runs is the :class:`TherapyPlan`)."""

    speed: float | None = 60.0      # virtual seconds per wall second; None: as fast as it goes
    free_speed: float | None = None  # a board on its own clock: None real time, N x (test mode only)
    frame_wall_s: float = 0.2       # most wall time one STEP frame stands for
    manual: bool = False            # the person acknowledges alarms and confirms exchanges
    firmware_log: Path | None = None


class LiveRun:
    """One therapy, live (see the module docstring).

    Args:
        plan: the therapy (the demo's defaults).
        options: pacing and who acts.
        observers: listeners for the run's bus (any with ``on_session`` is
            handed the session once the loop is built).
    """

    def __init__(self, plan: TherapyPlan, options: LiveOptions | None = None,
                 observers: Iterable[Any] = ()) -> None:
        self.plan = plan
        self.options = options or LiveOptions()
        self.bus = Observers()
        self.observers = list(observers)
        self.session: Session | None = None
        self.op: ScriptedOperator | None = None
        self.log: TherapyLog | None = None
        self.end = 0
        self.pacer = Pacer(self.options.speed, self.options.frame_wall_s)
        self._speed_change: "queue.SimpleQueue[float | None]" = queue.SimpleQueue()
        self._faults: "queue.SimpleQueue[tuple[str, float]]" = queue.SimpleQueue()
        self.stopping = threading.Event()
        self.finished = threading.Event()
        self.error: str | None = None
        self.driving = False
        self.wall_s = 0.0

    # -- from any thread ------------------------------------------------------------

    def set_speed(self, speed: float | None) -> None:
        """Change the pace (None: as fast as it goes) at the next frame."""
        if speed is not None and speed <= 0:
            raise ValueError("speed must be more than 0")
        self._speed_change.put(speed)

    def inject(self, fault: str, value: float) -> None:
        """Make the plant suffer a fault (``air``: seconds of air at the
        detector; ``access_occlusion``: 0..1; ``clotting``) at the next frame."""
        if fault not in FAULTS:
            raise ValueError(f"unknown plant fault {fault!r}; known: {', '.join(FAULTS)}")
        if self.session is not None and self.session.plant is None:
            raise ValueError("this board reads its own sensors: there is no plant to put a fault in")
        self._faults.put((fault, float(value)))

    def stop(self) -> None:
        """End the run at the next frame."""
        self.stopping.set()

    @property
    def speed(self) -> float | None:
        return self.pacer.speed

    # -- the run's thread -----------------------------------------------------------------

    def open(self) -> dict[str, Any]:
        """Board, link, HELLO, loop, operator; hand the session to listeners."""
        plan, opts = self.plan, self.options
        self.session = session = Session(provider_for(plan.port, plan.board, plan.heapsize,
                                                      log=opts.firmware_log), observers=self.bus,
                                         device=plan.device)
        for o in self.observers:
            self.bus.subscribe(o)
        hello = session.open()
        period = session.period_s
        self.log = self.bus.subscribe(TherapyLog(period))
        if session.free:
            self.pacer = Pacer(None)    # the board keeps its own time
        batch = self.pacer.max_batch(period, plan.max_batch)
        loop = session.start_loop(self._plant, batch, opts.free_speed)
        self.end = round(plan.hours * 3600 / period)
        if not session.free:
            oplan = plan.operator
            if opts.manual:
                oplan = replace(oplan, confirms_exchange=False, acknowledges_alarms=False)
            self.op = ScriptedOperator(oplan, period, lambda rec: self.bus.note(loop.tick, rec))
            self.bus.subscribe(event=self.op.on_event)
            self.op.begin(loop, plan.faults)
        self.bus.session(session, exchange=self.op.exchange if self.op is not None else None)
        return hello

    def _plant(self, period_s: float) -> Any:
        plan = self.plan
        patient = patient_params(plan.operator.weight_kg, hours_since_onset=plan.hours_since_onset,
                                 k_pg=plan.severity_k_pg)
        return make_plant(patient, plan.device, plan.seed, period_s, plan.trace_every_s)

    def _due(self) -> None:
        while not self._faults.empty():
            fault, value = self._faults.get()
            if self.op is not None and self.session is not None:
                # Applied now, as a planned fault is (and noted on the time line).
                self.op.schedule(self.session.loop.tick, "fault", FaultStep(0.0, fault, value))
        if self.op is not None:
            self.op.run_due()

    def _apply_speed(self) -> None:
        if self._speed_change.empty() or self.session is None or self.session.free:
            return
        speed = self.pacer.speed
        while not self._speed_change.empty():
            speed = self._speed_change.get()
        loop, period = self.session.loop, self.session.period_s
        self.pacer = Pacer(speed, self.options.frame_wall_s)
        self.pacer.start(loop.tick * period)
        if hasattr(loop, "max_batch"):
            loop.max_batch = self.pacer.max_batch(period, self.plan.max_batch)

    def _chunk(self) -> int:
        session = self.session
        assert session is not None
        if session.free:
            return session.chunk_ticks(self.plan.max_batch)
        return session.chunk_ticks(getattr(session.loop, "max_batch", self.plan.max_batch), self.pacer.paced)

    def drive(self) -> None:
        """Run to the end of the plan (or :meth:`stop`), paced."""
        session = self.session
        assert session is not None
        loop, period = session.loop, session.period_s
        horizon = self.op.next_tick if self.op is not None else None
        self.pacer.start(loop.tick * period)
        while not self.stopping.is_set():
            self._apply_speed()
            self._due()
            if loop.tick >= self.end:
                break
            loop.run_until(min(self.end, loop.tick + self._chunk()), horizon)
            if not session.free:
                self.pacer.wait(loop.tick * period)
            self.bus.step(loop.tick, self.end)

    def complete(self) -> None:
        """:meth:`drive` to the end, then close; what stopped it early (the
        board or the link lost) is in :attr:`error`."""
        from hil.loop.closed import LoopError
        from hil.transport.client import BoardError
        from hil.transport.link import LinkError

        self.driving = True
        t0 = time.perf_counter()
        try:
            self.drive()
        except (LinkError, BoardError, LoopError, OSError) as e:
            self.error = f"{type(e).__name__}: {e}"
            if self.session is not None and self.session.loop is not None:
                self.bus.note(self.session.loop.tick, {"type": "aborted", "reason": self.error})
        finally:
            self.wall_s = time.perf_counter() - t0
            self.bus.end(self)
            self.close()
            self.finished.set()

    def run(self) -> None:
        """Open and :meth:`complete`."""
        self.open()
        self.complete()

    @property
    def virtual_s(self) -> float:
        session = self.session
        if session is None or session.loop is None:
            return 0.0
        return session.loop.tick * session.period_s

    def close(self) -> None:
        if self.session is not None:
            self.session.close()


__all__ = ["LiveOptions", "LiveRun"]
