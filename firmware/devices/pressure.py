# A pressure transducer on an ADC channel, with its linear calibration:
# reading (0.1 mmHg) = (raw - offset) * num // den. Integers only.


class Pressure:
    def __init__(self, adc, offset, num, den):
        self.adc = adc          # anything with read_u16()
        self.offset = offset
        self.num = num
        self.den = den

    def read(self):
        return (self.adc.read_u16() - self.offset) * self.num // self.den
