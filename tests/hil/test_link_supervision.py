"""The link seen from a board that keeps its own time (the rp2 HAL on the
virtual board, against the stand-in machine module): a silent host raises
`host_link_lost` and the board goes on; a frame that stops short never
stalls the control loop and times out on its own."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from hil.transport import frames
from hil.transport.client import BoardClient
from hil.transport.link import SerialLink
from hil.board.virtual import VirtualBoard

C = frames.C
P = frames.P


@pytest.fixture
def quick_pico(tmp_path: Path):
    cfg = json.loads(Path("board-configs/fake-pico.json").read_text())
    cfg["link_timeout_s"] = 1
    path = tmp_path / "quick-pico.json"
    path.write_text(json.dumps(cfg))
    vb = VirtualBoard(str(path))
    vb.start()
    link = SerialLink(vb.port)
    try:
        yield vb, link, BoardClient(link, timeout_s=10.0)
    finally:
        link.close()
        vb.stop()


def _alarm_events(reply: frames.Reply, alarm: int) -> list[int]:
    return [e.kind for e in reply.events if e.code == alarm and e.kind in (C.EV_ALARM_ON, C.EV_ALARM_OFF)]


def test_silent_host_raises_host_link_lost_and_a_frame_clears_it(quick_pico) -> None:
    _vb, _link, client = quick_pico
    client.hello()
    t0 = client.status().status.tick
    # Let more than link_timeout_s (1 s) of the board's own time pass in
    # silence; the check below is on the ticks the board counted.
    time.sleep(2.0)
    r = client.status()
    assert r.status.tick - t0 >= 10
    # The STATUS that ended the silence reports the raise, then the clear.
    assert _alarm_events(r, C.AL_HOST_LINK_LOST) == [C.EV_ALARM_ON, C.EV_ALARM_OFF]
    raised = [e for e in r.events if e.code == C.AL_HOST_LINK_LOST and e.kind == C.EV_ALARM_ON][0]
    assert raised.a == C.PRIO_MEDIUM
    assert not r.status.active & (1 << C.AL_HOST_LINK_LOST)
    assert r.status.state == C.IDLE          # no safe state for this alone


def test_half_a_frame_does_not_stall_the_board(quick_pico) -> None:
    _vb, link, client = quick_pico
    client.hello()
    t0 = client.status().status.tick
    # The first half of a STATUS frame, then nothing.
    whole = frames.encode(P.T_STATUS, 77, b"")
    link.write(whole[:5])
    time.sleep(1.0)
    hello = client.hello()
    t1 = client.status().status.tick
    # The board kept its period while the half frame waited, and gave it up.
    assert t1 - t0 >= 8
    assert client.diag()["rx_timeouts"] == 1
    assert hello["boot"]["boots"] >= 1
