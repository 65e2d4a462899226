# A watchdog in virtual time for the simulated board: fed by the control
# loop after each healthy tick; if the board's clock runs on for longer than
# the timeout without a feed, the board resets, as machine.WDT resets a
# Pico whose loop has stalled.


class SimWatchdog:
    def __init__(self, timeout_ticks):
        self.timeout = timeout_ticks
        self.last_feed = 0

    def feed(self, tick):
        self.last_feed = tick

    def expired(self, tick):
        return tick - self.last_feed > self.timeout
