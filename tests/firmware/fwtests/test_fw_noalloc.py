# The control tick allocates nothing (checked in the MicroPython VM, where
# micropython.heap_lock() turns any allocation into MemoryError).

import codes as C
import protocol as P
from check import IS_MICROPYTHON, heap_growth
from test_fw_controller import Rig

# The requirements (requirements/*.yaml) these tests verify; a dict, not a pytest
# marker, because the module runs in the MicroPython VM too (hil/trace/pytest_plugin.py).
VERIFIES = {
    "test_tick_does_not_allocate_over_10000_ticks_nor_in_a_ramp": ("SR-MEM-1",),
    "test_the_virtual_board_ticks_with_the_heap_locked_and_releases_it": ("SR-MEM-1",),
    "test_an_allocating_tick_is_a_tick_fault_and_the_heap_is_released": ("SR-MEM-1",),
}


def test_tick_does_not_allocate_over_10000_ticks_nor_in_a_ramp():
    if not IS_MICROPYTHON:
        return  # only the MicroPython VM can tell
    r = Rig()
    r.to_running()
    ctl = r.ctl

    def step(n):
        # Vary the inputs so alarm paths run too: flow dips every 2,000
        # ticks long enough for the medium flow alarm, then recovers.
        ctl.tick(-800, 1400, 800, 1000 if (n % 2000) < 150 else 2000, 0)

    assert heap_growth(ctl, 10000, step) == 0
    assert ctl.state == C.RUNNING

    def ramp(n):
        q = ctl.out_pump
        ctl.tick(-4 * q // 10, 50 + 7 * q // 10, 50 + 4 * q // 10, q, 0)

    for flow, pump in ((400, 4000), (150, 1500)):
        # The set flow changes between ticks (a command may allocate); the
        # pump ramps up to it, or down, in the ticks that follow.
        assert ctl.command(C.CMD_SET_FLOW, flow) == C.OK
        assert heap_growth(ctl, 100, ramp) == 0
        assert ctl.out_pump == pump and ctl.state == C.RUNNING


class _Probe:
    # Wraps a controller's tick: counts the ticks run with the heap locked;
    # the tick numbered fail_at allocates (a list). A bound method, not a
    # closure: MicroPython calls a closure with more than five values in
    # all through an argument array taken from the heap.
    def __init__(self, real, fail_at):
        self.real = real
        self.fail_at = fail_at
        self.counts = [0, 0]   # [ticks, of which the heap was locked]

    def tick(self, a, b, c, q, air):
        import micropython
        counts = self.counts
        counts[0] += 1
        if IS_MICROPYTHON:
            try:
                bytearray(8)
            except MemoryError:
                counts[1] += 1
        elif micropython.lock_depth == 1:
            counts[1] += 1
        if counts[0] == self.fail_at:
            if not IS_MICROPYTHON and micropython.lock_depth:
                raise MemoryError("heap is locked")   # what the VM would do
            [a, b, c]
        self.real(a, b, c, q, air)


def _probe_board(n, fail_at=-1):
    # A virtual board (sim HAL) fed one STEP frame of n idle samples, its
    # controller's tick wrapped by a _Probe.
    from framebuild import step_frame
    from test_fw_link import _board
    board, pipe = _board(step_frame(1, 1, [(-100, 300, 100, 0, 0)] * n))
    probe = _Probe(board.ctl.tick, fail_at)
    board.ctl.tick = probe.tick
    return board, pipe, probe.counts


def _heap_usable():
    import micropython
    if not IS_MICROPYTHON:
        return micropython.lock_depth == 0
    try:
        bytearray(8)
    except MemoryError:
        return False
    return True


def test_the_virtual_board_ticks_with_the_heap_locked_and_releases_it():
    from test_fw_link import _serve, parse_frames
    board, pipe, counts = _probe_board(25)
    _serve(board, 1)
    assert counts == [25, 25]
    assert _heap_usable()
    (ftype, _seq, payload), = parse_frames(pipe.out.getvalue())
    assert ftype == P.T_STEP | P.REPLY and payload[0] == 25


def test_an_allocating_tick_is_a_tick_fault_and_the_heap_is_released():
    from test_fw_link import _serve, parse_frames
    import sys
    board, pipe, counts = _probe_board(6, fail_at=3)
    stand_in = not hasattr(sys, "print_exception")   # CPython has none
    if stand_in:
        sys.print_exception = lambda e: None
    try:
        _serve(board, 1)
    finally:
        if stand_in:
            del sys.print_exception
    # Tick 3 allocated: refused, counted as a fault; the frame goes on.
    assert counts == [6, 6]
    assert board.tick_errors == 1 and board.ctl.tick_no == 6
    assert board.wdt is None or board.wdt.last_feed == 6
    assert _heap_usable()
    (ftype, _seq, payload), = parse_frames(pipe.out.getvalue())
    assert ftype == P.T_STEP | P.REPLY and payload[0] == 6
