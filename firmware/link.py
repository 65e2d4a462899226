# Frame transport over a byte stream (a pty, USB CDC or a UART): gathers
# bytes into one preallocated receive buffer and finds frames in it. Frame
# *meaning* is not here.
#
# Receiving rules (docs/protocol.md, "Receiving"):
# - a byte that does not start a header with a valid check byte is skipped,
#   silently: a damaged header names no type or SEQ that could be trusted;
# - a header with a wrong version, an unknown type or a length other than
#   the type's own is refused (NAK) at once, before any payload is awaited,
#   and the search goes on from the byte after its start byte;
# - a frame whose CRC-32 fails is refused (NAK 2) and the search goes on
#   from the byte after its start byte, so that a good frame hidden behind
#   a truncated one is still found;
# - a frame left incomplete for FRAME_TIMEOUT_MS is given up the same way.
# Only a whole frame with both checks good is handed on, always from the
# start of the buffer, and nothing of an earlier frame can leak into it.

import struct
import time

import protocol as P

try:
    from array import array
    import uctypes

    def _rx_buffers(nbytes):
        # An int16 view (STEP samples) and a byte view over the same memory.
        a = array("h", bytes(nbytes))
        return a, uctypes.bytearray_at(uctypes.addressof(a), nbytes)

    _ticks_ms = time.ticks_ms
    _ticks_diff = time.ticks_diff
    _sleep_ms = time.sleep_ms
except ImportError:  # CPython, for tests
    def _rx_buffers(nbytes):
        b = bytearray(nbytes)
        return memoryview(b).cast("h"), b

    def _ticks_ms():
        return int(time.monotonic() * 1000)

    def _ticks_diff(a, b):
        return a - b

    def _sleep_ms(ms):
        time.sleep(ms / 1000)

_SOF = bytes((P.SOF,))


class Link:
    # rd: a stream with readinto(); wr: a stream with write().
    # ready(ms): True when rd has a byte within ms (-1: wait for ever); None
    #   when reads may simply block (tests on in-memory streams).
    # one_byte: read a byte at a time (a Pico's stdin blocks until a read
    #   is filled; the pty of the virtual board returns what it has).
    def __init__(self, rd, wr, ready=None, one_byte=False, timeout_ms=P.FRAME_TIMEOUT_MS):
        self.rd = rd
        self.wr = wr
        self.ready = ready
        self.one_byte = one_byte
        self.timeout_ms = timeout_ms
        self.cap = P.MAX_FRAME
        arr, self.rx = _rx_buffers(self.cap)
        self.rview = memoryview(self.rx)
        # The payload of the frame handed on starts at HEADER_LEN: the STEP
        # samples as int16 (4 int16 = the 8 header bytes before them).
        self.samples = memoryview(arr)[P.HEADER_LEN // 2:]
        self.s = 0          # where the frame being looked for starts
        self.n = 0          # end of the bytes held
        self.held = 0       # length of the frame handed on, consumed at the next recv
        self.t_last = 0     # when the last byte of an incomplete frame came
        self.crc = 0        # CRC-32 of the frame handed on
        # tx holds the reply being built or last sent; tx_prev a copy of the
        # one before it, so that either can be sent again (a host may have
        # two STEP frames on the way, docs/protocol.md). tx_prev takes a
        # status reply with a full event queue; a longer one (the JSON of
        # HELLO, DIAG or LOG, which no host sends ahead of anything) is not
        # kept: RAM is short on a 64 KB heap.
        self.tx = bytearray(P.HEADER_LEN + 1024 + P.TRAILER_LEN)
        self.tx_prev = bytearray(P.PREV_REPLY_MAX)
        self.nbuf = bytearray(P.HEADER_LEN + 2 + P.TRAILER_LEN)
        self.tx_len = 0
        self.tx_prev_len = 0
        self.rx_frames = 0
        self.rx_errors = 0
        self.rx_skipped = 0
        self.rx_timeouts = 0
        self.tx_frames = 0

    def _drop(self):
        # Give up the candidate frame at s: search again from s + 1.
        self.s += 1
        if self.s >= self.n:
            self.s = self.n = 0

    def _refuse(self, seq, reason, ftype):
        self.nak(seq, reason, ftype)
        self._drop()

    def _scan(self):
        # Look for a frame at rx[s:n]. Returns 0 when a whole good frame
        # starts at s, else how many more bytes are needed to decide.
        rx = self.rx
        while True:
            s = self.s
            n = self.n
            if s < n and rx[s] != P.SOF:
                k = rx.find(_SOF, s, n)
                if k < 0:
                    k = n
                self.rx_skipped += k - s
                self.s = s = k
            if s >= n:
                self.s = self.n = 0
                return P.HEADER_LEN
            have = n - s
            if have < P.HEADER_LEN:
                return P.HEADER_LEN - have
            if P.crc8(rx, 7, s) != rx[s + 7]:
                self.rx_skipped += 1
                self._drop()
                continue
            ftype = rx[s + 2]
            seq = rx[s + 3]
            length = rx[s + 4] | (rx[s + 5] << 8)
            if rx[s + 1] != P.VERSION:
                self._refuse(seq, P.N_VERSION, ftype)
                continue
            ok = P.length_ok(ftype, length)
            if ok < 0:
                self._refuse(seq, P.N_TYPE, ftype)
                continue
            if ok == 0:
                self._refuse(seq, P.N_LENGTH, ftype)
                continue
            end = P.HEADER_LEN + length
            total = end + P.TRAILER_LEN
            if have < total:
                return total - have
            t = s + end
            got = rx[t] | (rx[t + 1] << 8) | (rx[t + 2] << 16) | (rx[t + 3] << 24)
            crc = P.crc32(self.rview[s:t])
            if crc != got:
                self._refuse(seq, P.N_CRC, ftype)
                continue
            self.crc = crc
            return 0

    def _compact(self):
        # Move the held bytes rx[s:n] to the start of the buffer, in pieces
        # no longer than s so that no piece overlaps its own destination.
        s = self.s
        if s == 0:
            return
        m = self.n - s
        rx = self.rx
        v = self.rview
        d = 0
        while d < m:
            c = m - d if m - d < s else s
            rx[d:d + c] = v[s + d:s + d + c]
            d += c
        self.s = 0
        self.n = m

    def _read(self, want, wait_ms):
        # Add up to `want` bytes, waiting at most wait_ms for the first.
        if self.ready is not None and not self.ready(wait_ms):
            return 0
        if self.one_byte:
            want = 1
        k = self.rd.readinto(self.rview[self.n:self.n + want])
        if k is None:
            return 0  # a non-blocking stream had nothing after all
        if not k:
            raise OSError("link closed")
        self.n += k
        return k

    def recv(self, block=True):
        # The next good frame as (type, seq, payload length), its payload at
        # rx[HEADER_LEN:] (STEP samples also in self.samples). Refused frames
        # are answered with a NAK on the way. With block False, returns None
        # as soon as no byte is waiting (a board on its own clock).
        if self.held:
            self.s = self.held
            self.held = 0
            if self.s >= self.n:
                self.s = self.n = 0
        while True:
            need = self._scan()
            if need == 0:
                break
            if self.n + need > self.cap:
                self._compact()
            if self.s == self.n:
                # Nothing held: wait for the next frame as long as it takes.
                if self._read(need, -1 if block else 0):
                    self.t_last = _ticks_ms()
                elif not block:
                    return None
                continue
            # Part of a frame is held: the rest must follow without a pause
            # longer than timeout_ms.
            left = self.timeout_ms - _ticks_diff(_ticks_ms(), self.t_last)
            if self.ready is None or left > 0:
                if self._read(need, left if block else 0):
                    self.t_last = _ticks_ms()
                    continue
                if not block:
                    return None
                continue  # waited the rest of the time: it times out next
            # The frame stopped short: give it up and look again behind its
            # start byte.
            self.rx_timeouts += 1
            self._drop()
        if self.s:
            self._compact()
        rx = self.rx
        length = rx[4] | (rx[5] << 8)
        self.held = P.HEADER_LEN + length + P.TRAILER_LEN
        self.rx_frames += 1
        return rx[2], rx[3], length

    def nak(self, seq, reason, ftype):
        # Refuse a frame: reason (P.N_*) and the refused type. A NAK has its
        # own buffer, so that tx keeps the last reply for a retransmission.
        self.rx_errors += 1
        buf = self.nbuf
        struct.pack_into(P.NAK_FMT, buf, P.HEADER_LEN, reason, ftype)
        self._frame(buf, P.T_NAK, seq, 2)
        self._write(buf, len(buf))
        self.tx_frames += 1

    def send(self, ftype, seq, n):
        # Send the n payload bytes already placed at tx[HEADER_LEN:].
        self.tx_len = self._frame(self.tx, ftype, seq, n)
        self._write(self.tx, self.tx_len)
        self.tx_frames += 1

    def resend(self, prev=False):
        # Repeat the last reply sent, or with prev the one before it (the
        # host retried a frame we answered).
        buf, n = (self.tx_prev, self.tx_prev_len) if prev else (self.tx, self.tx_len)
        if n:
            self._write(buf, n)
            self.tx_frames += 1

    def rotate(self):
        # Keep the last reply as the one before, if it fits, and free tx for
        # the next. True if it was kept.
        n = self.tx_len
        self.tx_len = 0
        if n > len(self.tx_prev):
            n = 0
        if n:
            self.tx_prev[:n] = memoryview(self.tx)[:n]
        self.tx_prev_len = n
        return n > 0

    @staticmethod
    def _frame(buf, ftype, seq, n):
        # Header and CRC around the n payload bytes in buf; the frame length.
        P.put_header(buf, ftype, seq, n)
        end = P.HEADER_LEN + n
        struct.pack_into("<I", buf, end, P.crc32(memoryview(buf)[:end]))
        return end + P.TRAILER_LEN

    def _write(self, buf, n):
        # Write buf[:n] whole: a non-blocking stream may take part of it.
        off = 0
        v = memoryview(buf)
        while off < n:
            k = self.wr.write(v[off:n])
            off += k or 0
            if off < n:
                _sleep_ms(1)
