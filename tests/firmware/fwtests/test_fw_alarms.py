# Alarm conditions, delays, priorities, latching, audio pause.

import codes as C
from alarms import Alarms
from events import EventQueue

# The requirements (requirements/*.yaml) these tests verify; a dict, not a pytest
# marker, because the module runs in the MicroPython VM too (hil/trace/pytest_plugin.py).
VERIFIES = {
    "test_condition_must_hold_for_the_delay": ("SR-ALM-1",),
    "test_medium_alarm_clears_with_its_condition": ("SR-ALM-1",),
    "test_high_alarm_latches_until_acknowledged": ("SR-ALM-1",),
    "test_audio_pause_is_cancelled_by_a_new_alarm": ("SR-ALM-2",),
}


def make(delay=3):
    ev = EventQueue(16)
    prio = [0] * C.N_ALARMS
    prio[C.AL_AIR] = C.PRIO_HIGH
    prio[C.AL_FLOW_LOW] = C.PRIO_MEDIUM
    prio[C.AL_APTT_DUE] = C.PRIO_LOW
    delays = [delay] * C.N_ALARMS
    return Alarms(ev, prio, delays), ev


def test_condition_must_hold_for_the_delay():
    al, ev = make(3)
    al.check(1, C.AL_FLOW_LOW, True, 5)
    al.check(2, C.AL_FLOW_LOW, True, 5)
    assert not al.is_set(C.AL_FLOW_LOW)
    al.check(3, C.AL_FLOW_LOW, True, 7)
    assert al.is_set(C.AL_FLOW_LOW)
    assert al.top == C.PRIO_MEDIUM
    i = ev.peek(0)
    assert list(ev.buf[i:i + 5]) == [3, C.EV_ALARM_ON, C.AL_FLOW_LOW, C.PRIO_MEDIUM, 7]


def test_interrupted_condition_restarts_the_delay():
    al, _ = make(3)
    al.check(1, C.AL_FLOW_LOW, True, 0)
    al.check(2, C.AL_FLOW_LOW, True, 0)
    al.check(3, C.AL_FLOW_LOW, False, 0)
    al.check(4, C.AL_FLOW_LOW, True, 0)
    al.check(5, C.AL_FLOW_LOW, True, 0)
    assert not al.is_set(C.AL_FLOW_LOW)


def test_medium_alarm_clears_with_its_condition():
    al, _ = make(1)
    al.check(1, C.AL_FLOW_LOW, True, 0)
    al.check(2, C.AL_FLOW_LOW, False, 0)
    assert not al.is_set(C.AL_FLOW_LOW)
    assert al.top == C.PRIO_NONE


def test_high_alarm_latches_until_acknowledged():
    al, _ = make(1)
    al.check(1, C.AL_AIR, True, 0)
    assert al.new_high
    al.check(2, C.AL_AIR, False, 0)
    assert al.is_set(C.AL_AIR)
    assert al.top == C.PRIO_HIGH
    assert al.acknowledge(3) == 0
    assert not al.is_set(C.AL_AIR)
    assert al.top == C.PRIO_NONE


def test_acknowledge_keeps_an_alarm_whose_condition_persists():
    al, _ = make(1)
    al.check(1, C.AL_AIR, True, 0)
    remaining = al.acknowledge(2)
    assert remaining == 1 << C.AL_AIR
    assert al.is_set(C.AL_AIR)


def test_audio_pause_is_cancelled_by_a_new_alarm():
    al, _ = make(1)
    al.check(1, C.AL_APTT_DUE, True, 0)
    assert al.audible(1)
    assert al.pause_audio(1, 1200)
    assert not al.audible(500)
    assert al.audible(1201)
    al.check(600, C.AL_FLOW_LOW, True, 0)
    assert al.audible(601)


def test_audio_pause_refused_without_alarm():
    al, _ = make(1)
    assert not al.pause_audio(1, 1200)


def test_top_priority_is_the_highest_shown():
    al, _ = make(1)
    al.check(1, C.AL_APTT_DUE, True, 0)
    assert al.top == C.PRIO_LOW
    al.check(2, C.AL_FLOW_LOW, True, 0)
    assert al.top == C.PRIO_MEDIUM
    al.check(3, C.AL_AIR, True, 0)
    assert al.top == C.PRIO_HIGH


def test_a_lasting_condition_counts_no_further_than_its_delay():
    al, _ = make(3)
    for t in range(1, 100):
        al.check(t, C.AL_FLOW_LOW, True, 0)
    assert al.is_set(C.AL_FLOW_LOW) and al.count[C.AL_FLOW_LOW] == 3
    al.check(100, C.AL_FLOW_LOW, False, 0)
    assert not al.is_set(C.AL_FLOW_LOW) and al.count[C.AL_FLOW_LOW] == 0


def test_an_unanswered_alarm_is_raised_again_high_after_its_delay():
    al, ev = make(3)
    al.activate(1, C.AL_APTT_DUE, 9)            # raised directly, low
    al.unanswered(2, C.AL_APTT_DUE, 9)
    al.unanswered(3, C.AL_APTT_DUE, 9)
    assert al.prio[C.AL_APTT_DUE] == C.PRIO_LOW
    al.unanswered(4, C.AL_APTT_DUE, 9)
    assert al.prio[C.AL_APTT_DUE] == C.PRIO_HIGH and al.top == C.PRIO_HIGH
    assert not al.latched                       # an escalation does not latch
    al.unanswered(5, C.AL_APTT_DUE, 9)          # raised once only
    raised = []
    for k in range(ev.count):
        i = ev.peek(k)
        if ev.buf[i + 1] == C.EV_ALARM_ON:
            raised.append((ev.buf[i], ev.buf[i + 3]))
    assert raised == [(1, C.PRIO_LOW), (4, C.PRIO_HIGH)]
    # It ends at its escalated priority, and is low again next time.
    al.deactivate(6, C.AL_APTT_DUE)
    assert al.prio[C.AL_APTT_DUE] == C.PRIO_LOW and al.count[C.AL_APTT_DUE] == 0
