"""STEP frames sent ahead (docs/protocol.md) on the virtual board, over its
pty: the client keeps two requests open and takes their replies in order;
the board refuses a frame ahead of a change and sends either of its last
two replies again as it was; and a loop that sends ahead gives the run of
one that does not, on a clean link and through link faults."""

from __future__ import annotations

import struct
from typing import Any

import pytest

from hil.loop import closed
from hil.run.operator import FaultStep
from hil.run.therapy import TherapyPlan, run_therapy
from hil.transport import frames
from hil.transport.client import BoardClient, BoardError
from hil.transport.link import SerialLink
from hil.board.virtual import VirtualBoard

P, C = frames.P, frames.C
pytestmark = pytest.mark.verifies("SR-LINK-3")

# Idle readings: nothing changes on an idle board.
IDLE = struct.pack("<5h", -100, 300, 100, 0, 0)


@pytest.fixture
def client():
    with VirtualBoard() as vb, SerialLink(vb.port) as link:
        c = BoardClient(link, timeout_s=5.0)
        c.hello()
        yield c


def test_the_board_says_it_takes_frames_sent_ahead(client: BoardClient) -> None:
    assert client.board_hello["step_ahead"] is True and client.steps_ahead


def test_two_open_frames_are_answered_in_order_and_a_third_is_refused(client: BoardClient) -> None:
    a = client.send_step(1, IDLE * 5)
    b = client.send_step(6, IDLE * 7, ahead=True)
    with pytest.raises(BoardError, match="two requests are open"):
        client.send(P.T_STATUS)
    ra = client.finish_step(a)
    rb = client.finish_step(b, refusable=True)
    assert ra is not None and rb is not None
    assert (ra.consumed, ra.status.tick) == (5, 5)
    assert (rb.consumed, rb.status.tick) == (7, 12)
    assert client.status().status.tick == 12


def test_a_frame_ahead_of_a_change_is_refused_and_the_board_stays(client: BoardClient) -> None:
    client.command(C.CMD_SET_WEIGHT, 700)
    client.command(C.CMD_PRIME)
    # Priming starts the pump ramp at the first tick: a change.
    a = client.send_step(1, IDLE)
    b = client.send_step(2, IDLE * 10, ahead=True)
    ra = client.finish_step(a)
    assert ra is not None and ra.consumed == 1 and ra.status.pump > 0
    assert client.finish_step(b, refusable=True) is None
    assert client.status().status.tick == 1
    # Without refusable, the refusal is an error naming why.
    b = client.send_step(2, IDLE * 10, ahead=True)
    with pytest.raises(BoardError, match="sent ahead of a frame that changed"):
        client.finish_step(b)


def test_either_reply_is_sent_again_byte_for_byte(client: BoardClient) -> None:
    # The host lost both replies: it writes both frames again, the board
    # answers each as before and runs nothing twice.
    fa = frames.encode(P.T_STEP, 41, frames.step_payload(1, IDLE * 3))
    fb = frames.encode(P.T_STEP, 42, frames.step_payload(4, IDLE * 2, ahead=True))
    link = client.link
    parser = frames.FrameParser()

    def replies(want: int) -> list[frames.Frame]:
        got: list[frames.Frame] = []
        while len(got) < want:
            data = link.read(65536, 5.0)
            assert data, "no reply"
            got += parser.feed(data)
        return got

    link.write(fa + fb)
    first = replies(2)
    link.write(fb + fa)
    again = replies(2)
    assert [f.seq for f in first] == [41, 42] and [f.seq for f in again] == [42, 41]
    assert again[0].payload == first[1].payload and again[1].payload == first[0].payload
    assert frames.decode_reply(first[1].payload).status.tick == 5
    assert client.status().status.tick == 5


FAULTS = (
    FaultStep(4500.0, "access_occlusion", 0.95),
    FaultStep(4530.0, "access_occlusion", 0.0),
    FaultStep(5000.0, "air", 1.0),
)


def _run(monkeypatch: pytest.MonkeyPatch, send_ahead: bool) -> tuple[Any, closed.LoopStats]:
    loops: list[closed.ClosedLoop] = []
    init = closed.ClosedLoop.__init__

    def spy(self: closed.ClosedLoop, *a: Any, **k: Any) -> None:
        init(self, *a, **{**k, "send_ahead": send_ahead})
        loops.append(self)

    with monkeypatch.context() as m:
        m.setattr(closed.ClosedLoop, "__init__", spy)
        result = run_therapy(TherapyPlan(hours=1.5, seed=11, faults=FAULTS, trace_every_s=1.0))
    return result, loops[0].stats


def test_a_loop_sending_ahead_gives_the_run_of_one_that_does_not(monkeypatch: pytest.MonkeyPatch) -> None:
    ahead, sa = _run(monkeypatch, True)
    turns, st = _run(monkeypatch, False)
    # Sent ahead, mostly run, and refused after every change (the faults
    # and the therapy's own changes).
    assert sa.sent_ahead > sa.frames // 2 and st.sent_ahead == 0
    assert 0 < sa.ahead_refused < sa.sent_ahead
    assert ahead.sent_ahead == sa.sent_ahead and ahead.ahead_refused == sa.ahead_refused
    alarms = {e["alarm"] for e in ahead.events if e["type"] == "alarm"}
    assert {"access_pressure_low", "air_in_line"} <= alarms
    # The same run: frames, rewinds, ticks, events, trace, final status.
    assert (sa.frames, sa.rewinds, sa.ticks) == (st.frames, st.rewinds, st.ticks)
    assert ahead.fw_events == turns.fw_events
    assert ahead.events == turns.events
    assert ahead.trace_rows == turns.trace_rows
    assert ahead.final_status == turns.final_status
