"""``make linkfault``: many short closed-loop runs, each with link faults in
the middle, and two questions after every one: was the pump ever running
with a high alarm latched, and do host and board still agree about the
state once the faults have passed?

Runs are grouped in blocks on one virtual board: a block starts a board on
a fresh flash, sets the therapy up to blood flow with the scripted operator
(about half an hour of virtual time), then carries out its runs one after
the other on the same therapy. A run lasts well under a minute of virtual
time:

1. a clean stretch of 2-20 virtual seconds;
2. one fault armed on the :class:`~hil.faultlink.FaultyLink` (``corrupt``,
   ``drop``, ``delay``, ``noise``; direction ``to_board``, ``to_host`` or
   ``both``) or a ``disconnect`` (the port closed and opened again, and
   0.1-3 virtual seconds of sensor samples lost), followed at once by a
   probe that gives it frames to act on: STEP frames, a STATUS, LOG or DIAG
   request, or an operator command (set the flow, enter an aPTT, pause and
   resume);
3. 10-40 virtual seconds more, until every armed fault has been used up;
4. a fresh STATUS, compared field by field with the host's view from its
   last reply.

Faults stay within what protocol v1 promises to ride through (docs/protocol.md:
a frame is resent up to three times): at most three damaged or lost frames
in one direction, one in each for ``both``, delays shorter than the four
attempts' wall time. A run counts as unsafe if the pump ran with a high
alarm latched or active in any reply (the firmware stops the pump in the
tick that raises a high alarm, and no command restarts it while one is
latched), or if the fresh STATUS differs from the host's view. It counts
as recovered if it is not unsafe and the client never gave up. After a run
that did not recover, the block goes on with a new board (a new therapy).

Everything is seeded per run (``random.Random("linkfault:SEED:RUN")``) and
per block, so a run replays by running its block up to it (``--replay``).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from hil import frames
from hil.client import BoardClient, BoardError
from hil.faultlink import FaultyLink
from hil.fw import FIRMWARE_DIR
from hil.link import LinkError, SerialLink
from hil.loop import ClosedLoop, LoopError
from hil.operator import OperatorPlan, ScriptedOperator
from hil.virtual_board import VirtualBoard

C = frames.C
P = frames.P

KINDS = ("corrupt", "drop", "delay", "noise", "disconnect")
DIRECTIONS = ("to_board", "to_host", "both")
PROBES = ("step", "status", "log", "diag", "set_flow", "aptt", "pause_resume")
PERIOD_S = 0.1


@lru_cache(maxsize=None)
def high_alarm_mask() -> int:
    """Bit mask of the high-priority alarm ids (the firmware's own table)."""
    added = str(FIRMWARE_DIR) not in sys.path
    if added:
        sys.path.insert(0, str(FIRMWARE_DIR))
    try:
        from hil.fw import firmware_module

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
        self.loop = ClosedLoop(self.client, self.plant, on_event=self._on_event,
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
        if s.bolus_total != self.ev_bolus:
            self._gap(f"bolus total {s.bolus_total} U, the heparin events received add up to {self.ev_bolus} U")

    def check_safe(self, s: frames.Status, tick: int) -> None:
        r = self.watch
        if r is None or s.pump == 0:
            return
        high = (s.latched | s.active) & high_alarm_mask()
        if high:
            r.pump_with_high_alarm.append(
                f"t={tick * PERIOD_S:.1f} s: pump {s.pump / 10:g} mL/min in {s.state_name} with high "
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
            if reply.result == C.OK and reply.status.flow_set != flow * 10:
                self.watch.disagreement.append(f"set_flow {flow} answered ok, flow set point "
                                               f"{reply.status.flow_set / 10:g}")
        elif probe == "aptt":
            # A lab result entered. Acted on twice (a lost reply, a resend
            # taken for a new command), a low one would give its bolus
            # twice: the host's bolus accounting (check_events) sees that.
            loop.command(C.CMD_APTT, max(100, min(2000, round(self.plant.true_aptt() * 10))))
        elif probe == "pause_resume" and s.state == C.RUNNING:
            loop.command(C.CMD_PAUSE)
            loop.command(C.CMD_RESUME)


def run_block(seed: int, block: int, runs: list[int], timeout_s: float,
              log_dir: Path | None = None, verbose: bool = False) -> dict[str, Any]:
    """Carry out ``runs`` (run indices) on one board; a new board after a
    run that did not recover."""
    t0 = time.perf_counter()
    results: list[RunResult] = []
    armed: Counter[str] = Counter()
    injected: Counter[str] = Counter()
    rig: Rig | None = None
    boards = 0
    virtual_s = 0.0
    errors: list[str] = []

    def retire(rig: Rig) -> float:
        injected.update(_injected(rig.link.injected))
        errors.extend(f"block {block}, set-up: {g}" for g in rig.gaps)
        rig.close()
        return rig.loop.tick * PERIOD_S

    log = log_dir / f"block{block}.firmware.log" if log_dir is not None else None
    if log is not None:
        log.unlink(missing_ok=True)
    try:
        for i in runs:
            if rig is None:
                boards += 1
                try:
                    rig = Rig(seed * 1000 + block * 10 + boards, timeout_s, log)
                except (BoardError, LinkError, LoopError) as e:
                    errors.append(f"block {block}: could not set a board up: {e}")
                    break
            r = rig.run(i, block, seed, timeout_s)
            results.append(r)
            armed[f"{r.kind}/{r.direction}"] += 1
            if r.kind == "disconnect":
                injected["disconnect/both"] += 1
            if verbose or not r.recovered:
                print(f"  run {i} (block {block}) t={r.t_s:.1f} s {r.state}: {r.fault}, probe {r.probe}: "
                      f"{r.frames_damaged} frames damaged, {r.resends} resends; "
                      f"{'recovered' if r.recovered else 'NOT RECOVERED ' + json.dumps(asdict(r))}",
                      flush=True)
            if not r.recovered:
                virtual_s += retire(rig)
                rig = None
    finally:
        if rig is not None:
            virtual_s += retire(rig)
    return {"results": [asdict(r) | {"unsafe": r.unsafe, "recovered": r.recovered} for r in results],
            "armed": dict(armed), "injected": dict(injected), "boards": boards, "errors": errors,
            "virtual_s": virtual_s, "wall_s": time.perf_counter() - t0}


def _injected(entries: list[dict[str, Any]]) -> Counter[str]:
    return Counter(f"{e['kind']}/{e['direction']}" for e in entries)


def _nested(flat: dict[str, int]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {k: {} for k in KINDS}
    for key, n in sorted(flat.items()):
        kind, direction = key.split("/")
        out.setdefault(kind, {})[direction] = out[kind].get(direction, 0) + n
    return out


def _block_job(args: tuple[Any, ...]) -> dict[str, Any]:
    return run_block(*args)


def run_campaign(runs: int = 1000, seed: int = 1, block_size: int = 100, jobs: int = 1,
                 timeout_s: float = 0.1, out: Path = Path("out/linkfault"),
                 only: list[int] | None = None, verbose: bool = False) -> dict[str, Any]:
    """Run the campaign (or only the given runs, each with its block from
    the block's start) and return its figures, also written to linkfault.json."""
    t0 = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    blocks: dict[int, list[int]] = {}
    if only:
        # A run depends on the runs before it on its board: replay its
        # block from the start.
        last: dict[int, int] = {}
        for i in only:
            last[i // block_size] = max(last.get(i // block_size, -1), i)
        blocks = {b: list(range(b * block_size, i + 1)) for b, i in last.items()}
    else:
        for i in range(runs):
            blocks.setdefault(i // block_size, []).append(i)
    wanted = [i for rs in blocks.values() for i in rs]
    jobs_args = [(seed, b, rs, timeout_s, out, verbose) for b, rs in sorted(blocks.items())]
    if jobs > 1 and len(jobs_args) > 1:
        with ProcessPoolExecutor(max_workers=jobs) as ex:
            parts = list(ex.map(_block_job, jobs_args))
    else:
        parts = [_block_job(a) for a in jobs_args]
    results = [r for p in parts for r in p["results"]]
    armed: Counter[str] = Counter()
    injected: Counter[str] = Counter()
    for p in parts:
        armed.update(p["armed"])
        injected.update(p["injected"])
    unsafe = [r for r in results if r["unsafe"]]
    not_recovered = [r for r in results if not r["recovered"]]
    errors = [e for p in parts for e in p["errors"]]
    examples = []
    for r in (unsafe + [x for x in not_recovered if x not in unsafe])[:10]:
        ex = {k: v for k, v in r.items() if v not in ([], None)}
        ex["replay"] = (f"python -m hil.reliability.linkfault --seed {seed} --block-size {block_size} "
                        f"--timeout {timeout_s} --replay {r['run']}")
        examples.append(ex)
    figures: dict[str, Any] = {
        "campaign": "linkfault",
        "seed": seed,
        "runs": len(results),
        "runs_planned": len(wanted),
        "faults_armed": _nested(dict(armed)),
        "faults_injected": _nested(dict(injected)),
        "frames_damaged": sum(r["frames_damaged"] for r in results),
        "resends": sum(r["resends"] for r in results),
        "probes": dict(Counter(r["probe"] for r in results)),
        "states_at_fault": dict(Counter(r["state"] for r in results)),
        "unsafe_outcomes": len(unsafe),
        "pump_with_high_alarm": sum(1 for r in results if r["pump_with_high_alarm"]),
        "state_disagreements": sum(1 for r in results if r["disagreement"]),
        "event_gaps": sum(1 for r in results if r["event_gaps"]),
        "recovered": len(results) - len(not_recovered),
        "not_recovered": len(not_recovered),
        "link_lost": sum(1 for r in results if r["link_lost"]),
        "bench_errors": len(errors),
        "failures": len(not_recovered) + len(errors) + len(wanted) - len(results),
        "errors": errors,
        "boards": sum(p["boards"] for p in parts),
        "block_size": block_size,
        "jobs": jobs,
        "timeout_s": timeout_s,
        "virtual_s": round(sum(p["virtual_s"] for p in parts), 1),
        "wall_s": round(time.perf_counter() - t0, 2),
        "examples": examples,
    }
    (out / "linkfault.json").write_text(json.dumps(figures, indent=1) + "\n")
    return figures


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m hil.reliability.linkfault",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=1000, help="short runs (default 1000)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--block-size", type=int, default=100, help="runs per board and therapy (default 100)")
    ap.add_argument("--jobs", type=int, default=2, help="blocks run in parallel processes (default 2)")
    ap.add_argument("--timeout", type=float, default=0.1,
                    help="the client's wait for a reply before it resends, wall seconds (default 0.1)")
    ap.add_argument("--replay", type=int, nargs="+", metavar="RUN",
                    help="carry out only these runs (each with its block from the block's start), verbosely")
    ap.add_argument("--out", type=Path, default=Path("out/linkfault"))
    a = ap.parse_args(argv)
    fig = run_campaign(a.runs, a.seed, a.block_size, 1 if a.replay else a.jobs, a.timeout, a.out,
                       only=a.replay, verbose=bool(a.replay))
    print(f"linkfault: {fig['runs']} runs, {fig['frames_damaged']} frames damaged, {fig['resends']} resends; "
          f"unsafe {fig['unsafe_outcomes']} (pump with a high alarm {fig['pump_with_high_alarm']}, "
          f"state disagreements "
          f"{fig['state_disagreements']}); recovered {fig['recovered']}/{fig['runs']}; "
          f"{fig['wall_s']:.1f} s wall -> {a.out / 'linkfault.json'}")
    for e in fig["errors"]:
        print(f"linkfault: {e}", file=sys.stderr)
    return 1 if fig["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
