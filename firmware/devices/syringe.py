# The heparin syringe: a stepper driven by a PWM step signal and an enable
# pin. It infuses the controller's rate, plus a bolus at 3,600 U/h until the
# controller's cumulative bolus total has been delivered (counted in
# milli-units: 0.1 U/h x ms / 36,000 = mU). Integers only.

_U16 = 65535
_BOLUS_RATE = 36000  # 0.1 U/h: boluses run at 3,600 U/h


class Syringe:
    def __init__(self, step_pwm, enable_pin, steps_per_u, period_ms, bolus_given):
        self.step = step_pwm
        self.enable = enable_pin
        self.steps_per_u = steps_per_u
        self.period = period_ms
        self.bolus_done_mu = bolus_given * 1000   # given before a restart
        self.rate = -1                            # 0.1 U/h now driven; -1: none yet
        step_pwm.duty_u16(0)
        enable_pin.value(0)

    def drive(self, rate, bolus_total):
        # One control period at infusion rate (0.1 U/h) with bolus_total
        # (U, cumulative) asked for so far.
        want = bolus_total * 1000
        if want > self.bolus_done_mu:
            rate += _BOLUS_RATE
            done = self.bolus_done_mu + _BOLUS_RATE * self.period // 36000
            self.bolus_done_mu = done if done < want else want
        if rate != self.rate:
            self.rate = rate
            hz = rate * self.steps_per_u // 36000  # 0.1 U/h -> steps/s
            if hz > 0:
                self.step.freq(hz if hz > 8 else 8)
                self.step.duty_u16(_U16 // 2)
                self.enable.value(1)
            else:
                self.step.duty_u16(0)
                self.enable.value(0)

    def stop(self):
        self.step.duty_u16(0)
        self.enable.value(0)
