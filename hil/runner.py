"""Run one scenario: board, link, plant, scripted operator, timed steps,
then decide its expectations and measurements on the virtual time line.

The board is the virtual Pico unless a port is given (a real Pico, or any
pyserial URL). A board with the ``sim`` HAL runs in closed loop with the
plant (:class:`~hil.loop.ClosedLoop`); a board that reads its own sensors
(the ``rp2`` HAL) runs on its own clock and the harness only commands it
and polls it (:class:`~hil.freerun.FreeRunningLoop`), so scenarios that
need the plant are refused on it before anything runs. The link stack,
from the client down, is::

    BoardClient -> [RecordingLink] -> FaultyLink -> SerialLink -> board

so link faults are injected below the client's resend logic, and a
recording holds exactly what the client saw. In a replay the stack is just
``BoardClient -> ReplayLink``.
"""

from __future__ import annotations

import datetime as _dt
import heapq
import json
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from hil import frames
from hil.client import BoardClient, BoardError
from hil.expect import Check, Timeline, Verdict, evaluate, evaluate_measurement, step_result_check
from hil.faultlink import FaultyLink
from hil.freerun import FreeRunningLoop, refusal
from hil.link import Link, LinkError, SerialLink
from hil.loop import ClosedLoop, LoopError
from hil.operator import OperatorPlan, ScriptedOperator
from hil.pacing import Pacer
from hil.scenario import Scenario, Step
from hil.therapy import fw_event_record

C = frames.C
_NEVER = 1 << 62


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
        heapsize: the virtual board's MicroPython heap.
    """

    port: str | None = None
    board: str | None = None
    speed: float | None = None
    max_batch: int = frames.P.MAX_SAMPLES
    trace_every_s: float = 10.0
    timeout_s: float | None = None
    record_dir: str | None = None
    firmware_log: str | None = None
    heapsize: str = "192K"
    progress: Callable[[float, float], None] | None = field(default=None, repr=False)


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

    def failure_messages(self) -> list[str]:
        if self.error:
            if self.error.startswith(f"{self.scenario.path}:"):
                return [self.error]   # it names the file (and line) already
            return [f"{self.scenario.path}: {self.error}"]
        return [c.message(self.scenario.path) for c in self.verdict.failures]


class ScenarioSkipped(Exception):
    """The scenario cannot run on this board (e.g. it cuts the power of a real one)."""


def _patient(sc: Scenario) -> Any:
    from host.patient import PatientParams

    known = {f.name for f in fields(PatientParams)}
    kw: dict[str, Any] = {"weight_kg": sc.patient.weight_kg}
    for k in ("k_pg", "cytokine_gain", "hours_since_onset"):
        v = getattr(sc.patient, k)
        if v is not None:
            if k not in known:
                raise ValueError(f"the patient model has no parameter {k}")
            kw[k] = v
    return PatientParams(**kw)


def _board_config(sc: Scenario, opts: RunOptions, tmp: Path) -> Path:
    """The virtual board's config: the named one, with the scenario's
    anticoagulation table if it asks for another."""
    from hil.fw import board_config_path

    path = board_config_path(opts.board or sc.board.config)
    if sc.device.anticoagulation is None:
        return path
    cfg = json.loads(path.read_text())
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


class _Wire:
    """The host's end of the link stack (see the module docstring)."""

    def __init__(self, port: str, recorder: Any | None) -> None:
        from hil.replay import RecordingLink

        self.port = port
        self.serial = SerialLink(port)
        self.faulty = FaultyLink(self.serial)
        self.recorder = recorder
        self.top: Link = RecordingLink(self.faulty, recorder) if recorder is not None else self.faulty

    def arm(self, args: dict[str, Any]) -> None:
        self.faulty.arm(args["fault"], args["direction"], args.get("frames", 1),
                        args.get("delay_s", 0.0))

    def reconnect(self) -> None:
        self.serial.close()
        self.serial = SerialLink(self.port)
        self.faulty.reconnect(self.serial)
        if self.recorder is not None:
            self.recorder.entry("o")

    def injected(self) -> list[dict[str, Any]]:
        return self.faulty.injected

    def close(self) -> None:
        self.serial.close()


class _ReplayWire:
    def __init__(self, link: Any) -> None:
        self.top = link

    def arm(self, args: dict[str, Any]) -> None:
        pass   # the damage is in the recording

    def reconnect(self) -> None:
        self.top.reopen()

    def injected(self) -> list[dict[str, Any]]:
        return []

    def close(self) -> None:
        pass


def run_scenario(sc: Scenario, opts: RunOptions | None = None, replay_link: Any = None) -> ScenarioResult:
    """Run a scenario and decide its checks.

    Args:
        sc: a loaded scenario.
        opts: how to run it.
        replay_link: a :class:`~hil.replay.ReplayLink` to run against a
            recording instead of a board.

    Returns:
        The result; ``outcome`` is ``error`` (with ``error`` set) if the
        board or the link failed, ``skip`` if the scenario needs what the
        board cannot do.
    """
    opts = opts or RunOptions()
    period_guess = 0.1
    tl = Timeline(period_guess)
    result = ScenarioResult(sc, "error", Verdict(), tl, [StepDone(s) for s in sc.steps])
    result.started_at = _now()
    t_wall = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="hil-scenario-") as tmp:
        try:
            _run(sc, opts, replay_link, result, Path(tmp))
        except ScenarioSkipped as e:
            result.outcome = "skip"
            result.error = str(e)
        except (LinkError, BoardError, LoopError, OSError) as e:
            result.outcome = "error"
            result.error = f"{type(e).__name__}: {e} (at t={result.timeline.t(result.timeline.end_tick):g} s)"
    result.wall_s = round(time.perf_counter() - t_wall, 3)
    result.finished_at = _now()
    return result


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _run(sc: Scenario, opts: RunOptions, replay_link: Any, result: ScenarioResult, tmp: Path) -> None:
    from hil.replay import Recorder, ReplayBoard, timeline_digest
    from host.patient import DeviceParams
    from host.plant import Plant
    from host.sensors import SensorFault

    needs = sc.needs()
    port = opts.port or sc.board.port
    board: Any = None
    recorder: Recorder | None = None
    # A replay builds the same frames as the paced run did, without sleeping.
    pacer = Pacer(opts.speed, sleep=replay_link is None)
    timeout = _timeout(sc, opts)
    wire: Any = None
    plant: Any = None
    try:
        if replay_link is not None:
            board = ReplayBoard()
            wire = _ReplayWire(replay_link)
        else:
            if port is None:
                from hil.virtual_board import VirtualBoard

                log = Path(opts.firmware_log) if opts.firmware_log else None
                board = VirtualBoard(str(_board_config(sc, opts, tmp)), opts.heapsize, log=log)
                port = board.start()
            elif "power" in needs:
                raise ScenarioSkipped(f"{sc.name} cuts the board's power: it needs a virtual board, "
                                      f"the harness cannot switch {port}")
            if opts.record_dir:
                # What replay needs to build the same frames (not the port).
                header = {"scenario": {"name": sc.name, "path": sc.path, "text": sc.text, "sha256": sc.sha256},
                          "seed": sc.seed,
                          "options": {"speed": opts.speed, "max_batch": opts.max_batch,
                                      "trace_every_s": opts.trace_every_s, "timeout_s": timeout}}
                recorder = Recorder(Path(opts.record_dir) / f"{sc.name}.rec.jsonl.gz", header)
            wire = _Wire(port, recorder)
        client = BoardClient(wire.top, timeout_s=timeout)
        hello = client.hello()
        result.hello = hello
        # A board that reads its own sensors runs on its own clock: no plant.
        free = hello.get("hal") != "sim"
        if free:
            why = refusal(sc, hello)
            if why is not None:
                raise ScenarioSkipped(why)
        period = hello["period_ms"] / 1000.0
        max_batch = pacer.max_batch(period, opts.max_batch)
        result.options = {"max_batch": max_batch, "trace_every_s": opts.trace_every_s,
                          "timeout_s": timeout, "speed": opts.speed,
                          "port": "virtual" if replay_link is None and board is not None else port}
        if free:
            result.options["clock"] = "board"
            del result.options["max_batch"]
        if recorder is not None:
            recorder.note({"hello": hello})
        tl = Timeline(period)
        result.timeline = tl
        loop: Any = None
        if not free:
            plant = Plant(patient=_patient(sc), device=DeviceParams.preset(sc.device.cartridge), seed=sc.seed,
                          period_s=period, trace_every=max(1, round(opts.trace_every_s / period)))
        if recorder is not None:
            recorder.tick = lambda: loop.tick if loop is not None else plant.tick if plant is not None else 0
        op_kw = {"weight_kg": sc.patient.weight_kg, "flow_ml_min": sc.device.flow_ml_min, **sc.operator}
        scripted = op_kw.pop("scripted", True)
        op = ScriptedOperator(OperatorPlan(**op_kw), period, lambda ev: tl.add_event(loop.tick, ev))

        def on_event(e: frames.Event) -> None:
            tl.add_event(e.tick, fw_event_record(e, period))
            op.on_event(e)

        def on_boot(tick: int, notice: dict[str, Any]) -> None:
            cause = notice.get("cause")
            if isinstance(cause, int) and 0 <= cause < len(C.RESET_NAMES):
                cause = C.RESET_NAMES[cause]
            tl.add_event(tick, {"type": "boot", "cause": cause, "last_tick": notice.get("last_tick")})
            # The state the board comes back in is a state entered at its boot.
            state = notice.get("state")
            if isinstance(state, int) and 0 <= state < len(C.STATE_NAMES):
                rec: dict[str, Any] = {"type": "state", "to": C.STATE_NAMES[state]}
                was = tl.status_at(tick)
                if was is not None:
                    rec["from"] = was.state_name
                rec["cause"] = "boot"
                tl.add_event(tick, rec)

        if free:
            loop = FreeRunningLoop(client, hello, speed=opts.speed, sleep=replay_link is None,
                                   on_event=on_event, on_boot=on_boot, on_status=tl.add_status)
            result.options["time_scale"] = loop.scale
        else:
            loop = ClosedLoop(client, plant, max_batch=max_batch, on_event=on_event, on_boot=on_boot,
                              on_status=tl.add_status)
        end = round(sc.duration_s / period)
        if scripted:
            op.begin(loop)

        # -- timed steps ----------------------------------------------------------
        done = {id(d.step): d for d in result.steps}
        pending = list(sc.steps)
        queue: list[tuple[int, int, Step]] = []
        seen_events = -1

        def steps_next() -> int:
            nonlocal seen_events
            if pending and len(tl.events) != seen_events:
                seen_events = len(tl.events)
                for s in list(pending):
                    t = tl.when_tick(s.at)
                    if t is not None:
                        pending.remove(s)
                        heapq.heappush(queue, (max(t, loop.tick), sc.steps.index(s), s))
            return queue[0][0] if queue else _NEVER

        def command(code: int, arg: int = 0) -> str:
            return C.RESULT_NAMES[loop.command(code, arg).result]

        def execute(s: Step) -> None:
            d = done[id(s)]
            d.tick = now = loop.tick
            a = s.args
            f = plant.faults if plant is not None else None
            act = s.action
            if act == "clotting":
                f.clot_boost = a["value"]
            elif act == "access_occlusion":
                f.access_occlusion = a["value"]
            elif act == "air":
                f.air_ticks_remaining = max(1, round(a["value"] / period))
            elif act == "sensor":
                if a["kind"] == "clear":
                    f.sensor.pop(a["channel"], None)
                else:
                    f.sensor[a["channel"]] = SensorFault(a["kind"], a["value"])
            elif act == "clear_faults":
                f.access_occlusion = 0.0
                f.clot_boost = 0.0
                f.air_ticks_remaining = 0
                f.sensor.clear()
            elif act == "link":
                wire.arm(a)
            elif act == "disconnect":
                wire.reconnect()
                n = max(1, round(a["value"] / period))
                loop.add_outage(now + 1, now + 1 + n)
                d.note = f"link down for ticks {now + 1}..{now + n}"
            elif act == "power_cut":
                # Without power the board drives nothing until it has booted.
                tl.power_off(now, now + round(a["value"] / period))
                notice = loop.power_cycle(board, a["value"])
                d.note = f"board back after {a['value']:g} s off; boot notice {notice}"
            elif act == "hang":
                d.result = command(C.CMD_TEST_HANG, max(1, round(a["value"] / period)))
            elif act == "aptt":
                d.result = command(C.CMD_APTT, round(a["value"] * 10))
            elif act == "confirm_exchange":
                if plant is not None:
                    d.result = C.RESULT_NAMES[op.exchange()]
                else:
                    # No plant cartridge to change: the bench's is changed by hand.
                    d.result = command(C.CMD_CONFIRM_EXCHANGE)
            elif act == "acknowledge":
                d.result = command(C.CMD_ACK_ALARMS)
            elif act == "audio_pause":
                d.result = command(C.CMD_AUDIO_PAUSE)
            elif act in ("pause", "resume", "stop"):
                d.result = command({"pause": C.CMD_PAUSE, "resume": C.CMD_RESUME, "stop": C.CMD_STOP}[act])
            elif act == "start":
                d.result = command(C.CMD_START)
                if d.result == "ok" and not op.connected and plant is not None:
                    plant.connect_patient()
                    op.connected = True
            elif act == "set_flow":
                d.result = command(C.CMD_SET_FLOW, a["value"])
            elif act == "command":
                d.result = command(C.CMD_NAMES.index(a["name"]), a["arg"])
            if free and d.result is not None:
                # The board acted on it at the tick its reply names.
                d.tick = now = loop.tick
            rec: dict[str, Any] = {"type": "step", "id": s.id, "action": act, "detail": s.describe()}
            if d.result is not None:
                rec["result"] = d.result
            tl.add_event(now, rec)

        def do_due() -> None:
            while True:
                if op.next_tick() <= loop.tick:
                    op.run_due()
                    continue
                if steps_next() <= loop.tick:
                    execute(heapq.heappop(queue)[2])
                    continue
                return

        def horizon() -> int:
            return min(op.next_tick(), steps_next())

        if free:
            # The board keeps the time; report progress about twice a second.
            chunk = max(1, round(0.5 * loop.scale / period))
        else:
            chunk = max_batch if pacer.paced else max(1, round(600 / period))
        pacer.start(0.0)
        while True:
            do_due()
            tl.end_tick = loop.tick
            if loop.tick >= end:
                break
            loop.run_until(min(end, loop.tick + chunk), horizon)
            if not free:
                pacer.wait(loop.tick * period)
            if opts.progress is not None:
                opts.progress(loop.tick * period, end * period)
        # A free-running board is seen at or just past the end.
        tl.end_tick = max(end, loop.tick)
        result.diag = client.diag()
        if free:
            loop.real_time()
        result.virtual_s = tl.end_tick * period
        _take_trace(tl, plant)
        tl.counters = {"resends": client.resends, "frames": loop.stats.frames,
                       "rewinds": loop.stats.rewinds, "resets": loop.stats.resets}
        result.link = {"frames": loop.stats.frames, "rewinds": loop.stats.rewinds,
                       "resends": client.resends, "board_resets": loop.stats.resets,
                       "faults_injected": wire.injected(), "timeout_s": timeout}
        checks: list[Check] = [evaluate(x, tl) for x in sc.expectations]
        for d in result.steps:
            if d.tick is None:
                checks.append(Check(f"step {d.step.id} ran", "step", "fail", tl.t(end),
                                    f"step '{d.step.id}' ({d.step.describe()}) at {d.step.at}",
                                    f"{d.step.at.anchor} never happened, so the step never ran", d.step.line))
            elif d.step.expect_result is not None:
                checks.append(step_result_check(d.step, d.tick, d.result, tl))
        checks += [evaluate_measurement(m, tl) for m in sc.measurements]
        result.verdict = Verdict(checks)
        result.outcome = result.verdict.outcome
    finally:
        if plant is not None and not result.timeline.trace_columns:
            # A run cut short keeps the trace of what was run.
            _take_trace(result.timeline, plant)
        if wire is not None:
            try:
                wire.close()
            except (LinkError, OSError):
                pass   # the port is gone already; nothing left to release
        if board is not None:
            board.stop()
        if recorder is not None:
            recorder.close({"outcome": result.outcome, "error": result.error,
                            "timeline_digest": timeline_digest(result.timeline.events),
                            "checks": [c.as_dict() for c in result.verdict.checks]})
            result.recording = str(recorder.path)


def _take_trace(tl: Timeline, plant: Any) -> None:
    """The plant's trace rows, up to the run's last tick."""
    from host.plant import TRACE_COLUMNS

    tl.trace_columns = tuple(TRACE_COLUMNS)
    if plant is None:
        tl.trace_rows = []
        return
    last_t = tl.t(tl.end_tick) + 1e-9
    tl.trace_rows = [r for r in plant.trace_rows if r[0] <= last_t]
