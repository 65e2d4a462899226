"""``make powercut``: power cuts of the virtual board during therapy, many of
them inside a storage write, each followed by a reboot on the same flash and
a check of what survived.

One therapy runs from set-up to blood flow on one virtual board; then, trial
after trial, the board loses its power at a random virtual time while blood
flows (the cartridge timer counting, the alarm log being written), comes
back on the same flash, is checked, and the scripted operator acknowledges
the restart and resumes. Two kinds of cut:

* ``between``: the host cuts the power at a random tick, between two frames
  (``ClosedLoop.power_cycle``), and leaves it off for 0-60 virtual seconds;
* ``inside``: at a random tick the host arms the board's storage
  (``firmware/cutstorage.py``) with a budget of k bytes: the write that does
  not fit reaches the flash with only the rest of the budget in its
  temporary file, no rename, and the board kills itself. The host sees the
  board die, reads the flash as the power left it, and powers it on again
  at the tick it died.

What counts as a failure is defined in docs/reliability.md; in short, after
every cut: the stored records load with the right content
(``corrupt_records``), the cartridge time is the last one the board stored,
never less than what the host last saw acknowledged and never more than
the board had counted (``cartridge_time_errors``), and no alarm-log entry
stored before the cut is missing (``lost_log_entries``).

A run is a function of its seed: the trials, their kinds, times, budgets
and faults come from ``random.Random`` seeded per trial.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from array import array
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from hil import frames
from hil.client import BoardClient, BoardError, BoardReset
from hil.fw import board_config_path
from hil.link import Link, LinkError, SerialLink
from hil.loop import ClosedLoop, LoopError
from hil.operator import OperatorPlan, ScriptedOperator
from hil.virtual_board import VirtualBoard

C = frames.C
P = frames.P

RECORD = "therapy.json"
ALARM_LOG = "alarms.json"
RECORD_KEYS = ("v", "state", "cart_no", "cart_used", "flow_set", "baseline", "weight", "table",
               "hep_started", "rate", "bolus_total", "last_aptt", "streak", "hold_left",
               "recheck_left", "therapy_ticks", "boots")
IN_THERAPY = (C.RUNNING, C.PAUSED, C.SAFE, C.EXCHANGE)
LOG_LEN = 32
# Record fields the status block shows: (record key, Status attribute).
VISIBLE = (("cart_no", "cartridge"), ("cart_used", "cartridge_used"), ("flow_set", "flow_set"),
           ("weight", "weight"), ("bolus_total", "bolus_total"), ("last_aptt", "last_aptt"))


class PowerLost(BoardReset):
    """The board died inside a storage write and has been powered on again.

    ``notice`` is its new BOOT notice with ``last_tick`` set to the tick it
    died at (so that :class:`~hil.loop.ClosedLoop` rewinds the plant there);
    ``cut`` is the firmware's note of the write it died in.
    """

    def __init__(self, notice: dict[str, Any], cut: dict[str, Any]) -> None:
        super().__init__(notice)
        self.cut = cut


class CutBench(Link):
    """The host end of the link to a board that may cut its own power.

    It passes bytes through a :class:`~hil.link.SerialLink`, remembers the
    last frame the host sent, and while waiting for a reply watches the
    board process: if it died on its own (the armed cut), it calls
    ``on_cut(note)`` (the board is still off: read its flash now), powers
    the board on, waits for its BOOT notice and raises :class:`PowerLost`.
    """

    def __init__(self, board: VirtualBoard, on_cut: Callable[[dict[str, Any]], None]) -> None:
        self.board = board
        self.inner: Link = SerialLink(board.port)
        self.name = self.inner.name
        self.on_cut = on_cut
        self.last_frame = b""

    def write(self, data: bytes) -> None:
        if len(data) >= 12 and data[0] == P.SOF:
            self.last_frame = bytes(data)
        self.inner.write(data)

    def read(self, max_bytes: int, timeout_s: float) -> bytes:
        deadline = time.monotonic() + timeout_s
        while True:
            data = self.inner.read(max_bytes, 0.02)
            if data:
                return data
            if not self.board.alive():
                raise self._reboot()
            if time.monotonic() >= deadline:
                return b""

    def _reboot(self) -> PowerLost:
        board = self.board
        assert board.cut_file is not None
        report = Path(str(board.cut_file) + ".report")
        try:
            note = json.loads(report.read_text())
            report.unlink()
        except (OSError, ValueError) as e:
            raise BoardError(f"the board died without a cut report ({e}): "
                             f"exit status {board.proc.returncode if board.proc else None}") from e
        self.on_cut(note)
        board.power_cut()      # already dead: only marks it off
        board.power_on()
        parser = frames.FrameParser()
        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline:
            data = self.inner.read(65536, 0.05)
            for f in parser.feed(data) if data else []:
                if f.ftype == P.T_BOOT:
                    notice = dict(json.loads(f.payload))
                    notice["last_tick"] = note["tick"]
                    return PowerLost(notice, note)
        raise BoardError("no BOOT notice after the power came back")

    def close(self) -> None:
        self.inner.close()


def read_flash(flash: Path) -> dict[str, bytes]:
    """Every file on the board's flash, as the power left it."""
    return {p.name: p.read_bytes() for p in sorted(flash.iterdir()) if p.is_file()}


def parse_record(data: bytes | None) -> tuple[dict[str, Any] | None, str]:
    """The therapy record, or None and why it does not load."""
    if data is None:
        return None, "no therapy record on the flash"
    try:
        rec = json.loads(data)
    except ValueError as e:
        return None, f"therapy record does not parse ({e}): {data[:80]!r}"
    if not isinstance(rec, dict):
        return None, "therapy record is not an object"
    missing = [k for k in RECORD_KEYS if k not in rec]
    if missing or rec.get("v") != 1:
        return None, f"therapy record lacks {missing} or has version {rec.get('v')}"
    return rec, ""


def parse_log(data: bytes | None) -> tuple[list[list[int]] | None, str]:
    """The stored alarm log, or None and why it does not load."""
    if data is None:
        return [], ""
    try:
        log = json.loads(data)
    except ValueError as e:
        return None, f"alarm log does not parse ({e}): {data[:80]!r}"
    if not (isinstance(log, list) and all(
            isinstance(e, list) and len(e) == 4 and all(isinstance(x, int) for x in e) for e in log)):
        return None, "alarm log is not a list of [tick, id, priority, value]"
    return log, ""


def compare_logs(known: list[list[int]], flash: list[list[int]], after: list[list[int]]
                 ) -> tuple[int, list[str]]:
    """Entries the host knew stored before the cut that are gone after the
    reboot, and what else is wrong with the log.

    Args:
        known: the log as the board answered a LOG request after its last
            reply before the cut (stored: the board stores before it answers).
        flash: the log file on the flash after the cut.
        after: the log the rebooted board answers (flash + the restart).

    Returns:
        (number of lost entries, problems found).
    """
    problems: list[str] = []
    if not after or after[-1][1] != C.AL_POWER_RESTORED:
        problems.append(f"the restart is not the last log entry: {after[-1:]}")
        body = after
    else:
        body = after[:-1]
    # Entries stored in the cut frame itself (if its log write completed):
    # raised after everything the host knew, so at the end.
    last_known = known[-1][0] if known else -(1 << 62)
    new = [e for e in body if e not in known and e[0] >= last_known]
    stored = known + new
    # The restart's entry takes the last of the LOG_LEN places.
    if body != stored[-(LOG_LEN - 1):]:
        problems.append(f"log after the reboot is not the stored one plus the restart: "
                        f"known {known[-3:]}, new {new}, after {after[-4:]}")
    if flash != stored[-LOG_LEN:] and flash != known[-LOG_LEN:]:
        problems.append(f"log on the flash is neither the old nor the new one: {flash[-3:]}")
    evictable = max(0, len(known) + len(new) + 1 - LOG_LEN)
    lost = [e for e in known[evictable:] if e not in body]
    return len(lost), problems


@dataclass
class Trial:
    """One cut and what was checked after it."""

    index: int
    kind: str                        # "inside" or "between"
    t_s: float                       # virtual time of the cut
    state: str                       # the board's state at the cut (host's view)
    air: bool = False                # an air fault was injected just before
    budget: str | None = None        # inside: what the cut was armed with
    file: str | None = None          # inside: the file being written
    written: int | None = None       # inside: bytes of it that reached the flash
    size: int | None = None          # inside: its full length
    frame: str | None = None         # inside: the frame being served (STEP or CMD)
    k_ticks: int = 0                 # inside: ticks the board ran in the unanswered frame
    used_ack: int = 0                # cartridge time in the host's last reply
    used_cut: int = 0                # the board's count when the power failed
    used_flash: int | None = None    # in the record on the flash after the cut
    used_boot: int | None = None     # reported after the reboot
    lag: int | None = None           # used_cut - used_boot, periods
    torn_tmp: bool = False           # a torn temporary file was on the flash
    corrupt: list[str] = field(default_factory=list)
    cartridge: list[str] = field(default_factory=list)
    lost_log: int = 0
    log_problems: list[str] = field(default_factory=list)
    bench: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return bool(self.corrupt or self.cartridge or self.lost_log or self.log_problems or self.bench)


class Campaign:
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
        self.flowing = cfg["therapy"]["flowing_ml_min"] * 10
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

    # -- checks ------------------------------------------------------------------------

    def _cut_between(self, index: int, rng: random.Random, air: bool) -> Trial:
        loop = self.loop
        h = loop.status
        self.known_log = self.client.alarm_log()["entries"]
        self.board.power_cut()
        if self.tamper is not None:
            self.tamper(self.board.flash, index)
        flash = read_flash(self.board.flash)
        tr = Trial(index, "between", round(loop.tick * self.period_s, 1), h.state_name, air,
                   used_ack=h.cartridge_used, used_cut=h.cartridge_used)
        notice = loop.power_cycle(self.board, round(rng.uniform(0, 60), 1))
        self._check(tr, h, None, flash, notice)
        return tr

    def _check_inside(self, index: int, air: bool, budget: str) -> Trial:
        cut = self.cut
        assert cut is not None
        self.cut = None
        note = cut["note"]
        h: frames.Status = cut["status"]
        frame: bytes = cut["frame"]
        tr = Trial(index, "inside", round((self.loop.offset) * self.period_s, 1), h.state_name, air,
                   budget=budget, file=note["name"], written=note["written"], size=note["size"],
                   used_ack=h.cartridge_used, used_cut=note["record"]["cart_used"])
        ftype = frame[2] if frame else -1
        tr.frame = {P.T_STEP: "STEP", P.T_CMD: "CMD"}.get(ftype, f"0x{ftype:02x}")
        tr.k_ticks = note["tick"] - h.tick
        # The host's own count of the blood-flow periods the board ran in
        # the frame it never answered: the instrument is checked too.
        if ftype == P.T_STEP:
            samples = array("h", frame[8 + P.STEP_HEAD:-4])
            k = tr.k_ticks
            flowing = 0
            if h.state == C.RUNNING:
                q, flags = samples[3::5][:k], samples[4::5][:k]
                flowing = sum(1 for v, f in zip(q, flags) if v >= self.flowing and f >= 0)
            if not 0 <= k <= len(samples) // 5:
                tr.bench.append(f"the board died at tick {note['tick']}, outside the frame "
                                f"after tick {h.tick} of {len(samples) // 5} samples")
            elif h.cartridge_used + flowing != tr.used_cut:
                tr.cartridge.append(f"the board had counted {tr.used_cut} periods of flow at the cut; "
                                    f"the host counts {h.cartridge_used} + {flowing} in the samples it sent")
        elif tr.k_ticks != 0:
            tr.bench.append(f"the board died serving a command {tr.k_ticks} ticks after its last reply")
        tmp = note["name"] + ".tmp"
        flash = cut["flash"]
        tr.torn_tmp = tmp in flash and len(flash[tmp]) == note["written"]
        if not tr.torn_tmp:
            tr.bench.append(f"no torn {tmp} of {note['written']} bytes on the flash after the cut: "
                            f"{ {k: len(v) for k, v in flash.items()} }")
        self._check(tr, h, note["record"], flash, self.last_notice)
        return tr

    def _check(self, tr: Trial, h: frames.Status, new_rec: dict[str, Any] | None,
               flash: dict[str, bytes], notice: dict[str, Any]) -> None:
        """What survived the cut: the record, the cartridge time, the log."""
        s = self.loop.status          # the STATUS right after the reboot
        rec, why = parse_record(flash.get(RECORD))
        if rec is None:
            tr.corrupt.append(why)
        else:
            tr.used_flash = rec["cart_used"]
            old = {k: getattr(h, a) for k, a in VISIBLE}
            got = {k: rec[k] for k, _ in VISIBLE}
            new = {k: new_rec[k] for k, _ in VISIBLE} if new_rec is not None else old
            if got != old and got != new:
                tr.corrupt.append(f"record on the flash is neither the one stored before the cut "
                                  f"{old} nor the one being stored {new}: {got}")
            shown = {k: getattr(s, a) for k, a in VISIBLE}
            if shown != got:
                tr.corrupt.append(f"the board booted with {shown}, the flash holds {got}")
            if rec["state"] in IN_THERAPY:
                if not notice.get("restored") or s.state != C.SAFE \
                        or not s.latched & (1 << C.AL_POWER_RESTORED):
                    tr.corrupt.append(f"record of a therapy in progress ({C.STATE_NAMES[rec['state']]}) "
                                      f"not restored: notice {notice}, state {s.state_name}")
        tr.used_boot = s.cartridge_used
        if notice.get("cartridge_used") != s.cartridge_used:
            tr.cartridge.append(f"BOOT notice says {notice.get('cartridge_used')} periods, "
                                f"the status {s.cartridge_used}")
        if tr.used_flash is not None and s.cartridge_used != tr.used_flash:
            tr.cartridge.append(f"cartridge time {s.cartridge_used} after the reboot, "
                                f"{tr.used_flash} stored")
        if s.cartridge != h.cartridge and not (new_rec and s.cartridge == new_rec["cart_no"]):
            tr.cartridge.append(f"cartridge {s.cartridge} after the reboot, {h.cartridge} before")
        if s.cartridge_used < h.cartridge_used and s.cartridge == h.cartridge:
            tr.cartridge.append(f"cartridge time went back from {h.cartridge_used} (acknowledged) "
                                f"to {s.cartridge_used}")
        if s.cartridge_used > tr.used_cut and s.cartridge == h.cartridge:
            tr.cartridge.append(f"cartridge time {s.cartridge_used} after the reboot, more than "
                                f"the {tr.used_cut} periods counted at the cut")
        tr.lag = tr.used_cut - s.cartridge_used
        log_flash, why = parse_log(flash.get(ALARM_LOG))
        if log_flash is None:
            tr.corrupt.append(why)
            log_flash = []
        after = self.client.alarm_log()["entries"]
        tr.lost_log, tr.log_problems = compare_logs(self.known_log, log_flash, after)

    def _on_boot(self, _tick: int, notice: dict[str, Any]) -> None:
        self.last_notice = notice


def run_campaign(trials: int = 200, seed: int = 1, inside_share: float = 0.5,
                 out: Path = Path("out/powercut"), max_batch: int = P.MAX_SAMPLES,
                 window_s: tuple[float, float] = (5.0, 180.0),
                 progress: Callable[[int, int, Trial], None] | None = None,
                 tamper: Callable[[Path, int], None] | None = None) -> dict[str, Any]:
    """Run the campaign and return its figures (also written to powercut.json)."""
    t0 = time.perf_counter()
    camp = Campaign(seed, out, max_batch, window_s, tamper)
    done: list[Trial] = []
    aborted = None
    try:
        camp.setup()
        for i in range(trials):
            tr = camp.trial(i, inside_share)
            done.append(tr)
            if progress is not None:
                progress(i + 1, trials, tr)
    except (LinkError, BoardError, LoopError) as e:
        aborted = f"{type(e).__name__}: {e}"
    finally:
        virtual_s = camp.loop.tick * camp.period_s
        camp.close()
    wall = time.perf_counter() - t0
    inside = [t for t in done if t.kind == "inside"]
    lags = [t.lag for t in done if t.lag is not None]
    failures = [t for t in done if t.failed]
    figures: dict[str, Any] = {
        "campaign": "powercut",
        "seed": seed,
        "trials": len(done),
        "trials_planned": trials,
        "cuts_inside_write": len(inside),
        "cuts_between_frames": len(done) - len(inside),
        "cuts_inside_by_file": {n: sum(1 for t in inside if t.file == n) for n in (RECORD, ALARM_LOG)},
        "cuts_inside_by_frame": {n: sum(1 for t in inside if t.frame == n) for n in ("STEP", "CMD")},
        "cuts_inside_complete_tmp": sum(1 for t in inside if t.written == t.size),
        "cuts_inside_empty_tmp": sum(1 for t in inside if t.written == 0),
        "cuts_with_air_alarm": sum(1 for t in done if t.air),
        "torn_temp_files": sum(1 for t in inside if t.torn_tmp),
        "corrupt_records": sum(1 for t in done if t.corrupt),
        "cartridge_time_errors": sum(1 for t in done if t.cartridge),
        "lost_log_entries": sum(t.lost_log for t in done),
        "log_errors": sum(1 for t in done if t.log_problems),
        "bench_errors": sum(1 for t in done if t.bench) + (1 if aborted else 0),
        "failures": len(failures) + (1 if aborted else 0),
        "cartridge_lag_max_periods": max(lags) if lags else None,
        "cartridge_lag_over_one_period": sum(1 for x in lags if x > 1),
        "cartridge_lag_bound_periods": max_batch,
        "cartridge_lag_total_periods": sum(lags),
        "max_batch": max_batch,
        "window_s": list(window_s),
        "inside_share": inside_share,
        "virtual_s": round(virtual_s, 1),
        "wall_s": round(wall, 2),
        "aborted": aborted,
        "replay": f"python -m hil.reliability.powercut --seed {seed} --trials {trials}"
                  f" --inside-share {inside_share} --max-batch {max_batch}",
        "examples": [_example(t) for t in failures[:10]],
        "trial_log": [_brief(t) for t in done],
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "powercut.json").write_text(json.dumps(figures, indent=1) + "\n")
    return figures


def _brief(t: Trial) -> list[Any]:
    return [t.index, t.kind, t.t_s, t.state, t.file, t.written, t.size, t.k_ticks, t.lag,
            "FAIL" if t.failed else "ok"]


def _example(t: Trial) -> dict[str, Any]:
    d = {k: v for k, v in vars(t).items() if v not in (None, [], 0, False) or k in ("index", "kind")}
    d["replay_trials"] = t.index + 1
    return d


FAILURE_KEYS = ("corrupt_records", "cartridge_time_errors", "lost_log_entries", "log_errors", "bench_errors")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m hil.reliability.powercut", description=__doc__.split("\n\n")[0])
    ap.add_argument("--trials", type=int, default=200, help="power cuts (default 200)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--inside-share", type=float, default=0.5,
                    help="share of the cuts made inside a storage write (default 0.5)")
    ap.add_argument("--max-batch", type=int, default=P.MAX_SAMPLES,
                    help="most control periods per STEP frame (1: strict lockstep)")
    ap.add_argument("--out", type=Path, default=Path("out/powercut"))
    ap.add_argument("-q", "--quiet", action="store_true")
    a = ap.parse_args(argv)

    def progress(i: int, n: int, t: Trial) -> None:
        if not a.quiet and (t.failed or i % 20 == 0 or i == n):
            print(f"  {i}/{n} {t.kind:7s} t={t.t_s:9.1f} s {t.state:8s} "
                  f"{(t.file or '') + (f' {t.written}/{t.size} B' if t.file else ''):24s} "
                  f"lag {t.lag} {'FAIL ' + str(_example(t)) if t.failed else 'ok'}", flush=True)

    fig = run_campaign(a.trials, a.seed, a.inside_share, a.out, a.max_batch, progress=progress)
    print(f"powercut: {fig['trials']} cuts ({fig['cuts_inside_write']} inside a write: "
          f"{fig['cuts_inside_by_file']}), corrupt records {fig['corrupt_records']}, "
          f"cartridge time errors {fig['cartridge_time_errors']}, lost log entries "
          f"{fig['lost_log_entries']}, log errors {fig['log_errors']}, bench errors {fig['bench_errors']}; "
          f"cartridge lag max {fig['cartridge_lag_max_periods']} periods; "
          f"{fig['virtual_s'] / 3600:.1f} virtual h in {fig['wall_s']:.1f} s -> {a.out / 'powercut.json'}")
    if fig["aborted"]:
        print(f"powercut: aborted: {fig['aborted']}", file=sys.stderr)
    bad = fig["aborted"] or fig["trials"] < a.trials or any(fig[k] for k in FAILURE_KEYS)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
