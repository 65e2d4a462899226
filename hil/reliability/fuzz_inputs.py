"""Fuzz campaign: the hostile inputs, one method per category (see
:mod:`hil.reliability.fuzz` for the list), from a seeded random source."""

from __future__ import annotations

import random
import struct

from hil.transport import frames
from hil.reliability.fuzz_frames import (
    EMPTY_TYPES, KNOWN_TYPES, MAX_STEP_LEN, SEQ_RESERVE, CampaignError, Case, Expect, _nak, _reply,
    raw_frame,
)

P, C = frames.P, frames.C


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
            return rng.choice([0] + list(range(C.CMD_MAINTENANCE + 1, 256))), \
                rng.randint(-2**31, 2**31 - 1), frozenset({C.E_UNKNOWN})
        code, arg, res = rng.choice([
            (C.CMD_PRIME, 0, C.E_STATE), (C.CMD_RESUME, 0, C.E_STATE),
            (C.CMD_CONFIRM_EXCHANGE, 0, C.E_STATE), (C.CMD_HEPARIN_START, 0, C.E_STATE),
            (C.CMD_OVERRIDE_APTT, 0, C.E_STATE), (C.CMD_SET_WEIGHT, 700, C.E_STATE),
            (C.CMD_REQUEST_EXCHANGE, 0, C.E_STATE), (C.CMD_ACK_ALARMS, 0, C.E_STATE),
            (C.CMD_AUDIO_PAUSE, 0, C.E_CONDITION),
            # The set-up state is a therapy under way: neither forgetting it
            # nor going to maintenance is allowed there.
            (C.CMD_TEST_RESET, 0, C.E_STATE if self.test_mode else C.E_TEST_ONLY),
            (C.CMD_MAINTENANCE, 0, C.E_STATE)])
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
            body = self.step_payload(max(0, (k - P.STEP_HEAD) // P.SAMPLE_BYTES) + 1)
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
                n = P.STEP_HEAD + P.SAMPLE_BYTES * rng.randint(P.MAX_SAMPLES + 1, (0xFFFF - P.STEP_HEAD) // P.SAMPLE_BYTES)
            tail = self.step_payload(rng.randint(1, 6), count=(n - P.STEP_HEAD) // P.SAMPLE_BYTES)
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
