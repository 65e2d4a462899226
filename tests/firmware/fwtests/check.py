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
