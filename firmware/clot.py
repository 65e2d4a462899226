# Clot detection from the pressure drop across the cartridge (pre-cartridge
# minus return pressure, 0.1 mmHg), which rises as the cartridge clots.
# Pure logic on integers. The fresh cartridge's drop, its baseline, is
# learned once the pump has held its set flow for a while; from then on a
# drop that much above the baseline suggests clotting. The baseline is
# scaled when the set flow changes (the drop is proportional to flow)
# rather than learned again, so that a clotting cartridge is never taken
# as the new normal.
#
# The state is one preallocated array of ints that the controller owns
# (new()), so that a control tick allocates nothing. Slot 0 is the
# baseline, which the controller reports and stores (-1: not learned yet).

from array import array

from micropython import const

_BASE = const(0)       # the fresh cartridge's drop; -1 until learned
_SETTLED = const(1)    # ticks at set flow so far, counted while learning
_SUM = const(2)        # sum of the drops learned so far
_N = const(3)          # how many drops were summed
_SETTLE = const(4)     # ticks at set flow before learning starts
_LEARN = const(5)      # ticks of drops that make the baseline
_RISE = const(6)       # rise above the baseline that suggests clotting


def new(settle, learn, rise):
    # settle, learn: ticks; rise: 0.1 mmHg (the board config's limits).
    return array("i", (-1, 0, 0, 0, settle, learn, rise))


def watch(c, ramped, drop):
    # One running tick with this pressure drop; ramped: the pump is at the
    # set flow. Returns 1 when the drop suggests clotting, 0 when it does
    # not, and -1 while there is no judgement (ramping, or still learning).
    if not ramped:
        c[_SETTLED] = 0
        return -1
    base = c[_BASE]
    if base >= 0:
        return 1 if drop > base + c[_RISE] else 0
    n = c[_SETTLED] + 1
    c[_SETTLED] = n
    if n > c[_SETTLE]:
        c[_SUM] += drop
        n = c[_N] + 1
        c[_N] = n
        if n >= c[_LEARN]:
            c[_BASE] = c[_SUM] // n
    return -1


def scale(c, flow, new_flow):
    # The set flow changes from flow to new_flow (the same unit): a learned
    # baseline follows it; one still being learned is left as it is.
    base = c[_BASE]
    if base >= 0 and flow > 0:
        c[_BASE] = base * new_flow // flow


def rebase(c, baseline):
    # A baseline from the stored record after a reset, or -1 to learn it
    # again (a fresh cartridge).
    c[_BASE] = baseline if baseline >= 0 else -1
    c[_SETTLED] = 0
    c[_SUM] = 0
    c[_N] = 0
