# A stand-in for MicroPython's machine module, for unit tests of the rp2
# HAL's logic in the unix port: it records what the HAL drives and lets a
# test set what the HAL reads.

WDT_RESET = 3
PWRON_RESET = 1
pins = {}
adcs = {}
pwms = {}
wdt = []
resets = []


class Pin:
    OUT = 1
    IN = 0
    PULL_UP = 1
    IRQ_RISING = 8

    def __init__(self, pin_id, mode=None, pull=None, value=None):
        self.id = pin_id
        self.mode = mode
        self.level = 0 if value is None else value
        self.handler = None
        pins[pin_id] = self

    def value(self, v=None):
        if v is None:
            return self.level
        self.level = v

    def irq(self, handler, trigger):
        self.handler = handler


class ADC:
    def __init__(self, pin_id):
        self.raw = 0
        adcs[pin_id] = self

    def read_u16(self):
        return self.raw


class PWM:
    def __init__(self, pin):
        self.pin = pin
        self.hz = 0
        self.duty = 0
        pwms[pin.id] = self

    def freq(self, hz=None):
        if hz is not None:
            self.hz = hz
        return self.hz

    def duty_u16(self, d=None):
        if d is not None:
            self.duty = d
        return self.duty


class WDT:
    def __init__(self, timeout):
        self.timeout = timeout
        self.fed = 0
        wdt.append(self)

    def feed(self):
        self.fed += 1


def reset():
    resets.append(1)


def reset_cause():
    return PWRON_RESET
