"""Fuzz campaign: the virtual board under test, and the session around it:
start, stop and restart it, send it frames, and bring it to the set-up state
(weight set, primed, heparin running, aPTT in range, running at 250 mL/min
with the clamp open)."""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path
from typing import Any

from hil.transport import frames
from hil.transport.frames import Frame, Status
from hil.transport.link import SerialLink
from hil.reliability.common import FrameTap
from hil.reliability.fuzz_frames import NOMINAL, SEQ_RESERVE, CampaignError
from hil.reliability.fuzz_inputs import Generator
from hil.board.virtual import VirtualBoard

P, C = frames.P, frames.C


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


class BoardSession:
    """The board side of a fuzz campaign (a base of
    :class:`~hil.reliability.fuzz_window.Campaign`, which sets these
    attributes up)."""

    board: str
    firmware: Path | None
    log_path: Path | None
    gen: Generator
    vb: VirtualBoard | None
    link: SerialLink | None
    tap: FrameTap | None
    baseline: Status | None
    restarts: int
    recoveries: dict[str, int]
    bytes_sent: int
    frames_in: int
    pid: int

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
            self.tally["frames_received"] += len(self.tap.frames)
        if self.link is not None:
            self.link.close()
        if self.vb is not None:
            self.vb.stop()
        self.vb = self.link = self.tap = None

    def _restart(self, why: str) -> None:
        self.tally["restarts"] += 1
        self.recoveries[why] = self.recoveries.get(why, 0) + 1
        self._stop_board()
        self._start_board()

    def _write(self, data: bytes) -> None:
        assert self.link is not None
        self.link.write(data)
        self.tally["bytes_sent"] += len(data)

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
        self.gen.flow_set_ml = round(st.flow_set_ml_min)
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
