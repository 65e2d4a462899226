# The controller: states, flow set point, protective functions, timers.

import codes as C
from check import board_config
from controller import Controller

# The requirements (requirements/*.yaml) these tests verify; a dict, not a pytest
# marker, because the module runs in the MicroPython VM too (hil/trace/pytest_plugin.py).
VERIFIES = {
    "test_boot_outputs_are_safe": ("SR-PWR-1",),
    "test_flow_set_point_range": ("SR-FLOW-3",),
    "test_undefined_transitions_give_an_error_code": ("SR-STATE-1",),
    "test_start_needs_the_weight": ("SR-HEP-2",),
    "test_blood_flow_waits_for_heparin_and_an_aptt_in_range": ("SR-HEP-2", "SR-HEP-5"),
    "test_a_bolus_asked_for_while_the_line_stands_waits_for_blood_flow": ("SR-HEP-5",),
    "test_override_starts_once_and_is_logged": ("SR-HEP-2",),
    "test_air_makes_safe_in_the_same_tick": ("SR-AIR-1", "SR-SAFE-1"),
    "test_acknowledge_leaves_safe_only_when_air_is_gone": ("SR-SAFE-2",),
    "test_access_pressure_low_after_one_second": ("SR-PRES-1",),
    "test_return_pressure_high_after_three_seconds": ("SR-PRES-2",),
    "test_return_pressure_low_after_three_seconds": ("SR-PRES-3",),
    "test_pre_cartridge_pressure_high": ("SR-PRES-4",),
    "test_no_flow_after_two_minutes": ("SR-FLOW-1",),
    "test_flow_below_70_percent_is_a_medium_alarm": ("SR-FLOW-2",),
    "test_clotting_raises_a_medium_alarm_from_the_baseline": ("SR-CLOT-1",),
    "test_cartridge_timer_counts_only_flowing_ticks_and_asks_for_exchange": ("SR-CART-1",),
    "test_at_most_seven_cartridges_then_complete": ("SR-CART-2",),
    "test_aptt_entry_titrates_and_reminds": ("SR-HEP-3", "SR-HEP-4"),
    "test_pause_stops_pump_clamp_and_heparin": ("SR-STATE-1",),
    "test_missing_sensor_samples_make_safe_after_half_a_second": ("SR-SENS-1",),
    "test_a_few_missing_samples_are_tolerated": ("SR-SENS-1",),
}


class Rig:
    # Feeds the controller plausible sensor readings that follow its own
    # pump output, with optional overrides per reading.
    def __init__(self, **therapy):
        self.ctl = Controller(board_config(**therapy))
        self.p_acc = None
        self.p_pre = None
        self.p_ret = None
        self.q = None
        self.air = 0
        self.drop_extra = 0

    def run(self, n):
        ctl = self.ctl
        for _ in range(n):
            q = ctl.out_pump if ctl.out_clamp else 0
            q = q if self.q is None else self.q
            p_acc = -4 * q // 10 if self.p_acc is None else self.p_acc
            p_ret = 50 + 4 * q // 10 if self.p_ret is None else self.p_ret
            p_pre = p_ret + 3 * q // 10 + self.drop_extra if self.p_pre is None else self.p_pre
            ctl.tick(p_acc, p_pre, p_ret, q, self.air)

    def cmd(self, code, arg=0):
        return self.ctl.command(code, arg)

    def to_ready(self):
        assert self.cmd(C.CMD_SET_WEIGHT, 700) == C.OK
        assert self.cmd(C.CMD_PRIME) == C.OK
        self.run(3000)
        assert self.ctl.state == C.READY

    def to_running(self):
        self.to_ready()
        assert self.cmd(C.CMD_HEPARIN_START) == C.OK
        assert self.cmd(C.CMD_APTT, 700) == C.OK
        assert self.cmd(C.CMD_START) == C.OK
        self.run(50)
        assert self.ctl.state == C.RUNNING


def drain(ctl):
    ev = ctl.events
    out = []
    for k in range(ev.count):
        i = ev.peek(k)
        out.append(tuple(ev.buf[i:i + 5]))
    ev.drop(ev.count)
    return out


def test_boot_outputs_are_safe():
    ctl = Rig().ctl
    assert (ctl.out_pump, ctl.out_clamp, ctl.out_hep) == (0, 0, 0)
    assert ctl.state == C.IDLE


def test_flow_set_point_range():
    r = Rig()
    assert r.cmd(C.CMD_SET_FLOW, 149) == C.E_RANGE
    assert r.cmd(C.CMD_SET_FLOW, 501) == C.E_RANGE
    assert r.cmd(C.CMD_SET_FLOW, 150) == C.OK
    assert r.cmd(C.CMD_SET_FLOW, 500) == C.OK
    assert r.ctl.flow_set == 5000


def test_undefined_transitions_give_an_error_code():
    r = Rig()
    assert r.cmd(C.CMD_START) == C.E_STATE
    assert r.cmd(C.CMD_RESUME) == C.E_STATE
    assert r.cmd(C.CMD_CONFIRM_EXCHANGE) == C.E_STATE
    assert r.cmd(99) == C.E_UNKNOWN
    assert r.ctl.state == C.IDLE


def test_start_needs_the_weight():
    r = Rig()
    r.cmd(C.CMD_PRIME)
    r.run(3000)
    assert r.cmd(C.CMD_HEPARIN_START) == C.E_CONDITION
    assert r.cmd(C.CMD_START) == C.E_CONDITION
    assert r.ctl.state == C.READY


def test_blood_flow_waits_for_heparin_and_an_aptt_in_range():
    r = Rig()
    r.to_ready()
    assert r.cmd(C.CMD_START) == C.E_CONDITION          # no heparin yet
    assert r.cmd(C.CMD_HEPARIN_START) == C.OK
    assert r.cmd(C.CMD_HEPARIN_START) == C.E_STATE      # only once
    r.run(1)
    # The protocol has started, but heparin goes into the line only while
    # blood flows: pump off, clamp closed, no infusion, no bolus (the
    # loading dose is the nurse's, IV).
    assert (r.ctl.out_pump, r.ctl.out_clamp) == (0, 0)
    assert r.ctl.hep.started and r.ctl.hep.rate == 12600
    assert r.ctl.out_hep == 0 and r.ctl.out_bolus == 0
    assert r.cmd(C.CMD_START) == C.E_CONDITION          # no aPTT yet
    for aptt in (450, 590, 810, 1200):                  # out of 60-80 s
        assert r.cmd(C.CMD_APTT, aptt) == C.OK
        assert r.cmd(C.CMD_START) == C.E_CONDITION, aptt
    for aptt in (600, 800):                             # the range's edges
        r.cmd(C.CMD_APTT, aptt)
        assert r.ctl.hep.in_range()
    assert r.cmd(C.CMD_START) == C.OK
    assert r.ctl.state == C.RUNNING


def test_override_starts_once_and_is_logged():
    r = Rig()
    r.to_ready()
    r.cmd(C.CMD_HEPARIN_START)
    r.cmd(C.CMD_APTT, 450)
    drain(r.ctl)
    assert r.cmd(C.CMD_OVERRIDE_APTT) == C.OK
    assert (C.EV_OVERRIDE, 1, 450) in [(e[1], e[2], e[4]) for e in drain(r.ctl)]
    assert r.cmd(C.CMD_START) == C.OK
    r.run(30)
    r.cmd(C.CMD_PAUSE)
    r.run(1)
    assert r.cmd(C.CMD_STOP) == C.OK
    # The override was used up by that start.
    assert not r.ctl.override


def test_override_only_when_ready():
    r = Rig()
    assert r.cmd(C.CMD_OVERRIDE_APTT) == C.E_STATE


def test_priming_ends_at_the_volume():
    r = Rig()
    r.cmd(C.CMD_PRIME)
    r.run(10)
    assert r.ctl.out_pump > 0 and r.ctl.out_clamp == 1 and r.ctl.out_hep == 0
    # 500 mL at 150 mL/min is 200 s = 2000 ticks, plus the ramp
    r.run(1990)
    assert r.ctl.state == C.PRIMING
    r.run(30)
    assert r.ctl.state == C.READY
    assert r.ctl.out_pump == 0


def test_start_ramps_to_the_set_point_with_heparin_running():
    r = Rig()
    r.to_running()
    ctl = r.ctl
    assert ctl.out_pump == 2000 and ctl.out_clamp == 1
    assert ctl.out_hep == 12600 and ctl.out_bolus == 0


def test_air_makes_safe_in_the_same_tick():
    r = Rig()
    r.to_running()
    drain(r.ctl)
    r.air = 1
    r.run(1)
    ctl = r.ctl
    assert ctl.state == C.SAFE
    assert (ctl.out_pump, ctl.out_clamp, ctl.out_hep) == (0, 0, 0)
    kinds = [(e[1], e[2]) for e in drain(ctl)]
    assert (C.EV_ALARM_ON, C.AL_AIR) in kinds
    assert (C.EV_STATE, C.SAFE) in kinds


def test_acknowledge_leaves_safe_only_when_air_is_gone():
    r = Rig()
    r.to_running()
    r.air = 1
    r.run(1)
    assert r.cmd(C.CMD_ACK_ALARMS) == C.E_CONDITION
    assert r.ctl.state == C.SAFE
    r.air = 0
    r.run(1)
    assert r.cmd(C.CMD_ACK_ALARMS) == C.OK
    assert r.ctl.state == C.PAUSED
    assert r.cmd(C.CMD_RESUME) == C.OK
    r.run(40)
    assert r.ctl.state == C.RUNNING and r.ctl.out_pump == 2000


def _trips_after(r, ticks_needed):
    r.run(ticks_needed - 1)
    assert r.ctl.state == C.RUNNING
    r.run(1)
    assert r.ctl.state == C.SAFE
    assert r.ctl.out_pump == 0 and r.ctl.out_clamp == 0


def test_access_pressure_low_after_one_second():
    r = Rig()
    r.to_running()
    r.p_acc = -2600
    _trips_after(r, 10)
    assert r.ctl.alarms.is_set(C.AL_ACCESS_LOW)


def test_return_pressure_high_after_three_seconds():
    r = Rig()
    r.to_running()
    r.p_ret = 3100
    _trips_after(r, 30)
    assert r.ctl.alarms.is_set(C.AL_RETURN_HIGH)


def test_return_pressure_low_after_three_seconds():
    r = Rig()
    r.to_running()
    r.p_ret = 100
    _trips_after(r, 30)
    assert r.ctl.alarms.is_set(C.AL_RETURN_LOW)


def test_pre_cartridge_pressure_high():
    r = Rig()
    r.to_running()
    r.p_pre = 4600
    _trips_after(r, 30)
    assert r.ctl.alarms.is_set(C.AL_PRE_HIGH)


def test_no_flow_after_two_minutes():
    r = Rig()
    r.to_running()
    # A flow sensor reading zero while the pressures still look normal.
    r.q = 0
    r.p_acc, r.p_pre, r.p_ret = -800, 1450, 850
    r.run(1199)
    assert r.ctl.state == C.RUNNING
    assert r.ctl.alarms.is_set(C.AL_FLOW_LOW)   # medium alarm came first
    r.run(1)
    assert r.ctl.state == C.SAFE
    assert r.ctl.alarms.is_set(C.AL_NO_FLOW)


def test_flow_below_70_percent_is_a_medium_alarm():
    r = Rig()
    r.to_running()
    r.q = 1350   # 67.5% of 200 mL/min
    r.run(99)
    assert not r.ctl.alarms.is_set(C.AL_FLOW_LOW)
    r.run(1)
    assert r.ctl.alarms.is_set(C.AL_FLOW_LOW)
    assert r.ctl.state == C.RUNNING
    r.q = 1450   # 72.5%
    r.run(1)
    assert not r.ctl.alarms.is_set(C.AL_FLOW_LOW)


def test_clotting_raises_a_medium_alarm_from_the_baseline():
    r = Rig()
    r.to_running()
    r.run(1300)          # settle 60 s + baseline 60 s
    assert r.ctl.clot[0] == 3 * 2000 // 10   # the learned baseline (clot.py)
    r.drop_extra = 900   # +90 mmHg: below the 100 mmHg rise
    r.run(600)
    assert not r.ctl.alarms.is_set(C.AL_CLOT)
    r.drop_extra = 1100
    r.run(299)
    assert not r.ctl.alarms.is_set(C.AL_CLOT)
    r.run(1)
    assert r.ctl.alarms.is_set(C.AL_CLOT)
    assert r.ctl.state == C.RUNNING


def test_cartridge_timer_counts_only_flowing_ticks_and_asks_for_exchange():
    r = Rig(cartridge_hours=1)
    r.to_running()
    used = r.ctl.cart_used
    r.q = 400   # 40 mL/min: below the 50 mL/min counted as blood flowing
    r.p_acc, r.p_pre, r.p_ret = -800, 1450, 850
    r.run(90)
    assert r.ctl.cart_used == used
    r.q = r.p_acc = r.p_pre = r.p_ret = None
    r.run(36000 - used - 1)
    assert r.ctl.state == C.RUNNING
    r.run(1)
    assert r.ctl.state == C.EXCHANGE
    assert r.ctl.out_pump == 0 and r.ctl.out_clamp == 0
    assert r.ctl.alarms.is_set(C.AL_EXCHANGE_DUE)
    assert r.cmd(C.CMD_CONFIRM_EXCHANGE) == C.OK
    assert r.ctl.cart_no == 2 and r.ctl.cart_used == 0
    assert r.ctl.state == C.PRIMING


def test_at_most_seven_cartridges_then_complete():
    r = Rig(cartridge_hours=1)
    r.to_running()
    for n in range(1, 8):
        assert r.ctl.cart_no == n
        r.run(36000)
        if n < 7:
            assert r.ctl.state == C.EXCHANGE, n
            r.cmd(C.CMD_CONFIRM_EXCHANGE)
            r.run(3000)
            assert r.cmd(C.CMD_START) == C.OK
            r.run(30)
    assert r.ctl.state == C.COMPLETE
    assert r.ctl.alarms.is_set(C.AL_THERAPY_COMPLETE)
    assert r.cmd(C.CMD_START) == C.E_STATE


def test_a_bolus_asked_for_while_the_line_stands_waits_for_blood_flow():
    r = Rig()
    r.to_running()
    assert r.cmd(C.CMD_PAUSE) == C.OK
    r.run(10)
    assert (r.ctl.out_pump, r.ctl.out_clamp, r.ctl.out_hep) == (0, 0, 0)
    assert r.cmd(C.CMD_APTT, 500) == C.OK      # 50 s: a 40 U/kg bolus is due
    r.run(600)
    assert r.ctl.hep.bolus_total == 2800 and r.ctl.out_bolus == 0
    assert r.cmd(C.CMD_RESUME) == C.OK
    r.run(1)
    r.run(30)
    assert r.ctl.out_pump > 0 and r.ctl.out_clamp == 1
    assert r.ctl.out_bolus == 2800


def test_aptt_entry_titrates_and_reminds():
    r = Rig()
    r.to_running()
    assert r.cmd(C.CMD_APTT, 50) == C.E_RANGE
    assert r.cmd(C.CMD_APTT, 500) == C.OK      # 50 s: row 1, +40 U/kg bolus, +2 U/kg/h
    r.run(1)
    assert r.ctl.out_bolus == 2800
    assert r.ctl.out_hep == 12600 + 1400
    r.run(6 * 36000)
    assert r.ctl.alarms.is_set(C.AL_APTT_DUE)
    assert r.cmd(C.CMD_APTT, 700) == C.OK
    assert not r.ctl.alarms.is_set(C.AL_APTT_DUE)


def test_pause_stops_pump_clamp_and_heparin():
    r = Rig()
    r.to_running()
    assert r.cmd(C.CMD_PAUSE) == C.OK
    r.run(1)
    assert (r.ctl.out_pump, r.ctl.out_clamp, r.ctl.out_hep) == (0, 0, 0)
    # Blood standing still for 60 s (600 ticks of no flow) is a medium alarm.
    r.run(599)
    assert not r.ctl.alarms.is_set(C.AL_STASIS)
    r.run(1)
    assert r.ctl.alarms.is_set(C.AL_STASIS)
    assert r.ctl.alarms.top == C.PRIO_MEDIUM
    assert r.cmd(C.CMD_RESUME) == C.OK
    r.run(1)
    assert not r.ctl.alarms.is_set(C.AL_STASIS)


def test_missing_sensor_samples_make_safe_after_half_a_second():
    r = Rig()
    r.to_running()
    ctl = r.ctl
    for _ in range(4):
        ctl.tick(0, 0, 0, 0, C.FLAG_MISSING)
    assert ctl.state == C.RUNNING and ctl.out_pump == 2000   # outputs held
    ctl.tick(0, 0, 0, 0, C.FLAG_MISSING)
    assert ctl.state == C.SAFE
    assert (ctl.out_pump, ctl.out_clamp, ctl.out_hep) == (0, 0, 0)
    assert ctl.alarms.is_set(C.AL_SENSOR_LOSS)
    r.run(1)                                                # data back
    assert ctl.command(C.CMD_ACK_ALARMS, 0) == C.OK
    assert ctl.state == C.PAUSED


def test_a_few_missing_samples_are_tolerated():
    r = Rig()
    r.to_running()
    for _ in range(3):
        for _ in range(4):
            r.ctl.tick(0, 0, 0, 0, C.FLAG_MISSING)
        r.run(1)
    assert r.ctl.state == C.RUNNING
    assert not r.ctl.alarms.is_set(C.AL_SENSOR_LOSS)


def test_time_scale_only_in_test_mode():
    r = Rig()
    assert r.cmd(C.CMD_TIME_SCALE, 10) == C.OK and r.ctl.time_scale == 10
    assert r.cmd(C.CMD_TIME_SCALE, 0) == C.E_RANGE
    r.ctl.test_mode = False
    assert r.cmd(C.CMD_TIME_SCALE, 10) == C.E_TEST_ONLY
