"""Power-cut campaign: what is checked after a cut. The flash as the power
left it (the therapy record, the alarm log), a :class:`Trial`'s findings, and
the checks themselves (:class:`CutChecks`, a base of
:class:`~hil.reliability.powercut_trial.Campaign`)."""

from __future__ import annotations

import json
import random
from array import array
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from hil.transport import frames
from hil.transport.client import BoardClient
from hil.loop.closed import ClosedLoop
from hil.board.virtual import VirtualBoard

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


class CutBase:
    """Attributes the checks use (set up by the campaign)."""

    board: VirtualBoard
    client: BoardClient
    loop: ClosedLoop
    tamper: Callable[[Path, int], None] | None
    period_s: float
    flowing: int
    cut: dict[str, Any] | None
    known_log: list[list[int]]
    last_notice: dict[str, Any]


class CutChecks(CutBase):
    """The checks after a cut, between frames or inside a write."""

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
