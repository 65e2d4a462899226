# The therapy state machine table.

import codes as C
import states


def test_every_row_of_the_table_is_found():
    for frm, trig, to in states.TRANSITIONS:
        assert states.target(frm, trig) == to
        assert states.allowed(frm, to)


def test_undefined_transitions_are_refused():
    assert states.target(C.IDLE, C.CMD_START) == -1
    assert states.target(C.COMPLETE, C.CMD_PRIME) == -1
    assert states.target(C.SAFE, C.CMD_RESUME) == -1
    assert not states.allowed(C.IDLE, C.RUNNING)
    assert not states.allowed(C.COMPLETE, C.RUNNING)
    assert not states.allowed(C.SAFE, C.RUNNING)


def test_safe_is_reachable_only_while_blood_circulates():
    for frm in range(8):
        expect = frm in (C.RUNNING, C.PAUSED)
        assert states.allowed(frm, C.SAFE) == expect, frm


def test_table_has_no_duplicate_triggers():
    seen = []
    for frm, trig, _to in states.TRANSITIONS:
        assert (frm, trig) not in seen
        seen.append((frm, trig))
