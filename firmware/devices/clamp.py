# The venous clamp on a pin that is high = open, low = closed: a reset or a
# dead pin fails closed. Starts closed.


class Clamp:
    def __init__(self, pin):
        self.pin = pin
        pin.value(0)

    def set(self, opened):
        self.pin.value(opened)

    def close(self):
        self.pin.value(0)
