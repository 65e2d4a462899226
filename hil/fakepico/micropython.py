# A stand-in for MicroPython's micropython module, for the firmware under
# CPython (its unit tests, and the host loading codes, states or the board
# schema). The firmware imports const, heap_lock and heap_unlock from it; in
# the MicroPython VM the built-in module always wins over this file, so the
# real const (folded into the bytecode by the compiler) and the real heap
# lock are what run on a board.
#
# tests/firmware/conftest.py puts this folder on the module path;
# hil.board.firmware.firmware_module() loads this file as micropython.


def const(x):
    # Under CPython a private constant is just a module global.
    return x


# The heap lock's depth. CPython cannot refuse an allocation; the depth only
# lets tests see where the firmware holds the lock (MicroPython's
# heap_unlock returns the depth left, as this one does).
lock_depth = 0


def heap_lock():
    global lock_depth
    lock_depth += 1


def heap_unlock():
    global lock_depth
    if lock_depth <= 0:
        raise RuntimeError("heap_unlock without heap_lock")
    lock_depth -= 1
    return lock_depth
