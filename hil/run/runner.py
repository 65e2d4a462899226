"""Run one scenario: board, link, plant, scripted operator, timed steps,
then decide its expectations and measurements on the virtual time line.

The run is built by the composition root (:class:`~hil.run.session.Session`):
the board is the virtual Pico unless a port is given (a real Pico, or any
pyserial URL), or a recording in a replay. A board that takes its samples
and time from the host (HELLO ``clock: host``) runs in closed loop with the
plant (:class:`~hil.loop.closed.ClosedLoop`); a board that keeps its own time
(``clock: board``, the ``rp2`` HAL) is only commanded and polled
(:class:`~hil.loop.freerun.FreeRunningLoop`), so scenarios that need the plant
are refused on it before anything runs. The link stack, from the client
down, is::

    BoardClient -> [RecordingLink] -> FaultyLink -> SerialLink -> board

so link faults are injected below the client's resend logic, and a
recording holds exactly what the client saw. In a replay the stack is just
``BoardClient -> ReplayLink``.

Everything the run publishes goes out on one
:class:`~hil.run.observers.Observers` bus; the time line (and so the checks),
the scripted operator, the recorder and the progress bar are listeners on
it, and ``RunOptions.observers`` adds more.
"""

from __future__ import annotations

import datetime as _dt
import json
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hil.transport import frames
from hil.board.providers import BoardProvider, ReplayBoards, SerialPortBoards, VirtualBoards
from hil.transport.client import BoardError
from hil.scenario.expect import Check, Verdict, evaluate, evaluate_measurement, step_result_check
from hil.scenario.timeline import Timeline
from hil.loop.freerun import refusal
from hil.transport.link import LinkError
from hil.loop.closed import LoopError
from hil.run.observers import Observers, Progress
from hil.run.operator import OperatorPlan, ScriptedOperator
from hil.loop.pacing import Pacer
from hil.output.recording import Recorder, timeline_digest
from hil.scenario import Scenario, Step
from hil.run.session import RunSetupError, Session, make_plant, patient_params
from hil.run.cutboard import CutPowerBoards
from hil.run.steps import StepRunner, TimelineWriter

C = frames.C


@dataclass
class RunOptions:
    """How to run (not what: that is the scenario).

    Attributes:
        port: a real board's serial port or URL; overrides the scenario's board.
        board: board config for the virtual board; overrides the scenario's.
        speed: None: as fast as possible; 1.0: locked to real time; N: N x real time.
            A board that keeps its own time runs in real time for None, and
            N x faster only in test mode (a whole N, 1..1000).
        max_batch: most control periods per STEP frame; 1 is strict lockstep.
        trace_every_s: virtual seconds between plant trace rows.
        timeout_s: the client's wait for one reply (wall clock; guards the link only).
        record_dir: where to write a recording of the run (None: no recording).
        firmware_log: file for the virtual board's own output.
        heapsize: the virtual board's MicroPython heap; None: the scenario's
            (``board: {heapsize: ..}``), else 192K, as a Pico.
        progress: called with (virtual seconds done, virtual seconds planned).
        observers: more listeners for the run's bus (:mod:`hil.run.observers`).
        provider: the board kind to run on (:mod:`hil.board.providers`, e.g.
            a labgrid target's, :mod:`hil.labgrid.run`); None: the virtual
            board, or the board on ``port``.
    """

    port: str | None = None
    board: str | None = None
    speed: float | None = None
    max_batch: int = frames.P.MAX_SAMPLES
    trace_every_s: float = 10.0
    timeout_s: float | None = None
    record_dir: str | None = None
    firmware_log: str | None = None
    heapsize: str | None = None
    progress: Callable[[float, float], None] | None = field(default=None, repr=False)
    observers: tuple[Any, ...] = field(default=(), repr=False)
    provider: BoardProvider | None = field(default=None, repr=False)


@dataclass
class StepDone:
    """A step as it was carried out (or not)."""

    step: Step
    tick: int | None = None
    result: str | None = None
    note: str = ""

    def as_dict(self, period_s: float) -> dict[str, Any]:
        d: dict[str, Any] = {"id": self.step.id, "action": self.step.action, "detail": self.step.describe(),
                             "at": str(self.step.at), "line": self.step.line,
                             "t_s": round(self.tick * period_s, 3) if self.tick is not None else None,
                             "done": self.tick is not None}
        if self.result is not None:
            d["result"] = self.result
        if self.note:
            d["note"] = self.note
        return d


@dataclass
class ScenarioResult:
    """Everything one scenario run produced."""

    scenario: Scenario
    outcome: str                         # pass | marginal | fail | error | skip
    verdict: Verdict
    timeline: Timeline
    steps: list[StepDone]
    hello: dict[str, Any] = field(default_factory=dict)
    # The board answered but the run was refused before it began (its
    # settings differ from the scenario's, or it could not be reset).
    setup_refused: bool = False
    diag: dict[str, Any] = field(default_factory=dict)
    virtual_s: float = 0.0
    wall_s: float = 0.0
    started_at: str | None = None        # UTC, ISO 8601: wall-clock facts of the run
    finished_at: str | None = None
    error: str | None = None
    link: dict[str, Any] = field(default_factory=dict)
    recording: str | None = None
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.outcome in ("pass", "marginal")

    @property
    def stem(self) -> str:
        """The name of its output files (:func:`output_stem`)."""
        return output_stem(self.scenario)

    def failure_messages(self) -> list[str]:
        if self.error:
            if self.error.startswith(f"{self.scenario.path}:"):
                return [self.error]   # it names the file (and line) already
            return [f"{self.scenario.path}: {self.error}"]
        return [c.message(self.scenario.path) for c in self.verdict.failures]


def output_stem(sc: Scenario) -> str:
    """The name a scenario's output files take (record ``<stem>.json``, trace,
    recording, firmware log): its file's name without the extension, so
    that a copy of a file under another name never overwrites the
    original's outputs even when both say the same ``name:``; a scenario
    that has no file (built in code) takes its name. For the library,
    whose names are their files' names, nothing changes."""
    path = Path(sc.path) if sc.path else None
    if path is not None and path.suffix in (".yaml", ".yml") and path.stem:
        return path.stem
    return sc.name


class ScenarioSkipped(Exception):
    """The scenario cannot run on this board (e.g. it cuts the power of a real one)."""


def _board_config(sc: Scenario, opts: RunOptions, tmp: Path) -> Path:
    """The virtual board's config: the named one, with the scenario's
    anticoagulation table if it asks for another."""
    from hil.board.firmware import board_config_path, resolve_board_config

    path = board_config_path(opts.board or sc.board.config)
    if sc.device.anticoagulation is None:
        return path
    cfg = resolve_board_config(path)
    if cfg.get("anticoagulation") == sc.device.anticoagulation:
        return path
    cfg["anticoagulation"] = sc.device.anticoagulation
    out = tmp / f"{path.stem}-{sc.device.anticoagulation}.json"
    out.write_text(json.dumps(cfg, indent=1))
    return out


def _timeout(sc: Scenario, opts: RunOptions) -> float:
    if opts.timeout_s is not None:
        return opts.timeout_s
    if sc.board.timeout_s is not None:
        return sc.board.timeout_s
    # Lost frames cost one timeout each: keep it short when the scenario
    # loses some on purpose, and long enough for a busy CI machine.
    if any(s.action == "link" for s in sc.steps):
        return 0.5
    return 5.0


def run_scenario(sc: Scenario, opts: RunOptions | None = None, replay_link: Any = None) -> ScenarioResult:
    """Run a scenario and decide its checks.

    Args:
        sc: a loaded scenario.
        opts: how to run it.
        replay_link: a :class:`~hil.output.recording.ReplayLink` to run against a
            recording instead of a board.

    Returns:
        The result; ``outcome`` is ``error`` (with ``error`` set) if the
        board or the link failed, ``skip`` if the scenario needs what the
        board cannot do.
    """
    return ScenarioRun(sc, opts or RunOptions(), replay_link).run()


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


class ScenarioRun:
    """One run of a scenario: :meth:`run` builds it through a
    :class:`~hil.run.session.Session`, drives it and decides its checks."""

    def __init__(self, sc: Scenario, opts: RunOptions, replay_link: Any = None) -> None:
        self.sc = sc
        self.opts = opts
        self.replay_link = replay_link
        self.result = ScenarioResult(sc, "error", Verdict(), Timeline(0.1), [StepDone(s) for s in sc.steps])
        self.bus = Observers()
        self.timeout = _timeout(sc, opts)
        # A replay builds the same frames as the paced run did, without sleeping.
        self.pacer = Pacer(opts.speed, sleep=replay_link is None)
        self.session: Session | None = None
        self.recorder: Recorder | None = None
        self.max_batch = opts.max_batch

    @property
    def tl(self) -> Timeline:
        return self.result.timeline

    def run(self) -> ScenarioResult:
        result = self.result
        result.started_at = _now()
        t_wall = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="hil-scenario-") as tmp:
            try:
                try:
                    self._open(Path(tmp))
                    self._build()
                    self._drive()
                    self._decide()
                finally:
                    self._finish()
            except ScenarioSkipped as e:
                result.outcome = "skip"
                result.error = str(e)
            except (LinkError, BoardError, LoopError, OSError) as e:
                result.outcome = "error"
                result.setup_refused = isinstance(e, RunSetupError)
                result.error = f"{type(e).__name__}: {e} (at t={self.tl.t(self.tl.end_tick):g} s)"
        result.wall_s = round(time.perf_counter() - t_wall, 3)
        result.finished_at = _now()
        self.bus.end(result)
        return result

    # -- building -------------------------------------------------------------------

    def _provider(self, port: str | None, tmp: Path) -> BoardProvider:
        if self.replay_link is not None:
            return ReplayBoards(self.replay_link)
        if self.opts.provider is not None:
            return self.opts.provider
        heap = self.opts.heapsize or self.sc.board.heapsize
        if port is None:
            log = Path(self.opts.firmware_log) if self.opts.firmware_log else None
            # heap_peak_kb is measured only by a board that keeps heap statistics.
            stats = any(m.quantity == "heap_peak_kb" for m in self.sc.measurements)
            kind = CutPowerBoards if "cut" in self.sc.needs() else VirtualBoards
            return kind(str(_board_config(self.sc, self.opts, tmp)), heap or "192K", log=log, heap_stats=stats)
        if self.sc.board.heapsize is not None:
            raise ScenarioSkipped(f"{self.sc.name} runs in a {heap} heap (board: heapsize, line "
                                  f"{self.sc.line_of.get('board', 0)}): it needs a virtual board; "
                                  f"the board on {port} has its own heap")
        return SerialPortBoards(port)

    def _start_recorder(self) -> None:
        sc, opts = self.sc, self.opts
        if not opts.record_dir or self.replay_link is not None:
            return
        # What replay needs to build the same frames (not the port).
        header = {"scenario": {"name": sc.name, "path": sc.path, "text": sc.text, "sha256": sc.sha256},
                  "seed": sc.seed,
                  "options": {"speed": opts.speed, "max_batch": opts.max_batch,
                              "trace_every_s": opts.trace_every_s, "timeout_s": self.timeout}}
        self.recorder = Recorder(Path(opts.record_dir) / f"{output_stem(sc)}.rec.jsonl.gz", header)
        self.bus.subscribe(hello=lambda hello: self.recorder.note({"hello": hello}))

    def _open(self, tmp: Path) -> None:
        sc, opts = self.sc, self.opts
        port = opts.port or sc.board.port
        settings = ({"anticoagulation": sc.device.anticoagulation}
                    if sc.device.anticoagulation is not None else None)
        self.session = session = Session(self._provider(port, tmp), timeout_s=self.timeout,
                                         observers=self.bus, device=sc.device.cartridge,
                                         settings=settings)
        board = session.start_board()
        if "power" in sc.needs() and board.power is None:
            raise ScenarioSkipped(f"{sc.name} cuts the board's power: it needs a virtual board, "
                                  f"the harness cannot switch {port}")
        if "cut" in sc.needs() and not hasattr(board, "arm_cut"):
            raise ScenarioSkipped(f"{sc.name} cuts the power inside a storage write: it needs a "
                                  f"virtual board this run starts, not a {board.kind} board")
        self._start_recorder()
        session.recorder = self.recorder
        for o in opts.observers:   # before open(), so that they hear HELLO too
            self.bus.subscribe(o)
        hello = self.result.hello = session.open()
        if session.free:
            why = refusal(sc, hello)
            if why is not None:
                raise ScenarioSkipped(why)
        period = session.period_s
        self.max_batch = self.pacer.max_batch(period, opts.max_batch)
        self.result.options = {"max_batch": self.max_batch, "trace_every_s": opts.trace_every_s,
                               "timeout_s": self.timeout, "speed": opts.speed,
                               "port": "virtual" if board.kind == "virtual" else port}
        if session.free:
            self.result.options["clock"] = "board"
            del self.result.options["max_batch"]

    def _build(self) -> None:
        sc, opts, bus, session = self.sc, self.opts, self.bus, self.session
        period = session.period_s
        self.result.timeline = tl = Timeline(period)
        bus.subscribe(TimelineWriter(tl))
        op_kw = {"weight_kg": sc.patient.weight_kg, "flow_ml_min": sc.device.flow_ml_min, **sc.operator}
        self.scripted = op_kw.pop("scripted", True)
        self.op = op = ScriptedOperator(OperatorPlan(**op_kw), period,
                                        lambda rec: bus.note(session.loop.tick, rec))
        bus.subscribe(event=op.on_event)
        if opts.progress is not None:
            bus.subscribe(Progress(opts.progress, period))
        loop = session.start_loop(self._plant, self.max_batch, opts.speed, sleep=self.replay_link is None)
        if session.free:
            self.result.options["time_scale"] = loop.scale
        self.end = round(sc.duration_s / period)
        if self.scripted:
            op.begin(loop)
        bus.session(session, exchange=op.exchange if self.scripted else None)
        self.steps = StepRunner(sc, {id(d.step): d for d in self.result.steps}, session, op, tl)

    def _plant(self, period_s: float) -> Any:
        sc = self.sc
        patient = patient_params(sc.patient.weight_kg, k_pg=sc.patient.k_pg,
                                 cytokine_gain=sc.patient.cytokine_gain,
                                 hours_since_onset=sc.patient.hours_since_onset)
        return make_plant(patient, sc.device.cartridge, sc.seed, period_s, self.opts.trace_every_s)

    # -- running ----------------------------------------------------------------------

    def _due(self) -> None:
        loop, op, steps = self.session.loop, self.op, self.steps
        while True:
            if op.next_tick() <= loop.tick:
                op.run_due()
                continue
            if steps.next_tick() <= loop.tick:
                steps.run_next()
                continue
            break
        self.tl.end_tick = loop.tick

    def _horizon(self) -> int:
        return min(self.op.next_tick(), self.steps.next_tick())

    def _pace(self, tick: int) -> None:
        self.pacer.wait(tick * self.session.period_s)

    def _drive(self) -> None:
        session = self.session
        chunk = session.chunk_ticks(self.max_batch, self.pacer.paced)
        self.pacer.start(0.0)
        session.drive(self.end, chunk, self._due, self._horizon, None if session.free else self._pace)
        # A free-running board is seen at or just past the end.
        self.tl.end_tick = max(self.end, session.loop.tick)

    # -- deciding ---------------------------------------------------------------------

    def _decide(self) -> None:
        session, tl, result = self.session, self.tl, self.result
        loop, client = session.loop, session.client
        result.diag = client.diag()
        if session.free:
            loop.real_time()
        result.virtual_s = tl.end_tick * session.period_s
        self._publish_trace()
        tl.counters = {"resends": client.resends, "frames": loop.stats.frames,
                       "rewinds": loop.stats.rewinds, "resets": loop.stats.resets}
        result.link = {"frames": loop.stats.frames, "rewinds": loop.stats.rewinds,
                       "sent_ahead": loop.stats.sent_ahead, "ahead_refused": loop.stats.ahead_refused,
                       "resends": client.resends, "board_resets": loop.stats.resets,
                       "faults_injected": session.link.injected(), "timeout_s": self.timeout}
        result.verdict = Verdict(self._checks())
        result.outcome = result.verdict.outcome

    def _checks(self) -> list[Check]:
        sc, tl = self.sc, self.tl
        checks: list[Check] = [evaluate(x, tl) for x in sc.expectations]
        for d in self.result.steps:
            if d.tick is None:
                checks.append(Check(f"step {d.step.id} ran", "step", "fail", tl.t(self.end),
                                    f"step '{d.step.id}' ({d.step.describe()}) at {d.step.at}",
                                    f"{d.step.at.anchor} never happened, so the step never ran", d.step.line))
            elif d.step.expect_result is not None:
                checks.append(step_result_check(d.step, d.tick, d.result, tl))
        checks += [evaluate_measurement(m, tl) for m in sc.measurements]
        return checks

    def _publish_trace(self) -> None:
        """The plant's trace rows, up to the run's last tick."""
        from host.plant import TRACE_COLUMNS

        plant = self.session.plant if self.session is not None else None
        rows: list[tuple[float, ...]] = []
        if plant is not None:
            last_t = self.tl.t(self.tl.end_tick) + 1e-9
            rows = [r for r in plant.trace_rows if r[0] <= last_t]
        self.bus.trace(tuple(TRACE_COLUMNS), rows)

    def _finish(self) -> None:
        session, result = self.session, self.result
        if session is not None and session.plant is not None and not self.tl.trace_columns:
            # A run cut short keeps the trace of what was run.
            self._publish_trace()
        if session is not None:
            session.close()
        if self.recorder is not None:
            self.recorder.close({"outcome": result.outcome, "error": result.error,
                                 "timeline_digest": timeline_digest(result.timeline.events),
                                 "checks": [c.as_dict() for c in result.verdict.checks]})
            result.recording = str(self.recorder.path)
