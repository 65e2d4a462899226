"""One virtual patient in one arm: a closed-loop therapy with the arm's
firmware and board config in the MicroPython VM, and what the trial keeps
of it (circuits, aPTT, IL-6 against the same patient untreated, alarms).

The run is composed as :func:`hil.run.therapy.run_therapy` composes the
demo's (the same :class:`~hil.run.session.Session`, plant, scripted
operator and :class:`~hil.run.therapy.TherapyLog`), with two differences
that ``run_therapy`` has no parameter for yet: the board is started from
the arm's board config and compiled firmware folder (:class:`ArmBoards`),
and the patient is drawn from the cohort. The scripted operator knows the
anticoagulation protocol was started from the board's answer, so table
``none`` (zero doses) starts blood flow like any other.

A patient is a pure function of its seed: its characteristics are drawn
from the cohort distribution of :func:`host.cohort.sample_patients` with
that seed, and the plant runs with the same seed, in every arm.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hil.board.providers import VirtualPortBoard
from hil.loop.closed import LoopError
from hil.run.observers import Observers
from hil.run.operator import OperatorPlan, ScriptedOperator
from hil.run.session import Session, make_plant, patient_params
from hil.run.therapy import TherapyLog
from hil.transport import frames
from hil.transport.client import BoardError
from hil.transport.frames import Event, Status
from hil.transport.link import LinkError
from hil.trial.arms import Arm

C = frames.C
P = frames.P
# aPTT histogram bins (s): 5 s wide up to 200 s; the last bin takes everything above.
APTT_EDGES_S = tuple(float(x) for x in range(0, 205, 5))


@dataclass(frozen=True)
class PatientTask:
    """One run of the trial: an arm, a patient (index and seed), the plan."""

    arm: Arm
    index: int
    seed: int
    hours: float
    flow_ml_min: int = 200
    aptt_target_s: tuple[float, float] = (60.0, 80.0)
    horizon_h: float = 24.0
    device: str = "cytosorb"
    trace_every_s: float = 60.0
    run_dir: Path | None = None      # firmware log and event list go here


class ArmBoards:
    """Provider of a fresh virtual board per run, with the arm's board config
    and compiled firmware (:class:`hil.board.providers.VirtualBoards` with a
    firmware folder). ``config`` is what the session reads the limits from."""

    def __init__(self, config: Path, firmware_dir: Path, heapsize: str = "192K",
                 log: Path | None = None) -> None:
        self.config = str(config)
        self.firmware_dir = firmware_dir
        self.heapsize = heapsize
        self.log = log

    def start(self) -> VirtualPortBoard:
        from hil.board.virtual import VirtualBoard

        vb = VirtualBoard(self.config, self.heapsize, log=self.log, compiled=False)
        vb.firmware_dir = self.firmware_dir
        vb.start()
        return VirtualPortBoard(vb)


class CircuitLog:
    """Listener: each cartridge's circuit, from its first blood flow to its
    end, in the board's own flow time (``cartridge_used``); the alarms and
    overrides. Events are taken with the status of the reply that carried
    them (the board stops at the tick of an event, so that is its tick)."""

    def __init__(self, period_s: float) -> None:
        self.period_s = period_s
        self.circuits: dict[int, dict[str, Any]] = {}
        self.alarms: list[tuple[float, str, str]] = []   # (t_h, alarm, priority)
        self.overrides: list[float] = []                 # t_h
        self.last: Status | None = None
        self._pending: list[Event] = []

    def on_event(self, e: Event) -> None:
        self._pending.append(e)

    def on_status(self, tick: int, st: Status) -> None:
        for e in self._pending:
            self._take(e, st)
        self._pending.clear()
        self.last = st

    def _h(self, ticks: int) -> float:
        return round(ticks * self.period_s / 3600.0, 5)

    def _take(self, e: Event, st: Status) -> None:
        if e.kind == C.EV_STATE and e.code == C.RUNNING and st.cartridge not in self.circuits:
            self.circuits[st.cartridge] = {"cartridge": st.cartridge, "start_h": self._h(e.tick),
                                           "end_h": None, "flow_h": None, "end": None, "event": False}
        elif e.kind == C.EV_ALARM_ON:
            self.alarms.append((self._h(e.tick), C.ALARM_NAMES[e.code], C.PRIO_NAMES[e.a]))
            if e.code == C.AL_CLOT:
                self._end(st.cartridge, "clot_alarm", True, st.cartridge_used, e.tick)
        elif e.kind == C.EV_EXCHANGE_DUE:
            early = e.a == 1
            self._end(e.code, "early_exchange" if early else "exchange_due", early, e.b, e.tick)
        elif e.kind == C.EV_OVERRIDE:
            self.overrides.append(self._h(e.tick))

    def _end(self, cart: int, how: str, event: bool, used: int, tick: int) -> None:
        c = self.circuits.get(cart)
        if c is not None and c["end"] is None:
            c.update(end=how, event=event, flow_h=self._h(used), end_h=self._h(tick))

    def finish(self, tick: int, aborted: bool, host_flow: dict[int, int]) -> list[dict[str, Any]]:
        """The circuits, those still open censored at the end of the run."""
        if self.last is not None:
            self.on_status(tick, self.last)
        for cart, c in self.circuits.items():
            if c["end"] is None:
                current = self.last is not None and self.last.cartridge == cart
                used = self.last.cartridge_used if current and self.last else host_flow.get(cart, 0)
                self._end(cart, "aborted" if aborted else "run_end", False, used, tick)
        return [self.circuits[k] for k in sorted(self.circuits)]


def draw_patient(seed: int) -> Any:
    """The patient of ``seed``: one draw of the cohort distribution
    (:func:`host.cohort.sample_patients`), weight to 0.1 kg as the board takes it."""
    from host.cohort import sample_patients

    c = sample_patients(1, seed)
    return patient_params(round(float(c.weight_kg[0]), 1), hematocrit=float(c.hematocrit[0]),
                          k_pg=float(c.k_pg[0]), p0=float(c.p0[0]),
                          hours_since_onset=float(c.start_h[0]), cytokine_gain=float(c.cytokine_gain[0]))


def run_patient(task: PatientTask) -> dict[str, Any]:
    """Run one patient in one arm; return what the trial keeps of it.

    A run cut short (board or link lost) is kept, with ``aborted`` saying
    why; a run that cannot be set up raises.
    """
    arm = task.arm
    patient = draw_patient(task.seed)
    log_file = task.run_dir / f"p{task.index:02d}.firmware.log" if task.run_dir else None
    bus = Observers()
    session = Session(ArmBoards(arm.config_path, arm.firmware_dir, log=log_file), observers=bus,
                      device=task.device)
    t0 = time.perf_counter()
    with session:
        session.open()
        if session.free:
            raise LoopError(f"arm {arm.name}: the board keeps its own time; a trial needs the sim HAL")
        period_s = session.period_s
        therapy_log = bus.subscribe(TherapyLog(period_s))
        circuits = bus.subscribe(CircuitLog(period_s))
        op = ScriptedOperator(OperatorPlan(weight_kg=patient.weight_kg, flow_ml_min=task.flow_ml_min),
                           period_s, lambda rec: bus.note(session.loop.tick, rec))
        bus.subscribe(event=op.on_event)
        plant = make_plant(patient, task.device, task.seed, period_s, task.trace_every_s)
        loop = session.closed_loop(plant)
        op.begin(loop)
        aborted: str | None = None
        try:
            session.drive(round(task.hours * 3600 / period_s), session.chunk_ticks(P.MAX_SAMPLES),
                          op.run_due, op.next_tick)
        except (LinkError, BoardError, LoopError) as e:
            aborted = str(e)
            bus.note(plant.tick, {"type": "aborted", "reason": aborted})
        hello, final = session.hello, loop.status
        circ = circuits.finish(plant.tick, aborted is not None, dict(loop.stats.flow_ticks_by_cartridge))
        virtual_s = plant.tick * period_s
        rows = np.asarray(plant.trace_rows, dtype=float)
    wall = time.perf_counter() - t0
    if task.run_dir is not None:
        task.run_dir.mkdir(parents=True, exist_ok=True)
        (task.run_dir / f"p{task.index:02d}.events.json").write_text(
            json.dumps(therapy_log.events, indent=0) + "\n")
    out = {"arm": arm.name, "index": task.index, "seed": task.seed,
           "patient": {k: round(float(getattr(patient, k)), 4) for k in
                       ("weight_kg", "hematocrit", "k_pg", "p0", "hours_since_onset", "cytokine_gain")},
           "firmware": {k: hello.get(k) for k in ("firmware", "implementation", "version", "board")},
           "virtual_h": round(virtual_s / 3600.0, 4), "wall_s": round(wall, 2), "aborted": aborted,
           "cartridges": final.cartridge, "circuits": circ,
           "heparin_bolus_u": float(final.bolus_total_u),
           "overrides_h": circuits.overrides, "alarms": circuits.alarms}
    out.update(trace_metrics(rows, patient, task))
    out["first_circuit_clotted"] = first_circuit_clotted(circ, task.horizon_h)
    return out


def first_circuit_clotted(circuits: list[dict[str, Any]], horizon_h: float) -> bool | None:
    """Whether the patient's first circuit clotted (clot alarm or early
    exchange) before ``horizon_h`` hours of blood flow: True, False, or None
    when it cannot be told (no circuit, or censored before the horizon)."""
    if not circuits:
        return None
    c = circuits[0]
    if c["event"] and c["flow_h"] < horizon_h:
        return True
    if c["end"] == "exchange_due" or c["flow_h"] >= horizon_h:
        return False
    return None


def trace_metrics(rows: np.ndarray, patient: Any, task: PatientTask) -> dict[str, Any]:
    """aPTT during therapy (from the first connection of the patient to the
    end), heparin infused, IL-6 AUC against the same patient untreated."""
    from host.plant import TRACE_COLUMNS
    from host.untreated import simulate

    cols = {name: i for i, name in enumerate(TRACE_COLUMNS)}
    need = ("t_s", "aptt_s", "connected", "heparin_u_h", "IL-6")
    missing = [n for n in need if n not in cols]
    if missing:
        raise KeyError(f"the plant's trace has no column {', '.join(missing)} (host/plant.py TRACE_COLUMNS)")
    data = rows.reshape(-1, len(TRACE_COLUMNS))
    t = data[:, cols["t_s"]]
    on = np.nonzero(data[:, cols["connected"]] > 0.5)[0]
    aptt = data[on[0]:, cols["aptt_s"]] if on.size else np.empty(0)
    lo, hi = task.aptt_target_s
    hist, _ = np.histogram(np.clip(aptt, 0.0, APTT_EDGES_S[-1] - 1e-9), bins=np.asarray(APTT_EDGES_S))
    rate = data[:, cols["heparin_u_h"]]
    infused = float(np.sum(rate[:-1] * np.diff(t)) / 3600.0) if t.size > 1 else 0.0
    every = max(1.0, float(round(task.trace_every_s)))
    un = simulate(patient, task.seed, task.hours * 3600.0, every)
    il6 = data[:, cols["IL-6"]]
    il6_un = np.interp(t, np.asarray(un["t_s"], dtype=float), np.asarray(un["IL-6"], dtype=float))
    auc, auc_un = _trapezoid(il6, t), _trapezoid(il6_un, t)
    def share(mask: np.ndarray) -> float | None:
        return round(float(np.mean(mask)), 5) if mask.size else None

    return {"therapy_h": round(float(t[-1] - t[on[0]]) / 3600.0, 4) if on.size else 0.0,
            "aptt_in_range_frac": share((aptt >= lo) & (aptt <= hi)),
            "aptt_above_100_frac": share(aptt > 100.0),
            "aptt_mean_s": round(float(aptt.mean()), 3) if aptt.size else None,
            "aptt_histogram": hist.astype(int).tolist(),
            "heparin_infused_u": round(infused, 1),
            "il6_auc_rel": round(auc / auc_un, 5) if auc_un > 0 else None}


def _trapezoid(y: np.ndarray, t: np.ndarray) -> float:
    return float(np.sum((y[1:] + y[:-1]) * np.diff(t)) / 2.0) if t.size > 1 else 0.0


__all__ = ["APTT_EDGES_S", "ArmBoards", "CircuitLog", "PatientTask", "draw_patient",
           "first_circuit_clotted", "run_patient", "trace_metrics"]
