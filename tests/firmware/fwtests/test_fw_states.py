# The therapy state machine table.

import codes as C
import states
from check import rows


def allowed(frm, to):
    # Does some row of the table lead from frm to to?
    return any(f == frm and t == to for f, _g, t in rows(states.TRANSITIONS))


def test_every_row_of_the_table_is_found():
    for frm, trig, to in rows(states.TRANSITIONS):
        assert states.target(frm, trig) == to


def test_undefined_transitions_are_refused():
    assert states.target(C.IDLE, C.CMD_START) == -1
    assert states.target(C.COMPLETE, C.CMD_PRIME) == -1
    assert states.target(C.SAFE, C.CMD_RESUME) == -1
    assert states.target(C.RUNNING, 99) == -1
    assert not allowed(C.IDLE, C.RUNNING)
    assert not allowed(C.COMPLETE, C.RUNNING)
    assert not allowed(C.SAFE, C.RUNNING)


def test_safe_is_reachable_only_while_blood_circulates():
    for frm in range(8):
        expect = frm in (C.RUNNING, C.PAUSED)
        assert allowed(frm, C.SAFE) == expect, frm


def test_blood_stands_with_the_pump_off_in_paused_safe_and_exchange():
    for st in range(-1, 9):
        assert states.blood_stands(st) == (st in (C.PAUSED, C.SAFE, C.EXCHANGE)), st
    # A value from a damaged record is no state at all.
    assert not states.blood_stands(1000) and not states.blood_stands(-1000)


def test_table_has_no_duplicate_triggers():
    seen = []
    for frm, trig, _to in rows(states.TRANSITIONS):
        assert (frm, trig) not in seen
        seen.append((frm, trig))


def test_every_code_has_a_name():
    import names as N
    assert len(N.STATE_NAMES) == 8
    assert len(N.ALARM_NAMES) == C.N_ALARMS
    assert len(N.CMD_NAMES) == C.CMD_MAINTENANCE + 1
    assert len(N.EVENT_NAMES) == C.EV_RESTORED + 1
    assert len(N.RESET_NAMES) == C.RESET_FAULT + 1
    assert len(N.RESULT_NAMES) == C.E_UNSUPPORTED + 1


def test_private_constants_match_codes():
    # Firmware modules compile the codes they use into private constants
    # (no RAM on the board); on CPython they are ordinary names to compare.
    # A private constant named after a code, or after one in a comment
    # "codes.NAME", must have that code's value.
    from check import IS_MICROPYTHON
    if IS_MICROPYTHON:
        return   # compiled away there; nothing to compare
    checked = 0
    for modname in ("controller", "alarms", "states", "persist", "app", "hal.sim", "clot", "cartridge"):
        mod = __import__(modname)
        for part in modname.split(".")[1:]:
            mod = getattr(mod, part)
        for name in dir(mod):
            if name.startswith("_") and not name.startswith("__") and hasattr(C, name[1:]):
                assert getattr(mod, name) == getattr(C, name[1:]), (modname, name)
                checked += 1
    assert checked > 60
