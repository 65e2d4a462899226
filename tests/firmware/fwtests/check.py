# Helpers for firmware tests that run unchanged on CPython (under pytest)
# and inside the MicroPython VM (under mprun.py).

import json
import sys

IS_MICROPYTHON = sys.implementation.name == "micropython"


def raises(exc, fn, *args):
    # Return the exception fn(*args) raised; fail if it raised none.
    try:
        fn(*args)
    except exc as e:
        return e
    raise AssertionError("%s not raised" % exc.__name__)


def board_config(**therapy):
    # The virtual board's config, with therapy settings overridden.
    with open("board-configs/virtual.json") as f:
        cfg = json.load(f)
    for k in therapy:
        cfg["therapy"][k] = therapy[k]
    return cfg


def vectors():
    with open("tests/vectors/protocol_v1.json") as f:
        return json.load(f)


def unhex(s):
    return bytes(int(s[i:i + 2], 16) for i in range(0, len(s), 2))


def rows(table):
    # The rows of a flat table of three ints a row (states.TRANSITIONS), as tuples.
    return [tuple(table[i:i + 3]) for i in range(0, len(table), 3)]


def heap_growth(ctl, n, step):
    # Runs step(k) for k = 0 .. n-1 (each a control tick of ctl) under
    # micropython.heap_lock(), where any allocation raises MemoryError,
    # draining the events as the host would. The MicroPython VM only.
    # Returns how many bytes the heap grew by: 0 when nothing was kept.
    import gc
    import micropython
    ev = ctl.events
    ev.drop(ev.count)
    gc.collect()
    before = gc.mem_alloc()
    micropython.heap_lock()
    try:
        k = 0
        while k < n:
            step(k)
            if ev.count:
                ev.drop(ev.count)
            k += 1
    finally:
        micropython.heap_unlock()
    return gc.mem_alloc() - before
