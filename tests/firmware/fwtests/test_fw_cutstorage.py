# The test bench's power cut inside a storage write (cutstorage.py): the
# write that does not fit leaves a torn temporary file and no rename, and
# the persistence layer boots from the previous record as if nothing had
# been written. Runs on CPython and in the MicroPython VM.

import json
import os

import codes as C
from check import board_config
from controller import Controller
from cutstorage import CutStorage
from persist import ALARM_LOG, RECORD, Persistence, record
from memstorage import MemoryStorage
from storage import FileStorage
from test_fw_controller import Rig

# The requirements (requirements/*.yaml) these tests verify; a dict, not a pytest
# marker, because the module runs in the MicroPython VM too (hil/trace/pytest_plugin.py).
VERIFIES = {
    "test_every_cut_point_of_a_record_write_keeps_the_previous_record": ("SR-PERS-1",),
    "test_cut_inside_the_alarm_log_keeps_the_new_record_and_the_old_log": ("SR-PERS-1", "SR-ALM-3"),
}

DIR = "out-test-cutflash"
ARM = "out-test-cut-arm"


class Cut(Exception):
    pass


def _die():
    raise Cut()


def _clean():
    for name in (ARM, ARM + ".report"):
        try:
            os.remove(name)
        except OSError:
            pass
    try:
        names = os.listdir(DIR)
    except OSError:
        return
    for name in names:
        os.remove(DIR + "/" + name)
    os.rmdir(DIR)


def _running(store):
    # A therapy in progress, stored once; returns the rig, the persistence
    # and the bytes of the record on flash.
    r = Rig()
    r.to_running()
    r.run(3000)
    p = Persistence(store, r.ctl)
    p.save(True)
    return r, p


def _reboot(inner):
    ctl = Controller(board_config())
    p = Persistence(inner, ctl)
    return ctl, p, p.boot()


def test_cut_inside_the_record_leaves_a_torn_temp_file_and_the_old_record_on_flash():
    _clean()
    try:
        inner = FileStorage(DIR)
        r, _ = _running(inner)
        old = inner.read(RECORD)
        used_old = r.ctl.cart_used
        r.run(600)
        assert r.ctl.cart_used > used_old
        new = json.dumps(record(r.ctl)).encode()
        k = len(new) // 2
        cut = CutStorage(inner, k, die=_die)
        p = Persistence(cut, r.ctl)
        try:
            p.save()
            raise AssertionError("the power did not fail")
        except Cut:
            pass
        with open(DIR + "/" + RECORD + ".tmp", "rb") as f:
            torn = f.read()
        assert torn == new[:k] and len(torn) == k
        assert inner.read(RECORD) == old
        # The next boot: the previous record, nothing from the torn one.
        ctl, p2, notice = _reboot(FileStorage(DIR))
        assert notice["restored"] and p2.errors == 0
        assert ctl.state == C.SAFE and ctl.cart_used == used_old and ctl.cart_no == 1
        # ... and the next write replaces the torn temporary file.
        p2.save(True)
        assert json.loads(inner.read(RECORD))["cart_used"] == used_old
        assert RECORD + ".tmp" not in os.listdir(DIR)
    finally:
        _clean()


def test_every_cut_point_of_a_record_write_keeps_the_previous_record():
    r, _ = _running(MemoryStorage())
    used_old = r.ctl.cart_used
    base = MemoryStorage()
    Persistence(base, r.ctl).save(True)
    old = base.files[RECORD]
    r.run(700)
    new = json.dumps(record(r.ctl)).encode()
    m = len(new)
    # Every byte count from none to all of them (all: written, not renamed).
    for k in list(range(0, m, 17)) + [1, m - 1, m]:
        inner = MemoryStorage()
        inner.files = dict(base.files)
        try:
            Persistence(CutStorage(inner, k, die=_die), r.ctl).save(True)
            raise AssertionError("the power did not fail at %d of %d" % (k, m))
        except Cut:
            pass
        assert inner.files[RECORD + ".tmp"] == new[:k]
        assert inner.files[RECORD] == old
        ctl, p, notice = _reboot(inner)
        assert notice["restored"] and p.errors == 0, k
        assert ctl.cart_used == used_old and ctl.state == C.SAFE, k


def test_cut_inside_the_alarm_log_keeps_the_new_record_and_the_old_log():
    store = MemoryStorage()
    r, p = _running(store)
    log_old = store.files.get(ALARM_LOG)
    entries_old = r.ctl.alarms.log_entries()
    r.p_acc = -2700
    r.run(10)
    assert r.ctl.state == C.SAFE
    rec_new = json.dumps(record(r.ctl)).encode()
    # Enough for the record and its rename, then 3 bytes of the log.
    cut = CutStorage(store, len(rec_new) + 1 + 3, die=_die)
    try:
        Persistence(cut, r.ctl).save()
        raise AssertionError("the power did not fail")
    except Cut:
        pass
    assert store.files[RECORD] == rec_new and cut.writes == 1
    assert store.files.get(ALARM_LOG) == log_old
    assert len(store.files[ALARM_LOG + ".tmp"]) == 3
    ctl, p2, notice = _reboot(store)
    assert notice["restored"] and p2.errors == 0
    log = ctl.alarms.log_entries()
    # The stored entries, then the restart; the access alarm being written
    # when the power failed is the one entry lost.
    assert log[:-1] == entries_old[-31:]
    assert log[-1][1] == C.AL_POWER_RESTORED


def test_budget_counts_bytes_and_renames_and_is_armed_from_a_file():
    _clean()
    try:
        store = MemoryStorage()
        notes = []
        cut = CutStorage(store, 10, die=lambda: notes.append("dead"))
        cut.write_atomic("a", b"12345")      # 5 bytes + rename: 4 left
        cut.write_atomic("a", b"abc")        # 3 + 1: 0 left
        assert store.files["a"] == b"abc" and cut.budget == 0
        cut.write_atomic("a", b"xyz")        # the power fails before a byte
        assert notes == ["dead"] and store.files["a"] == b"abc"
        assert store.files["a.tmp"] == b""
        # Not armed: writes go through until the bench arms a cut.
        cut = CutStorage(store, -1, ARM, lambda: {"tick": 42}, lambda: notes.append("dead2"))
        cut.write_atomic("a", b"one")
        assert store.files["a"] == b"one"
        with open(ARM, "w") as f:
            f.write("2\n")
        cut.write_atomic("a", b"three")
        assert notes[-1] == "dead2" and store.files["a.tmp"] == b"th" and store.files["a"] == b"one"
        assert ARM not in os.listdir(".")
        with open(ARM + ".report") as f:
            note = json.loads(f.read())
        assert note == {"name": "a", "written": 2, "size": 5, "writes": 1, "tick": 42}
        # "@J": J writes go through, then the next one whole but not renamed.
        cut = CutStorage(store, -1, ARM, None, lambda: notes.append("dead3"))
        with open(ARM, "w") as f:
            f.write("@1")
        cut.write_atomic("a", b"four")
        cut.write_atomic("a", b"fives")
        assert notes[-1] == "dead3" and store.files["a"] == b"four" and store.files["a.tmp"] == b"fives"
    finally:
        _clean()
