# The hardware watchdog as a device: feeds a machine.WDT (or nothing, if the
# board config sets no timeout), and tells a watchdog timeout from any other
# reboot. MicroPython's rp2 reset_cause() calls every reboot through the
# watchdog WDT_RESET, a forced one (machine.reset(), mpremote's reset,
# make flash) too; the watchdog's REASON register tells them apart: bit 0
# (TIMER) is a timeout, bit 1 (FORCE) a forced reboot. Takes objects (the
# WDT, machine.mem32 or None, the REASON address or None, a reset_cause
# function and its WDT_RESET code), so it is tested without machine.


class Watchdog:
    def __init__(self, wdt, mem32, reason_addr, reset_cause, wdt_reset):
        self.wdt = wdt
        self.mem32 = mem32
        self.reason = reason_addr
        self.reset_cause = reset_cause
        self.wdt_reset = wdt_reset

    def feed(self):
        if self.wdt is not None:
            self.wdt.feed()

    def timed_out(self):
        # The last reboot was the watchdog timing out.
        if self.mem32 is None or self.reason is None:
            return self.reset_cause() == self.wdt_reset
        return (self.mem32[self.reason] & 1) == 1
