"""DIAG ``tick_us`` on the virtual board, over its pty (docs/protocol.md,
DIAG; docs/firmware.md, "The ticks' own time"): the board's own time in
its control ticks grows with the STEP frames it runs and with nothing
else. ``make bench`` divides it by the periods run (``loop_efficiency``)."""

from __future__ import annotations

import struct

import pytest

from hil.board.virtual import VirtualBoard
from hil.transport import frames
from hil.transport.client import BoardClient, BoardError
from hil.transport.link import SerialLink

P = frames.P
IDLE = struct.pack("<5h", -100, 300, 100, 0, 0)


def test_tick_time_grows_with_steps_and_with_nothing_else() -> None:
    with VirtualBoard() as vb, SerialLink(vb.port) as link:
        client = BoardClient(link, timeout_s=5.0)
        client.hello()
        assert client.diag()["tick_us"] == 0
        client.step(1, IDLE * P.MAX_SAMPLES)
        first = client.diag()["tick_us"]
        assert first > 0
        # Frames that run no tick: STATUS, HELLO, and a STEP refused by
        # its tick.
        client.status()
        client.hello()
        with pytest.raises(BoardError):
            client.step(5, IDLE * 3)
        assert client.diag()["tick_us"] == first
        client.step(P.MAX_SAMPLES + 1, IDLE * P.MAX_SAMPLES)
        assert client.diag()["tick_us"] > first


class _Run:
    # What make bench reads of its speed run (hil.run.therapy.TherapyResult).
    def __init__(self, diag: dict, wall_s: float) -> None:
        self.virtual_s, self.period_s, self.wall_s, self.diag = 86_400.0, 0.1, wall_s, diag


def test_loop_efficiency_is_the_share_of_the_loops_wall_time_in_ticks() -> None:
    from hil.bench import _loop_figures

    # 864,000 periods in 6 s of wall time; the board's ticks took 4.32 s of
    # it (5 us each) and its process 4.8 s of CPU.
    f = _loop_figures(_Run({"boots": 1, "tick_us": 4_320_000}, 6.0), 4.8, tick_us=4.0, tick_mean_us=4.5)
    assert f["firmware_tick_loop_us"] == 5.0
    assert f["loop_efficiency"] == 0.72                      # 4.32 s of 6 s
    assert f["loop_efficiency_tick_around"] == 0.648         # 14,400x x 4.5 us / 100 ms
    assert f["loop_efficiency_best_tick"] == 0.576
    assert f["closed_loop_board_busy"] == 0.8
    assert f["loop_board_bound_efficiency"] == 0.9           # 4.32 of the board's 4.8 s


def test_a_board_that_restarted_gives_no_loop_efficiency() -> None:
    from hil.bench import _loop_figures
    from hil.transport.client import BoardError

    with pytest.raises(BoardError, match="booted 2 times"):
        _loop_figures(_Run({"boots": 2, "tick_us": 1_000}, 6.0), 4.8, tick_us=4.0, tick_mean_us=4.5)
