"""Request/reply over a :class:`~hil.transport.link.Link`: sequence numbers,
retransmission after a timeout or a NAK for a damaged frame, and decoding
of the board's replies."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, Callable

from hil.transport import frames
from hil.transport.frames import Frame, FrameParser, Reply
from hil.transport.link import Link, LinkError

P = frames.P
C = frames.C

NAK_NAMES = {
    P.N_HEADER: "bad header check",
    P.N_CRC: "bad frame CRC",
    P.N_VERSION: "unsupported protocol version",
    P.N_TYPE: "unknown frame type",
    P.N_LENGTH: "impossible payload length",
    P.N_TICK: "STEP does not continue from the board's tick",
    P.N_PAYLOAD: "invalid payload",
    P.N_MODE: "frame type not served by this board's HAL",
    P.N_AHEAD: "STEP sent ahead of a frame that changed something",
}
_RETRYABLE = (P.N_CRC,)   # reason 1 is reserved: the board never sends it


class BoardError(RuntimeError):
    """The board refused a frame or did not answer."""


class BoardReset(BoardError):
    """The board announced a new boot while a request was outstanding: it
    lost power or its watchdog reset it. ``notice`` is its BOOT notice."""

    def __init__(self, notice: dict[str, Any]) -> None:
        cause = notice.get("cause")
        if isinstance(cause, int) and 0 <= cause < len(C.RESET_NAMES):
            cause = C.RESET_NAMES[cause]
        super().__init__(f"the board restarted ({cause}); "
                         f"it had reached tick {notice.get('last_tick')}")
        self.notice = notice


class BoardRefused(BoardError):
    """The board answered a command with a result other than ok."""

    def __init__(self, command: str, reply: Reply) -> None:
        result = reply.result
        why = C.RESULT_NAMES[result] if 0 <= result < len(C.RESULT_NAMES) else f"result {result}"
        super().__init__(f"the board refused {command}: {why} (state {reply.status.state_name}, "
                         f"tick {reply.status.tick})")
        self.reply = reply


@dataclass
class Sent:
    """A request written to the board whose reply has not been taken yet
    (:meth:`BoardClient.send`)."""

    ftype: int
    seq: int
    frame: bytes
    periods: int = 0      # control periods a STEP frame carries
    t0: float = 0.0       # when it was first written (time.monotonic)


class BoardClient:
    """Talks protocol v1 to one board.

    Args:
        link: the byte link.
        timeout_s: wall-clock time to wait for one reply before resending.
            This guards the link only; test timeouts are in virtual time.
            A STEP frame gets more per control period it carries, since the
            board runs them all before it answers (:meth:`step`).
        retries: resends of one frame before giving up.
    """

    # Wall time per control period a STEP frame is allowed beyond timeout_s
    # until the board's own pace is known: the virtual board takes about
    # 9 us, the emulated Pico running the sim HAL (board config pico-pil)
    # about 11 ms, 4.5 s for a full frame (docs/pico-emu.md).
    STEP_S_PER_PERIOD = 0.025
    # Once known (from replies that needed no resend), the allowance is this
    # many times the board's pace: a lost STEP frame to the virtual board is
    # then resent after about timeout_s, not seconds later.
    PACE_MARGIN = 3.0
    PACE_MIN_PERIODS = 50

    def __init__(self, link: Link, timeout_s: float = 5.0, retries: int = 3) -> None:
        self.link = link
        self.timeout_s = timeout_s
        self.retries = retries
        self.parser = FrameParser()
        self.seq = 0
        self.pending: list[Frame] = []
        self.resends = 0
        self.replies = 0
        self.boots: list[dict[str, Any]] = []
        # Wall seconds per control period of the board's STEP replies
        # (a running mean), None until a STEP frame has been answered.
        self.pace_s: float | None = None
        # The board's last HELLO reply ({} until asked): what it can do.
        self.board_hello: dict[str, Any] = {}
        # Requests written and not yet answered, by SEQ (at most two: a STEP
        # and the one sent ahead of its reply), and replies that came for
        # one of them while another was awaited.
        self._open: dict[int, int] = {}
        self._step_answered = 0.0   # when the last STEP reply was taken
        self._early: dict[int, Frame] = {}

    def transact(self, ftype: int, payload: bytes = b"",
                 meanwhile: Callable[[], None] | None = None, extra_s: float = 0.0) -> Frame:
        """Send one frame and return the board's reply to it.

        ``meanwhile``, if given, is called once, right after the frame is
        first written and before the reply is awaited: host work that
        overlaps the board's (the closed loop's next batch). ``extra_s``:
        wall time allowed for the reply beyond ``timeout_s``."""
        sent = self.send(ftype, payload)
        if meanwhile is not None:
            meanwhile()
        reply = self.finish(sent, extra_s)
        if reply is None:   # never: finish raises on a refusal unless asked not to
            raise BoardError(f"board refused frame type 0x{ftype:02x}")
        return reply

    def send(self, ftype: int, payload: bytes = b"", periods: int = 0) -> Sent:
        """Write one request with the next SEQ and return without waiting;
        :meth:`finish` takes its reply. At most two may be open at once (a
        STEP and the one sent ahead of its reply, docs/protocol.md), and
        their replies are taken in the order they were sent."""
        if len(self._open) >= 2:
            raise BoardError("two requests are open already: take a reply first")
        self.seq = (self.seq + 1) & 0xFF
        seq = self.seq
        sent = Sent(ftype, seq, frames.encode(ftype, seq, payload), periods, time.monotonic())
        self._open[seq] = ftype
        try:
            self.link.write(sent.frame)
        except BaseException:
            del self._open[seq]
            raise
        return sent

    def finish(self, sent: Sent, extra_s: float = 0.0, refusable: bool = False) -> Frame | None:
        """The board's reply to ``sent``, resending the same frame after a
        timeout or a NAK for a damaged frame (up to ``retries`` times).

        Args:
            sent: what :meth:`send` returned.
            extra_s: wall time allowed for the reply beyond ``timeout_s``.
            refusable: a NAK other than for a damaged frame is an answer
                (returns None: the board did not act on the frame), not an
                error; a frame sent ahead.

        Raises:
            BoardError: refused (unless ``refusable``), or no reply.
            BoardReset: the board restarted meanwhile.
        """
        ftype, seq = sent.ftype, sent.seq
        try:
            for attempt in range(self.retries + 1):
                if attempt:
                    self.resends += 1
                    self.link.write(sent.frame)
                reply = self._await(ftype, seq, extra_s)
                if reply is None:
                    continue
                if reply.ftype == P.T_NAK:
                    reason = reply.payload[0] if reply.payload else 0
                    if reason in _RETRYABLE:
                        continue   # damaged on the way: the board judged nothing
                    if refusable:
                        return None
                    raise BoardError(f"board refused frame type 0x{ftype:02x}: "
                                     f"{NAK_NAMES.get(reason, f'reason {reason}')}")
                return reply
        except BoardReset:
            # Restarted (announced here, or by the link): nothing written
            # before will be answered.
            self._open.clear()
            self._early.clear()
            raise
        finally:
            self._open.pop(seq, None)
        # The link is given up: what else was written is moot too.
        self._open.clear()
        self._early.clear()
        raise BoardError(f"no valid reply from {self.link.name} to frame type 0x{ftype:02x} "
                         f"after {self.retries + 1} attempts")

    def _await(self, ftype: int, seq: int, extra_s: float = 0.0) -> Frame | None:
        early = self._early.pop(seq, None)
        if early is not None:
            self.replies += 1
            return early
        deadline = time.monotonic() + self.timeout_s + extra_s
        while True:
            while self.pending:
                f = self.pending.pop(0)
                if f.ftype == P.T_BOOT:
                    notice = json.loads(f.payload)
                    self.boots.append(notice)
                    if self.replies:
                        # It had been answering: this is a restart. Nothing
                        # written before it will be answered.
                        self.pending.clear()
                        self._open.clear()
                        self._early.clear()
                        raise BoardReset(notice)
                    continue
                if f.seq == seq and (f.ftype == ftype | P.REPLY or f.ftype == P.T_NAK):
                    self.replies += 1
                    return f
                other = self._open.get(f.seq)
                if other is not None and f.seq not in self._early and (
                        f.ftype == other | P.REPLY or f.ftype == P.T_NAK):
                    # The reply to the other open request: kept for its turn.
                    self._early[f.seq] = f
                # Else a stale reply to an earlier attempt: ignore it.
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            data = self.link.read(65536, left)
            if data:
                self.pending.extend(self.parser.feed(data))

    def wait_boot(self, timeout_s: float = 10.0, seen: int | None = None) -> dict[str, Any]:
        """Wait for the board's next BOOT notice (after powering it on), or,
        with ``seen``, for one past the first ``seen`` notices heard (a BOOT
        that came in with the last reply counts)."""
        deadline = time.monotonic() + timeout_s
        if seen is None:
            seen = len(self.boots)
        for f in self.pending:
            if f.ftype == P.T_BOOT:
                self.boots.append(json.loads(f.payload))
        while len(self.boots) <= seen:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BoardError(f"no BOOT notice from {self.link.name} within {timeout_s} s")
            data = self.link.read(65536, left)
            for f in self.parser.feed(data) if data else []:
                if f.ftype == P.T_BOOT:
                    self.boots.append(json.loads(f.payload))
        self.pending.clear()
        return self.boots[-1]

    def test_reset(self, timeout_s: float = 30.0) -> dict[str, Any]:
        """Make a board in test mode forget its therapy and restart
        (``CMD_TEST_RESET``, docs/protocol.md) and wait for it to boot.

        Returns:
            Its BOOT notice.

        Raises:
            BoardRefused: the board refused (not in test mode, or not idle,
                complete or safe); the message names the result and the state.
            BoardError: it did not come back within ``timeout_s``.
        """
        seen = len(self.boots)
        reply = self.command(C.CMD_TEST_RESET)
        if reply.result != C.OK:
            raise BoardRefused("test_reset", reply)
        return self.wait_boot(timeout_s, seen)

    # -- typed requests -------------------------------------------------------

    def hello(self) -> dict[str, Any]:
        """The board's identity: implementation, version, firmware, board,
        period (kept as ``board_hello``)."""
        self.board_hello = json.loads(self.transact(P.T_HELLO).payload)
        return self.board_hello

    @property
    def steps_ahead(self) -> bool:
        """Whether the board, by its last HELLO, runs STEP frames sent ahead
        of the reply before them (``step_ahead``), and the link lets them
        through (a link may say ``frames_ahead = False``); False until asked."""
        return self.board_hello.get("step_ahead") is True and getattr(self.link, "frames_ahead", True)

    def diag(self) -> dict[str, Any]:
        """Memory and link counters."""
        return json.loads(self.transact(P.T_DIAG).payload)

    def alarm_log(self) -> dict[str, Any]:
        """The board's stored alarm log: ``entries`` of [therapy tick, id, priority, value]."""
        return json.loads(self.transact(P.T_LOG).payload)

    def status(self) -> Reply:
        return frames.decode_reply(self.transact(P.T_STATUS).payload)

    def command(self, code: int, arg: int = 0) -> Reply:
        """Send an operator command; ``reply.result`` is ``C.OK`` or an error code."""
        return frames.decode_reply(self.transact(P.T_CMD, frames.cmd_payload(code, arg)).payload)

    def step(self, tick0: int, samples: bytes,
             meanwhile: Callable[[], None] | None = None) -> Reply:
        """Hand the board sensor samples for control periods tick0, tick0+1, ...
        (``meanwhile``: see :meth:`transact`).

        Returns:
            The reply; ``reply.consumed`` periods were run.
        """
        sent = self.send_step(tick0, samples)
        if meanwhile is not None:
            meanwhile()
        reply = self.finish_step(sent)
        assert reply is not None
        return reply

    def send_step(self, tick0: int, samples: bytes, ahead: bool = False) -> Sent:
        """Write a STEP frame (``ahead``: before the reply to the one before
        it, see :func:`frames.step_payload`); :meth:`finish_step` takes its reply."""
        periods = len(samples) // frames.SAMPLE_BYTES
        return self.send(P.T_STEP, frames.step_payload(tick0, samples, ahead), periods)

    def finish_step(self, sent: Sent, refusable: bool = False) -> Reply | None:
        """The reply to a STEP frame from :meth:`send_step`: ``consumed``
        periods were run; None if ``refusable`` and the board refused it."""
        per = self.STEP_S_PER_PERIOD if self.pace_s is None else self.PACE_MARGIN * self.pace_s
        resends = self.resends
        # A frame sent ahead waits for the one before it too.
        frame = self.finish(sent, sent.periods * per * (2 if self._open.keys() - {sent.seq} else 1),
                            refusable)
        if frame is None:
            return None
        reply = frames.decode_reply(frame.payload)
        # The pace from whole frames of some length that needed no resend: a frame cut short, or a short one, is mostly the
        # host's and the link's fixed costs.
        # A frame sent ahead starts when the board has answered the one before.
        now = time.monotonic()
        start = max(sent.t0, self._step_answered)
        self._step_answered = now
        if reply.consumed == sent.periods >= self.PACE_MIN_PERIODS and self.resends == resends:
            pace = (now - start) / sent.periods
            self.pace_s = pace if self.pace_s is None else 0.8 * self.pace_s + 0.2 * pace
        return reply


__all__ = ["BoardClient", "BoardError", "BoardRefused", "BoardReset", "LinkError", "NAK_NAMES", "Sent"]
