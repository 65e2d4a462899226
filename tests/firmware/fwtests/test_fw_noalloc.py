# The control tick allocates nothing (checked in the MicroPython VM, where
# micropython.heap_lock() turns any allocation into MemoryError).

import codes as C
from check import IS_MICROPYTHON, heap_growth
from test_fw_controller import Rig

# The requirements (requirements/*.yaml) these tests verify; a dict, not a pytest
# marker, because the module runs in the MicroPython VM too (hil/trace/pytest_plugin.py).
VERIFIES = {
    "test_tick_does_not_allocate_over_10000_ticks_nor_in_a_ramp": ("SR-MEM-1",),
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
