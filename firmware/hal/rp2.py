# A real Pico's HAL: the devices on its pins, composed, and the own-clock
# runner (runner.py) that owns time. Each device is a small class in
# devices/ taking pins or objects: the pressures on the ADC, the flow
# sensor's pulses, the air detector; the blood pump (PWM), the heparin
# syringe (step and enable pins), the venous clamp (a pin low = closed, so
# a reset or a dead pin fails closed); the watchdog. This module is the
# only one that imports machine: it makes the pins and hands them over.

import machine
import micropython
from micropython import const

import protocol as P
from devices.air import AirDetector
from devices.clamp import Clamp
from devices.flow import FlowSensor
from devices.pressure import Pressure
from devices.pump import Pump
from devices.syringe import Syringe
from devices.wdt import Watchdog
from runner import ClockRunner

# The codes (codes.py) this module uses, as private constants (docs/firmware.md, Memory).
_RESET_POWER_ON = const(0)
_RESET_WATCHDOG = const(1)

# The watchdog's REASON register (devices/wdt.py).
_WD_REASON = {"rp2040": 0x40058008, "rp2350": 0x400D8008}


def _pressures(cfg):
    pins = cfg["pins"]
    p = cfg["calibration"]["pressure"]
    den = p["den"]
    return tuple(Pressure(machine.ADC(pins[adc]), p[ch][0], p[ch][1], den)
                 for adc, ch in (("p_access_adc", "access"), ("p_pre_adc", "pre"),
                                 ("p_return_adc", "return")))


def _watchdog(cfg):
    ms = cfg.get("watchdog_ms")
    return Watchdog(machine.WDT(timeout=ms) if ms else None, getattr(machine, "mem32", None),
                    _WD_REASON.get(cfg.get("mcu")), machine.reset_cause, machine.WDT_RESET)


class Rp2Board:
    name = "rp2"

    @staticmethod
    def boot_safe(cfg):
        # First thing at boot: a soft reset leaves pins as they were.
        pins = cfg["pins"]
        for key in ("clamp_open", "pump_pwm", "heparin_step", "heparin_enable"):
            machine.Pin(pins[key], machine.Pin.OUT, value=0)

    def __init__(self, ctl, link, service, cfg, persist):
        self.ctl = ctl
        self.service = service
        pins = cfg["pins"]
        cal = cfg["calibration"]
        period = cfg["period_ms"]
        Pin = machine.Pin
        self.pressures = _pressures(cfg)
        self.air = AirDetector(Pin(pins["air_detect"], Pin.IN, Pin.PULL_UP),
                               cal["air_active_level"])
        self.flow = FlowSensor(Pin(pins["flow_pulse"], Pin.IN), cal["flow_per_pulse_rate"],
                               period, Pin.IRQ_RISING)
        self.clamp = Clamp(Pin(pins["clamp_open"], Pin.OUT, value=0))
        num, den = cal["pump_duty_per_flow"]   # duty_u16 per 0.1 mL/min
        self.pump = Pump(machine.PWM(Pin(pins["pump_pwm"])), cal["pump_pwm_hz"], num, den)
        self.syringe = Syringe(Pin(pins["heparin_step"], Pin.OUT, value=0),
                               Pin(pins["heparin_enable"], Pin.OUT, value=0),
                               cal["heparin_steps_per_u"], period)
        self.watchdog = _watchdog(cfg)
        self.q = 0
        self.air_now = 0
        self.runner = ClockRunner(ctl, link, service, persist, self, period, self.watchdog)

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
        if notice["cause"] == _RESET_POWER_ON and self.watchdog.timed_out():
            notice["cause"] = _RESET_WATCHDOG
        self.service.send_json(P.T_BOOT, 0, notice)

    def read_pressure(self, i):
        return self.pressures[i].read()

    def begin(self):
        # The record is restored by now: every bolus it asked for was given
        # before the reset (devices/syringe.py), none is given again.
        self.syringe.restored(self.ctl.hep.bolus_total)

    def run(self):
        self.begin()
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
        # Sense the pressures, decide (with the heap locked, docs/firmware.md,
        # Memory: no call frame on the heap, no collection in the tick),
        # actuate.
        ctl = self.ctl
        p = self.pressures
        p_acc = p[0].read()
        p_pre = p[1].read()
        p_ret = p[2].read()
        micropython.heap_lock()
        try:
            ctl.tick(p_acc, p_pre, p_ret, self.q, self.air_now)
        finally:
            micropython.heap_unlock()
        pump = ctl.out_pump
        clamp = ctl.out_clamp
        self.pump.set(pump)
        self.clamp.set(clamp)
        self.syringe.drive(ctl.out_hep, ctl.out_bolus, pump, clamp)
