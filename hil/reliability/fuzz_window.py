"""Fuzz campaign: the window runner. Inputs go out in windows, each closed by
a STATUS request; every answer is matched to what the window's inputs
require (:mod:`hil.reliability.fuzz_oracle`) and each failure is counted
with an example."""

from __future__ import annotations

import dataclasses
from collections import Counter
import random
import sys
import time
from pathlib import Path
from typing import Any

from hil.transport import frames
from hil.transport.frames import Frame, Status
from hil.transport.link import LinkError, SerialLink
from hil.reliability.common import FrameTap, rss_kb
from hil.reliability.fuzz_board import BoardSession
from hil.reliability.fuzz_frames import (
    CATEGORIES, EXAMPLES_PER_KIND, FAILURES, SEQ_RESERVE, SEQUENCE_HEX_MAX, STATUS_TYPES, WEIGHTS,
    CampaignError, Case, Expect,
)
from hil.reliability.fuzz_inputs import Generator
from hil.reliability.fuzz_oracle import (
    check_answer, diff_status, due_retransmission, find_expect, status_dict, status_of,
)
from hil.board.virtual import VirtualBoard

P, C = frames.P, frames.C

# Counts kept in Campaign.tally and written to fuzz.json under these names.
TALLIES = ("windows", "probes", "status_requests", "slow_answers", "stray_naks", "restarts",
           "restores_by_command", "bytes_sent", "frames_received")

Changed = tuple[Status | None, int, int]   # status block, events, index of the case (-1: none)


class Campaign(BoardSession):
    """One fuzz campaign against a virtual board.

    Args:
        out: folder for fuzz.json and the firmware's log (None: nothing written).
        inputs: hostile inputs to send.
        seed: seed of the input generator.
        board: board config name or path.
        firmware: run this firmware folder from source instead of the
            repository's firmware compiled with mpy-cross.
        window: inputs between two STATUS requests.
        probe_every: inputs between two liveness probes.
        deadline_s: time a request gets for its answer.
        quiet_s: silence before a liveness probe.
        progress: print a line to stderr every 10,000 inputs.
    """

    def __init__(self, out: Path | None = None, inputs: int = 100_000, seed: int = 1,
                 board: str = "virtual", firmware: Path | None = None, window: int = 25,
                 probe_every: int = 500, deadline_s: float = 2.0, quiet_s: float = 0.25,
                 soft_s: float = 0.5, progress: bool = False) -> None:
        self.out = out
        self.target = inputs
        self.seed = seed
        self.board = board
        self.firmware = firmware
        self.window = window
        self.probe_every = probe_every
        self.deadline_s = deadline_s
        self.quiet_s = quiet_s
        self.soft_s = min(soft_s, deadline_s)
        self.progress = progress
        self.rng = random.Random(seed)
        self.gen = Generator(self.rng, 0, 200)
        self.vb: VirtualBoard | None = None
        self.link: SerialLink | None = None
        self.tap: FrameTap | None = None
        self.baseline: Status | None = None
        self.ignore: set[int] = set()     # SEQs of late answers to the last recovery
        self.next_ignore: set[int] = set()
        self.cur_sync: set[int] = set()   # SEQs of this window's STATUS requests
        self.counts: dict[str, int] = {k: 0 for k in FAILURES}
        self.examples: dict[str, list[dict[str, Any]]] = {k: [] for k in FAILURES}
        self.by_category = {c: 0 for c in CATEGORIES}
        self.fail_by_category: dict[str, dict[str, int]] = {}
        # The campaign's running counts, by their names in fuzz.json (TALLIES).
        self.tally: Counter[str] = Counter()
        self.recoveries: dict[str, int] = {}
        self.answers_required = {"replies": 0, "naks": 0}
        self.rss: list[int] = []
        self.rss_start: int | None = None
        self.rss_end: int | None = None
        self.log_path = out / "firmware.log" if out is not None else None


    # -- failures --------------------------------------------------------------------

    def _fail(self, kind: str, detail: str, cases: list[Case], at: int | None,
              suspects: list[Case] | None = None) -> None:
        self.counts[kind] += 1
        cat = cases[at].category if at is not None and 0 <= at < len(cases) else "window"
        self.fail_by_category.setdefault(cat, {}).setdefault(kind, 0)
        self.fail_by_category[cat][kind] += 1
        ex = self.examples[kind]
        if len(ex) >= EXAMPLES_PER_KIND:
            return
        upto = cases if at is None else cases[:at + 1]
        seq_hex = b"".join(c.data for c in upto).hex()
        item: dict[str, Any] = {"detail": detail, "inputs_before": self.tally["inputs"],
                                "categories": [c.category for c in upto][-40:]}
        if at is not None and 0 <= at < len(cases):
            item["category"] = cases[at].category
            item["input_hex"] = cases[at].data.hex()
        if suspects:
            item["suspects"] = [{"category": c.category, "input_hex": c.data.hex()} for c in suspects[:12]]
            upto = cases[:cases.index(suspects[-1]) + 1]
            seq_hex = b"".join(c.data for c in upto).hex()
        item["sequence_hex"] = seq_hex if len(seq_hex) <= SEQUENCE_HEX_MAX else None
        if item["sequence_hex"] is None:
            item["sequence_hex_note"] = f"window of {len(seq_hex) // 2} bytes, too long to keep"
        ex.append(item)

    # -- one window ------------------------------------------------------------------

    def _sync(self, start: int, probe: bool) -> tuple[int | None, str | None]:
        """Close a window with a STATUS request (a liveness probe after a
        quiet period when ``probe``). Returns (index of its answer, None), or
        (index where checking stops, "hang") after a recovery, or (None,
        "crash"/"hang") when the board must be restarted."""
        assert self.tap is not None
        tap = self.tap
        if probe:
            time.sleep(self.quiet_s)
            self.tally["probes"] += 1
        self.tally["status_requests"] += 1
        s1 = self.gen.fresh()
        sent = [s1]
        self.cur_sync = set(sent)
        t0 = time.monotonic()
        self._write(frames.encode(P.T_STATUS, s1))
        i = tap.wait_reply(P.T_STATUS, s1, start, self.soft_s)
        if i is not None:
            return i, None
        # Not answered yet: send what ends any frame the board may still be
        # waiting for (a frame it refuses or gives up costs it nothing) and
        # ask again, twice at most. The first request still counts: it is a
        # hang if it is not answered within the deadline.
        for nbytes, name, wait_s in ((P.MAX_PAYLOAD + 64, "flush_4k", self.soft_s),
                                     (0x10000 + 64, "flush_64k", self.deadline_s + 8.0)):
            if self._crashed(start):
                return None, "crash"
            s = self.gen.fresh()
            sent.append(s)
            self.cur_sync.add(s)
            self._write(bytes(nbytes) + frames.encode(P.T_STATUS, s))
            i = tap.wait_for(lambda f: f.ftype == P.T_STATUS | P.REPLY and f.seq in sent,
                             start, wait_s)
            if i is None:
                continue
            last = tap.wait_reply(P.T_STATUS, sent[-1], i, self.deadline_s + 8.0)
            if last is None:
                self.next_ignore.update(sent)
                last = i
            if tap.frames[i].seq == s1 and tap.times[i] - t0 <= self.deadline_s:
                self.tally["slow_answers"] += 1
                return last, None
            self.recoveries[name] = self.recoveries.get(name, 0) + 1
            return last, "hang"
        return None, "crash" if self._crashed(start) else "hang"


    def _run_window(self, cases: list[Case]) -> None:
        assert self.tap is not None and self.baseline is not None
        tap = self.tap
        expects = self._expects_of(cases)
        before = self.tally["inputs"]
        probe = before // self.probe_every != (before + len(cases)) // self.probe_every
        start = tap.mark()
        failure: str | None
        try:
            self._write(b"".join(c.data for c in cases))
            end, failure = self._sync(start, probe)
        except LinkError:
            end, failure = None, "crash"
        self.tally["inputs"] += len(cases)
        for c in cases:
            self.by_category[c.category] += 1
        seq_case = {}
        for k, c in enumerate(cases):
            for s in c.seqs:
                seq_case.setdefault(s, k)

        if failure == "crash":
            why = self._crashed(start) or "the board stopped answering and was not alive"
            self._fail("crashes", why, cases, None)
            if probe:
                self._fail("probes_failed", "liveness probe: " + why, cases, None)
            self._restart("crash")
            return
        got = tap.since(start, end if end is not None else None)
        sync = tap.frames[end] if end is not None else None
        alive, changed = self._match(got, expects, cases, seq_case)
        if not alive:
            return
        if failure == "hang":
            if self._hang(cases, expects, end, probe):
                return
        else:
            for e in expects:
                if e.required and e.got is None:
                    self._fail("missed_replies", f"missing: {e.describe()}", cases, e.case)
        self._check_state(sync, changed, cases)

    def _expects_of(self, cases: list[Case]) -> list[Expect]:
        """The window's expected answers, each told its case; counts the required ones."""
        for k, c in enumerate(cases):
            for e in c.expects:
                e.case = k
        expects = [e for c in cases for e in c.expects]
        for e in expects:
            if e.required:
                self.answers_required["naks" if e.rtype == P.T_NAK else "replies"] += 1
        return expects

    def _match(self, got: list[Frame], expects: list[Expect], cases: list[Case],
               seq_case: dict[int, int]) -> tuple[bool, Changed | None]:
        """Match each answer to what was required or allowed. Returns (False,
        ...) when the board rebooted (and has been restarted), and the first
        changed status block seen."""
        changed: Changed | None = None
        for f in got:
            if f.ftype == P.T_BOOT:
                self._fail("crashes", "the board sent a BOOT notice", cases, None)
                self._restart("crash")
                return False, changed
            if f.ftype in (P.T_STATUS | P.REPLY, P.T_NAK) and (
                    f.seq in self.ignore or f.seq in self.cur_sync):
                continue
            if f.ftype in STATUS_TYPES:
                st, n_ev = status_of(f)
                if changed is None and (st != self.baseline or n_ev != 0):
                    changed = (st, n_ev, seq_case.get(f.seq, -1))
            self._answer(f, expects, cases, seq_case)
        return True, changed

    def _answer(self, f: Frame, expects: list[Expect], cases: list[Case],
                seq_case: dict[int, int]) -> None:
        e = find_expect(expects, f)
        if e is None:
            due = due_retransmission(expects, f)
            if due is not None:
                due.got = f
                self._fail("wrong_replies", f"NAK {f.payload.hex()} for SEQ {f.seq} where "
                           f"{due.describe()} was due", cases, due.case)
                return
            if f.ftype == P.T_NAK and (not f.payload or f.payload[0] != P.N_HEADER):
                self.tally["stray_naks"] += 1
                return
            what = (f"NAK reason {f.payload[0]} (reserved, never sent)" if f.ftype == P.T_NAK
                    else f"frame type 0x{f.ftype:02x}")
            k = seq_case.get(f.seq)
            self._fail("wrong_replies", f"unexpected {what} for SEQ {f.seq}: "
                       f"nothing sent asks for it", cases, k)
            return
        e.got = f
        bad = check_answer(e, f)
        if bad:
            self._fail("wrong_replies", bad, cases, e.case)

    def _hang(self, cases: list[Case], expects: list[Expect], end: int | None, probe: bool) -> bool:
        """Count a hang; True when the board had to be restarted."""
        # The board went silent after the last input it answered and
        # before the first one after that which it did not answer.
        k = max((e.case for e in expects if e.got is not None), default=0)
        first = next((e for e in expects if e.required and e.got is None and e.case >= k), None)
        m = first.case if first is not None else len(cases) - 1
        detail = (f"no answer to a STATUS request with a fresh SEQ within {self.deadline_s:g} s "
                  f"({'board restarted' if end is None else 'it answered again after zeros were sent'})")
        if first is not None:
            detail += f"; first answer missing: {first.describe()}"
        detail += (f"; suspects: inputs {k}..{m} of the window ("
                   + ", ".join(c.category for c in cases[k:m + 1]) + ")")
        at = k
        self._fail("hangs", detail, cases, at, suspects=cases[k:m + 1])
        if probe:
            self._fail("probes_failed", "liveness probe: " + detail, cases, at)
        if end is None:
            self._restart("hang")
            return True
        return False

    def _check_state(self, sync: Frame | None, changed: Changed | None, cases: list[Case]) -> None:
        assert self.baseline is not None
        if sync is not None and changed is None:
            st, n_ev = status_of(sync)
            if st != self.baseline or n_ev:
                changed = (st, n_ev, -1)
        if changed is not None:
            st, n_ev, k = changed
            self._fail("state_changes", diff_status(self.baseline, st, n_ev), cases, k if k >= 0 else None)
            self._restore()

    def _restore(self) -> None:
        """Back to the set-up state: a set-flow command if only the flow set
        point moved, else a fresh board."""
        assert self.baseline is not None
        try:
            self.gen.new_window()
            st = self._status().status
            if (st.flow_set != self.baseline.flow_set
                    and dataclasses.replace(st, flow_set=self.baseline.flow_set) == self.baseline):
                self._cmd(C.CMD_SET_FLOW, round(self.baseline.flow_set_ml_min))
                r = self._status()
                if r.status == self.baseline and not r.events:
                    self.tally["restores_by_command"] += 1
                    return
        except (CampaignError, LinkError, frames.FrameError):
            pass
        self._restart("state_change")


    # -- all of it -----------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        if self.out is not None:
            self.out.mkdir(parents=True, exist_ok=True)
            if self.log_path is not None and self.log_path.exists():
                self.log_path.unlink()
        t0 = time.monotonic()
        names = list(WEIGHTS)
        weights = [WEIGHTS[c] for c in names]
        try:
            self._start_board()
            self.rss_start = rss_kb(self.pid)
            next_note = 10_000
            while self.tally["inputs"] < self.target:
                self.tally["windows"] += 1
                self.ignore, self.next_ignore = self.next_ignore, set()
                self.gen.new_window(self.ignore)
                cases: list[Case] = []
                while (len(cases) < self.window and self.tally["inputs"] + len(cases) < self.target
                       and self.gen.room() > SEQ_RESERVE + 12):
                    cases.append(self.gen.make(self.rng.choices(names, weights)[0]))
                self._run_window(cases)
                if self.tally["inputs"] // self.probe_every != (self.tally["inputs"] - len(cases)) // self.probe_every:
                    r = rss_kb(self.pid)
                    if r is not None:
                        self.rss.append(r)
                if self.progress and self.tally["inputs"] >= next_note:
                    next_note += 10_000
                    el = time.monotonic() - t0
                    fails = ", ".join(f"{k} {v}" for k, v in self.counts.items() if v)
                    print(f"fuzz: {self.tally['inputs']:,} inputs, {self.tally['inputs'] / el:,.0f}/s"
                          + (f"; {fails}" if fails else ""), file=sys.stderr, flush=True)
            self.rss_end = rss_kb(self.pid)
        finally:
            self._stop_board()
        wall = time.monotonic() - t0
        return self.result(wall)

    def result(self, wall: float) -> dict[str, Any]:
        rss = [r for r in self.rss + [self.rss_start, self.rss_end] if r is not None]
        return {
            "inputs": self.tally["inputs"],
            "seed": self.seed,
            "board": self.board,
            "firmware": str(self.firmware) if self.firmware else "firmware/ (compiled with mpy-cross)",
            "wall_s": round(wall, 2),
            "inputs_per_s": round(self.tally["inputs"] / wall, 1) if wall > 0 else None,
            "by_category": self.by_category,
            **{k: self.tally[k] for k in TALLIES},
            **self.counts,
            "ok": not any(self.counts.values()),
            "failures_by_category": self.fail_by_category,
            "rss_kb_start": self.rss_start,
            "rss_kb_end": self.rss_end,
            "rss_kb_max": max(rss) if rss else None,
            "recoveries": self.recoveries,
            "answers_required": self.answers_required,
            "setup_state": status_dict(self.baseline),
            "examples": {k: v for k, v in self.examples.items() if v},
            "settings": {"window": self.window, "probe_every": self.probe_every,
                         "deadline_s": self.deadline_s, "quiet_s": self.quiet_s},
        }
