# Every row of every anticoagulation table.

from check import raises
import heparin
from board import _OPEN_BOUND, TABLE_NAMES, check_table
from heparin import Anticoagulation, CARTRIDGE_60_80, RASCHKE

# The requirements (requirements/*.yaml) these tests verify; a dict, not a pytest
# marker, because the module runs in the MicroPython VM too (hil/trace/pytest_plugin.py).
VERIFIES = {
    "test_cartridge_table_rows": ("SR-HEP-3",),
    "test_raschke_table_rows": ("SR-HEP-3",),
    "test_rate_never_negative": ("SR-HEP-3",),
    "test_recheck_six_hours_after_a_change_daily_after_two_in_range": ("SR-HEP-4",),
}

PER_H = 36000  # ticks per hour at 100 ms


def started(table, weight=700):
    a = Anticoagulation(table, 100)
    a.weight = weight
    a.start(0)
    return a


def test_start_gives_the_loading_bolus_and_rate():
    # The cartridge's table leaves the loading dose to the nurse (IV).
    a = started(CARTRIDGE_60_80)
    assert a.bolus_total == 0
    assert a.rate == 12600          # 18 U/kg/h x 70 kg, in 0.1 U/h
    assert a.recheck_at == 6 * PER_H
    r = started(RASCHKE)
    assert r.bolus_total == 80 * 70 and r.rate == 12600


def _expect_row(table, aptt, row_index):
    a = started(table)
    row = table["rows"][row_index]
    bolus0, rate0 = a.bolus_total, a.rate
    got = a.apply_aptt(PER_H, aptt)
    assert got == row_index, (aptt, got, row_index)
    assert a.bolus_total - bolus0 == row[1] * 70
    assert a.rate == rate0 + row[2] * 70
    if row[3]:
        assert a.infusion(PER_H) == 0
        assert a.infusion(PER_H + row[3] * 600 - 1) == 0
        assert a.infusion(PER_H + row[3] * 600) == a.rate
    else:
        assert a.infusion(PER_H) == a.rate


def test_cartridge_table_rows():
    # aPTT in 0.1 s at both edges of each band
    for aptt, row in ((300, 0), (449, 0), (450, 1), (599, 1), (600, 2), (800, 2),
                      (810, 3), (1009, 3), (1010, 4), (1500, 4)):
        _expect_row(CARTRIDGE_60_80, aptt, row)


def test_raschke_table_rows():
    for aptt, row in ((200, 0), (349, 0), (350, 1), (459, 1), (460, 2), (709, 2),
                      (710, 3), (909, 3), (910, 4), (1200, 4)):
        _expect_row(RASCHKE, aptt, row)


def test_recheck_six_hours_after_a_change_daily_after_two_in_range():
    a = started(CARTRIDGE_60_80)
    a.apply_aptt(PER_H, 500)                       # change
    assert a.recheck_at == PER_H + 6 * PER_H
    a.apply_aptt(7 * PER_H, 700)                   # first in range
    assert a.recheck_at == 7 * PER_H + 6 * PER_H
    a.apply_aptt(13 * PER_H, 720)                  # second in a row: daily
    assert a.recheck_at == 13 * PER_H + 24 * PER_H
    a.apply_aptt(37 * PER_H, 900)                  # out of range again
    assert a.streak == 0
    assert a.recheck_at == 37 * PER_H + 6 * PER_H


def test_rate_never_negative():
    a = started(CARTRIDGE_60_80, weight=300)
    for k in range(10):
        a.apply_aptt(k, 1500)
    assert a.rate == 0


def test_the_built_in_tables_pass_the_boot_check():
    # board.py checks a config's own table at boot; the built-in ones are
    # checked here, once, rather than on every boot.
    assert sorted(heparin.TABLES) == sorted(TABLE_NAMES)
    for t in heparin.TABLES.values():
        check_table(t)
    assert _OPEN_BOUND == heparin._OPEN


def test_bad_tables_are_refused():
    bad = dict(CARTRIDGE_60_80)
    bad["rows"] = ((500, 0, 0, 0), (400, 0, 0, 0), (0x3FFFFFFF, 0, 0, 0))
    assert "increase" in str(raises(ValueError, check_table, bad))
    bad["rows"] = ((500, 0, 0, 0),)
    assert "open-ended" in str(raises(ValueError, check_table, bad))
    bad["rows"] = ((500, -1, 0, 0), (0x3FFFFFFF, 0, 0, 0))
    assert "negative" in str(raises(ValueError, check_table, bad))
