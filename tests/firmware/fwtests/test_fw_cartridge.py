# Cartridge timing (cartridge.py): when a cartridge is spent, and what follows.

import codes as C
import cartridge
import states


def test_a_cartridge_with_time_left_asks_for_nothing():
    assert cartridge.spent(0, 864000, 1, 7) == 0
    assert cartridge.spent(863999, 864000, 7, 7) == 0


def test_a_spent_cartridge_is_exchanged_until_the_last_one():
    for n in range(1, 7):
        trigger = cartridge.spent(864000, 864000, n, 7)
        assert trigger == states.T_CARTRIDGE_DUE
        assert states.target(C.RUNNING, trigger) == C.EXCHANGE
        assert cartridge.alarm(trigger) == C.AL_EXCHANGE_DUE
    trigger = cartridge.spent(864000, 864000, 7, 7)
    assert trigger == states.T_LAST_CARTRIDGE
    assert states.target(C.RUNNING, trigger) == C.COMPLETE
    assert cartridge.alarm(trigger) == C.AL_THERAPY_COMPLETE
    # A board config with one cartridge: the first is the last.
    assert cartridge.spent(36000, 36000, 1, 1) == states.T_LAST_CARTRIDGE
