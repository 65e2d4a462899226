"""``make fuzz``: hostile input on the serial link of the virtual board.

The firmware runs in the MicroPython VM on a virtual board (a pty opened
with pyserial, as the harness does) and is put in an interesting state
first: weight set, heparin running with its loading bolus given, aPTT in
range, primed and running at 250 mL/min with the clamp open (a few dozen
valid STEP frames with nominal sensor samples get it there; no valid STEP
is sent after that, so the board's time stands still). Then it gets
``--inputs`` hostile inputs (100,000 by default), each from one category:

=====================  =====================================================
random_bytes           line noise, some of it dense with false start bytes
bit_flip               a frame (often a dangerous one: stop, pause, a new
                       flow, a STEP continuing the board's tick) with 1-3 bits flipped
bad_header_check       a frame whose header check byte is wrong
bad_crc                a frame whose CRC-32 is wrong
huge_len               a header claiming more payload than its type allows
                       (up to 0xFFFF), followed by a few bytes only
zero_len               CMD or STEP with LEN 0 and good checks
odd_len                a whole frame with a length its type never has
truncated_then_valid   the start of a frame, then one or two good requests
unknown_type           good checks, a type the board does not serve
wrong_version          VER other than 1 (LEN 0xFFFF among them)
repeated_seq           the same frame twice (or around a damaged copy)
out_of_order_seq       good requests with SEQs in no order
same_seq_new_payload   a new request that reuses the SEQ of the last one
out_of_range_cmd       commands out of range, unknown, or refused in the state
flood                  10-80 frames back to back, some of them damaged
oversized_step         STEP longer than 400 samples
short_cmd              CMD with LEN 1-7 (after a command whose bytes it could reuse)
bad_step               STEP whose sample count or first tick is wrong
=====================  =====================================================

Each input says what the documented protocol (docs/protocol.md, and the
receiving rules: every type's exact length checked at the header, NAK 5; a
refused header is followed by a search from the byte after its start byte;
a failed CRC likewise; a duplicate is TYPE + SEQ + the same bytes) requires
in answer: a reply to each good request (the same bytes again for a
retransmission), a NAK with a given reason for a refused frame, nothing
else. Inputs go out in windows of 25, each closed by a STATUS request with
a fresh SEQ; every 500 inputs that request is a liveness probe sent after
0.25 s of silence. Failures:

- crash: the firmware process exited, announced a new boot, or the link closed;
- hang: a request with a fresh SEQ got no answer within its deadline (2 s)
  while the process lived (the campaign then sends 4 KB, then 64 KB of
  zeros, which end any frame a board may wait for, and asks again; a board
  that still does not answer is restarted);
- probe failed: a liveness probe got no answer within its deadline;
- state change: a status block (in any reply) differs from the one before
  the window, or a reply carries events: nothing sent may change the board;
- wrong reply: an answer the protocol does not allow (a reply to a frame
  that must be refused, a CMD reply for another command or with another
  result, a stale reply resent to a new request, a NAK where the same
  reply is due again, NAK reason 1);
- missed reply: a good request got no reply, or a frame that must be
  refused got no NAK with an allowed reason (in windows without a hang).

NAKs nobody asked for are counted apart (``stray_naks``), not as failures:
noise and cut frames make false headers with any SEQ. ``failures_by_category``
names the category of the input whose answer was wrong or missing (for a
hang: the last input answered before the board went silent).

The process's memory (VmRSS) is read at every probe. ``DIR/fuzz.json``
holds the figures and, for each kind of failure, examples with the hex of
the input and of the whole window that led to it;
``--replay HEX`` sends such bytes to a fresh board in the same state and
prints what comes back. Exit code 0 only when every failure count is 0.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import random
import struct
import sys
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hil import frames
from hil.frames import Frame, Status
from hil.link import LinkError, SerialLink
from hil.reliability.common import FrameTap, rss_kb
from hil.virtual_board import VirtualBoard

P, C = frames.P, frames.C

CATEGORIES = (
    "random_bytes", "bit_flip", "bad_header_check", "bad_crc", "huge_len", "zero_len",
    "odd_len", "truncated_then_valid", "unknown_type", "wrong_version", "repeated_seq",
    "out_of_order_seq", "same_seq_new_payload", "out_of_range_cmd", "flood",
    "oversized_step", "short_cmd", "bad_step",
)
WEIGHTS = {c: 4 for c in CATEGORIES}
WEIGHTS.update(random_bytes=18, bit_flip=14)

FAILURES = ("crashes", "hangs", "probes_failed", "state_changes", "wrong_replies", "missed_replies")
KNOWN_TYPES = (P.T_HELLO, P.T_STATUS, P.T_DIAG, P.T_LOG, P.T_STEP, P.T_CMD)
EMPTY_TYPES = (P.T_HELLO, P.T_STATUS, P.T_DIAG, P.T_LOG)
STATUS_TYPES = (P.T_STATUS | P.REPLY, P.T_CMD | P.REPLY, P.T_STEP | P.REPLY)
MAX_STEP_LEN = P.STEP_HEAD + P.MAX_SAMPLES * 2 * P.SAMPLE_CHANNELS
# Nominal sensor readings (0.1 mmHg) for the setup's STEP frames.
NOMINAL = (-800, 1400, 800)
SEQ_RESERVE = 24          # SEQs of a window kept for its STATUS and a recovery
EXAMPLES_PER_KIND = 5
SEQUENCE_HEX_MAX = 16384  # hex characters of a window kept in an example


class CampaignError(RuntimeError):
    """The campaign could not set the board up (not a finding about it)."""


# -- frames, built by hand so that any field can be wrong ----------------------

def raw_frame(ftype: int, seq: int, payload: bytes = b"", *, ver: int = P.VERSION,
              length: int | None = None, hchk_xor: int = 0, crc_xor: int = 0) -> bytes:
    """A frame with any field set: LEN defaults to the payload's length, the
    check byte and CRC-32 are right unless xor-ed with something."""
    n = len(payload) if length is None else length
    head = struct.pack("<BBBBHB", P.SOF, ver & 0xFF, ftype & 0xFF, seq & 0xFF, n & 0xFFFF, 0)
    head += bytes([frames.crc8(head) ^ (hchk_xor & 0xFF)])
    body = head + payload
    return body + struct.pack("<I", (zlib.crc32(body) ^ crc_xor) & 0xFFFFFFFF)


# -- what an input must get in answer -----------------------------------------

@dataclass
class Expect:
    """An answer the protocol requires (or allows, when not ``required``)."""

    rtype: int                      # request type | 0x80, or T_NAK
    seq: int
    required: bool = True
    reasons: frozenset[int] = frozenset()        # NAK: reasons allowed (empty: any)
    cmd: tuple[int, frozenset[int]] | None = None   # CMD reply: code, results allowed
    same_as: "Expect | None" = None  # a retransmission: the very bytes of that answer
    case: int = -1
    got: Frame | None = None

    def describe(self) -> str:
        if self.rtype == P.T_NAK:
            why = "/".join(str(r) for r in sorted(self.reasons)) or "any"
            return f"NAK {why} for SEQ {self.seq}"
        what = f"reply 0x{self.rtype:02x} to SEQ {self.seq}"
        if self.cmd is not None:
            what += f" (command {self.cmd[0]}, result {'/'.join(str(r) for r in sorted(self.cmd[1]))})"
        if self.same_as is not None:
            what += ", the same bytes as the first answer"
        return what


@dataclass
class Case:
    """One hostile input: its bytes and the answers it must get."""

    category: str
    data: bytes
    expects: list[Expect] = field(default_factory=list)
    seqs: set[int] = field(default_factory=set)


def _reply(ftype: int, seq: int, **kw: Any) -> Expect:
    return Expect(ftype | P.REPLY, seq, **kw)


def _nak(seq: int, *reasons: int, required: bool = True) -> Expect:
    return Expect(P.T_NAK, seq, required=required, reasons=frozenset(reasons))


class Generator:
    """Hostile inputs from a seeded random source, against a board whose
    tick and flow set point are known (to make dangerous frames that would
    act if the board accepted them)."""

    def __init__(self, rng: random.Random, tick: int, flow_set_ml: int, test_mode: bool = True) -> None:
        self.rng = rng
        self.tick = tick
        self.flow_set_ml = flow_set_ml
        self.test_mode = test_mode
        self.seq = 0
        self.used: set[int] = set()

    # SEQs: unique within a window, so that each answer names its input.
    def new_window(self, reserved: set[int] | None = None) -> None:
        self.used = set(reserved or ())

    def room(self) -> int:
        return 256 - len(self.used)

    def fresh(self) -> int:
        for _ in range(256):
            self.seq = (self.seq + 1) & 0xFF
            if self.seq not in self.used:
                self.used.add(self.seq)
                return self.seq
        raise CampaignError("no SEQ left in this window")

    def any_unused(self) -> int:
        free = [s for s in range(256) if s not in self.used]
        s = self.rng.choice(free)
        self.used.add(s)
        return s

    # bytes
    def clean(self, n: int) -> bytes:
        """n random bytes without a start byte (so that scanning them finds nothing)."""
        return self.rng.randbytes(n).replace(b"\xa5", b"\x5a")

    def _flow_value(self) -> int:
        while True:
            v = self.rng.randint(150, 500)
            if v != self.flow_set_ml and 0xA5 not in struct.pack("<i", v):
                return v

    def dangerous_cmd(self) -> bytes:
        """A command that would change the board if it were ever carried out."""
        r = self.rng.random()
        if r < 0.6:
            return frames.cmd_payload(C.CMD_SET_FLOW, self._flow_value())
        return frames.cmd_payload(*self.rng.choice([
            (C.CMD_PAUSE, 0), (C.CMD_STOP, 0), (C.CMD_APTT, 500), (C.CMD_ACK_ALARMS, 0)]))

    def step_payload(self, n: int, tick0: int | None = None, count: int | None = None) -> bytes:
        t0 = self.tick + 1 if tick0 is None else tick0
        return struct.pack("<IHH", t0 & 0xFFFFFFFF, (n if count is None else count) & 0xFFFF, 0) \
            + self.clean(n * 2 * P.SAMPLE_CHANNELS)

    def any_frame(self, seq: int) -> bytes:
        """A well-formed host frame; CMD and STEP ones would act if accepted."""
        r = self.rng.random()
        if r < 0.35:
            return raw_frame(P.T_CMD, seq, self.dangerous_cmd())
        if r < 0.6:
            return raw_frame(P.T_STEP, seq, self.step_payload(self.rng.choice((1, 1, 2, 3, 5, 20, 60))))
        return raw_frame(self.rng.choice(EMPTY_TYPES), seq)

    def refused_cmd(self) -> tuple[int, int, frozenset[int]]:
        """(code, argument, results allowed) of a command the running board
        must refuse: out of range, unknown, or not allowed while running."""
        rng = self.rng
        big = (-2**31, -1, 2**31 - 1, 0x10000, 0x7FFFFF)
        r = rng.random()
        if r < 0.6:
            # Just outside each documented range, and far outside it.
            code, arg = rng.choice([
                (C.CMD_SET_FLOW, rng.choice((0, 149, 501, 1000, 0x7FFF) + big)),
                (C.CMD_APTT, rng.choice((0, 99, 2001, 5000, 0x7FFF) + big)),
                (C.CMD_SET_WEIGHT, rng.choice((0, 299, 2501, 0x7FFF) + big)),
                (C.CMD_TEST_HANG, rng.choice((0, -5, 36001) + big)),
                (C.CMD_TIME_SCALE, rng.choice((0, 1001, 0x7FFF) + big)),
            ])
            ok = {C.E_RANGE}
            if code in (C.CMD_TEST_HANG, C.CMD_TIME_SCALE) and not self.test_mode:
                ok = {C.E_TEST_ONLY}
            return code, arg, frozenset(ok)
        if r < 0.8:
            return rng.choice([0] + list(range(C.CMD_TIME_SCALE + 1, 256))), \
                rng.randint(-2**31, 2**31 - 1), frozenset({C.E_UNKNOWN})
        code, arg, res = rng.choice([
            (C.CMD_PRIME, 0, C.E_STATE), (C.CMD_RESUME, 0, C.E_STATE),
            (C.CMD_CONFIRM_EXCHANGE, 0, C.E_STATE), (C.CMD_HEPARIN_START, 0, C.E_STATE),
            (C.CMD_OVERRIDE_APTT, 0, C.E_STATE), (C.CMD_SET_WEIGHT, 700, C.E_STATE),
            (C.CMD_REQUEST_EXCHANGE, 0, C.E_STATE), (C.CMD_ACK_ALARMS, 0, C.E_STATE),
            (C.CMD_AUDIO_PAUSE, 0, C.E_CONDITION)])
        return code, arg, frozenset({res})

    def benign(self, seq: int | None = None) -> tuple[bytes, Expect]:
        """A good request that changes nothing, and the answer it must get."""
        seq = self.fresh() if seq is None else seq
        r = self.rng.random()
        if r < 0.8:
            ftype = P.T_STATUS if r < 0.4 else P.T_HELLO if r < 0.6 else P.T_LOG if r < 0.7 else P.T_DIAG
            return raw_frame(ftype, seq), _reply(ftype, seq)
        code, arg, ok = self.refused_cmd()
        return raw_frame(P.T_CMD, seq, frames.cmd_payload(code, arg)), _reply(P.T_CMD, seq, cmd=(code, ok))

    # -- categories -----------------------------------------------------------

    def make(self, category: str) -> Case:
        case = getattr(self, "_" + category)()
        case.category = category
        return case

    def _random_bytes(self) -> Case:
        rng = self.rng
        r = rng.random()
        n = rng.randint(1, 16) if r < 0.4 else rng.randint(17, 256) if r < 0.92 else rng.randint(257, 2048)
        d = bytearray(rng.randbytes(n))
        if rng.random() < 0.3:
            for i in range(n):
                if rng.random() < 0.15:
                    d[i] = P.SOF
        # No start byte among the last 7: noise never leaves half a header
        # for the next input to complete.
        for i in range(max(0, n - 7), n):
            if d[i] == P.SOF:
                d[i] = 0x5A
        return Case("", bytes(d))

    def _bit_flip(self) -> Case:
        seq = self.fresh()
        f = bytearray(self.any_frame(seq))
        bits = self.rng.sample(range(len(f) * 8), self.rng.choice((1, 1, 1, 2, 2, 3)))
        for b in bits:
            f[b // 8] ^= 1 << (b % 8)
        header_ok = f[0] == P.SOF and frames.crc8(bytes(f[:7])) == f[7]
        # CRC-8 and CRC-32 see every error of up to 3 bits: a flip in the
        # header makes it skipped silently, anywhere else it is a NAK 2.
        ex = [_nak(seq, P.N_CRC)] if header_ok and min(bits) >= 64 else []
        if header_ok and min(bits) < 64:
            ex = [Expect(P.T_NAK, f[3], required=False)]
        return Case("", bytes(f), ex, {seq})

    def _bad_header_check(self) -> Case:
        seq = self.fresh()
        f = bytearray(self.any_frame(seq))
        x = self.rng.randint(1, 255)
        while f[7] ^ x == P.SOF:
            x = self.rng.randint(1, 255)
        f[7] ^= x
        return Case("", bytes(f), [], {seq})

    def _bad_crc(self) -> Case:
        seq = self.fresh()
        f = bytearray(self.any_frame(seq))
        x = self.rng.randint(1, 0xFFFFFFFF)
        crc = struct.unpack_from("<I", f, len(f) - 4)[0] ^ x
        struct.pack_into("<I", f, len(f) - 4, crc)
        return Case("", bytes(f), [_nak(seq, P.N_CRC)], {seq})

    def _claim(self, lo: int) -> int:
        # A claimed payload length from lo up: small, up to 4 KB, or huge.
        rng = self.rng
        r = rng.random()
        if r < 0.15:
            return 0xFFFF
        if r < 0.3:
            return max(lo, P.MAX_PAYLOAD)
        if r < 0.55:
            return rng.randint(lo, max(lo, 64))
        if r < 0.85:
            return rng.randint(max(lo, 65), P.MAX_PAYLOAD)
        return rng.randint(P.MAX_PAYLOAD + 1, 0xFFFF)

    def _huge_len(self) -> Case:
        seq = self.fresh()
        ftype = self.rng.choice(EMPTY_TYPES + (P.T_CMD, P.T_CMD, P.T_CMD))
        n = self._claim(P.CMD_LEN + 1 if ftype == P.T_CMD else 1)
        tail = self.clean(self.rng.randint(0, min(n, 64)))
        return Case("", raw_frame(ftype, seq, tail, length=n)[:8] + tail, [_nak(seq, P.N_LENGTH)], {seq})

    def _zero_len(self) -> Case:
        seq = self.fresh()
        ftype = self.rng.choice((P.T_CMD, P.T_STEP))
        return Case("", raw_frame(ftype, seq), [_nak(seq, P.N_LENGTH)], {seq})

    def _odd_len(self) -> Case:
        rng = self.rng
        seq = self.fresh()
        r = rng.random()
        if r < 0.45:
            ftype = P.T_STEP
            k = rng.choice((rng.randint(1, 7), P.STEP_HEAD, rng.randint(9, 17),
                            P.STEP_HEAD + 10 * rng.randint(1, 50) + rng.randint(1, 9)))
            body = self.step_payload(max(0, (k - P.STEP_HEAD) // 10) + 1)
            payload = (body + self.clean(k))[:k]
            reasons = (P.N_LENGTH, P.N_PAYLOAD) if k == P.STEP_HEAD else (P.N_LENGTH,)
        elif r < 0.75:
            ftype = P.T_CMD
            payload = (self.dangerous_cmd() + self.clean(64))[:rng.randint(P.CMD_LEN + 1, 64)]
            reasons = (P.N_LENGTH,)
        else:
            ftype = rng.choice(EMPTY_TYPES)
            payload = self.clean(rng.randint(1, 64))
            reasons = (P.N_LENGTH,)
        return Case("", raw_frame(ftype, seq, payload), [_nak(seq, *reasons)], {seq})

    def _truncated_then_valid(self) -> Case:
        rng = self.rng
        seq = self.fresh()
        f = self.any_frame(seq)
        follow, ex = b"", []
        for _ in range(rng.choice((1, 1, 2))):
            b, e = self.benign()
            follow += b
            ex.append(e)
        k = rng.randint(1, len(f) - 1)
        if k >= P.HEADER_LEN:
            # The good frames complete what the cut one claims (so that it
            # fails its CRC at once rather than wait for a timeout).
            k = max(k, len(f) - len(follow))
            k = min(max(k, P.HEADER_LEN), len(f) - 1)
        # Not cut where the good frames' first bytes happen to be the very
        # bytes cut off: that would make the whole frame again.
        while k > 1 and (f[:k] + follow).startswith(f):
            k -= 1
        return Case("", f[:k] + follow, [Expect(P.T_NAK, seq, required=False)] + ex,
                    {seq} | {e.seq for e in ex})

    def _unknown_type(self) -> Case:
        rng = self.rng
        seq = self.fresh()
        ftype = rng.choice([t for t in range(256) if t not in KNOWN_TYPES])
        r = rng.random()
        if r < 0.5:
            data = raw_frame(ftype, seq)
        elif r < 0.8:
            data = raw_frame(ftype, seq, self.clean(rng.randint(1, 64)))
        else:
            n = self._claim(65)
            tail = self.clean(rng.randint(0, 64))
            data = raw_frame(ftype, seq, tail, length=n)[:8] + tail
        return Case("", data, [_nak(seq, P.N_TYPE)], {seq})

    def _wrong_version(self) -> Case:
        rng = self.rng
        seq = self.fresh()
        ver = rng.choice((0, 0, 2, 2, 0xFF, rng.randint(2, 255)))
        ftype = rng.choice(KNOWN_TYPES + (rng.randint(0, 255),))
        r = rng.random()
        if r < 0.5:
            payload = b""
            if ftype == P.T_CMD:
                payload = self.dangerous_cmd()
            elif ftype == P.T_STEP:
                payload = self.step_payload(rng.randint(1, 20))
            data = raw_frame(ftype, seq, payload, ver=ver)
        else:
            n = 0xFFFF if r < 0.75 else rng.randint(1, 0xFFFF)
            tail = self.clean(rng.randint(0, 32))
            data = raw_frame(ftype, seq, tail, ver=ver, length=n)[:8] + tail
        return Case("", data, [_nak(seq, P.N_VERSION)], {seq})

    def _repeated_seq(self) -> Case:
        b, e1 = self.benign()
        r = self.rng.random()
        if r < 0.5:
            return Case("", b + b, [e1, _reply(e1.rtype & 0x7F, e1.seq, cmd=e1.cmd, same_as=e1)], {e1.seq})
        if r < 0.8:
            bad = bytearray(b)
            bad[-1] ^= 0x20
            return Case("", b + bytes(bad) + b,
                        [e1, _nak(e1.seq, P.N_CRC), _reply(e1.rtype & 0x7F, e1.seq, cmd=e1.cmd, same_as=e1)],
                        {e1.seq})
        return Case("", b * 3, [e1] + [_reply(e1.rtype & 0x7F, e1.seq, cmd=e1.cmd, same_as=e1)
                                       for _ in range(2)], {e1.seq})

    def _out_of_order_seq(self) -> Case:
        data, ex = b"", []
        for _ in range(self.rng.randint(2, 6)):
            b, e = self.benign(self.any_unused())
            data += b
            ex.append(e)
        return Case("", data, ex, {e.seq for e in ex})

    def _same_seq_new_payload(self) -> Case:
        rng = self.rng
        seq = self.fresh()
        r = rng.random()
        if r < 0.6:
            a = self.refused_cmd()
            b = self.refused_cmd()
            while b[0] == a[0]:
                b = self.refused_cmd()
            data = raw_frame(P.T_CMD, seq, frames.cmd_payload(a[0], a[1])) \
                + raw_frame(P.T_CMD, seq, frames.cmd_payload(b[0], b[1]))
            ex = [_reply(P.T_CMD, seq, cmd=(a[0], a[2])), _reply(P.T_CMD, seq, cmd=(b[0], b[2]))]
        elif r < 0.8:
            t1, t2 = rng.sample((P.T_STATUS, P.T_HELLO, P.T_LOG, P.T_DIAG), 2)
            data = raw_frame(t1, seq) + raw_frame(t2, seq)
            ex = [_reply(t1, seq), _reply(t2, seq)]
        else:
            a = self.refused_cmd()
            data = raw_frame(P.T_CMD, seq, frames.cmd_payload(a[0], a[1])) + raw_frame(P.T_STATUS, seq)
            ex = [_reply(P.T_CMD, seq, cmd=(a[0], a[2])), _reply(P.T_STATUS, seq)]
        return Case("", data, ex, {seq})

    def _out_of_range_cmd(self) -> Case:
        seq = self.fresh()
        code, arg, ok = self.refused_cmd()
        return Case("", raw_frame(P.T_CMD, seq, frames.cmd_payload(code, arg)),
                    [_reply(P.T_CMD, seq, cmd=(code, ok))], {seq})

    def _flood(self) -> Case:
        rng = self.rng
        m = min(rng.randint(10, 80), self.room() - SEQ_RESERVE)
        data, ex = bytearray(), []
        for _ in range(max(1, m)):
            r = rng.random()
            if r < 0.7:
                b, e = self.benign()
            elif r < 0.9:
                b, e = self.benign()
                b = b[:-1] + bytes([b[-1] ^ 0x01])
                e = _nak(e.seq, P.N_CRC)
            else:
                seq = self.fresh()
                t0 = self.tick + 1 + rng.choice((-1, 1, 2, 1000, -self.tick - 1))
                b = raw_frame(P.T_STEP, seq, self.step_payload(rng.randint(1, 10), tick0=t0))
                e = _nak(seq, P.N_TICK)
            data += b
            ex.append(e)
        return Case("", bytes(data), ex, {e.seq for e in ex})

    def _oversized_step(self) -> Case:
        rng = self.rng
        seq = self.fresh()
        r = rng.random()
        if r < 0.4:
            n = rng.randint(MAX_STEP_LEN + 1, P.MAX_PAYLOAD)
            payload = (self.step_payload(P.MAX_SAMPLES + 1) + self.clean(n))[:n]
            data = raw_frame(P.T_STEP, seq, payload)
        else:
            if r < 0.8:
                n = rng.randint(MAX_STEP_LEN + 1, 0xFFFF)
            else:
                n = P.STEP_HEAD + 10 * rng.randint(P.MAX_SAMPLES + 1, (0xFFFF - P.STEP_HEAD) // 10)
            tail = self.step_payload(rng.randint(1, 6), count=(n - P.STEP_HEAD) // 10)
            data = raw_frame(P.T_STEP, seq, tail, length=n)[:8] + tail
        return Case("", data, [_nak(seq, P.N_LENGTH)], {seq})

    def _short_cmd(self) -> Case:
        rng = self.rng
        k = rng.randint(0, P.CMD_LEN - 1)
        r = rng.random()
        data, ex, seqs = b"", [], set()
        if r < 0.45:
            # A damaged command first: its bytes are what a receiver that
            # keeps stale payload would reuse.
            s0 = self.fresh()
            stale = frames.cmd_payload(C.CMD_SET_FLOW, self._flow_value())
            data = raw_frame(P.T_CMD, s0, stale, crc_xor=rng.randint(1, 0xFFFFFFFF))
            ex.append(_nak(s0, P.N_CRC))
            seqs.add(s0)
        elif r < 0.75:
            b, e = self.benign()
            stale = b[8:-4] if len(b) > 12 else self.clean(P.CMD_LEN)
            data = b
            ex.append(e)
            seqs.add(e.seq)
        else:
            stale = self.clean(P.CMD_LEN)
        seq = self.fresh()
        data += raw_frame(P.T_CMD, seq, stale[:k])
        ex.append(_nak(seq, P.N_LENGTH))
        return Case("", data, ex, seqs | {seq})

    def _bad_step(self) -> Case:
        rng = self.rng
        seq = self.fresh()
        k = rng.randint(1, 40)
        if rng.random() < 0.5:
            count = rng.choice((0, k - 1, k + 1, rng.randint(0, 0xFFFF)))
            if count == k:
                count = 0
            data = raw_frame(P.T_STEP, seq, self.step_payload(k, count=count))
            ex = [_nak(seq, P.N_PAYLOAD)]
        else:
            t0 = self.tick + 1 + rng.choice((-1, 1, 2, 10, 100000, -self.tick - 1, 2**31))
            data = raw_frame(P.T_STEP, seq, self.step_payload(k, tick0=t0))
            ex = [_nak(seq, P.N_TICK)]
        return Case("", data, ex, {seq})


# -- the campaign ---------------------------------------------------------------

class _Board(VirtualBoard):
    """A virtual board that can run another firmware folder from source.
    An older firmware whose link reads block (before the receiver with its
    inter-byte timeout) gets its end of the pty in blocking mode."""

    def __init__(self, board: str, firmware: Path | None = None, **kw: Any) -> None:
        super().__init__(board, compiled=firmware is None, **kw)
        self.blocking = False
        if firmware is not None:
            self.firmware_dir = Path(firmware).resolve()
            link_src = (self.firmware_dir / "link.py").read_text()
            self.blocking = "timeout_ms" not in link_src

    def _launch(self) -> None:
        if self.blocking and self._master >= 0:
            os.set_blocking(self._master, True)
        super()._launch()


def _status_of(f: Frame) -> tuple[Status | None, int]:
    """Status block and event count of a reply that carries them."""
    try:
        r = frames.decode_reply(f.payload)
    except frames.FrameError:
        return None, -1
    return r.status, len(r.events)


class Campaign:
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
        self.inputs = 0
        self.windows = 0
        self.probes = 0
        self.syncs = 0
        self.slow_syncs = 0
        self.stray_naks = 0
        self.restarts = 0
        self.recoveries: dict[str, int] = {}
        self.restores = 0
        self.answers_required = {"replies": 0, "naks": 0}
        self.bytes_sent = 0
        self.frames_in = 0
        self.rss: list[int] = []
        self.rss_start: int | None = None
        self.rss_end: int | None = None
        self.log_path = out / "firmware.log" if out is not None else None

    # -- the board ---------------------------------------------------------------

    def _start_board(self) -> None:
        vb = _Board(self.board, self.firmware, log=self.log_path)
        vb.start()
        self.vb = vb
        self.link = SerialLink(vb.port)
        self.tap = FrameTap(self.link).start()
        if self.tap.wait_for(lambda f: f.ftype == P.T_BOOT, 0, 15.0) is None:
            raise CampaignError("the virtual board sent no BOOT notice")
        self.gen.new_window()
        self._setup()

    def _stop_board(self) -> None:
        if self.tap is not None:
            self.tap.stop()
            self.frames_in += len(self.tap.frames)
        if self.link is not None:
            self.link.close()
        if self.vb is not None:
            self.vb.stop()
        self.vb = self.link = self.tap = None

    def _restart(self, why: str) -> None:
        self.restarts += 1
        self.recoveries[why] = self.recoveries.get(why, 0) + 1
        self._stop_board()
        self._start_board()

    def _write(self, data: bytes) -> None:
        assert self.link is not None
        self.link.write(data)
        self.bytes_sent += len(data)

    def _request(self, ftype: int, payload: bytes = b"", timeout_s: float = 10.0) -> Frame:
        assert self.tap is not None
        if self.gen.room() < SEQ_RESERVE:
            self.gen.new_window()
        seq = self.gen.fresh()
        start = self.tap.mark()
        self._write(frames.encode(ftype, seq, payload))
        i = self.tap.wait_reply(ftype, seq, start, timeout_s, nak_too=True)
        if i is None:
            raise CampaignError(f"no answer to frame type 0x{ftype:02x} during setup")
        f = self.tap.frames[i]
        if f.ftype == P.T_NAK:
            raise CampaignError(f"setup frame type 0x{ftype:02x} refused: NAK {f.payload.hex()}")
        return f

    def _cmd(self, code: int, arg: int = 0) -> frames.Reply:
        r = frames.decode_reply(self._request(P.T_CMD, frames.cmd_payload(code, arg)).payload)
        if r.result != C.OK:
            raise CampaignError(f"setup command {code} ({arg}) refused with result {r.result}")
        return r

    def _status(self) -> frames.Reply:
        return frames.decode_reply(self._request(P.T_STATUS).payload)

    def _advance(self, done: Any, max_frames: int = 400) -> Status:
        # Valid STEP frames with nominal samples (the flow reads what the
        # pump was commanded) until done(status).
        st = self._status().status
        for _ in range(max_frames):
            if done(st):
                return st
            sample = struct.pack("<hhhhh", *NOMINAL, st.pump, 0)
            payload = frames.step_payload(st.tick + 1, sample * P.MAX_SAMPLES)
            st = frames.decode_reply(self._request(P.T_STEP, payload).payload).status
        raise CampaignError("the board did not reach the set-up state")

    def _setup(self) -> None:
        """Weight set, primed, heparin started (bolus and infusion), aPTT in
        range, running at 250 mL/min with the clamp open."""
        hello = json.loads(self._request(P.T_HELLO).payload)
        self.gen.test_mode = bool(hello.get("test_mode", False))
        self._cmd(C.CMD_SET_WEIGHT, 700)
        self._cmd(C.CMD_SET_FLOW, 250)
        self._cmd(C.CMD_PRIME)
        self._advance(lambda s: s.state == C.READY)
        self._cmd(C.CMD_HEPARIN_START)
        self._cmd(C.CMD_APTT, 700)
        self._cmd(C.CMD_START)
        self._advance(lambda s: s.state == C.RUNNING and s.pump == s.flow_set and s.pump > 0)
        self._status()                      # drains what events are left
        r = self._status()
        st = r.status
        if r.events or st.state != C.RUNNING or not st.clamp_open or st.heparin <= 0 or st.active:
            raise CampaignError(f"unexpected set-up state: {st}")
        self.baseline = st
        self.gen.tick = st.tick
        self.gen.flow_set_ml = st.flow_set // 10
        assert self.vb is not None and self.vb.proc is not None
        self.pid = self.vb.proc.pid

    def _crashed(self, start: int) -> str | None:
        assert self.tap is not None and self.vb is not None
        if self.tap.boots_since(start):
            return "the board sent a BOOT notice (it restarted)"
        if self.vb.resets:
            return "the firmware exited asking for a reset"
        if self.vb.proc is None or self.vb.proc.poll() is not None:
            code = None if self.vb.proc is None else self.vb.proc.returncode
            return f"the firmware process exited (code {code})"
        if self.tap.error is not None:
            return f"the link failed: {self.tap.error}"
        return None

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
        item: dict[str, Any] = {"detail": detail, "inputs_before": self.inputs,
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
            self.probes += 1
        self.syncs += 1
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
                self.slow_syncs += 1
                return last, None
            self.recoveries[name] = self.recoveries.get(name, 0) + 1
            return last, "hang"
        return None, "crash" if self._crashed(start) else "hang"

    def _run_window(self, cases: list[Case]) -> None:
        assert self.tap is not None and self.baseline is not None
        tap = self.tap
        for k, c in enumerate(cases):
            for e in c.expects:
                e.case = k
        expects = [e for c in cases for e in c.expects]
        for e in expects:
            if e.required:
                self.answers_required["naks" if e.rtype == P.T_NAK else "replies"] += 1
        before = self.inputs
        probe = before // self.probe_every != (before + len(cases)) // self.probe_every
        start = tap.mark()
        failure: str | None
        try:
            self._write(b"".join(c.data for c in cases))
            end, failure = self._sync(start, probe)
        except LinkError:
            end, failure = None, "crash"
        self.inputs += len(cases)
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
        # Match each answer to what was required or allowed.
        changed: tuple[Status | None, int, int] | None = None
        for f in got:
            if f.ftype == P.T_BOOT:
                self._fail("crashes", "the board sent a BOOT notice", cases, None)
                self._restart("crash")
                return
            if f.ftype in (P.T_STATUS | P.REPLY, P.T_NAK) and (
                    f.seq in self.ignore or f.seq in self.cur_sync):
                continue
            if f.ftype in STATUS_TYPES:
                st, n_ev = _status_of(f)
                if changed is None and (st != self.baseline or n_ev != 0):
                    changed = (st, n_ev, seq_case.get(f.seq, -1))
            if f.ftype == P.T_NAK:
                # Noise can make a header with any SEQ: a NAK answers an
                # expected refusal only if its reason is one allowed there.
                why = f.payload[0] if f.payload else -1
                e = next((x for x in expects if x.got is None and x.rtype == P.T_NAK and x.seq == f.seq
                          and (not x.reasons or why in x.reasons)), None)
            else:
                e = next((x for x in expects if x.got is None and x.rtype == f.ftype and x.seq == f.seq),
                         None)
            if e is None and f.ftype == P.T_NAK and len(f.payload) == 2:
                # A NAK for the very type and SEQ of a retransmission, where
                # the board's previous reply is due again. (A NAK that only
                # shares a SEQ with a new request is a false header in noise;
                # if the request goes unanswered, that is a missed reply.)
                due = next((x for x in expects if x.got is None and x.required and x.same_as is not None
                            and x.seq == f.seq and x.rtype == f.payload[1] | P.REPLY), None)
                if due is not None:
                    due.got = f
                    self._fail("wrong_replies", f"NAK {f.payload.hex()} for SEQ {f.seq} where "
                               f"{due.describe()} was due", cases, due.case)
                    continue
            if e is None:
                if f.ftype == P.T_NAK and (not f.payload or f.payload[0] != P.N_HEADER):
                    self.stray_naks += 1
                    continue
                what = (f"NAK reason {f.payload[0]} (reserved, never sent)" if f.ftype == P.T_NAK
                        else f"frame type 0x{f.ftype:02x}")
                k = seq_case.get(f.seq)
                self._fail("wrong_replies", f"unexpected {what} for SEQ {f.seq}: "
                           f"nothing sent asks for it", cases, k)
                continue
            e.got = f
            bad = self._check(e, f)
            if bad:
                self._fail("wrong_replies", bad, cases, e.case)
        if failure == "hang":
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
                return
        else:
            for e in expects:
                if e.required and e.got is None:
                    self._fail("missed_replies", f"missing: {e.describe()}", cases, e.case)
        if sync is not None and changed is None:
            st, n_ev = _status_of(sync)
            if st != self.baseline or n_ev:
                changed = (st, n_ev, -1)
        if changed is not None:
            st, n_ev, k = changed
            self._fail("state_changes", self._diff(st, n_ev), cases, k if k >= 0 else None)
            self._restore()

    def _check(self, e: Expect, f: Frame) -> str | None:
        if f.ftype == P.T_NAK:
            if len(f.payload) != 2:
                return f"NAK for SEQ {f.seq} with a payload of {len(f.payload)} bytes"
            if f.payload[0] == P.N_HEADER:
                return f"NAK reason 1 (reserved, never sent) for SEQ {f.seq}"
            if e.reasons and f.payload[0] not in e.reasons:
                return (f"NAK reason {f.payload[0]} for SEQ {f.seq}; "
                        f"expected {e.describe()}")
            return None
        if e.same_as is not None:
            if e.same_as.got is None or e.same_as.got.payload != f.payload:
                return f"a retransmission (SEQ {f.seq}) did not get the same answer again"
            return None
        if e.cmd is not None:
            try:
                r = frames.decode_reply(f.payload)
            except frames.FrameError as err:
                return f"CMD reply for SEQ {f.seq} does not decode: {err}"
            code, ok = e.cmd
            if r.command_code != code or r.result not in ok:
                return (f"CMD reply for SEQ {f.seq} answers command {r.command_code} with "
                        f"result {r.result}; expected {e.describe()}")
        return None

    def _diff(self, st: Status | None, n_ev: int) -> str:
        if st is None:
            return "a reply's status block does not decode"
        b = self.baseline
        assert b is not None
        d = [f"{k} {getattr(b, k)} -> {getattr(st, k)}" for k in Status.__dataclass_fields__
             if getattr(b, k) != getattr(st, k)]
        if n_ev:
            d.append(f"{n_ev} event(s) reported")
        return "status changed: " + ", ".join(d)

    def _restore(self) -> None:
        """Back to the set-up state: a set-flow command if only the flow set
        point moved, else a fresh board."""
        assert self.baseline is not None
        try:
            self.gen.new_window()
            st = self._status().status
            if (st.flow_set != self.baseline.flow_set
                    and dataclasses.replace(st, flow_set=self.baseline.flow_set) == self.baseline):
                self._cmd(C.CMD_SET_FLOW, self.baseline.flow_set // 10)
                r = self._status()
                if r.status == self.baseline and not r.events:
                    self.restores += 1
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
            while self.inputs < self.target:
                self.windows += 1
                self.ignore, self.next_ignore = self.next_ignore, set()
                self.gen.new_window(self.ignore)
                cases: list[Case] = []
                while (len(cases) < self.window and self.inputs + len(cases) < self.target
                       and self.gen.room() > SEQ_RESERVE + 12):
                    cases.append(self.gen.make(self.rng.choices(names, weights)[0]))
                self._run_window(cases)
                if self.inputs // self.probe_every != (self.inputs - len(cases)) // self.probe_every:
                    r = rss_kb(self.pid)
                    if r is not None:
                        self.rss.append(r)
                if self.progress and self.inputs >= next_note:
                    next_note += 10_000
                    el = time.monotonic() - t0
                    fails = ", ".join(f"{k} {v}" for k, v in self.counts.items() if v)
                    print(f"fuzz: {self.inputs:,} inputs, {self.inputs / el:,.0f}/s"
                          + (f"; {fails}" if fails else ""), file=sys.stderr, flush=True)
            self.rss_end = rss_kb(self.pid)
        finally:
            self._stop_board()
        wall = time.monotonic() - t0
        return self.result(wall)

    def result(self, wall: float) -> dict[str, Any]:
        rss = [r for r in self.rss + [self.rss_start, self.rss_end] if r is not None]
        return {
            "inputs": self.inputs,
            "seed": self.seed,
            "board": self.board,
            "firmware": str(self.firmware) if self.firmware else "firmware/ (compiled with mpy-cross)",
            "wall_s": round(wall, 2),
            "inputs_per_s": round(self.inputs / wall, 1) if wall > 0 else None,
            "by_category": self.by_category,
            "windows": self.windows,
            "probes": self.probes,
            **self.counts,
            "ok": not any(self.counts.values()),
            "failures_by_category": self.fail_by_category,
            "rss_kb_start": self.rss_start,
            "rss_kb_end": self.rss_end,
            "rss_kb_max": max(rss) if rss else None,
            "status_requests": self.syncs,
            "slow_answers": self.slow_syncs,
            "stray_naks": self.stray_naks,
            "restarts": self.restarts,
            "recoveries": self.recoveries,
            "restores_by_command": self.restores,
            "answers_required": self.answers_required,
            "bytes_sent": self.bytes_sent,
            "frames_received": self.frames_in,
            "setup_state": _status_dict(self.baseline),
            "examples": {k: v for k, v in self.examples.items() if v},
            "settings": {"window": self.window, "probe_every": self.probe_every,
                         "deadline_s": self.deadline_s, "quiet_s": self.quiet_s},
        }


def _status_dict(st: Status | None) -> dict[str, Any] | None:
    if st is None:
        return None
    d = dict(st.__dict__)
    d["state_name"] = C.STATE_NAMES[st.state] if st.state < len(C.STATE_NAMES) else str(st.state)
    return d


def run_campaign(out: Path | None = None, inputs: int = 100_000, seed: int = 1, **kw: Any) -> dict[str, Any]:
    """Run a campaign; write ``out/fuzz.json`` when out is given; return the figures."""
    res = Campaign(out, inputs, seed, **kw).run()
    if out is not None:
        (out / "fuzz.json").write_text(json.dumps(res, indent=1) + "\n")
    return res


def table(res: dict[str, Any]) -> str:
    rows = [("inputs", f"{res['inputs']:,}"), ("seed", str(res["seed"])),
            ("wall time", f"{res['wall_s']:.1f} s"), ("inputs/s", f"{res['inputs_per_s']:,.0f}"),
            ("probes", str(res["probes"]))]
    rows += [(k.replace("_", " "), str(res[k]) + ("" if not res[k] else "  <- FAIL")) for k in FAILURES]
    rows += [("RSS start/end/max", f"{res['rss_kb_start']} / {res['rss_kb_end']} / {res['rss_kb_max']} kB"),
             ("restarts", str(res["restarts"])), ("stray NAKs", str(res["stray_naks"]))]
    w = max(len(r[0]) for r in rows)
    out = [f"{a:<{w}}  {b}" for a, b in rows]
    out.append("")
    out.append("by category:")
    fb = res.get("failures_by_category", {})
    for c, n in res["by_category"].items():
        f = fb.get(c)
        out.append(f"  {c:<22} {n:>7,}" + (f"   failures: {f}" if f else ""))
    if fb.get("window"):
        out.append(f"  {'(window)':<22} {'':>7}   failures: {fb['window']}")
    return "\n".join(out)


# -- replay -----------------------------------------------------------------------

def replay(data: bytes, board: str = "virtual", firmware: Path | None = None,
           setup: bool = True, wait_s: float = 1.0) -> list[Frame]:
    """Send ``data`` to a fresh board (set up as for the campaign unless
    ``setup`` is False), then a STATUS request after ``wait_s``; return
    every frame that came back after the set-up."""
    camp = Campaign(None, 0, 0, board=board, firmware=firmware)
    vb = _Board(board, firmware)
    vb.start()
    camp.vb = vb
    camp.link = SerialLink(vb.port)
    camp.tap = FrameTap(camp.link).start()
    try:
        camp.tap.wait_for(lambda f: f.ftype == P.T_BOOT, 0, 15.0)
        if setup:
            camp._setup()
        start = camp.tap.mark()
        camp._write(data)
        time.sleep(wait_s)
        s = 0xEE
        camp._write(frames.encode(P.T_STATUS, s))
        camp.tap.wait_reply(P.T_STATUS, s, start, 2.0)
        time.sleep(0.1)
        return camp.tap.since(start)
    finally:
        camp._stop_board()


def describe(f: Frame) -> str:
    if f.ftype == P.T_NAK:
        return f"NAK     seq {f.seq:3d}  reason {f.payload[0] if f.payload else '?'}" \
               f" (type 0x{f.payload[1]:02x})" if len(f.payload) > 1 else f"NAK seq {f.seq}"
    if f.ftype in STATUS_TYPES:
        r = frames.decode_reply(f.payload)
        s = r.status
        return (f"0x{f.ftype:02x}    seq {f.seq:3d}  head {r.head:#06x}  state {s.state_name} pump {s.pump} "
                f"flow_set {s.flow_set} heparin {s.heparin} clamp {int(s.clamp_open)} "
                f"bolus {s.bolus_total} events {len(r.events)}")
    return f"0x{f.ftype:02x}    seq {f.seq:3d}  {len(f.payload)} bytes"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m hil.reliability.fuzz",
                                 description="Hostile inputs on the serial link of the virtual board.")
    ap.add_argument("--out", type=Path, default=Path("out/fuzz"), help="folder for fuzz.json")
    ap.add_argument("--inputs", type=int, default=100_000, help="hostile inputs to send (100,000)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--board", default="virtual", help="board config (virtual)")
    ap.add_argument("--firmware", type=Path, default=None,
                    help="run this firmware folder from source (e.g. an older one from git)")
    ap.add_argument("--window", type=int, default=25, help="inputs between two STATUS requests")
    ap.add_argument("--probe-every", type=int, default=500, help="inputs between liveness probes")
    ap.add_argument("--deadline", type=float, default=2.0, help="seconds a request gets for its answer")
    ap.add_argument("--replay", metavar="HEX", help="send these bytes to a fresh board in the "
                    "campaign's set-up state and print what comes back")
    ap.add_argument("--replay-idle", action="store_true", help="replay on an idle board (no set-up)")
    a = ap.parse_args(argv)
    if a.replay:
        for f in replay(bytes.fromhex(a.replay.replace(" ", "")), a.board, a.firmware,
                        setup=not a.replay_idle):
            print(describe(f))
        return 0
    res = run_campaign(a.out, a.inputs, a.seed, board=a.board, firmware=a.firmware,
                       window=a.window, probe_every=a.probe_every, deadline_s=a.deadline,
                       progress=True)
    print(table(res))
    print(f"\nwritten: {a.out / 'fuzz.json'}")
    return 0 if res["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
