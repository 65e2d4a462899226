# The virtual board's HAL: sensors and actuators travel over the link.
# The host owns time: one STEP frame carries the sensor samples of up to
# MAX_SAMPLES control periods; the board runs one control tick per sample
# and stops early, right after the tick whose outputs or events changed,
# so that the host can apply the new outputs from the next period on.
# The firmware never reads a clock here. The watchdog counts in these
# ticks too; when it bites the process exits with RESET_EXIT and the
# virtual board's supervisor starts it again, as a Pico resets.
# The ticks run with the heap locked (docs/firmware.md, Memory): the VM
# then keeps every call frame on the C stack, and an allocation in the
# tick raises MemoryError, a fault like any other.

import sys
import time

import micropython
from micropython import const

import protocol as P
from watchdog import SimWatchdog

_RESET_WATCHDOG = const(1)   # codes.RESET_WATCHDOG

RESET_EXIT = 75

# The clock that times the ticks (DIAG tick_us); on CPython, for tests, a
# stand-in in the same unit.
_us = getattr(time, "ticks_us", None) or (lambda: time.perf_counter_ns() // 1000)


class SimBoard:
    name = "sim"

    def __init__(self, ctl, link, service, cfg, persist):
        self.ctl = ctl
        self.link = link
        self.service = service
        self.persist = persist
        wdt_ms = cfg.get("watchdog_ms", 0)
        self.wdt = SimWatchdog(wdt_ms // ctl.period_ms) if wdt_ms else None
        self.tick_errors = 0
        # The frame last acted on was a STEP that ran to its end with no
        # change (no new output, no event, no fault): only then may a STEP
        # the host wrote ahead of that frame's reply run (P.STEP_AHEAD).
        self.clean = False

    @staticmethod
    def boot_safe(cfg):
        # Outputs exist only as values sent to the host, and the controller
        # starts with them safe; there is no pin to drive.
        pass

    def make_safe(self):
        # After a fault: the outputs the host reads must be the safe ones.
        ctl = self.ctl
        ctl.out_pump = 0
        ctl.out_clamp = 0
        ctl.out_hep = 0

    def announce(self, notice):
        self.service.send_json(P.T_BOOT, 0, notice)

    def run(self):
        link = self.link
        svc = self.service
        step = self.step
        # Store before answering a command: what the host saw acknowledged
        # survives a power cut that follows.
        save = self.persist.save
        while True:
            ftype, seq, n = link.recv()
            if ftype != P.T_STEP:
                # A command may change outputs; any other frame ends a run
                # of STEP frames too (the host sends none in between).
                self.clean = False
            svc.serve(ftype, seq, n, step, save)

    def reset(self):
        # Leave; the virtual board's supervisor starts us again. A Pico
        # running this HAL (board config pico-pil: the processor in the
        # loop) resets its chip instead.
        if sys.platform == "rp2":
            import machine
            machine.reset()
        sys.exit(RESET_EXIT)

    def _reset(self):
        # The watchdog bites: note why (scratch registers) and go.
        self.persist.note_reset(_RESET_WATCHDOG, self.ctl.tick_no)
        self.reset()

    def step(self, seq, n):
        s = self.link.samples
        ctl = self.ctl
        tick0 = (s[0] & 0xFFFF) | ((s[1] & 0xFFFF) << 16)
        count = s[2] & 0xFFFF
        flags = s[3] & 0xFFFF
        # The header already held LEN to 1..MAX_SAMPLES whole samples.
        if P.STEP_HEAD + count * 10 != n or flags & ~P.STEP_AHEAD:
            self.link.nak(seq, P.N_PAYLOAD, P.T_STEP)
            return False
        if tick0 != ctl.tick_no + 1:
            self.link.nak(seq, P.N_TICK, P.T_STEP)
            return False
        if flags and not self.clean:
            # Written before the host knew how the frame before ended, and
            # that frame changed something: its samples assume old outputs.
            self.link.nak(seq, P.N_AHEAD, P.T_STEP)
            return False
        self.clean = False
        errors = self.tick_errors
        ctl.dirty = False
        tick = ctl.tick
        wdt = self.wdt
        lock = micropython.heap_lock
        unlock = micropython.heap_unlock
        i = 4
        end = 4 + 5 * count
        while i < end:
            if ctl.hang:
                # The control task is stalled: time passes, nothing runs,
                # nobody feeds the watchdog.
                ctl.hang -= 1
                ctl.tick_no += 1
            else:
                j = i
                t0 = _us()
                lock()
                try:
                    # Healthy ticks in a row, until one changes something.
                    # Each would feed the watchdog with its own tick, which
                    # keeps it from expiring: one feed after the last says
                    # the same (tick_no is tick0 + its sample's index).
                    while i < end:
                        tick(s[i], s[i + 1], s[i + 2], s[i + 3], s[i + 4])
                        i += 5
                        if ctl.dirty:
                            break
                except Exception as e:  # a fault in the logic: no feed
                    unlock()   # first: what follows allocates
                    if wdt is not None and i > j:
                        wdt.feed(tick0 + (i - 4) // 5 - 1)
                    self.tick_errors += 1
                    ctl.tick_no = tick0 + (i - 4) // 5
                    if self.tick_errors < 4:
                        sys.print_exception(e)
                else:
                    unlock()
                    # The run's time, for DIAG tick_us (a run is far
                    # shorter than 2**30 us, where a Pico's ticks_us wraps).
                    ctl.tick_us += (_us() - t0) & 0x3FFFFFFF
                    if wdt is not None:
                        wdt.feed(ctl.tick_no)
                    break   # a change, or the frame's end
            i += 5
            if wdt is not None and wdt.expired(ctl.tick_no):
                self.persist.save()
                self._reset()
            if ctl.dirty:
                break
        self.persist.save()
        self.clean = i >= end and not ctl.dirty and self.tick_errors == errors
        self.service.reply(P.T_STEP | P.REPLY, seq, (i - 4) // 5)
        return True
