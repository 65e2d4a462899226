"""The virtual board's STEP loop (firmware/hal/sim.py) against its rule,
sample by sample: each healthy tick feeds the watchdog with its own tick,
a tick that raises or a stalled control task feeds nothing, and the board
resets at the first tick more than the watchdog's timeout past the last
feed. The loop runs healthy ticks in a row and feeds once after them; this
checks that it ends in the same state as the rule, at every frame.

The firmware runs here on CPython, frames built and replies read with the
host's codec (hil/transport/frames.py)."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
for _p in (ROOT / "firmware",):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))
if str(ROOT / "hil" / "fakepico") not in sys.path:
    sys.path.append(str(ROOT / "hil" / "fakepico"))

from hil.board.firmware import load_board_config  # noqa: E402
from hil.transport import frames  # noqa: E402

P, C = frames.P, frames.C
HEALTHY = (-800, 1400, 800, 0, 0)


class Reset(Exception):
    """The board's watchdog bit (instead of leaving the process)."""


class Pipe(io.RawIOBase):
    def __init__(self) -> None:
        self.rd = io.BytesIO()
        self.out = bytearray()

    def feed(self, data: bytes) -> None:
        pos = self.rd.tell()
        self.rd.seek(0, io.SEEK_END)
        self.rd.write(data)
        self.rd.seek(pos)

    def readinto(self, buf) -> int:  # type: ignore[override]
        return self.rd.readinto(buf)

    def write(self, data) -> int:  # type: ignore[override]
        self.out += bytes(data)
        return len(data)


class Rule:
    """The watchdog's rule, one sample at a time."""

    def __init__(self, timeout: int) -> None:
        self.timeout = timeout
        self.last_feed = 0
        self.reset_at: int | None = None

    def sample(self, tick: int, healthy: bool) -> bool:
        """Account one sample; True when the board resets after it."""
        if healthy:
            self.last_feed = tick
        if tick - self.last_feed > self.timeout:
            self.reset_at = tick
            return True
        return False


@pytest.fixture()
def board(monkeypatch: pytest.MonkeyPatch):
    from controller import Controller
    from hal.sim import SimBoard
    from link import Link
    from persist import Persistence
    from service import Service
    from memstorage import MemoryStorage

    # MicroPython's way of printing an exception, which CPython lacks.
    monkeypatch.setattr(sys, "print_exception", lambda e: None, raising=False)
    cfg = load_board_config(ROOT / "board-configs" / "virtual.json")
    pipe = Pipe()
    ctl = Controller(cfg)
    link = Link(pipe, pipe)
    persist = Persistence(MemoryStorage(), ctl)
    svc = Service(ctl, link, cfg, "sim", persist)
    hal = SimBoard(ctl, link, svc, cfg, persist)
    resets: list[int] = []

    def reset() -> None:
        resets.append(ctl.tick_no)
        raise Reset()

    hal._reset = reset
    return hal, pipe, resets


def _step(hal, pipe, seq: int, n: int) -> frames.Reply | None:
    """One STEP of ``n`` healthy samples; its reply (None: the board reset)."""
    tick0 = hal.ctl.tick_no + 1
    pipe.feed(frames.encode(P.T_STEP, seq, frames.step_payload(tick0, b"".join(
        frames.struct.pack("<5h", *HEALTHY) for _ in range(n)))))
    start = len(pipe.out)
    ftype, fseq, length = hal.link.recv()
    try:
        hal.service.serve(ftype, fseq, length, hal.step)
    except Reset:
        return None
    (reply,) = frames.FrameParser().feed(bytes(pipe.out[start:]))
    assert reply.ftype == P.T_STEP | P.REPLY
    return frames.decode_reply(reply.payload)


def _faulty_from(hal, first_bad: int, last_bad: int) -> None:
    """Make the controller's tick raise for ticks first_bad..last_bad."""
    ctl = hal.ctl
    healthy_tick = type(ctl).tick.__get__(ctl)

    def tick(*sample: int) -> None:
        if first_bad <= ctl.tick_no + 1 <= last_bad:
            ctl.tick_no += 1
            raise ValueError("a fault in the logic")
        healthy_tick(*sample)

    ctl.tick = tick


def test_healthy_frames_feed_the_watchdog_at_their_last_tick(board) -> None:
    hal, pipe, resets = board
    for seq, n in enumerate((10, 1, 37), 1):
        reply = _step(hal, pipe, seq, n)
        assert reply is not None and reply.consumed == n
        assert hal.wdt.last_feed == hal.ctl.tick_no == reply.status.tick
    assert hal.ctl.tick_no == 48 and resets == []


def test_a_tick_that_raises_feeds_nothing_and_the_watchdog_bites_on_time(board) -> None:
    hal, pipe, resets = board
    timeout = hal.wdt.timeout
    rule = Rule(timeout)
    _faulty_from(hal, 15, 10**6)     # from tick 15 on, every tick raises
    seq = 0
    while True:
        seq += 1
        first = hal.ctl.tick_no + 1
        reply = _step(hal, pipe, seq, 7)
        expected_reset = False
        for t in range(first, first + 7):
            if rule.sample(t, healthy=t < 15):
                expected_reset = True
                break
        if reply is None:
            break
        assert not expected_reset
        assert hal.wdt.last_feed == rule.last_feed
        assert reply.consumed == 7
    assert expected_reset and resets == [rule.reset_at] == [14 + timeout + 1]
    assert hal.tick_errors == rule.reset_at - 14


def test_a_fault_inside_a_healthy_stretch_keeps_the_feed_of_the_tick_before(board) -> None:
    hal, pipe, _ = board
    _faulty_from(hal, 6, 6)
    reply = _step(hal, pipe, 1, 5)
    assert reply is not None and hal.wdt.last_feed == 5
    _faulty_from(hal, 8, 9)
    reply = _step(hal, pipe, 2, 4)       # ticks 6..9: 6 is healthy now, 8 and 9 raise
    assert reply is not None and reply.consumed == 4
    assert hal.wdt.last_feed == 7 and hal.ctl.tick_no == 9 and hal.tick_errors == 2
    reply = _step(hal, pipe, 3, 3)       # 10..12 healthy again
    assert reply is not None and hal.wdt.last_feed == 12


def test_a_stall_longer_than_the_watchdog_resets_at_the_rule_s_tick(board) -> None:
    hal, pipe, resets = board
    assert _step(hal, pipe, 1, 10) is not None
    pipe.feed(frames.encode(P.T_CMD, 2, frames.cmd_payload(C.CMD_TEST_HANG, 5)))
    hal.service.serve(*hal.link.recv(), hal.step)
    # A short stall: five ticks without a feed, then healthy ticks feed again.
    reply = _step(hal, pipe, 3, 8)
    assert reply is not None and reply.consumed == 8 and hal.wdt.last_feed == 18
    pipe.feed(frames.encode(P.T_CMD, 4, frames.cmd_payload(C.CMD_TEST_HANG, 100)))
    hal.service.serve(*hal.link.recv(), hal.step)
    assert _step(hal, pipe, 5, 400) is None
    assert resets == [18 + hal.wdt.timeout + 1]


def test_a_frame_stops_right_after_the_tick_that_changed_the_outputs(board) -> None:
    hal, pipe, _ = board
    for seq, (code, arg) in enumerate(((C.CMD_SET_WEIGHT, 700), (C.CMD_PRIME, 0)), 1):
        pipe.feed(frames.encode(P.T_CMD, seq, frames.cmd_payload(code, arg)))
        hal.service.serve(*hal.link.recv(), hal.step)
    reply = _step(hal, pipe, 3, 50)
    assert reply is not None and reply.consumed == 1 and reply.status.tick == 1
    assert reply.status.pump > 0 and hal.wdt.last_feed == 1
