# A real Pico's HAL: pressures from the ADC, blood flow from a pulse-output
# flow sensor, the air detector on a pin; the blood pump and the heparin
# syringe driven by PWM, the venous clamp by a pin that is low = closed, so
# that a reset or a dead pin fails closed. The control tick runs on the
# board's own clock; the link carries commands, status and events.

import time

import machine

import protocol as P
try:
    from micropython import const
except ImportError:  # CPython, for tests
    def const(x):
        return x


# Codes (codes.py) as private constants: compiled into the bytecode,
# no RAM on the board. tests/firmware checks they match codes.py.
_RESET_POWER_ON = const(0)
_RESET_WATCHDOG = const(1)

_U16 = 65535
_BOLUS_RATE = 36000  # 0.1 U/h: boluses run at 3,600 U/h


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
        self.link = link
        self.service = service
        self.persist = persist
        pins = cfg["pins"]
        cal = cfg["calibration"]
        self.period = cfg["period_ms"]
        self.adc = (machine.ADC(pins["p_access_adc"]), machine.ADC(pins["p_pre_adc"]),
                    machine.ADC(pins["p_return_adc"]))
        # Per pressure channel: reading(0.1 mmHg) = (raw - offset) * num // den
        p = cal["pressure"]
        self.p_off = (p["access"][0], p["pre"][0], p["return"][0])
        self.p_num = (p["access"][1], p["pre"][1], p["return"][1])
        self.p_den = p["den"]
        self.air = machine.Pin(pins["air_detect"], machine.Pin.IN, machine.Pin.PULL_UP)
        self.air_level = cal["air_active_level"]
        self.clamp = machine.Pin(pins["clamp_open"], machine.Pin.OUT, value=0)
        self.pump = machine.PWM(machine.Pin(pins["pump_pwm"]))
        self.pump.freq(cal["pump_pwm_hz"])
        self.pump.duty_u16(0)
        # duty_u16 per 0.1 mL/min, as num/den
        self.pump_num = cal["pump_duty_per_flow"][0]
        self.pump_den = cal["pump_duty_per_flow"][1]
        self.hep_en = machine.Pin(pins["heparin_enable"], machine.Pin.OUT, value=0)
        self.hep = machine.PWM(machine.Pin(pins["heparin_step"]))
        self.hep.duty_u16(0)
        self.steps_per_u = cal["heparin_steps_per_u"]
        self.bolus_done_mu = ctl.out_bolus * 1000  # given before a restart
        self.hep_rate = -1
        self.last_pulses = 0
        self.next_t = time.ticks_add(time.ticks_ms(), self.period)
        # Flow sensor: pulses counted by an interrupt; the handler only counts.
        self.pulses = 0
        self.flow_per_pulse = cal["flow_per_pulse_rate"]  # 0.1 mL/min per pulse/s
        flow_pin = machine.Pin(pins["flow_pulse"], machine.Pin.IN)
        flow_pin.irq(self._pulse, machine.Pin.IRQ_RISING)
        self.wdt = None
        if cfg.get("watchdog_ms"):
            self.wdt = machine.WDT(timeout=cfg["watchdog_ms"])

    def reset(self):
        machine.reset()

    def make_safe(self):
        # After a fault: pump stopped, clamp closed (fails closed), no heparin.
        self.pump.duty_u16(0)
        self.clamp.value(0)
        self.hep.duty_u16(0)
        self.hep_en.value(0)

    def announce(self, notice):
        if machine.reset_cause() == machine.WDT_RESET and notice["cause"] == _RESET_POWER_ON:
            notice["cause"] = _RESET_WATCHDOG
        self.service.send_json(P.T_BOOT, 0, notice)

    def _pulse(self, _pin):
        self.pulses += 1

    def read_pressure(self, i):
        return (self.adc[i].read_u16() - self.p_off[i]) * self.p_num[i] // self.p_den

    def run(self):
        while True:
            self.cycle()

    def cycle(self):
        # One control period: serve the host, wait for the period, sense,
        # decide, actuate, feed the watchdog.
        ctl = self.ctl
        period = self.period
        # Frames from the host between ticks; never wait for them, and never
        # for the rest of a frame that stopped short (it times out).
        link = self.link
        while True:
            f = link.recv(False)
            if f is None:
                break
            self.service.serve(f[0], f[1], f[2], None, self.persist.save)
        if ctl.persist_due or ctl.alarms.log_dirty:
            # A flash write stalls the RP2040 for milliseconds: between
            # ticks only, and at most once a minute in steady running.
            self.persist.save()
        delay = time.ticks_diff(self.next_t, time.ticks_ms())
        if delay > 0:
            time.sleep_ms(delay)
        # A test-mode time scale shortens the real period; the control
        # logic still counts one period per tick.
        self.next_t = time.ticks_add(self.next_t, period // ctl.time_scale or 1)
        pulses = self.pulses
        q = (pulses - self.last_pulses) * (1000 // period) * self.flow_per_pulse
        self.last_pulses = pulses
        air = 1 if self.air.value() == self.air_level else 0
        if ctl.hang:
            # Test mode: the control task stalls and stops feeding the
            # watchdog, which then resets the board.
            time.sleep_ms(ctl.hang * period)
            ctl.hang = 0
        ctl.tick(self.read_pressure(0), self.read_pressure(1), self.read_pressure(2), q, air)
        self.pump.duty_u16(min(_U16, ctl.out_pump * self.pump_num // self.pump_den))
        self.clamp.value(ctl.out_clamp)
        # Heparin: the infusion, plus a bolus at 3,600 U/h until delivered
        # (counted in milli-units: 0.1 U/h x ms / 36,000 = mU).
        rate = ctl.out_hep
        if ctl.out_bolus * 1000 > self.bolus_done_mu:
            rate += _BOLUS_RATE
            self.bolus_done_mu += _BOLUS_RATE * period // 36000
            if self.bolus_done_mu > ctl.out_bolus * 1000:
                self.bolus_done_mu = ctl.out_bolus * 1000
        if rate != self.hep_rate:
            self.hep_rate = rate
            hz = rate * self.steps_per_u // 36000  # 0.1 U/h -> steps/s
            if hz > 0:
                self.hep.freq(hz if hz > 8 else 8)
                self.hep.duty_u16(_U16 // 2)
                self.hep_en.value(1)
            else:
                self.hep.duty_u16(0)
                self.hep_en.value(0)
        if self.wdt is not None:
            self.wdt.feed()
