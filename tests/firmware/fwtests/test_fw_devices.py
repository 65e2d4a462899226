# The rp2 HAL's devices (firmware/devices/), each with stand-in pins and
# channels: they take objects, so no machine module is needed.

from devices.air import AirDetector
from devices.clamp import Clamp
from devices.flow import FlowSensor
from devices.pressure import Pressure
from devices.pump import Pump
from devices.syringe import Syringe


class FakeADC:
    def __init__(self, raw):
        self.raw = raw

    def read_u16(self):
        return self.raw


class FakePin:
    def __init__(self, level=0):
        self.level = level
        self.handler = None
        self.trigger = None

    def value(self, v=None):
        if v is None:
            return self.level
        self.level = v

    def irq(self, handler, trigger):
        self.handler = handler
        self.trigger = trigger


class FakePWM:
    def __init__(self):
        self.hz = 0
        self.duty = -1

    def freq(self, hz):
        self.hz = hz

    def duty_u16(self, d):
        self.duty = d


def test_pressure_follows_its_calibration():
    adc = FakeADC(0)
    p = Pressure(adc, 12000, 3, 2)
    adc.raw = 12000
    assert p.read() == 0
    adc.raw = 13000
    assert p.read() == 1500            # (13000 - 12000) * 3 // 2
    adc.raw = 11001
    assert p.read() == -1499           # floor division below the offset


def test_flow_from_the_pulses_of_one_period():
    pin = FakePin()
    f = FlowSensor(pin, 5, 100, 8)     # 0.5 mL/min per pulse/s, 10 periods/s
    assert pin.trigger == 8 and pin.handler is not None
    for _ in range(15):
        pin.handler(pin)
    # 15 pulses in 100 ms: 150 pulses/s x 5 = 750 (75 mL/min).
    assert f.read() == 750
    assert f.last_pulses == 15
    assert f.read() == 0               # nothing since the last period
    pin.handler(pin)
    assert f.read() == 50


def test_air_detector_active_level():
    pin = FakePin(1)
    assert AirDetector(pin, 0).read() == 0
    pin.level = 0
    assert AirDetector(pin, 0).read() == 1
    assert AirDetector(pin, 1).read() == 0


def test_pump_duty_scales_with_flow_and_saturates():
    pwm = FakePWM()
    pump = Pump(pwm, 20000, 13, 10)
    assert pwm.hz == 20000 and pwm.duty == 0
    pump.set(2000)                     # 200 mL/min
    assert pwm.duty == 2600
    pump.set(999999)
    assert pwm.duty == 65535
    pump.stop()
    assert pwm.duty == 0


def test_clamp_starts_closed_and_fails_closed():
    pin = FakePin(1)
    c = Clamp(pin)
    assert pin.level == 0
    c.set(1)
    assert pin.level == 1
    c.close()
    assert pin.level == 0


def test_syringe_bolus_runs_at_3600_u_per_hour_until_given():
    step = FakePWM()
    en = FakePin(1)
    s = Syringe(step, en, 100, 100, 0)
    assert step.duty == 0 and en.level == 0 and s.rate == -1
    # 10 U bolus: 3,600 U/h is 100 mU per 100 ms period, so 100 periods.
    n = 0
    while True:
        s.drive(1000, 10)
        n += 1
        if s.bolus_done_mu >= 10000:
            break
        assert s.rate == 1000 + 36000
    assert n == 100
    assert s.bolus_done_mu == 10000
    assert en.level == 1 and step.duty == 32767
    assert step.hz == 37000 * 100 // 36000
    s.drive(1000, 10)                  # bolus given: the infusion alone
    assert s.rate == 1000
    assert step.hz == 1000 * 100 // 36000 or step.hz == 8
    s.drive(0, 10)
    assert s.rate == 0 and step.duty == 0 and en.level == 0
    s.drive(0, 10)


def test_syringe_counts_a_bolus_given_before_a_restart():
    s = Syringe(FakePWM(), FakePin(), 100, 100, 10)
    assert s.bolus_done_mu == 10000
    s.drive(0, 10)
    assert s.rate == 0                 # nothing left to give
    s.drive(0, 11)                     # one more unit asked for
    assert s.rate == 36000
    assert s.bolus_done_mu == 10100


def test_syringe_minimum_step_rate_and_stop():
    step = FakePWM()
    en = FakePin()
    s = Syringe(step, en, 10, 100, 0)
    s.drive(100, 0)                    # 10 U/h x 10 steps/U = 0.03 steps/s -> 0 Hz: off
    assert step.duty == 0 and en.level == 0
    s.drive(3600, 0)                   # 1 step/s: at least 8 Hz
    assert step.hz == 8 and en.level == 1
    s.stop()
    assert step.duty == 0 and en.level == 0
