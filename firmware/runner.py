# The own-clock runner: a board that keeps its own time (the rp2 HAL) runs
# one control period per cycle(): serve the host's frames, persist between
# ticks, wait for the period, then sense, tick and actuate through the
# board, and feed the watchdog. cycle() returns, so that run() can be a
# plain loop or, on a Pico W, an asyncio task that awaits between cycles.
# (The host-driven runner is the sim HAL's STEP loop, hal/sim.py.)

import time


class ClockRunner:
    def __init__(self, ctl, link, service, persist, board, period_ms, wdt):
        self.ctl = ctl
        self.link = link
        self.service = service
        self.persist = persist
        self.board = board      # sample() then control(): one period's I/O
        self.period = period_ms
        self.wdt = wdt          # anything with feed() (devices/wdt.py), or None
        self.next_t = time.ticks_add(time.ticks_ms(), period_ms)

    def run(self):
        while True:
            self.cycle()

    def poll(self):
        # Frames from the host between ticks; never wait for them, and never
        # for the rest of a frame that stopped short (it times out).
        link = self.link
        while True:
            f = link.recv(False)
            if f is None:
                break
            self.service.serve(f[0], f[1], f[2], None, self.persist.save)

    def cycle(self):
        ctl = self.ctl
        period = self.period
        self.poll()
        if ctl.persist_due or ctl.alarms.log_dirty:
            # A flash write stalls the RP2040 for milliseconds: between
            # ticks only, and at most once a minute in steady running.
            self.persist.save()
        delay = time.ticks_diff(self.next_t, time.ticks_ms())
        if delay > 0:
            time.sleep_ms(delay)
        # A test-mode time scale shortens the real period; the control
        # logic still counts one period per tick.
        self.next_t = time.ticks_add(self.next_t, period // ctl.time_scale or 1)
        board = self.board
        board.sample()
        if ctl.hang:
            # Test mode: the control task stalls and stops feeding the
            # watchdog, which then resets the board.
            time.sleep_ms(ctl.hang * period)
            ctl.hang = 0
        board.control()
        if self.wdt is not None:
            self.wdt.feed()
