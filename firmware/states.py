# The therapy state machine as an explicit table. Every change of state goes
# through allowed(); anything not in the table is refused.

from codes import (IDLE, PRIMING, READY, RUNNING, PAUSED, EXCHANGE, COMPLETE, SAFE,
                   CMD_PRIME, CMD_START, CMD_PAUSE, CMD_RESUME, CMD_STOP,
                   CMD_CONFIRM_EXCHANGE, CMD_ACK_ALARMS, CMD_REQUEST_EXCHANGE)

# Internal triggers (not operator commands); numbered above every CMD_* code.
T_PRIMED = 100          # priming volume reached
T_CARTRIDGE_DUE = 101   # cartridge reached its use limit, more cartridges allowed
T_LAST_CARTRIDGE = 102  # the last allowed cartridge reached its use limit
T_HIGH_ALARM = 103      # a high-priority alarm was determined

# (from, trigger, to). docs/firmware.md draws this table.
TRANSITIONS = (
    (IDLE, CMD_PRIME, PRIMING),
    (PRIMING, T_PRIMED, READY),
    (PRIMING, CMD_STOP, COMPLETE),
    (READY, CMD_START, RUNNING),
    (READY, CMD_STOP, COMPLETE),
    (RUNNING, CMD_PAUSE, PAUSED),
    (RUNNING, CMD_STOP, COMPLETE),
    (RUNNING, T_CARTRIDGE_DUE, EXCHANGE),
    (RUNNING, T_LAST_CARTRIDGE, COMPLETE),
    (RUNNING, T_HIGH_ALARM, SAFE),
    (PAUSED, CMD_RESUME, RUNNING),
    (PAUSED, CMD_STOP, COMPLETE),
    (PAUSED, CMD_REQUEST_EXCHANGE, EXCHANGE),
    (PAUSED, T_HIGH_ALARM, SAFE),
    (EXCHANGE, CMD_CONFIRM_EXCHANGE, PRIMING),
    (EXCHANGE, CMD_STOP, COMPLETE),
    (SAFE, CMD_ACK_ALARMS, PAUSED),
    (SAFE, CMD_STOP, COMPLETE),
)


def target(state, trigger):
    # The state that trigger leads to from state, or -1 if undefined.
    for frm, trig, to in TRANSITIONS:
        if frm == state and trig == trigger:
            return to
    return -1


def _masks():
    # allowed[from] has bit `to` set when some trigger leads from -> to;
    # lets the control tick check a transition without allocating.
    m = [0] * 8
    for frm, _trig, to in TRANSITIONS:
        m[frm] |= 1 << to
    return tuple(m)


ALLOWED = _masks()


def allowed(state, to):
    return (ALLOWED[state] >> to) & 1 == 1
