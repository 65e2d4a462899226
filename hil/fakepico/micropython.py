# A stand-in for MicroPython's micropython module, for the firmware under
# CPython (its unit tests, and the host loading codes, states or the board
# schema). The firmware imports only const from it; in the MicroPython VM
# the built-in module always wins over this file, so the real const (folded
# into the bytecode by the compiler) is what runs on a board.
#
# tests/firmware/conftest.py puts this folder on the module path;
# hil.board.firmware.firmware_module() loads this file as micropython.


def const(x):
    # Under CPython a private constant is just a module global.
    return x
