"""Power-cut campaign: the trial driver, the rig that runs one therapy and
cuts its power trial after trial (:class:`Campaign`). The bench end of the
link to a board that may cut its own power (:class:`CutBench`, with
:class:`PowerLost`) lives with the virtual board (:mod:`hil.board.virtual`),
which scenarios share (``power_cut_in_write``)."""

from __future__ import annotations

import json
import random
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable

from hil.transport import frames
from hil.transport import contract
from hil.transport.client import BoardClient
from hil.board.firmware import board_config_path
from hil.loop.closed import ClosedLoop, LoopError
from hil.run.operator import OperatorPlan, ScriptedOperator
from hil.reliability.powercut_checks import CutChecks, Trial, read_flash
from hil.board.virtual import CutBench, PowerLost, VirtualBoard

C = frames.C
P = frames.P


class Campaign(CutChecks):
    """The rig: one virtual board, its flash, a plant, the scripted operator."""

    def __init__(self, seed: int, out: Path, max_batch: int = P.MAX_SAMPLES,
                 window_s: tuple[float, float] = (5.0, 180.0),
                 tamper: Callable[[Path, int], None] | None = None) -> None:
        self.seed = seed
        self.window_s = window_s
        # Tests only: damage the flash after a cut, before it is read and
        # the board boots again (a storage that is not atomic), to show
        # that the checks catch it.
        self.tamper = tamper
        self.index = -1
        self.tmp = Path(tempfile.mkdtemp(prefix="powercut-"))
        self.cut_file = self.tmp / "cut"
        out.mkdir(parents=True, exist_ok=True)
        log = out / "firmware.log"
        log.unlink(missing_ok=True)
        self.board = VirtualBoard("virtual", flash=self.tmp / "flash", log=log, cut_file=self.cut_file)
        self.board.start()
        try:
            self._connect(seed, max_batch)
        except BaseException:
            self.board.stop()
            shutil.rmtree(self.tmp, ignore_errors=True)
            raise

    def _connect(self, seed: int, max_batch: int) -> None:
        from host.patient import DeviceParams, PatientParams
        from host.plant import Plant

        cfg = json.loads(board_config_path("virtual").read_text())
        self.period_s = cfg["period_ms"] / 1000.0
        self.flowing = contract.CHANNEL["q_blood"].wire(cfg["therapy"]["flowing_ml_min"])
        self.cut: dict[str, Any] | None = None     # what on_cut saw
        self.armed = False
        self.air_trips = 0
        self.known_log: list[list[int]] = []
        self.bench = CutBench(self.board, self._on_cut)
        self.client = BoardClient(self.bench, timeout_s=5.0)
        self.client.hello()
        self.plant = Plant(patient=PatientParams(), device=DeviceParams.preset("cytosorb"), seed=seed,
                           period_s=self.period_s, trace_every=round(600 / self.period_s))
        self.records: list[dict[str, Any]] = []
        # The operator changes a cartridge that keeps tripping the safe
        # state (it clots with every stop); the air the bench injects is
        # not held against the cartridge (see trial()).
        self.op = ScriptedOperator(OperatorPlan(lab_turnaround_min=15.0), self.period_s,
                                   self.records.append)
        self.last_notice: dict[str, Any] = {}
        self.loop = ClosedLoop(self.client, self.plant, max_batch=max_batch, on_event=self.op.on_event,
                               on_boot=self._on_boot, on_status=self._on_status)
        self.op.begin(self.loop)

    def close(self) -> None:
        self.bench.close()
        self.board.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    # -- hooks ---------------------------------------------------------------------

    def _on_status(self, _tick: int, _status: frames.Status) -> None:
        # While a cut is armed, keep the host's knowledge of the stored
        # alarm log current: everything in a reply has been stored.
        if self.armed and self.cut is None:
            self.known_log = self.client.alarm_log()["entries"]

    def _on_cut(self, note: dict[str, Any]) -> None:
        frame = self.bench.last_frame
        if self.tamper is not None:
            self.tamper(self.board.flash, self.index)
        self.cut = {"note": note, "status": self.loop.status, "frame": frame,
                    "flash": read_flash(self.board.flash)}
        self.armed = False

    # -- driving -----------------------------------------------------------------------

    def _horizon(self) -> int:
        return self.loop.tick if self.cut is not None else self.op.next_tick()

    def advance(self, end: int) -> None:
        """Run board, plant and operator to tick ``end``, or until the board
        has died and come back."""
        loop = self.loop
        while loop.tick < end and self.cut is None:
            try:
                self.op.run_due()
                if self.cut is None:
                    loop.run_until(end, self._horizon)
            except PowerLost as r:
                # Died serving a command: the plant is where it was.
                loop._rebooted(r.notice)   # noqa: SLF001 (what power_cycle does)
        if self.cut is None:
            self.op.run_due()

    def setup(self) -> None:
        """Set-up to blood flow (priming, heparin, aPTT, start)."""
        self.until_running(3 * 3600)

    def until_running(self, cap_s: float) -> None:
        loop = self.loop
        cap = loop.tick + round(cap_s / self.period_s)
        step = round(10 / self.period_s)
        while not (loop.status.state == C.RUNNING and loop.status.pump == loop.status.flow_set):
            if loop.tick >= cap:
                raise LoopError(f"not running at t={loop.tick * self.period_s:.0f} s "
                                f"(state {loop.status.state_name})")
            self.advance(loop.tick + step)

    def trial(self, index: int, inside_share: float) -> Trial:
        rng = random.Random(f"powercut:{self.seed}:{index}")
        self.index = index
        loop = self.loop
        self.until_running(2 * 3600)
        if self.air_trips:
            # A trip on the bench's own air counts against no cartridge.
            self.op.trips = max(0, self.op.trips - self.air_trips)
            self.air_trips = 0
        kind = "inside" if rng.random() < inside_share else "between"
        t = loop.tick + round(rng.uniform(*self.window_s) / self.period_s)
        air = rng.random() < 0.25
        self.air_trips = 1 if air else 0
        if kind == "between":
            t_air = loop.tick + round(rng.uniform(0, (t - loop.tick) * self.period_s) / self.period_s)
            if air:
                self.advance(t_air)
                self.plant.faults.air_ticks_remaining = max(1, round(rng.uniform(0.2, 0.5) / self.period_s))
            self.advance(t)
            return self._cut_between(index, rng, air)
        self.advance(t)
        if air:
            # The frame after the arming raises an alarm: its save writes
            # the alarm log as well as the record.
            self.plant.faults.air_ticks_remaining = max(1, round(rng.uniform(0.2, 0.5) / self.period_s))
        r = rng.random()
        if r < 0.1:
            # The whole of the first or second write, but not its rename.
            budget = f"@{rng.randrange(2)}"
        elif r < 0.15:
            budget = "0"                         # not a byte: an empty temporary file
        else:
            budget = str(rng.randrange(1, 1200))
        self.known_log = self.client.alarm_log()["entries"]
        self.cut = None
        self.armed = True
        self.cut_file.write_text(f"{budget}\n")
        cap = loop.tick + round(3600 / self.period_s)
        while self.cut is None:
            if loop.tick >= cap:
                self.armed = False
                self.cut_file.unlink(missing_ok=True)
                tr = Trial(index, kind, round(loop.tick * self.period_s, 1), loop.status.state_name, air)
                tr.bench.append(f"armed with {budget} bytes, the board had not died an hour later")
                return tr
            self.advance(loop.tick + round(60 / self.period_s))
        return self._check_inside(index, air, budget)

    def _on_boot(self, _tick: int, notice: dict[str, Any]) -> None:
        self.last_notice = notice
