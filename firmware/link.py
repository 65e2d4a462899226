# Frame transport over a byte stream (a pty, USB CDC or a UART): reads one
# frame at a time into preallocated buffers, resynchronises on garbage, and
# answers frames it cannot accept with a NAK. Frame *meaning* is not here.

import struct

import protocol as P

try:
    from array import array
    import uctypes

    def _sample_buffers(nbytes):
        # int16 view for the control loop and a byte view for readinto,
        # over the same memory.
        a = array("h", bytes(nbytes))
        return a, uctypes.bytearray_at(uctypes.addressof(a), nbytes)
except ImportError:  # CPython, for tests
    def _sample_buffers(nbytes):
        b = bytearray(nbytes)
        return memoryview(b).cast("h"), b


class Link:
    def __init__(self, rd, wr):
        # rd: stream with readinto(); wr: stream with write().
        self.rd = rd
        self.wr = wr
        self.hdr = bytearray(P.HEADER_LEN)
        self.trl = bytearray(P.TRAILER_LEN)
        self.one = bytearray(1)
        nbytes = P.max_payload(P.T_STEP)
        self.samples, self.sbytes = _sample_buffers(nbytes)
        self.sview = memoryview(self.sbytes)
        self.pbuf = bytearray(64)
        self.pview = memoryview(self.pbuf)
        self.tx = bytearray(P.HEADER_LEN + 1024 + P.TRAILER_LEN)
        self.tview = memoryview(self.tx)
        self.tx_len = 0
        self.rx_frames = 0
        self.rx_errors = 0
        self.rx_skipped = 0
        self.tx_frames = 0

    def _fill(self, mv):
        # Read exactly len(mv) bytes.
        got = 0
        n = len(mv)
        while got < n:
            k = self.rd.readinto(mv[got:])
            if not k:
                raise OSError("link closed")
            got += k

    def _sync(self):
        # Read a header, skipping bytes until one with a valid check byte.
        h = self.hdr
        hv = memoryview(h)
        self._fill(hv)
        while h[0] != P.SOF or P.crc8(h, 7) != h[7]:
            self.rx_skipped += 1
            # Shift by one byte and read one more.
            for i in range(P.HEADER_LEN - 1):
                h[i] = h[i + 1]
            self._fill(memoryview(self.one))
            h[P.HEADER_LEN - 1] = self.one[0]

    def _discard(self, n):
        while n > 0:
            k = n if n < len(self.pbuf) else len(self.pbuf)
            self._fill(self.pview[:k])
            n -= k

    def recv(self):
        # Wait for the next good frame. Returns (type, seq, payload length);
        # the payload is in self.samples/self.sbytes (STEP) or self.pbuf.
        # Bad frames are answered with a NAK and skipped.
        while True:
            self._sync()
            h = self.hdr
            ftype = h[2]
            seq = h[3]
            n = h[4] | (h[5] << 8)
            if h[1] != P.VERSION:
                self._discard(n + P.TRAILER_LEN)
                self.nak(seq, P.N_VERSION, ftype)
                continue
            limit = P.max_payload(ftype)
            if limit < 0 or n > limit or (ftype == P.T_STEP and (n - P.STEP_HEAD) % 10):
                if n <= P.MAX_PAYLOAD:
                    self._discard(n + P.TRAILER_LEN)
                self.nak(seq, P.N_TYPE if limit < 0 else P.N_LENGTH, ftype)
                continue
            body = self.sview[:n] if ftype == P.T_STEP else self.pview[:n]
            self._fill(body)
            self._fill(memoryview(self.trl))
            crc = P.crc32(body, P.crc32(h))
            got = struct.unpack_from("<I", self.trl, 0)[0]
            if crc != got:
                self.nak(seq, P.N_CRC, ftype)
                continue
            self.rx_frames += 1
            return ftype, seq, n

    def nak(self, seq, reason, ftype):
        # Refuse a frame: reason (P.N_*) and the refused type.
        self.rx_errors += 1
        buf = self.tx
        struct.pack_into(P.NAK_FMT, buf, P.HEADER_LEN, reason, ftype)
        self.send(P.T_NAK, seq, 2)

    def send(self, ftype, seq, n):
        # Send the n payload bytes already placed at tx[HEADER_LEN:].
        buf = self.tx
        P.put_header(buf, ftype, seq, n)
        end = P.HEADER_LEN + n
        crc = P.crc32(self.tview[:end])
        struct.pack_into("<I", buf, end, crc)
        self.tx_len = end + P.TRAILER_LEN
        self.wr.write(self.tview[:self.tx_len])
        self.tx_frames += 1

    def resend(self):
        # Repeat the last frame sent (the host retried a frame we answered).
        if self.tx_len:
            self.wr.write(self.tview[:self.tx_len])
            self.tx_frames += 1
