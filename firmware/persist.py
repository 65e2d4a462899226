# What survives a reset: the therapy record (state, cartridge and its used
# time, heparin prescription), the alarm log, and the cause of the last
# reset (the watchdog's scratch note). Stored as small JSON files through a
# storage object (see storage.py), written between control ticks.

import json

try:
    from micropython import const
except ImportError:  # CPython, for tests
    def const(x):
        return x

_RESET_POWER_ON = const(0)   # codes.RESET_POWER_ON

RECORD = "therapy.json"
ALARM_LOG = "alarms.json"
RESET_NOTE = "reset.json"


class Persistence:
    def __init__(self, storage, ctl):
        self.storage = storage
        self.ctl = ctl
        self.saved_used = -1
        self.writes = 0
        self.errors = 0

    def _load(self, name):
        data = self.storage.read(name)
        if data is None:
            return None
        try:
            return json.loads(data)
        except ValueError:
            self.errors += 1
            return None

    def boot(self):
        # Restore what was stored; return the boot notice for the host.
        ctl = self.ctl
        note = self._load(RESET_NOTE)
        cause = _RESET_POWER_ON
        last_tick = -1
        if isinstance(note, dict):
            cause = note.get("cause", _RESET_POWER_ON)
            last_tick = note.get("tick", -1)
            self.storage.remove(RESET_NOTE)
        log = self._load(ALARM_LOG)
        if isinstance(log, list):
            try:
                ctl.alarms.load_log(log)
            except (IndexError, TypeError):
                self.errors += 1
        restored = False
        rec = self._load(RECORD)
        if isinstance(rec, dict):
            try:
                restored = ctl.restore(rec)
            except (KeyError, TypeError):
                self.errors += 1
        self.saved_used = ctl.cart_used
        return {
            "cause": cause,   # codes.RESET_*
            "last_tick": last_tick,
            "restored": restored,
            "state": ctl.state,
            "boots": ctl.boots,
            "cartridge": ctl.cart_no,
            "cartridge_used": ctl.cart_used,
        }

    def save(self, force=False):
        # Write what changed. Called between ticks, never inside one.
        ctl = self.ctl
        if force or ctl.persist_due or ctl.cart_used != self.saved_used:
            ctl.persist_due = False
            self.saved_used = ctl.cart_used
            self.storage.write_atomic(RECORD, json.dumps(ctl.record()).encode())
            self.writes += 1
        al = ctl.alarms
        if al.log_dirty:
            al.log_dirty = False
            self.storage.write_atomic(ALARM_LOG, json.dumps(al.log_entries()).encode())
            self.writes += 1

    def note_reset(self, cause, tick):
        # What the RP2040 keeps in its watchdog scratch registers.
        self.storage.write_atomic(RESET_NOTE, json.dumps({"cause": cause, "tick": tick}).encode())

    def erase(self):
        # A new patient: forget the therapy and the log.
        for name in (RECORD, ALARM_LOG, RESET_NOTE):
            self.storage.remove(name)
