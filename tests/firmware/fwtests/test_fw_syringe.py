# The heparin syringe (firmware/devices/syringe.py): the step rate equals
# the commanded rate at every rate of the anticoagulation tables and of a
# bolus, heparin goes only into flowing blood, nothing is made up after a
# stop or a restart, and a period allocates nothing. Runs on CPython and in
# the MicroPython VM (the allocation check only there).

from check import IS_MICROPYTHON
from devices.syringe import Doser, Syringe, flowing
from heparin import TABLES

# The requirements (requirements/*.yaml) these tests verify (a dict: the
# module runs in the MicroPython VM too; hil/trace/pytest_plugin.py).
VERIFIES = {
    "test_nothing_while_blood_does_not_flow": ("SR-HEP-5",),
    "test_no_catch_up_after_a_stop": ("SR-HEP-5",),
    "test_a_bolus_asked_for_while_stopped_waits_for_the_flow_and_is_given_once": ("SR-HEP-5",),
    "test_a_restart_never_repeats_a_bolus": ("SR-HEP-5",),
}

_PUMP = 2000      # 200 mL/min
_OPEN = 1
_PER_STEP_UNITS = 36000000   # 0.1 U/h x ms in one unit of heparin


class StepPin:
    # Counts rising edges, as a stepper driver's step input does.
    def __init__(self):
        self.level = 0
        self.rising = 0

    def value(self, v=None):
        if v is None:
            return self.level
        if v and not self.level:
            self.rising += 1
        self.level = 1 if v else 0


def _expected(rate, spu, period_ms, periods):
    # Whole steps in rate (0.1 U/h) x time: what an exact pump gives.
    return rate * spu * period_ms * periods // _PER_STEP_UNITS


def _table_rates():
    # Every infusion rate a table reaches for 40-150 kg: the starting rate
    # and every step up and down from it, and the extremes of the syringe.
    rates = {1, 10, 100, 35999, 36000, 36001, 65000}
    for t in TABLES.values():
        for kg in (40, 70, 150):
            base = t["initial_rate"] * kg
            rates.add(base)
            for row in t["rows"]:
                r = base + row[2] * kg
                if r > 0:
                    rates.add(r)
    return sorted(rates)


def test_step_rate_equals_the_commanded_rate_across_the_tables():
    for spu in (8, 1, 200):
        for rate in _table_rates():
            d = Doser(spu, 100)
            n = 0
            for k in range(1, 6001):      # 10 minutes of 100 ms periods
                n += d.period(rate, 0, _PUMP, _OPEN)
                if k % 600 == 0:
                    # Never off by a whole step at any time, not only on average.
                    assert n == _expected(rate, spu, 100, k), (spu, rate, k, n)
            assert d.steps == n


def test_the_rates_hardware_pwm_could_not_reach_are_exact():
    # Below 8 steps/s (3,600 U/h at 8 steps/U) an RP2040's PWM cannot go:
    # 1,260 U/h for 70 kg is 2.8 steps/s, 10 U/h one step every 45 s.
    for rate, per_hour in ((12600, 10080), (100, 80)):
        d = Doser(8, 100)
        n = 0
        for _ in range(36000):
            n += d.period(rate, 0, _PUMP, _OPEN)
        assert n == per_hour


def test_a_bolus_gives_exactly_its_steps_at_3600_u_per_hour_on_top_of_the_infusion():
    for spu, period in ((8, 100), (3, 50), (100, 1000)):
        d = Doser(spu, period)
        rate, bolus = 12600, 1400               # 1,260 U/h, 1,400 U loading
        per_s = 1000 // period
        n = k = 0
        while d.bolus_done < bolus:
            n += d.period(rate, bolus, _PUMP, _OPEN)
            k += 1
            assert k < 2000 * per_s, "the bolus never ends"
        # 1,400 U at 3,600 U/h: 1,400 s, to within one period.
        assert 1400 * per_s <= k <= 1400 * per_s + 1
        assert n == bolus * spu + _expected(rate, spu, period, k)
        for _ in range(100 * per_s):            # then the infusion alone
            n += d.period(rate, bolus, _PUMP, _OPEN)
        assert n == bolus * spu + _expected(rate, spu, period, k + 100 * per_s)


def test_nothing_while_blood_does_not_flow():
    assert flowing(_PUMP, 1) and not flowing(0, 1) and not flowing(_PUMP, 0)
    for pump, clamp in ((0, 0), (0, 1), (_PUMP, 0)):
        d = Doser(8, 100)
        for _ in range(6000):
            assert d.period(12600, 100, pump, clamp) == 0
        assert d.on == 0 and d.acc == 0 and d.bolus_acc == 0 and d.bolus_done == 0


def test_no_catch_up_after_a_stop():
    # Flowing 10 min, stopped 1 h (paused, safe), flowing 10 min: the
    # steps of the 20 flowing minutes, and no burst when the flow comes back.
    rate = 12600
    d = Doser(8, 100)
    n = 0
    for _ in range(6000):
        n += d.period(rate, 0, _PUMP, _OPEN)
    for _ in range(36000):
        n += d.period(rate, 0, 0, 0)
    most = 0
    for _ in range(6000):
        s = d.period(rate, 0, _PUMP, _OPEN)
        most = max(most, s)
        n += s
    assert n == _expected(rate, 8, 100, 12000)
    assert most == 1                          # 2.8 steps/s: never two in 100 ms


def test_a_bolus_asked_for_while_stopped_waits_for_the_flow_and_is_given_once():
    d = Doser(8, 100)
    for _ in range(600):                      # ready: pump off, clamp closed
        assert d.period(12600, 1400, 0, 0) == 0
    assert d.bolus_done == 0
    n = 0
    for _ in range(20000):                    # blood flows: the bolus, once
        n += d.period(0, 1400, _PUMP, _OPEN)
    assert d.bolus_done == 1400 and n == 1400 * 8
    for _ in range(100):
        assert d.period(0, 1400, _PUMP, _OPEN) == 0


def test_a_restart_never_repeats_a_bolus():
    # The record restored at boot asked for 2,200 U of boluses before the
    # reset: none of it is given again; a bolus asked for after it is.
    d = Doser(8, 100)
    d.restored(2200)
    for _ in range(100):
        assert d.period(0, 2200, _PUMP, _OPEN) == 0
    n = 0
    for _ in range(2000):
        n += d.period(0, 2240, _PUMP, _OPEN)
    assert n == 40 * 8 and d.bolus_done == 2240


def test_the_syringe_puts_one_pulse_per_step_on_its_pin_enabled_only_while_giving():
    step, enable = StepPin(), StepPin()
    s = Syringe(step, enable, 8, 100)
    assert step.level == 0 and enable.level == 0
    for _ in range(600):
        s.drive(12600, 0, 0, 0)               # heparin on, blood standing
        assert enable.level == 0
    assert step.rising == 0
    for _ in range(36000):
        s.drive(12600, 0, _PUMP, _OPEN)
        assert enable.level == 1 and step.level == 0
    assert step.rising == 10080 == s.doser.steps
    s.drive(0, 0, _PUMP, _OPEN)               # rate 0: the driver off
    assert enable.level == 0
    s.drive(12600, 0, _PUMP, _OPEN)
    s.stop()
    assert enable.level == 0 and step.level == 0


def test_a_period_allocates_nothing_at_the_schemas_extremes():
    if not IS_MICROPYTHON:
        return  # only the MicroPython VM can tell
    import gc
    import micropython
    for spu, period in ((10000, 10), (10000, 1000), (8, 100)):
        s = Syringe(StepPin(), StepPin(), spu, period)
        gc.collect()
        micropython.heap_lock()
        try:
            for k in range(300):
                s.drive(65000, 100000 + k // 100, _PUMP if k % 50 else 0, _OPEN)
        finally:
            micropython.heap_unlock()
        assert s.doser.steps > 0
