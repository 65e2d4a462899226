# Fixed-size ring of events, preallocated so recording one never allocates.
# Each event is five ints: tick, kind, code, a, b (see codes.EV_*).

from array import array

_FIELDS = 5


class EventQueue:
    def __init__(self, capacity=32):
        self.cap = capacity
        self.buf = array("i", bytes(4 * _FIELDS * capacity))
        self.head = 0  # index of the oldest event
        self.count = 0
        self.dropped = 0

    def push(self, tick, kind, code, a, b):
        if self.count == self.cap:
            # Keep the newest: the oldest is lost and counted.
            self.head = (self.head + 1) % self.cap
            self.count -= 1
            self.dropped += 1
        i = ((self.head + self.count) % self.cap) * _FIELDS
        buf = self.buf
        buf[i] = tick
        buf[i + 1] = kind
        buf[i + 2] = code
        buf[i + 3] = a
        buf[i + 4] = b
        self.count += 1

    def peek(self, k):
        # Offset in buf of the k-th oldest event.
        return ((self.head + k) % self.cap) * _FIELDS

    def drop(self, n):
        if n > self.count:
            n = self.count
        self.head = (self.head + n) % self.cap
        self.count -= n
