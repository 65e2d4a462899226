# The rp2 HAL's devices (firmware/devices/), each with stand-in pins and
# channels: they take objects, so no machine module is needed.

from devices.air import AirDetector
from devices.clamp import Clamp
from devices.flow import FlowSensor
from devices.pressure import Pressure
from devices.pump import Pump
from devices.wdt import Watchdog


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


class FakeWDT:
    def __init__(self):
        self.fed = 0

    def feed(self):
        self.fed += 1


def test_watchdog_feeds_and_tells_a_timeout_from_a_forced_reboot():
    reason = 0x40058008
    mem = {reason: 2}                  # FORCE: machine.reset(), make flash
    wdt = FakeWDT()
    w = Watchdog(wdt, mem, reason, lambda: 3, 3)
    assert not w.timed_out()           # reset_cause() would have said WDT_RESET
    mem[reason] = 1                    # TIMER: the watchdog timed out
    assert w.timed_out()
    w.feed()
    assert wdt.fed == 1
    # Without the register (another port): MicroPython's reset_cause().
    assert Watchdog(None, None, None, lambda: 3, 3).timed_out()
    assert not Watchdog(None, None, None, lambda: 1, 3).timed_out()
    Watchdog(None, None, None, lambda: 1, 3).feed()   # no timeout set: nothing to feed
