"""One closed-loop therapy on a board: the virtual Pico (or a real one on a
serial port), the plant, the scripted operator, from setup to the end of
the planned duration. A run is a pure function of its plan and seed."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from hil import frames
from hil.client import BoardClient, BoardError
from hil.frames import Event
from hil.link import Link, LinkError, SerialLink
from hil.loop import ClosedLoop, LoopError
from hil.operator import FaultStep, OperatorPlan, ScriptedOperator
from hil.virtual_board import VirtualBoard

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


def _patient(plan: TherapyPlan) -> Any:
    from host.patient import PatientParams

    kw: dict[str, Any] = {"weight_kg": plan.operator.weight_kg}
    if plan.hours_since_onset is not None:
        kw["hours_since_onset"] = plan.hours_since_onset
    if plan.severity_k_pg is not None:
        kw["k_pg"] = plan.severity_k_pg
    return PatientParams(**kw)


def fw_event_record(e: Event, period_s: float) -> dict[str, Any]:
    """A firmware event as a report entry."""
    t = round(e.tick * period_s, 3)
    if e.kind == C.EV_STATE:
        return {"t_s": t, "type": "state", "to": C.STATE_NAMES[e.code], "from": C.STATE_NAMES[e.a]}
    if e.kind in (C.EV_ALARM_ON, C.EV_ALARM_OFF, C.EV_ALARM_ACK):
        kind = {C.EV_ALARM_ON: "alarm", C.EV_ALARM_OFF: "alarm_clear", C.EV_ALARM_ACK: "alarm_ack"}[e.kind]
        rec: dict[str, Any] = {"t_s": t, "type": kind, "alarm": C.ALARM_NAMES[e.code],
                               "priority": C.PRIO_NAMES[e.a]}
        if e.kind == C.EV_ALARM_ON:
            rec["value"] = e.b
        return rec
    if e.kind == C.EV_EXCHANGE_DUE:
        return {"t_s": t, "type": "cartridge_exchange_due", "cartridge": e.code,
                "flow_time_s": round(e.b * period_s, 3)}
    if e.kind == C.EV_HEPARIN:
        return {"t_s": t, "type": "heparin", "table_row": e.code, "bolus_u": e.a,
                "rate_u_h": e.b / 10.0}
    if e.kind == C.EV_APTT:
        return {"t_s": t, "type": "aptt_entered", "aptt_s": e.b / 10.0}
    if e.kind == C.EV_PRIMED:
        return {"t_s": t, "type": "primed", "volume_ml": e.b}
    if e.kind == C.EV_CARTRIDGE:
        return {"t_s": t, "type": "cartridge_installed", "cartridge": e.code}
    return {"t_s": t, "type": e.kind_name, "code": e.code, "a": e.a, "b": e.b}


def run_therapy(plan: TherapyPlan,
                progress: Callable[[float, float], None] | None = None,
                firmware_log: Path | None = None) -> TherapyResult:
    """Run one therapy with the firmware in the loop.

    Args:
        plan: the run's definition.
        progress: called with (virtual seconds done, virtual seconds planned).
        firmware_log: file for the virtual board's own output.

    Returns:
        Everything the report needs.
    """
    from host.patient import DeviceParams
    from host.plant import TRACE_COLUMNS, Plant
    from host.untreated import simulate as simulate_untreated

    board: VirtualBoard | None = None
    if plan.port is None:
        board = VirtualBoard(plan.board, plan.heapsize, log=firmware_log, heap_stats=plan.heap_stats)
        port = board.start()
    else:
        port = plan.port
    link: Link | None = None
    try:
        link = SerialLink(port)
        client = BoardClient(link)
        hello = client.hello()
        if hello.get("hal") != "sim":
            raise LoopError(f"the board on {port} reads its own sensors ({hello.get('hal')} HAL): the "
                            "demo needs a board that takes its sensor samples from the plant; on this "
                            "one, run scenarios of operator steps ('hil run', docs/scenarios.md)")
        period_s = hello["period_ms"] / 1000.0
        trace_every = max(1, round(plan.trace_every_s / period_s))
        patient = _patient(plan)
        plant = Plant(patient=patient, device=DeviceParams.preset(plan.device), seed=plan.seed,
                      period_s=period_s, trace_every=trace_every)
        events: list[dict[str, Any]] = []
        state_changes: list[tuple[int, int]] = [(0, C.IDLE)]

        def record_op(ev: dict[str, Any]) -> None:
            events.append({"t_s": round(plant.tick * period_s, 3), **ev})

        op = ScriptedOperator(plan.operator, period_s, record_op)

        def on_event(e: Event) -> None:
            events.append(fw_event_record(e, period_s))
            if e.kind == C.EV_STATE:
                state_changes.append((e.tick, e.code))
            op.on_event(e)

        loop = ClosedLoop(client, plant, max_batch=plan.max_batch, on_event=on_event)
        end = round(plan.hours * 3600 / period_s)
        chunk = max(1, round(600 / period_s))   # report progress every 10 virtual minutes
        op.begin(loop, plan.faults)
        t0 = time.perf_counter()
        aborted: str | None = None
        try:
            while loop.tick < end:
                op.run_due()
                stop = min(end, loop.tick + chunk)
                loop.run_until(stop, op.next_tick)
                if progress is not None:
                    progress(loop.tick * period_s, end * period_s)
            op.run_due()
            diag = client.diag()
        except (LinkError, BoardError, LoopError) as e:
            # Keep what was run: the report of a run cut short says so.
            aborted = str(e)
            diag = {}
            events.append({"t_s": round(plant.tick * period_s, 3), "type": "aborted",
                           "reason": aborted})
        wall = time.perf_counter() - t0
        final = loop.status
    finally:
        if link is not None:
            link.close()
        if board is not None:
            board.stop()
    # The untreated arm is sampled on whole seconds (the physiology step).
    untreated_every = max(1.0, float(round(trace_every * period_s)))
    untreated = simulate_untreated(patient, plan.seed, plan.hours * 3600.0, untreated_every)
    return TherapyResult(
        plan=plan, hello=hello, diag=diag, period_s=period_s, virtual_s=round(plant.tick * period_s, 3),
        wall_s=wall, events=events, fw_events=loop.events, trace_columns=tuple(TRACE_COLUMNS),
        trace_rows=list(plant.trace_rows), state_changes=state_changes,
        flow_ticks_by_cartridge=dict(loop.stats.flow_ticks_by_cartridge),
        frames=loop.stats.frames, rewinds=loop.stats.rewinds, untreated=untreated,
        final_status=final, aborted=aborted)


def plan_dict(plan: TherapyPlan) -> dict[str, Any]:
    """The plan as plain data for the report."""
    return asdict(plan)
