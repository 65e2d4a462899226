# What survives a reset: the therapy record (state, cartridge and its used
# time, heparin prescription), the alarm log, and the cause of the last
# reset (the watchdog's scratch note). Stored as small JSON files through a
# storage object (see storage.py), written between control ticks.
# record() and restore() map the record to and from the controller.

import json

from micropython import const

import clot
import states

# The codes (codes.py) this module uses, as private constants (docs/firmware.md, Memory).
_IDLE = const(0)
_RUNNING = const(3)
_COMPLETE = const(6)
_SAFE = const(7)
_AL_POWER_RESTORED = const(13)
_EV_RESTORED = const(13)
_RESET_POWER_ON = const(0)

RECORD = "therapy.json"
ALARM_LOG = "alarms.json"
RESET_NOTE = "reset.json"

_RECORD_KEYS = ("state", "cart_no", "cart_used", "flow_set", "baseline", "weight",
                "hep_started", "rate", "bolus_total", "last_aptt", "streak", "hold_left",
                "recheck_left", "therapy_ticks", "boots")


def record(ctl):
    # The therapy record of the controller ctl: what must survive a reset.
    hep = ctl.hep
    t = ctl.tick_no
    return {
        "v": 1,
        "state": ctl.state,
        "cart_no": ctl.cart_no,
        "cart_used": ctl.cart_used,
        "flow_set": ctl.flow_set,
        "baseline": ctl.clot[0],
        "weight": hep.weight,
        "table": hep.table["name"],
        "hep_started": hep.started,
        "rate": hep.rate,
        "bolus_total": hep.bolus_total,
        "last_aptt": hep.last_aptt,
        "streak": hep.streak,
        "hold_left": hep.hold_until - t if hep.hold_until > t else 0,
        "recheck_left": hep.recheck_at - t if hep.recheck_at > t else -1,
        "therapy_ticks": ctl.base_ticks + t,
        "boots": ctl.boots,
    }


def restore(ctl, rec):
    # Resume the controller ctl after a reset from a stored record; False
    # (and nothing changed) if it is not a whole record of this table.
    # Mid-therapy the board comes back in the safe state with a latched
    # alarm to acknowledge; the cartridge keeps its used time, so it never
    # gets a fresh 24 h without an exchange. Priming must be redone.
    hep = ctl.hep
    if rec.get("v") != 1 or rec.get("table") != hep.table["name"]:
        return False
    for key in _RECORD_KEYS:
        if key not in rec:
            return False   # never half-restore
    ctl.cart_no = rec["cart_no"]
    ctl.cart_used = rec["cart_used"]
    ctl.flow_set = rec["flow_set"]
    clot.rebase(ctl.clot, rec["baseline"])
    hep.weight = rec["weight"]
    hep.started = rec["hep_started"]
    hep.rate = rec["rate"]
    hep.bolus_total = rec["bolus_total"]
    ctl.out_bolus = hep.bolus_total  # already given before the reset
    hep.last_aptt = rec["last_aptt"]
    hep.streak = rec["streak"]
    hep.hold_until = rec["hold_left"] if rec["hold_left"] > 0 else -1
    hep.recheck_at = rec["recheck_left"]
    ctl.base_ticks = rec["therapy_ticks"]
    al = ctl.alarms
    al.base = ctl.base_ticks
    ctl.boots = rec["boots"] + 1
    was = rec["state"]
    if was == _RUNNING or states.blood_stands(was):
        ctl.state = _SAFE
        al.activate(0, _AL_POWER_RESTORED, was)
        al.new_high = False
        al.deactivate(0, _AL_POWER_RESTORED)   # latched, acknowledgeable
    elif was == _COMPLETE:
        ctl.state = _COMPLETE
    else:
        ctl.state = _IDLE
    ctl.events.push(0, _EV_RESTORED, was, ctl.state, ctl.cart_used)
    return True


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
                restored = restore(ctl, rec)
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
            self.storage.write_atomic(RECORD, json.dumps(record(ctl)).encode())
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
