# The therapy state machine as an explicit table. Every change of state goes
# through target(); anything not in the table is refused. And what the
# states mean for the blood in the circuit.

from micropython import const

# The codes (codes.py) this module uses, as private constants (docs/firmware.md, Memory).
_IDLE = const(0)
_PRIMING = const(1)
_READY = const(2)
_RUNNING = const(3)
_PAUSED = const(4)
_EXCHANGE = const(5)
_COMPLETE = const(6)
_SAFE = const(7)
_CMD_PRIME = const(1)
_CMD_START = const(2)
_CMD_PAUSE = const(3)
_CMD_RESUME = const(4)
_CMD_STOP = const(5)
_CMD_CONFIRM_EXCHANGE = const(8)
_CMD_ACK_ALARMS = const(9)
_CMD_REQUEST_EXCHANGE = const(15)

# Internal triggers (not operator commands); numbered above every CMD_* code.
T_PRIMED = 100          # priming volume reached
T_CARTRIDGE_DUE = 101   # cartridge reached its use limit, more cartridges allowed
T_LAST_CARTRIDGE = 102  # the last allowed cartridge reached its use limit
T_HIGH_ALARM = 103      # a high-priority alarm was determined

# (from, trigger, to), a row a line. docs/firmware.md draws this table.
# One flat tuple, three ints a row: a tuple per row would take more RAM.
TRANSITIONS = (
    _IDLE, _CMD_PRIME, _PRIMING,
    _PRIMING, T_PRIMED, _READY,
    _PRIMING, _CMD_STOP, _COMPLETE,
    _READY, _CMD_START, _RUNNING,
    _READY, _CMD_STOP, _COMPLETE,
    _RUNNING, _CMD_PAUSE, _PAUSED,
    _RUNNING, _CMD_STOP, _COMPLETE,
    _RUNNING, T_CARTRIDGE_DUE, _EXCHANGE,
    _RUNNING, T_LAST_CARTRIDGE, _COMPLETE,
    _RUNNING, T_HIGH_ALARM, _SAFE,
    _PAUSED, _CMD_RESUME, _RUNNING,
    _PAUSED, _CMD_STOP, _COMPLETE,
    _PAUSED, _CMD_REQUEST_EXCHANGE, _EXCHANGE,
    _PAUSED, T_HIGH_ALARM, _SAFE,
    _EXCHANGE, _CMD_CONFIRM_EXCHANGE, _PRIMING,
    _EXCHANGE, _CMD_STOP, _COMPLETE,
    _SAFE, _CMD_ACK_ALARMS, _PAUSED,
    _SAFE, _CMD_STOP, _COMPLETE,
)


def target(state, trigger):
    # The state that trigger leads to from state, or -1 if undefined.
    t = TRANSITIONS
    i = 0
    while i < len(t):
        if t[i] == state and t[i + 1] == trigger:
            return t[i + 2]
        i += 3
    return -1


def blood_stands(state):
    # Blood stands in the circuit with the pump off (paused, safe, and
    # exchange, where the spent cartridge waits with blood in it): blood
    # stasis is watched there, and a reset there is mid-therapy.
    return state == _PAUSED or state == _SAFE or state == _EXCHANGE
