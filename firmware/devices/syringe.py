# The heparin syringe: a stepper driver with a step input and an enable
# input, on two pins.
#
# Doser is the pure logic (numbers in, a number of steps out, no pins, no
# clock): once per control period it is told the infusion rate (0.1 U/h),
# the cumulative bolus total the controller has asked for (U) and the pump
# and clamp outputs, and answers how many steps to give in that period.
#
# - The step rate is exact at any rate: a phase accumulator adds
#   rate x steps_per_u every period and gives a step for every
#   36,000 x (1000 / period_ms) it holds (36,000,000 0.1 U/h x ms is one
#   unit), carrying the remainder, so the steps delivered over any time
#   differ from rate x time by less than one step. (Hardware PWM cannot do
#   this: its lowest frequency on an RP2040 at 125 MHz is about 8 Hz, and it
#   only takes whole hertz.)
# - A bolus runs at 3,600 U/h on its own accumulator on top of the
#   infusion, counted in steps, until exactly bolus x steps_per_u steps of
#   it have been given.
# - Heparin goes into the blood circuit, so it is given only while blood
#   flows through it: pump running and clamp open (IEC 60601-2-16,
#   anticoagulant over-delivery). Heparin pushed into a standing circuit
#   would reach the patient as a bolus once the pump starts. While blood
#   does not flow, nothing accumulates: the infusion's time is not made up
#   later, the accumulators do not advance, and a bolus not yet given waits,
#   unchanged, for the flow (it is a dose asked for, not a debt of time).
# - After a restart the record says what was asked for, not what was
#   given: restored() counts all of it as given, so a reset never repeats a
#   bolus (the remainder of one cut short is dropped; the aPTT checks show
#   the shortfall).
#
# Every number stays a small int (below 2**30) for the schema's limits
# (rate <= 6,500 U/h, steps_per_u <= 10,000, period_ms divides 1000), so
# the period allocates nothing. Syringe puts Doser's steps on the pins.

from micropython import const

_BOLUS_RATE = const(36000)   # 0.1 U/h: boluses run at 3,600 U/h


def flowing(pump, clamp):
    # Blood flows through the circuit: the pump runs and the clamp is open.
    return pump > 0 and clamp == 1


class Doser:
    def __init__(self, steps_per_u, period_ms):
        self.spu = steps_per_u
        self.per_step = 36000 * (1000 // period_ms)   # accumulator units per step
        self.acc = 0           # infusion phase, < per_step
        self.bolus_acc = 0     # bolus phase, < per_step
        self.bolus_done = 0    # U of bolus given (whole units)
        self.bolus_frac = 0    # steps of the unit under way, < spu
        self.steps = 0         # steps given since boot
        self.on = 0            # 1 while giving (enable pin high)

    def restored(self, bolus_total):
        # At boot, after the record is restored: all of it counts as given.
        self.bolus_done = bolus_total
        self.bolus_frac = 0
        self.bolus_acc = 0

    def period(self, rate, bolus_total, pump, clamp):
        # Steps to give in one control period.
        owed = bolus_total - self.bolus_done
        if not flowing(pump, clamp) or (rate <= 0 and owed <= 0):
            self.on = 0
            return 0
        self.on = 1
        n = 0
        if rate > 0:
            acc = self.acc + rate * self.spu
            n = acc // self.per_step
            self.acc = acc - n * self.per_step
        if owed > 0:
            acc = self.bolus_acc + _BOLUS_RATE * self.spu
            b = acc // self.per_step
            self.bolus_acc = acc - b * self.per_step
            f = self.bolus_frac + b
            whole = f // self.spu
            if whole >= owed:
                # The last steps of the bolus: exactly what is left of it
                # (owed is at most whole here, so the product stays small).
                b = owed * self.spu - self.bolus_frac
                self.bolus_done = bolus_total
                self.bolus_frac = 0
                self.bolus_acc = 0
            else:
                self.bolus_done += whole
                self.bolus_frac = f - whole * self.spu
            n += b
        self.steps += n
        return n


class Syringe:
    def __init__(self, step_pin, enable_pin, steps_per_u, period_ms):
        self.step = step_pin
        self.enable = enable_pin
        self.doser = Doser(steps_per_u, period_ms)
        step_pin.value(0)
        enable_pin.value(0)

    def restored(self, bolus_total):
        self.doser.restored(bolus_total)

    def drive(self, rate, bolus_total, pump, clamp):
        # One control period: rate (0.1 U/h), bolus_total (U, cumulative),
        # the pump (0.1 mL/min) and clamp (1 = open) outputs of the period.
        # The period's steps go out now, one pulse each, the driver enabled.
        d = self.doser
        n = d.period(rate, bolus_total, pump, clamp)
        self.enable.value(d.on)
        step = self.step
        while n > 0:
            step.value(1)
            step.value(0)
            n -= 1

    def stop(self):
        self.step.value(0)
        self.enable.value(0)
        self.doser.on = 0
