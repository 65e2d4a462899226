# The blood pump driven by PWM: duty_u16 = flow (0.1 mL/min) * num // den,
# at most full duty. Starts stopped.

_U16 = 65535


class Pump:
    def __init__(self, pwm, hz, num, den):
        self.pwm = pwm
        self.num = num
        self.den = den
        pwm.freq(hz)
        pwm.duty_u16(0)

    def duty(self, flow):
        d = flow * self.num // self.den
        return d if d < _U16 else _U16

    def set(self, flow):
        self.pwm.duty_u16(self.duty(flow))

    def stop(self):
        self.pwm.duty_u16(0)
