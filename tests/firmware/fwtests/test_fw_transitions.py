# Every row of the transition table, driven through the controller; every
# command that is not in the table for a state is refused with E_STATE.

import codes as C
import names as N
import states
from check import rows
from test_fw_controller import Rig

# The requirements (requirements/*.yaml) these tests verify; a dict, not a pytest
# marker, because the module runs in the MicroPython VM too (hil/trace/pytest_plugin.py).
VERIFIES = {
    "test_every_transition_in_the_table": ("SR-STATE-1",),
    "test_commands_outside_the_table_are_refused": ("SR-STATE-1",),
}


def in_state(state):
    # A rig whose controller is in `state`, reached the way an operator would.
    r = Rig(cartridge_hours=1)
    if state == C.IDLE:
        return r
    if state == C.PRIMING:
        r.cmd(C.CMD_SET_WEIGHT, 700)
        r.cmd(C.CMD_PRIME)
        r.run(5)
    elif state == C.READY:
        r.to_ready()
    elif state == C.COMPLETE:
        r.to_ready()
        r.cmd(C.CMD_STOP)
    else:
        r.to_running()
        if state == C.PAUSED:
            r.cmd(C.CMD_PAUSE)
            r.run(1)
        elif state == C.SAFE:
            r.air = 1
            r.run(1)
            r.air = 0
            r.run(1)
        elif state == C.EXCHANGE:
            r.run(36000)
    assert r.ctl.state == state, (state, r.ctl.state)
    return r


def fire(r, trigger):
    # Apply a trigger; returns the command's result, or None for internal ones.
    if trigger == C.CMD_START:
        # Its conditions: anticoagulation started, aPTT in range.
        r.cmd(C.CMD_HEPARIN_START)
        r.cmd(C.CMD_APTT, 700)
    if trigger < 100:
        return r.cmd(trigger)
    if trigger == states.T_PRIMED:
        r.run(2100)
    elif trigger == states.T_CARTRIDGE_DUE:
        r.run(36000)
    elif trigger == states.T_LAST_CARTRIDGE:
        r.ctl.cart_no = r.ctl.cart_max
        r.run(36000)
    elif trigger == states.T_HIGH_ALARM:
        r.air = 1
        r.run(1)
    return None


def test_every_transition_in_the_table():
    for frm, trig, to in rows(states.TRANSITIONS):
        r = in_state(frm)
        result = fire(r, trig)
        assert result in (None, C.OK), (frm, trig, result)
        if trig < 100:
            r.run(1)
        assert r.ctl.state == to, (N.STATE_NAMES[frm], trig, N.STATE_NAMES[r.ctl.state])


def test_commands_outside_the_table_are_refused():
    moving = (C.CMD_PRIME, C.CMD_START, C.CMD_PAUSE, C.CMD_RESUME, C.CMD_STOP,
              C.CMD_CONFIRM_EXCHANGE, C.CMD_REQUEST_EXCHANGE)
    for state in range(8):
        for cmd in moving:
            if states.target(state, cmd) >= 0:
                continue
            r = in_state(state)
            assert r.cmd(cmd) == C.E_STATE, (N.STATE_NAMES[state], N.CMD_NAMES[cmd])
            assert r.ctl.state == state
