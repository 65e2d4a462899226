"""Link-fault campaign: the run driver. The faults (:class:`Fault`,
:func:`draw_fault`), what one run found (:class:`RunResult`), and the rig
(:class:`Rig`): one board, its plant and operator behind a faulty link,
which carries out one short run after another and checks the board's
answers."""

from __future__ import annotations

import random
import sys
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from hil.transport import frames
from hil.transport.client import BoardClient, BoardError
from hil.transport.contract import command_arg
from hil.transport.faultlink import FaultyLink
from hil.board.firmware import FIRMWARE_DIR
from hil.transport.link import LinkError, SerialLink
from hil.loop.closed import ClosedLoop, LoopError
from hil.run.operator import OperatorPlan, ScriptedOperator
from hil.board.virtual import VirtualBoard

C = frames.C
P = frames.P

KINDS = ("corrupt", "drop", "delay", "noise", "disconnect")
DIRECTIONS = ("to_board", "to_host", "both")
PROBES = ("step", "status", "log", "diag", "set_flow", "aptt", "pause_resume")
PERIOD_S = 0.1
# STEP frames of at most 5 s (50 periods): a run's 10-40 s then hold several,
# each written ahead of the reply to the one before (docs/protocol.md), so
# that faults fall on frames ahead and on the replies before them too.
MAX_BATCH = 50


@lru_cache(maxsize=None)
def high_alarm_mask() -> int:
    """Bit mask of the high-priority alarm ids (the firmware's own table)."""
    added = str(FIRMWARE_DIR) not in sys.path
    if added:
        sys.path.insert(0, str(FIRMWARE_DIR))
    try:
        from hil.board.firmware import firmware_module

        prios = firmware_module("controller").PRIORITIES
    finally:
        if added:
            sys.path.remove(str(FIRMWARE_DIR))
    return sum(1 << i for i, p in enumerate(prios) if p == C.PRIO_HIGH)


@dataclass
class Fault:
    kind: str
    direction: str
    frames_n: int = 1
    delay_s: float = 0.0
    outage_s: float = 0.0

    def describe(self) -> str:
        if self.kind == "disconnect":
            return f"disconnect, {self.outage_s:.1f} s of samples lost"
        extra = f" {self.delay_s * 1000:.0f} ms" if self.kind == "delay" else ""
        unit = "bytes" if self.kind == "noise" else "frames"
        return f"{self.kind} {self.direction} {self.frames_n} {unit}{extra}"


def draw_fault(rng: random.Random, timeout_s: float) -> Fault:
    """One fault, inside the envelope the protocol promises to ride through."""
    kind = rng.choice(KINDS)
    direction = rng.choice(DIRECTIONS)
    both = direction == "both"
    if kind in ("corrupt", "drop"):
        return Fault(kind, direction, 1 if both else rng.randint(1, 3))
    if kind == "delay":
        # Held back for longer than the reply timeout, often: the host resends.
        return Fault(kind, direction, 1 if both else rng.randint(1, 2),
                     round(rng.uniform(0.2, 1.2 if both else 2.5) * timeout_s, 4))
    if kind == "noise":
        return Fault(kind, direction, rng.randint(4, 64))
    return Fault(kind, "both", outage_s=round(rng.uniform(0.1, 3.0), 1))


@dataclass
class RunResult:
    run: int
    block: int
    t_s: float
    state: str
    fault: str
    kind: str
    direction: str
    probe: str
    frames_damaged: int = 0
    resends: int = 0
    sent_ahead: int = 0        # STEP frames written before the reply to the one before
    ahead_refused: int = 0     # ... that the board refused
    pump_with_high_alarm: list[str] = field(default_factory=list)
    disagreement: list[str] = field(default_factory=list)
    event_gaps: list[str] = field(default_factory=list)
    link_lost: str | None = None

    @property
    def unsafe(self) -> bool:
        return bool(self.pump_with_high_alarm or self.disagreement)

    @property
    def recovered(self) -> bool:
        return not self.unsafe and self.link_lost is None


class Rig:
    """A virtual board behind a fault-injecting link, a plant, an operator,
    and a therapy set up to blood flow."""

    def __init__(self, seed: int, timeout_s: float, log: Path | None = None) -> None:
        from host.patient import DeviceParams, PatientParams
        from host.plant import Plant

        self.board = VirtualBoard("virtual", log=log)
        self.port = self.board.start()
        self.serial = SerialLink(self.port)
        self.link = FaultyLink(self.serial)
        self.client = BoardClient(self.link, timeout_s=timeout_s)
        self.client.hello()
        self.plant = Plant(patient=PatientParams(), device=DeviceParams.preset("cytosorb"), seed=seed,
                           period_s=PERIOD_S, trace_every=6000)
        # Trips of the safe state here come from the bench's own
        # disconnections, not from a failing circuit: the operator
        # acknowledges and resumes, and keeps the cartridge.
        self.op = ScriptedOperator(OperatorPlan(lab_turnaround_min=15.0, trips_before_change=1 << 30),
                                   PERIOD_S, lambda _e: None)
        self.watch: RunResult | None = None
        # The host's account of the board from the events alone: the state
        # after the last state event, the boluses the heparin events gave.
        self.ev_state = C.IDLE
        self.ev_bolus = 0
        self.gaps: list[str] = []      # found outside a run (set-up)
        self.loop = ClosedLoop(self.client, self.plant, max_batch=MAX_BATCH, on_event=self._on_event,
                               on_status=self._on_status)
        self.op.begin(self.loop)
        self.advance_to_running()

    def close(self) -> None:
        self.serial.close()
        self.board.stop()

    def _on_status(self, tick: int, s: frames.Status) -> None:
        self.check_safe(s, tick)

    def _on_event(self, e: frames.Event) -> None:
        self.op.on_event(e)
        if e.kind == C.EV_STATE:
            if e.a != self.ev_state:
                self._gap(f"t={e.tick * PERIOD_S:.1f} s: state event {C.STATE_NAMES[e.a]} -> "
                          f"{C.STATE_NAMES[e.code]}, but the last one received ended in "
                          f"{C.STATE_NAMES[self.ev_state]}: a state event was lost")
            self.ev_state = e.code
        elif e.kind == C.EV_HEPARIN:
            self.ev_bolus += e.a

    def _gap(self, msg: str) -> None:
        if self.watch is not None:
            self.watch.event_gaps.append(msg)
            self.watch.disagreement.append(msg)
        else:
            self.gaps.append(msg)

    def check_events(self, s: frames.Status) -> None:
        """The state and bolus total the events account for, against a status."""
        if s.state != self.ev_state:
            self._gap(f"board in {s.state_name}, the events received end in {C.STATE_NAMES[self.ev_state]}")
        # The status counts a bolus once it is released into flowing blood
        # (SR-HEP-5); the heparin event, when it is decided. While the line
        # stands a bolus may be held back, never more given than decided.
        flowing = s.state == C.RUNNING and s.pump > 0
        if s.bolus_total > self.ev_bolus or (flowing and s.bolus_total != self.ev_bolus):
            self._gap(f"bolus total {s.bolus_total} U ({s.state_name}), the heparin events received "
                      f"add up to {self.ev_bolus} U")

    def check_safe(self, s: frames.Status, tick: int) -> None:
        r = self.watch
        if r is None or s.pump == 0:
            return
        high = (s.latched | s.active) & high_alarm_mask()
        if high:
            r.pump_with_high_alarm.append(
                f"t={tick * PERIOD_S:.1f} s: pump {s.pump_ml_min:g} mL/min in {s.state_name} with high "
                f"alarms {[C.ALARM_NAMES[i] for i in range(len(C.ALARM_NAMES)) if high >> i & 1]}")

    def advance(self, end: int) -> None:
        loop, op = self.loop, self.op
        while loop.tick < end:
            op.run_due()
            loop.run_until(end, op.next_tick)
        op.run_due()

    def advance_to_running(self, cap_s: float = 3 * 3600) -> None:
        loop = self.loop
        cap = loop.tick + round(cap_s / PERIOD_S)
        while loop.status.state != C.RUNNING:
            if loop.tick >= cap:
                raise LoopError(f"therapy not running after {cap_s:.0f} s (state {loop.status.state_name})")
            self.advance(loop.tick + round(60 / PERIOD_S))

    def faults_pending(self) -> bool:
        lk = self.link
        return bool(lk.armed["to_board"] or lk.armed["to_host"] or lk._held_rx or lk._held_tx)

    # -- one run ---------------------------------------------------------------------

    def run(self, index: int, block: int, seed: int, timeout_s: float,
            fault: Fault | None = None, probe: str | None = None) -> RunResult:
        """One run; ``fault`` and ``probe`` replace the drawn ones (tests)."""
        rng = random.Random(f"linkfault:{seed}:{index}")
        loop, client = self.loop, self.client
        self.advance(loop.tick + round(rng.uniform(2, 20) / PERIOD_S))
        drawn = draw_fault(rng, timeout_s)
        fault = fault or drawn
        probe = probe or rng.choice(PROBES)
        r = RunResult(index, block, round(loop.tick * PERIOD_S, 1), loop.status.state_name, fault.describe(),
                      fault.kind, fault.direction, probe)
        self.watch = r
        injected0 = len(self.link.injected)
        resends0 = client.resends
        ahead0 = (loop.stats.sent_ahead, loop.stats.ahead_refused)
        try:
            if fault.kind == "disconnect":
                self.serial.close()
                self.serial = SerialLink(self.port)
                self.link.reconnect(self.serial)
                n = max(1, round(fault.outage_s / PERIOD_S))
                loop.add_outage(loop.tick + 1, loop.tick + 1 + n)
            else:
                self.link.arm(fault.kind, fault.direction, fault.frames_n, fault.delay_s)
            self._probe(probe, rng)
            self.advance(loop.tick + round(rng.uniform(10, 40) / PERIOD_S))
            cap = loop.tick + round(120 / PERIOD_S)
            while self.faults_pending() and loop.tick < cap:
                self.advance(loop.tick + 1)
            if self.faults_pending():
                r.link_lost = "faults still armed two virtual minutes later"
            # After the faults: the host's view from its last reply against
            # a fresh STATUS.
            view = loop.status
            fresh = client.status()
            self._compare(r, view, fresh.status, "fresh STATUS after the faults")
            self.check_safe(fresh.status, loop.tick)
            loop._take_events(fresh.events)   # noqa: SLF001 (the loop's own event path)
            self.check_events(fresh.status)
        except (BoardError, LinkError, LoopError) as e:
            r.link_lost = f"{type(e).__name__}: {e}"
        finally:
            self.watch = None
            r.frames_damaged = len(self.link.injected) - injected0
            r.resends = client.resends - resends0
            r.sent_ahead = loop.stats.sent_ahead - ahead0[0]
            r.ahead_refused = loop.stats.ahead_refused - ahead0[1]
        return r

    @staticmethod
    def _compare(r: RunResult, view: frames.Status, fresh: frames.Status, what: str) -> None:
        if view != fresh:
            diff = {k: (getattr(view, k), getattr(fresh, k)) for k in vars(view)
                    if getattr(view, k) != getattr(fresh, k)}
            r.disagreement.append(f"{what}: host's view vs board (host, board): {diff}")

    def _probe(self, probe: str, rng: random.Random) -> None:
        loop, client = self.loop, self.client
        s = loop.status
        if probe == "status":
            reply = client.status()
            self._compare(self.watch, s, reply.status, "STATUS under faults")
            loop._take_events(reply.events)   # noqa: SLF001
        elif probe == "log":
            client.alarm_log()
        elif probe == "diag":
            client.diag()
        elif probe == "set_flow":
            flow = rng.choice((180, 200, 220, 250))
            reply = loop.command(C.CMD_SET_FLOW, flow)
            if reply.result == C.OK and reply.status.flow_set_ml_min != flow:
                self.watch.disagreement.append(f"set_flow {flow} answered ok, flow set point "
                                               f"{reply.status.flow_set_ml_min:g}")
        elif probe == "aptt":
            # A lab result entered. Acted on twice (a lost reply, a resend
            # taken for a new command), a low one would give its bolus
            # twice: the host's bolus accounting (check_events) sees that.
            loop.command(C.CMD_APTT, command_arg(C.CMD_APTT, max(10.0, min(200.0, self.plant.true_aptt()))))
        elif probe == "pause_resume" and s.state == C.RUNNING:
            loop.command(C.CMD_PAUSE)
            loop.command(C.CMD_RESUME)
