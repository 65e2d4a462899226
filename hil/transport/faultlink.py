"""A link that damages, loses, delays and pollutes frames on purpose.

:class:`FaultyLink` wraps another :class:`~hil.transport.link.Link` and passes for
it. Faults are armed explicitly (by a scenario step at a virtual time) and
act on the next whole frames in one direction, so a run with the same
steps damages the same frames every time: there is no random number in
here. The client's resend, NAK and the board's duplicate detection are
meant to carry the run through every one of these faults with a result
identical to a clean run.

Faults:
    corrupt: flip one bit in the middle of each of the next N frames.
    drop: lose the next N frames.
    delay: hold the next N frames back for a wall-clock time.
    noise: put N bytes of line noise (with false frame starts) before the
        next frame.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from hil.transport import frames
from hil.transport.link import Link

P = frames.P
FAULT_KINDS = ("corrupt", "drop", "delay", "noise")


@dataclass
class _Armed:
    kind: str
    left: int
    delay_s: float = 0.0


def noise_bytes(n: int, salt: int = 0) -> bytes:
    """N bytes of fixed 'line noise', including false frame starts."""
    out = bytearray()
    x = 0x5A ^ (salt & 0xFF)
    for i in range(n):
        x = (x * 73 + 41 + i) & 0xFF
        out.append(P.SOF if i % 7 == 3 else x)
    return bytes(out)


def damage(frame: bytes) -> bytes:
    """The frame with one bit flipped in the middle of its payload (or in
    its CRC when it has no payload)."""
    b = bytearray(frame)
    i = 8 + (len(b) - 12) // 2 if len(b) > 12 else len(b) - 2
    b[i] ^= 0x10
    return bytes(b)


def split_frames(buf: bytearray) -> tuple[list[tuple[bool, bytes]], bytearray]:
    """Cut a received byte buffer into whole frames and other bytes.

    Returns:
        ``[(is_frame, bytes), ...]`` in order, and the incomplete tail.
    """
    out: list[tuple[bool, bytes]] = []
    i = 0
    n = len(buf)
    while i < n:
        if buf[i] != P.SOF:
            j = buf.find(bytes([P.SOF]), i)
            j = n if j < 0 else j
            out.append((False, bytes(buf[i:j])))
            i = j
            continue
        if n - i < 8:
            break
        if frames.crc8(bytes(buf[i:i + 7])) != buf[i + 7]:
            out.append((False, bytes(buf[i:i + 1])))
            i += 1
            continue
        length = buf[i + 4] | (buf[i + 5] << 8)
        if length > P.MAX_PAYLOAD:
            out.append((False, bytes(buf[i:i + 1])))
            i += 1
            continue
        total = 12 + length
        if n - i < total:
            break
        out.append((True, bytes(buf[i:i + total])))
        i += total
    return out, bytearray(buf[i:])


class FaultyLink(Link):
    """Injects deterministic faults into the frames crossing another link.

    Args:
        inner: the link to the board (a :class:`~hil.transport.link.SerialLink`).
    """

    def __init__(self, inner: Link) -> None:
        self.inner = inner
        self.name = inner.name
        self.armed: dict[str, deque[_Armed]] = {"to_board": deque(), "to_host": deque()}
        self.injected: list[dict[str, Any]] = []
        self._rx = bytearray()           # from the board, not yet cut into frames
        self._ready = bytearray()        # for the host to read
        self._held_rx: deque[tuple[float, bytes]] = deque()   # delayed frames to the host
        self._held_tx: deque[tuple[float, bytes]] = deque()   # delayed frames to the board
        self._count = 0

    # -- arming -----------------------------------------------------------------

    def arm(self, kind: str, direction: str = "both", frames_n: int = 1, delay_s: float = 0.0) -> None:
        """Damage the next ``frames_n`` frames (``noise``: bytes) going ``direction``.

        Args:
            kind: ``corrupt``, ``drop``, ``delay`` or ``noise``.
            direction: ``to_board``, ``to_host`` or ``both``.
            frames_n: how many frames (for noise: how many bytes, once).
            delay_s: wall-clock hold for ``delay``.
        """
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown link fault {kind!r}")
        dirs = ("to_board", "to_host") if direction == "both" else (direction,)
        for d in dirs:
            self.armed[d].append(_Armed(kind, 1 if kind == "noise" else frames_n,
                                        delay_s if kind == "delay" else float(frames_n)))

    def _take(self, direction: str, frame: bytes) -> _Armed | None:
        q = self.armed[direction]
        if not q or frame[2] == P.T_BOOT:
            return None    # a boot notice is the board's, not the link's: never faulted
        a = q[0]
        a.left -= 1
        if a.left <= 0:
            q.popleft()
        self._count += 1
        self.injected.append({"n": self._count, "kind": a.kind, "direction": direction,
                              "type": frame[2], "seq": frame[3]})
        return a

    # -- host -> board ------------------------------------------------------------

    def write(self, data: bytes) -> None:
        a = self._take("to_board", data) if len(data) >= 12 and data[0] == P.SOF else None
        if a is not None:
            if a.kind == "drop":
                return
            if a.kind == "corrupt":
                data = damage(data)
            elif a.kind == "noise":
                data = noise_bytes(int(a.delay_s), self._count) + data
            elif a.kind == "delay":
                self._held_tx.append((time.monotonic() + a.delay_s, data))
                return
        if self._held_tx:
            # Keep the order of the line: behind what is held back.
            self._held_tx.append((0.0, data))
            return
        self.inner.write(data)

    def _release_tx(self, now: float) -> None:
        while self._held_tx and self._held_tx[0][0] <= now:
            self.inner.write(self._held_tx.popleft()[1])

    # -- board -> host -------------------------------------------------------------

    def _admit(self, data: bytes) -> None:
        self._rx += data
        parts, self._rx = split_frames(self._rx)
        for is_frame, chunk in parts:
            a = self._take("to_host", chunk) if is_frame else None
            if a is None:
                if self._held_rx:
                    self._held_rx.append((0.0, chunk))
                else:
                    self._ready += chunk
            elif a.kind == "corrupt":
                self._ready += damage(chunk)
            elif a.kind == "noise":
                self._ready += noise_bytes(int(a.delay_s), self._count) + chunk
            elif a.kind == "delay":
                self._held_rx.append((time.monotonic() + a.delay_s, chunk))
            # drop: nothing

    def _release_rx(self, now: float) -> None:
        while self._held_rx and self._held_rx[0][0] <= now:
            self._ready += self._held_rx.popleft()[1]

    def read(self, max_bytes: int, timeout_s: float) -> bytes:
        deadline = time.monotonic() + timeout_s
        while True:
            now = time.monotonic()
            self._release_tx(now)
            self._release_rx(now)
            if self._ready:
                out = bytes(self._ready[:max_bytes])
                del self._ready[:max_bytes]
                return out
            left = deadline - now
            if left <= 0:
                return b""
            wait = left
            for q in (self._held_rx, self._held_tx):
                if q:
                    wait = min(wait, max(0.0, q[0][0] - now) + 1e-4)
            data = self.inner.read(65536, wait)
            if data:
                self._admit(data)

    def close(self) -> None:
        self.inner.close()

    def reconnect(self, inner: Link) -> None:
        """Carry on over a newly opened link (after a disconnection);
        whatever was in flight is lost, as on a real line."""
        self.inner = inner
        self._rx.clear()
        self._held_rx.clear()
        self._held_tx.clear()
