# Cartridge timing, pure logic on integers. A cartridge is used for a set
# time of blood flow (therapy.cartridge_hours; only ticks with at least
# therapy.flowing_ml_min count), and a therapy uses at most
# therapy.max_cartridges: a spent cartridge is exchanged, the last one ends
# the therapy. The controller keeps the counts (cart_no, cart_used) and
# acts on the answers through the state table (states.py); an exchange
# left unconfirmed escalates as its alarm's delay runs out (alarms.py).

from micropython import const

_AL_EXCHANGE_DUE = const(10)
_AL_THERAPY_COMPLETE = const(11)
_T_CARTRIDGE_DUE = const(101)
_T_LAST_CARTRIDGE = const(102)


def spent(used, limit, cart_no, cart_max):
    # Cartridge cart_no after used ticks of blood flow (limit: its allowed
    # ticks). The state table's trigger it asks for: 0 while it has time
    # left, T_CARTRIDGE_DUE once spent with another one to come, and
    # T_LAST_CARTRIDGE once the last one allowed is spent.
    if used < limit:
        return 0
    if cart_no >= cart_max:
        return _T_LAST_CARTRIDGE
    return _T_CARTRIDGE_DUE


def alarm(trigger):
    # The alarm that goes with a spent cartridge's trigger: the exchange is
    # due, or (the last one) the therapy is complete.
    if trigger == _T_LAST_CARTRIDGE:
        return _AL_THERAPY_COMPLETE
    return _AL_EXCHANGE_DUE
