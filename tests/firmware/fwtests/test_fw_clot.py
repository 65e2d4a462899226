# Clot detection (clot.py): learning the fresh cartridge's pressure drop,
# judging the drop against it, scaling it with the set flow.

import clot

# The requirements (requirements/*.yaml) these tests verify; a dict, not a pytest
# marker, because the module runs in the MicroPython VM too (hil/trace/pytest_plugin.py).
VERIFIES = {
    "test_the_baseline_follows_the_set_flow": ("SR-CLOT-1",),
}


def learned(settle=3, learn=4, rise=100, drops=(300, 302, 298, 304)):
    # A state that settled for `settle` ticks and then learned `drops`.
    c = clot.new(settle, learn, rise)
    for _ in range(settle):
        assert clot.watch(c, True, 999) == -1   # settling: not summed
    for d in drops:
        assert clot.watch(c, True, d) == -1     # learning: no judgement yet
    return c


def test_no_judgement_until_the_baseline_is_learned():
    c = clot.new(3, 4, 100)
    assert c[0] == -1
    c = learned()
    assert c[0] == (300 + 302 + 298 + 304) // 4
    assert clot.watch(c, True, 301 + 100) == 0
    assert clot.watch(c, True, 301 + 101) == 1


def test_no_judgement_while_ramping_and_settling_starts_again():
    c = clot.new(3, 2, 100)
    clot.watch(c, True, 500)
    clot.watch(c, True, 500)
    assert clot.watch(c, False, 500) == -1      # the set flow changed: ramping
    for _ in range(3):
        clot.watch(c, True, 999)                # settling again, not summed
    clot.watch(c, True, 200)
    clot.watch(c, True, 400)
    assert c[0] == 300
    assert clot.watch(c, False, 5000) == -1     # ramping: never judged


def test_the_baseline_follows_the_set_flow():
    c = learned()
    clot.scale(c, 2000, 3000)
    assert c[0] == 301 * 3000 // 2000
    assert clot.watch(c, True, 451 + 100) == 0
    # Not learned yet: nothing to scale.
    c = clot.new(3, 4, 100)
    clot.scale(c, 2000, 3000)
    assert c[0] == -1


def test_rebase_takes_a_stored_baseline_or_learns_again():
    c = learned()
    clot.rebase(c, -1)                          # a fresh cartridge
    assert c[0] == -1
    for _ in range(3):
        clot.watch(c, True, 999)                # settles again
    for d in (100, 100, 100, 100):
        clot.watch(c, True, d)
    assert c[0] == 100                          # nothing of the old sums left
    clot.rebase(c, 250)                         # the stored one, after a reset
    assert c[0] == 250
    assert clot.watch(c, True, 351) == 1
