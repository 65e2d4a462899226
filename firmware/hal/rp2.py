# A real Pico's HAL: the composition of the devices on its pins. Pressures
# from the ADC, blood flow from a pulse-output flow sensor, the air detector
# on a pin; the blood pump and the heparin syringe driven by PWM, the venous
# clamp by a pin that is low = closed, so that a reset or a dead pin fails
# closed. The control tick runs on the board's own clock (runner.py); the
# link carries commands, status and events.

import machine
from micropython import const

import protocol as P
from devices.air import AirDetector
from devices.clamp import Clamp
from devices.flow import FlowSensor
from devices.pressure import Pressure
from devices.pump import Pump
from devices.syringe import Syringe
from runner import ClockRunner

# The codes (codes.py) this module uses, as private constants (docs/firmware.md, Memory).
_RESET_POWER_ON = const(0)
_RESET_WATCHDOG = const(1)

# The watchdog's REASON register; bit 0 (TIMER): it timed out. A forced
# reboot (machine.reset(), mpremote's reset, make flash) sets bit 1 (FORCE)
# instead, and MicroPython's reset_cause() calls both WDT_RESET.
_WD_REASON = {"rp2040": 0x40058008, "rp2350": 0x400D8008}


class Rp2Board:
    name = "rp2"

    @staticmethod
    def boot_safe(cfg):
        # First thing at boot: a soft reset leaves pins as they were.
        pins = cfg["pins"]
        machine.Pin(pins["clamp_open"], machine.Pin.OUT, value=0)
        machine.Pin(pins["pump_pwm"], machine.Pin.OUT, value=0)
        machine.Pin(pins["heparin_step"], machine.Pin.OUT, value=0)
        machine.Pin(pins["heparin_enable"], machine.Pin.OUT, value=0)

    def __init__(self, ctl, link, service, cfg, persist):
        self.ctl = ctl
        self.service = service
        pins = cfg["pins"]
        cal = cfg["calibration"]
        period = cfg["period_ms"]
        Pin = machine.Pin
        p = cal["pressure"]
        den = p["den"]
        self.pressures = tuple(
            Pressure(machine.ADC(pins[adc]), p[ch][0], p[ch][1], den)
            for adc, ch in (("p_access_adc", "access"), ("p_pre_adc", "pre"),
                            ("p_return_adc", "return")))
        self.air = AirDetector(Pin(pins["air_detect"], Pin.IN, Pin.PULL_UP),
                               cal["air_active_level"])
        self.clamp = Clamp(Pin(pins["clamp_open"], Pin.OUT, value=0))
        num, den = cal["pump_duty_per_flow"]   # duty_u16 per 0.1 mL/min
        self.pump = Pump(machine.PWM(Pin(pins["pump_pwm"])), cal["pump_pwm_hz"], num, den)
        self.syringe = Syringe(machine.PWM(Pin(pins["heparin_step"])),
                               Pin(pins["heparin_enable"], Pin.OUT, value=0),
                               cal["heparin_steps_per_u"], period, ctl.out_bolus)
        self.flow = FlowSensor(Pin(pins["flow_pulse"], Pin.IN), cal["flow_per_pulse_rate"],
                               period, Pin.IRQ_RISING)
        self.q = 0
        self.air_now = 0
        self.wd_reason = _WD_REASON.get(cfg.get("mcu"))
        wdt = None
        if cfg.get("watchdog_ms"):
            wdt = machine.WDT(timeout=cfg["watchdog_ms"])
        self.runner = ClockRunner(ctl, link, service, persist, self, period, wdt)

    @property
    def persist(self):
        return self.runner.persist

    @persist.setter
    def persist(self, p):
        # app.py hands the persistence over once storage is up.
        self.runner.persist = p

    def reset(self):
        machine.reset()

    def make_safe(self):
        # After a fault: pump stopped, clamp closed (fails closed), no heparin.
        self.pump.stop()
        self.clamp.close()
        self.syringe.stop()

    def announce(self, notice):
        if notice["cause"] == _RESET_POWER_ON and self.watchdog_timed_out():
            notice["cause"] = _RESET_WATCHDOG
        self.service.send_json(P.T_BOOT, 0, notice)

    def watchdog_timed_out(self):
        mem32 = getattr(machine, "mem32", None)
        if mem32 is None or self.wd_reason is None:
            return machine.reset_cause() == machine.WDT_RESET
        return (mem32[self.wd_reason] & 1) == 1

    def read_pressure(self, i):
        return self.pressures[i].read()

    def run(self):
        self.runner.run()

    def cycle(self):
        # One control period (runner.py).
        self.runner.cycle()

    def sample(self):
        # Start of a period, before any test-mode stall: the flow of the
        # period just ended, and the air detector.
        self.q = self.flow.read()
        self.air_now = self.air.read()

    def control(self):
        # Sense the pressures, decide, actuate.
        ctl = self.ctl
        p = self.pressures
        ctl.tick(p[0].read(), p[1].read(), p[2].read(), self.q, self.air_now)
        self.pump.set(ctl.out_pump)
        self.clamp.set(ctl.out_clamp)
        self.syringe.drive(ctl.out_hep, ctl.out_bolus)
