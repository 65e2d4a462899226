# The sim HAL times each run of control ticks it makes from a STEP frame
# and adds the time to ctl.tick_us, which DIAG reports as tick_us: how much
# of the board's time the control ticks take (docs/protocol.md, DIAG;
# docs/benchmarks.md, loop_efficiency). The clock is replaced here by one
# that advances a fixed step per reading, so every figure is exact.

import json

from check import IS_MICROPYTHON
from hal import sim
import protocol as P
from framebuild import cmd_frame, frame, step_frame
from test_fw_link import _board, parse_frames
from test_fw_receiver import serve_all
from test_fw_step_ahead import IDLE, _FaultOnce
import codes as C


class _Clock:
    # Each reading is `step` microseconds after the one before, wrapping at
    # 2**30 as a Pico's ticks_us does.
    def __init__(self, start=0, step=7):
        self.now = start - step
        self.step = step

    def __call__(self):
        self.now = (self.now + self.step) & 0x3FFFFFFF
        return self.now


def _with_clock(clock, fn):
    real = sim._us
    sim._us = clock
    try:
        return fn()
    finally:
        sim._us = real


# DIAG reads the heap (gc.mem_alloc), which only MicroPython has: on
# CPython the tests read ctl.tick_us alone.
DIAG = frame(P.T_DIAG, 99, b"") if IS_MICROPYTHON else b""


def _diag_tick_us(board, replies):
    # DIAG tick_us, checked against the controller's own count.
    if not IS_MICROPYTHON:
        return board.ctl.tick_us
    for ftype, _seq, payload in replies:
        if ftype == P.T_DIAG | P.REPLY:
            return json.loads(bytes(payload))["tick_us"]
    raise AssertionError("no DIAG reply")


def test_each_run_of_ticks_is_timed_and_reported_in_diag():
    data = (step_frame(1, 1, [IDLE] * 3) + step_frame(2, 4, [IDLE] * 3, P.STEP_AHEAD)
            + step_frame(3, 7, [IDLE] * 2) + DIAG)
    board, replies = _with_clock(_Clock(step=7), lambda: serve_all(data))
    # One run per frame, each read as two clock readings 7 us apart.
    assert board.ctl.tick_no == 8
    assert board.ctl.tick_us == 3 * 7
    assert _diag_tick_us(board, replies) == 21


def test_frames_that_run_no_tick_add_no_time():
    # A refused STEP (wrong tick), STATUS and a command run no tick.
    data = (step_frame(1, 1, [IDLE] * 2) + step_frame(2, 9, [IDLE] * 2) + frame(P.T_STATUS, 3, b"")
            + cmd_frame(4, C.CMD_SET_WEIGHT, 700) + DIAG)
    board, replies = _with_clock(_Clock(step=5), lambda: serve_all(data))
    assert board.ctl.tick_no == 2
    assert board.ctl.tick_us == 5 and _diag_tick_us(board, replies) == 5


def test_a_run_that_faults_is_not_timed():
    # The second tick of four raises: the run of the first two ends in the
    # fault and is not counted; the run of the last two is.
    board, pipe = _board(step_frame(1, 1, [IDLE] * 4))
    board.ctl.tick = _FaultOnce(board.ctl.tick, 2).tick
    board.tick_errors = 3     # past three faults the board prints none

    def run():
        try:
            board.run()
        except OSError:
            pass
    _with_clock(_Clock(step=11), run)
    assert board.tick_errors == 4 and board.ctl.tick_no == 4
    assert board.ctl.tick_us == 11
    assert len(parse_frames(pipe.out.getvalue())) == 1


def test_a_clock_that_wraps_during_a_run_is_read_across_the_wrap():
    # A Pico's ticks_us wraps at 2**30: a run that starts 3 us before the
    # wrap and ends 4 us after it took 7 us.
    data = step_frame(1, 1, [IDLE] * 3)
    board, _replies = _with_clock(_Clock(start=(1 << 30) - 3, step=7),
                                  lambda: serve_all(data))
    assert board.ctl.tick_us == 7


def test_a_new_controller_starts_at_zero():
    board, replies = serve_all(frame(P.T_STATUS, 1, b"") + DIAG)
    assert board.ctl.tick_us == 0 and _diag_tick_us(board, replies) == 0
