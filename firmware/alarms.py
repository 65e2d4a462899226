# Alarm conditions with condition delays, priorities, latching of high
# alarms until acknowledged, escalation of an alarm left unanswered, and an
# audio pause that a new alarm cancels.

from array import array

from micropython import const

# The codes (codes.py) this module uses, as private constants (docs/firmware.md, Memory).
_N_ALARMS = const(16)
_PRIO_NONE = const(0)
_PRIO_HIGH = const(3)
_EV_ALARM_ON = const(2)
_EV_ALARM_OFF = const(3)
_EV_ALARM_ACK = const(4)
_EV_AUDIO_PAUSE = const(11)

LOG_LEN = 32


class Alarms:
    def __init__(self, events, priorities, delays):
        # priorities, delays: sequences indexed by alarm id (delays in ticks,
        # at least 1: the condition must hold for that many consecutive ticks).
        self.events = events
        # prio: each alarm's priority now (an escalation may raise it);
        # prio0: its own, which it goes back to when it ends.
        self.prio0 = priorities
        self.prio = bytearray(priorities)
        self.delay = array("i", delays)
        self.count = array("i", bytes(4 * _N_ALARMS))
        self.active = 0    # bit per alarm whose condition is alarming now
        self.latched = 0   # high alarms kept until acknowledged
        self.top = _PRIO_NONE
        self.audio_paused_until = -1
        self.new_high = False  # set when a high alarm is raised; the controller reacts and clears it
        # Alarm log: the last LOG_LEN alarms raised, four ints each: therapy
        # time in ticks (across restarts: base + tick), id, priority, value.
        self.base = 0
        self.log = array("i", bytes(4 * 4 * LOG_LEN))
        self.log_next = 0      # total entries ever written
        self.log_dirty = False

    def check(self, tick, aid, cond, value):
        # Feed one tick of a condition. Returns nothing; state is in the masks.
        # The count of ticks it held stops at the delay: a condition that
        # lasts for ever never makes it a long integer (an allocation).
        bit = 1 << aid
        if cond:
            c = self.count[aid]
            if c < self.delay[aid]:
                c += 1
                self.count[aid] = c
            if c >= self.delay[aid] and not (self.active & bit):
                self.activate(tick, aid, value)
        else:
            self.count[aid] = 0
            if self.active & bit:
                self.deactivate(tick, aid)

    def activate(self, tick, aid, value, escalate=0):
        # Raise an alarm. With escalate (a priority), raise an active alarm's
        # priority instead: a new raise event at that priority, logged, that
        # does not latch; the alarm ends with its condition, as before.
        bit = 1 << aid
        if escalate:
            if not (self.active & bit) or self.prio[aid] >= escalate:
                return
            self.prio[aid] = p = escalate
        else:
            if self.active & bit:
                return
            self.active |= bit
            p = self.prio[aid]
            if p == _PRIO_HIGH:
                self.latched |= bit
                self.new_high = True
        # A new alarm (or a higher priority) is never hidden by an audio pause.
        self.audio_paused_until = -1
        self.events.push(tick, _EV_ALARM_ON, aid, p, value)
        i = (self.log_next % LOG_LEN) * 4
        log = self.log
        log[i] = self.base + tick
        log[i + 1] = aid
        log[i + 2] = p
        log[i + 3] = value
        self.log_next += 1
        self.log_dirty = True
        self._update_top()

    def deactivate(self, tick, aid):
        bit = 1 << aid
        if not (self.active & bit):
            return
        self.active &= ~bit
        self.count[aid] = 0
        self.events.push(tick, _EV_ALARM_OFF, aid, self.prio[aid], 0)
        self.prio[aid] = self.prio0[aid]
        self._update_top()

    def unanswered(self, tick, aid, value):
        # One more tick of an alarm raised directly (never through check(),
        # so its count and delay slots are free) that still waits for its
        # answer; when it has waited its delay it is raised again at high
        # priority. The count goes back to 0 when the alarm ends.
        n = self.count[aid]
        if n < self.delay[aid]:
            n += 1
            self.count[aid] = n
            if n == self.delay[aid]:
                self.activate(tick, aid, value, _PRIO_HIGH)

    def acknowledge(self, tick):
        # Releases latched alarms whose condition has ended. Returns the mask
        # of latched alarms that remain because their condition persists.
        released = self.latched & ~self.active
        aid = 1
        while aid < _N_ALARMS:
            if released & (1 << aid):
                self.events.push(tick, _EV_ALARM_ACK, aid, self.prio[aid], 0)
            aid += 1
        self.latched &= self.active
        self._update_top()
        return self.latched

    def pause_audio(self, tick, length):
        if self.top == _PRIO_NONE:
            return False
        self.audio_paused_until = tick + length
        self.events.push(tick, _EV_AUDIO_PAUSE, 0, 0, length)
        return True

    def audible(self, tick):
        return self.top != _PRIO_NONE and tick >= self.audio_paused_until

    def log_entries(self):
        # Oldest first, as lists [time_ticks, id, priority, value].
        n = self.log_next if self.log_next < LOG_LEN else LOG_LEN
        out = []
        for k in range(self.log_next - n, self.log_next):
            i = (k % LOG_LEN) * 4
            out.append([self.log[i], self.log[i + 1], self.log[i + 2], self.log[i + 3]])
        return out

    def load_log(self, entries):
        # Put back a log read from storage (oldest first).
        self.log_next = 0
        for e in entries[-LOG_LEN:]:
            i = self.log_next * 4
            for j in range(4):
                self.log[i + j] = e[j]
            self.log_next += 1
        self.log_dirty = False

    def is_set(self, aid):
        return ((self.active | self.latched) >> aid) & 1 == 1

    def _update_top(self):
        shown = self.active | self.latched
        top = _PRIO_NONE
        aid = 1
        while aid < _N_ALARMS:
            if shown & (1 << aid) and self.prio[aid] > top:
                top = self.prio[aid]
            aid += 1
        self.top = top
