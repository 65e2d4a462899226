# A stand-in for MicroPython's machine module, so that the rp2 HAL can run
# unchanged in the MicroPython unix port: a Pico on a bench with no patient
# and no plant. The virtual board puts this folder first on the module path
# when its board config names the rp2 HAL; the firmware itself does not
# know it is not on a Pico.
#
# What the bench does, deterministically and without reading a clock:
# - the blood pump delivers the flow its PWM duty commands (the inverse of
#   the board config's pump calibration);
# - the flow sensor gives the pulses of that flow: each time the HAL reads
#   the access transducer (once per control period) the pulses of one
#   period are fired on the handler the HAL registered;
# - the pressure transducers read what that flow gives in a free circuit:
#   access -0.35 x flow mmHg, return +0.35 x flow, pre-cartridge
#   return + 0.3 x flow (flow in mL/min), through the board config's
#   pressure calibration;
# - the air detector stays idle; the watchdog only counts its feeds;
#   reset() ends the process with the virtual board's reset code, and the
#   virtual board starts it again, as a Pico comes back after a reset.
#
# Without a board config on the command line (the firmware's unit tests,
# tests/firmware/fwtests, run under mprun.py) there is no bench: the module
# only records what the HAL drives and lets a test set what it reads:
# pins[id].level, adcs[id].raw, pwms[id].duty / .hz, wdt[-1].timeout /
# .fed, and reset() appends to resets instead of ending the process.

import json
import sys

WDT_RESET = 3
PWRON_RESET = 1
_RESET_EXIT = 75   # hil/board/virtual.py RESET_EXIT

# What the HAL created, by pin id (and every watchdog, every reset).
pins = {}
adcs = {}
pwms = {}
wdt = []
resets = []


def _config():
    # The board config the firmware was started with (--board PATH).
    argv = sys.argv
    path = "board.json"
    for i in range(len(argv) - 1):
        if argv[i] == "--board":
            path = argv[i + 1]
    try:
        with open(path) as f:
            cfg = json.load(f)
    except (OSError, ValueError):
        return None
    if "pins" not in cfg or "calibration" not in cfg:
        return None
    return cfg


class _Bench:
    def __init__(self, cfg):
        pins = cfg["pins"]
        cal = cfg["calibration"]
        p = cal["pressure"]
        self.period_ms = cfg.get("period_ms", 100)
        self.pump_pin = pins["pump_pwm"]
        self.flow_pin = pins["flow_pulse"]
        self.adc_pins = (pins["p_access_adc"], pins["p_pre_adc"], pins["p_return_adc"])
        self.cal = (p["access"], p["pre"], p["return"])
        self.den = p["den"]
        self.duty_num, self.duty_den = cal["pump_duty_per_flow"]
        self.flow_per_pulse = cal["flow_per_pulse_rate"]
        self.air_pin = pins["air_detect"]
        self.air_idle = 1 - cal["air_active_level"]
        self.pulse_rem = 0
        self.pwms = {}

    def flow(self):
        # Blood flow in 0.1 mL/min from the pump's duty.
        pwm = self.pwms.get(self.pump_pin)
        if pwm is None or self.duty_num <= 0:
            return 0
        return pwm.duty * self.duty_den // self.duty_num

    def pressure(self, channel, q):
        # Reading in 0.1 mmHg at flow q (0.1 mL/min).
        if channel == 0:
            return -35 * q // 100
        ret = 35 * q // 100
        if channel == 2:
            return ret
        return ret + 30 * q // 100

    def raw(self, channel, q):
        off, gain = self.cal[channel]
        if gain <= 0:
            return off
        r = off + (self.pressure(channel, q) * self.den + gain // 2) // gain
        return max(0, min(r, 65535))

    def period_pulses(self, q):
        # Pulses of one period at flow q; the remainder carries over, so
        # that flows between two pulse rates are right on average.
        per_s = 1000 // self.period_ms
        unit = self.flow_per_pulse * per_s   # 0.1 mL/min per pulse in one period
        total = q + self.pulse_rem
        n = total // unit
        self.pulse_rem = total - n * unit
        return n


_bench = None


def _the_bench():
    global _bench
    if _bench is None:
        cfg = _config()
        _bench = _Bench(cfg) if cfg is not None else False
    return _bench or None


class Pin:
    OUT = 1
    IN = 0
    PULL_UP = 1
    PULL_DOWN = 2
    IRQ_RISING = 8
    IRQ_FALLING = 4

    def __init__(self, pin_id, mode=None, pull=None, value=None):
        self.id = pin_id
        self.mode = mode
        if value is not None:
            self.level = value
        elif pull == Pin.PULL_UP:
            self.level = 1
        else:
            self.level = 0
        b = _the_bench()
        if b is not None and pin_id == b.air_pin and mode == Pin.IN:
            self.level = b.air_idle
        self.handler = None
        pins[pin_id] = self

    def value(self, v=None):
        if v is None:
            return self.level
        self.level = 1 if v else 0

    def __call__(self, v=None):
        return self.value(v)

    def on(self):
        self.level = 1

    def off(self):
        self.level = 0

    def irq(self, handler=None, trigger=None):
        self.handler = handler


class ADC:
    def __init__(self, pin_id):
        self.id = pin_id
        self.raw = 0   # what read_u16() gives without a bench
        b = _the_bench()
        self.channel = b.adc_pins.index(pin_id) if b is not None and pin_id in b.adc_pins else -1
        adcs[pin_id] = self

    def read_u16(self):
        b = _the_bench()
        if b is None or self.channel < 0:
            return self.raw
        q = b.flow()
        if self.channel == 0:
            # Once per control period: the flow sensor's pulses of one period.
            pin = pins.get(b.flow_pin)
            if pin is not None and pin.handler is not None:
                for _ in range(b.period_pulses(q)):
                    pin.handler(pin)
        return b.raw(self.channel, q)


class PWM:
    def __init__(self, pin, freq=None, duty_u16=None):
        self.pin = pin
        self.hz = freq or 0
        self.duty = duty_u16 or 0
        pwms[pin.id] = self
        b = _the_bench()
        if b is not None:
            b.pwms[pin.id] = self

    def freq(self, hz=None):
        if hz is not None:
            self.hz = hz
        return self.hz

    def duty_u16(self, d=None):
        if d is not None:
            self.duty = d
        return self.duty

    def deinit(self):
        self.duty = 0


class WDT:
    def __init__(self, id=0, timeout=5000):
        self.timeout = timeout
        self.fed = 0
        wdt.append(self)

    def feed(self):
        self.fed += 1


def reset():
    resets.append(1)
    if _the_bench() is not None:
        sys.exit(_RESET_EXIT)


def soft_reset():
    reset()


def reset_cause():
    return PWRON_RESET


def unique_id():
    return b"fakepico"


def freq(hz=None):
    return 125000000
