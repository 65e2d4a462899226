"""Helpers shared by the reliability campaigns: the board process's memory,
a reader that keeps every frame the board sends, and a probe with a
deadline.

:class:`FrameTap` reads a :class:`~hil.transport.link.Link` on a thread, so that the
board never blocks on a full pty while the host is busy writing, and keeps
every frame in arrival order; a campaign marks where a batch began and
looks at what came back since.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from hil.transport import frames
from hil.transport.frames import Frame, FrameParser
from hil.transport.link import Link, LinkError

P = frames.P


def rss_kb(pid: int | None) -> int | None:
    """Resident set size of process ``pid`` in kB (``VmRSS`` of
    ``/proc/PID/status``), or None when it cannot be read."""
    if pid is None:
        return None
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("VmRSS:"):
            try:
                return int(line.split()[1])
            except (IndexError, ValueError):
                return None
    return None


class FrameTap:
    """Reads a link on a background thread and keeps every frame received.

    Args:
        link: the link to the board.
        poll_s: read timeout of one read, i.e. how quickly :meth:`stop`
            takes effect.
    """

    def __init__(self, link: Link, poll_s: float = 0.05) -> None:
        self.link = link
        self.poll_s = poll_s
        self.parser = FrameParser()
        self.frames: list[Frame] = []
        self.times: list[float] = []
        self.bytes_in = 0
        self.error: BaseException | None = None
        self.cond = threading.Condition()
        self._stop = False
        self._thread: threading.Thread | None = None

    def start(self) -> "FrameTap":
        self._thread = threading.Thread(target=self._run, name="frame-tap", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop = True
        if self._thread is not None:
            self._thread.join(timeout=2.0)
            self._thread = None

    def _run(self) -> None:
        while not self._stop:
            try:
                data = self.link.read(65536, self.poll_s)
            except (LinkError, OSError, ValueError, TypeError) as e:
                # ValueError/TypeError: pyserial on a descriptor closed under it.
                with self.cond:
                    self.error = e
                    self.cond.notify_all()
                return
            if not data:
                continue
            got = self.parser.feed(data)
            now = time.monotonic()
            with self.cond:
                self.bytes_in += len(data)
                if got:
                    self.frames.extend(got)
                    self.times.extend([now] * len(got))
                    self.cond.notify_all()

    def mark(self) -> int:
        """Index of the next frame to arrive."""
        with self.cond:
            return len(self.frames)

    def since(self, start: int, end: int | None = None) -> list[Frame]:
        with self.cond:
            return list(self.frames[start:end])

    def wait_for(self, pred: Callable[[Frame], bool], start: int, timeout_s: float) -> int | None:
        """Index of the first frame at or after ``start`` for which ``pred``
        holds, waiting up to ``timeout_s``; None if none came (or the link failed)."""
        deadline = time.monotonic() + timeout_s
        i = start
        with self.cond:
            while True:
                while i < len(self.frames):
                    if pred(self.frames[i]):
                        return i
                    i += 1
                left = deadline - time.monotonic()
                if left <= 0 or self.error is not None:
                    return None
                self.cond.wait(left)

    def wait_reply(self, ftype: int, seq: int, start: int, timeout_s: float,
                   nak_too: bool = False) -> int | None:
        """Index of the reply (``ftype | 0x80``, or a NAK if ``nak_too``) to
        the request ``ftype``/``seq`` at or after ``start``."""
        rtype = ftype | P.REPLY

        def pred(f: Frame) -> bool:
            return f.seq == seq and (f.ftype == rtype or (nak_too and f.ftype == P.T_NAK))
        return self.wait_for(pred, start, timeout_s)

    def boots_since(self, start: int) -> list[Frame]:
        return [f for f in self.since(start) if f.ftype == P.T_BOOT]


def probe(tap: FrameTap, seq: int, deadline_s: float = 2.0, quiet_s: float = 0.0,
          ftype: int = P.T_STATUS) -> tuple[int | None, float]:
    """Liveness probe: after ``quiet_s`` of silence (so that a partial frame
    on the board times out), send a payload-less request (STATUS by default)
    with ``seq`` and wait for its reply.

    Returns:
        (index of the reply in ``tap.frames`` or None, seconds it took).
    """
    if quiet_s > 0:
        time.sleep(quiet_s)
    start = tap.mark()
    t0 = time.monotonic()
    tap.link.write(frames.encode(ftype, seq))
    i = tap.wait_reply(ftype, seq, start, deadline_s)
    return i, time.monotonic() - t0


__all__ = ["FrameTap", "probe", "rss_kb"]
