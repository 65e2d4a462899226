# The control tick allocates nothing (checked in the MicroPython VM, where
# micropython.heap_lock() turns any allocation into MemoryError).

import codes as C
from check import IS_MICROPYTHON
from test_fw_controller import Rig


def test_tick_does_not_allocate_over_10000_ticks():
    if not IS_MICROPYTHON:
        return  # only the MicroPython VM can tell
    import gc
    import micropython
    r = Rig()
    r.to_running()
    ctl = r.ctl
    ev = ctl.events
    gc.collect()
    before = gc.mem_alloc()
    micropython.heap_lock()
    try:
        n = 0
        while n < 10000:
            # Vary the inputs so alarm paths run too: flow dips every 2,000
            # ticks long enough for the medium flow alarm, then recovers.
            q = 1000 if (n % 2000) < 150 else 2000
            ctl.tick(-800, 1400, 800, q, 0)
            if ev.count:
                ev.drop(ev.count)
            n += 1
    finally:
        micropython.heap_unlock()
    assert gc.mem_alloc() == before
    assert ctl.state == C.RUNNING
