"""One closed-loop therapy on a board: the virtual Pico (or a real one on a
serial port, with the sim HAL), or the emulated Pico with the plant at its
pins (``--board pico-emu``, :mod:`hil.loop.pins`), the plant, the scripted
operator, from setup to the end of the planned duration. A run is a pure
function of its plan and seed.

The run is built by the composition root (:class:`~hil.run.session.Session`);
what the report needs is gathered by a listener on its bus
(:class:`TherapyLog`), next to the scripted operator and the progress bar.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from hil.transport import frames
from hil.board.providers import provider_for
from hil.transport.client import BoardError
from hil.transport.frames import Event
from hil.transport.link import LinkError
from hil.loop.closed import LoopError
from hil.run.observers import Observers, Progress, fw_event_record
from hil.run.operator import FaultStep, OperatorPlan, ScriptedOperator
from hil.run.session import Session, make_plant, patient_params

C = frames.C


@dataclass
class TherapyPlan:
    """Everything that defines a run (with the seed, it fixes the result)."""

    hours: float = 48.0
    seed: int = 1
    device: str = "cytosorb"
    hours_since_onset: float | None = None   # None: the plant's default
    severity_k_pg: float | None = None       # None: the plant's default
    operator: OperatorPlan = field(default_factory=OperatorPlan)
    board: str = "virtual"          # board config name or path
    port: str | None = None         # a serial port or URL; None starts a virtual board
    heapsize: str = "192K"
    heap_stats: bool = False        # the firmware measures its peak heap (slower)
    max_batch: int = frames.P.MAX_SAMPLES
    trace_every_s: float = 10.0
    faults: tuple[FaultStep, ...] = ()


@dataclass
class TherapyResult:
    """What a run produced."""

    plan: TherapyPlan
    hello: dict[str, Any]
    diag: dict[str, Any]
    period_s: float
    virtual_s: float
    wall_s: float
    events: list[dict[str, Any]]
    fw_events: list[Event]
    trace_columns: tuple[str, ...]
    trace_rows: list[tuple[float, ...]]
    state_changes: list[tuple[int, int]]   # (tick, new state)
    flow_ticks_by_cartridge: dict[int, int]
    frames: int
    rewinds: int
    untreated: dict[str, Any]
    final_status: frames.Status
    aborted: str | None = None     # why the run stopped early (board or link lost)
    sent_ahead: int = 0            # STEP frames written before the reply to the one before
    ahead_refused: int = 0         # ... that the board refused (the one before changed something)


class TherapyLog:
    """Listener that keeps what the report needs: the events (firmware and
    operator) as report entries, the state changes and the plant's trace."""

    def __init__(self, period_s: float) -> None:
        self.period_s = period_s
        self.events: list[dict[str, Any]] = []
        self.state_changes: list[tuple[int, int]] = [(0, C.IDLE)]
        self.trace_columns: tuple[str, ...] = ()
        self.trace_rows: list[tuple[float, ...]] = []

    def on_event(self, e: Event) -> None:
        self.events.append(fw_event_record(e, self.period_s))
        if e.kind == C.EV_STATE:
            self.state_changes.append((e.tick, e.code))

    def on_note(self, tick: int, rec: dict[str, Any]) -> None:
        self.events.append({"t_s": round(tick * self.period_s, 3), **rec})

    def on_trace(self, columns: tuple[str, ...], rows: list[tuple[float, ...]]) -> None:
        self.trace_columns = tuple(columns)
        self.trace_rows = list(rows)


def _refuse_free_running(session: Session, port: str) -> None:
    hello = session.hello
    if session.free:
        raise LoopError(f"the board on {port} reads its own sensors ({hello.get('hal')} HAL): the "
                        "demo needs a board that takes its sensor samples from the plant; on this "
                        "one, run scenarios of operator steps ('hil run', docs/scenarios.md)")


def run_therapy(plan: TherapyPlan,
                progress: Callable[[float, float], None] | None = None,
                firmware_log: Path | None = None,
                observers: Iterable[Any] = ()) -> TherapyResult:
    """Run one therapy with the firmware in the loop.

    Args:
        plan: the run's definition.
        progress: called with (virtual seconds done, virtual seconds planned).
        firmware_log: file for the virtual board's own output.
        observers: more listeners for the run's bus (:mod:`hil.run.observers`).

    Returns:
        Everything the report needs.
    """
    bus = Observers()
    session = Session(provider_for(plan.port, plan.board, plan.heapsize, log=firmware_log,
                                   heap_stats=plan.heap_stats), observers=bus, device=plan.device)
    for o in observers:   # before open(), so that they hear HELLO too
        bus.subscribe(o)
    with session:
        session.open()
        _refuse_free_running(session, session.board.port)
        period_s = session.period_s
        log = bus.subscribe(TherapyLog(period_s))
        op = ScriptedOperator(plan.operator, period_s, lambda rec: bus.note(session.loop.tick, rec))
        bus.subscribe(event=op.on_event)
        if progress is not None:
            bus.subscribe(Progress(progress, period_s))
        patient = patient_params(plan.operator.weight_kg, hours_since_onset=plan.hours_since_onset,
                                 k_pg=plan.severity_k_pg)
        plant = make_plant(patient, plan.device, plan.seed, period_s, plan.trace_every_s)
        if session.pins:
            # An emulated Pico (--board pico-emu): the plant at its pins.
            loop = session.pin_loop(plant)
        else:
            loop = session.closed_loop(plant, plan.max_batch)
        end = round(plan.hours * 3600 / period_s)
        op.begin(loop, plan.faults)
        # Listeners that read the plant or send commands (MQTT) take the run here.
        bus.session(session, exchange=op.exchange)
        t0 = time.perf_counter()
        aborted: str | None = None
        try:
            session.drive(end, session.chunk_ticks(plan.max_batch), op.run_due, op.next_tick)
            diag = session.client.diag()
        except (LinkError, BoardError, LoopError) as e:
            # Keep what was run: the report of a run cut short says so.
            aborted = str(e)
            diag = {}
            bus.note(plant.tick, {"type": "aborted", "reason": aborted})
        wall = time.perf_counter() - t0
        final = loop.status
    return _result(plan, session, log, patient, diag, wall, final, aborted)


def _result(plan: TherapyPlan, session: Session, log: TherapyLog, patient: Any, diag: dict[str, Any],
            wall: float, final: frames.Status, aborted: str | None) -> TherapyResult:
    from host.plant import TRACE_COLUMNS
    from host.untreated import simulate as simulate_untreated

    plant, loop, period_s = session.plant, session.loop, session.period_s
    session.observers.trace(tuple(TRACE_COLUMNS), list(plant.trace_rows))
    # The untreated arm is sampled on whole seconds (the physiology step).
    trace_every = max(1, round(plan.trace_every_s / period_s))
    untreated_every = max(1.0, float(round(trace_every * period_s)))
    untreated = simulate_untreated(patient, plan.seed, plan.hours * 3600.0, untreated_every)
    result = TherapyResult(
        plan=plan, hello=session.hello, diag=diag, period_s=period_s,
        virtual_s=round(plant.tick * period_s, 3), wall_s=wall, events=log.events, fw_events=loop.events,
        trace_columns=log.trace_columns, trace_rows=log.trace_rows, state_changes=log.state_changes,
        flow_ticks_by_cartridge=dict(loop.stats.flow_ticks_by_cartridge),
        frames=loop.stats.frames, rewinds=loop.stats.rewinds, untreated=untreated,
        final_status=final, aborted=aborted, sent_ahead=loop.stats.sent_ahead,
        ahead_refused=loop.stats.ahead_refused)
    session.observers.end(result)
    return result


def plan_dict(plan: TherapyPlan) -> dict[str, Any]:
    """The plan as plain data for the report."""
    return asdict(plan)
