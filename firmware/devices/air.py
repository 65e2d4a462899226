# The air-in-line detector on a pin: 1 when the pin is at its active level.


class AirDetector:
    def __init__(self, pin, active_level):
        self.pin = pin
        self.active = active_level

    def read(self):
        return 1 if self.pin.value() == self.active else 0
