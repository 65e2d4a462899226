# A pulse-output blood flow sensor: an interrupt counts the pulses (the
# handler only counts); read() once per control period turns the pulses of
# that period into a flow in 0.1 mL/min.


class FlowSensor:
    def __init__(self, pin, flow_per_pulse, period_ms, rising):
        self.flow_per_pulse = flow_per_pulse  # 0.1 mL/min per pulse/s
        self.per_s = 1000 // period_ms
        self.pulses = 0
        self.last_pulses = 0
        pin.irq(self._pulse, rising)

    def _pulse(self, _pin):
        self.pulses += 1

    def read(self):
        pulses = self.pulses
        q = (pulses - self.last_pulses) * self.per_s * self.flow_per_pulse
        self.last_pulses = pulses
        return q
