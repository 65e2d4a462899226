# What survives a reset: therapy record, cartridge time, alarm log, reset cause.

import codes as C
from check import board_config
from controller import Controller
from persist import Persistence, RECORD
from memstorage import MemoryStorage
from test_fw_controller import Rig, drain

# The requirements (requirements/*.yaml) these tests verify; a dict, not a pytest
# marker, because the module runs in the MicroPython VM too (hil/trace/pytest_plugin.py).
VERIFIES = {
    "test_reset_mid_therapy_resumes_in_the_safe_state_with_the_same_cartridge_time": ("SR-PWR-1",),
    "test_used_cartridge_never_gets_a_fresh_24_h": ("SR-PWR-1", "SR-CART-1"),
    "test_alarm_log_survives_with_time_identity_priority_and_value": ("SR-ALM-3",),
    "test_damaged_record_is_ignored_not_trusted": ("SR-PERS-1",),
}


def reboot(storage, **therapy):
    ctl = Controller(board_config(**therapy))
    p = Persistence(storage, ctl)
    notice = p.boot()
    return ctl, p, notice


def running_rig_with_storage():
    r = Rig()
    r.to_running()
    store = MemoryStorage()
    p = Persistence(store, r.ctl)
    r.run(3000)
    p.save()
    return r, store, p


def test_reset_mid_therapy_resumes_in_the_safe_state_with_the_same_cartridge_time():
    r, store, _ = running_rig_with_storage()
    used = r.ctl.cart_used
    assert used > 2900
    ctl, _, notice = reboot(store)
    assert notice["restored"] and notice["cause"] == C.RESET_POWER_ON
    assert ctl.state == C.SAFE
    assert ctl.cart_used == used and ctl.cart_no == 1
    assert (ctl.out_pump, ctl.out_clamp, ctl.out_hep) == (0, 0, 0)
    assert ctl.alarms.is_set(C.AL_POWER_RESTORED)
    assert ctl.alarms.top == C.PRIO_HIGH
    # Heparin prescription and what was already given survive.
    assert ctl.hep.rate == r.ctl.hep.rate and ctl.hep.bolus_total == r.ctl.hep.bolus_total
    assert ctl.out_bolus == ctl.hep.bolus_total
    assert ctl.boots == 2
    assert ctl.command(C.CMD_RESUME, 0) == C.E_STATE
    assert ctl.command(C.CMD_ACK_ALARMS, 0) == C.OK
    assert ctl.state == C.PAUSED
    assert ctl.command(C.CMD_RESUME, 0) == C.OK
    ctl.tick(-800, 1400, 800, 2000, 0)
    assert ctl.state == C.RUNNING and ctl.out_hep == r.ctl.hep.rate


def test_used_cartridge_never_gets_a_fresh_24_h():
    r = Rig(cartridge_hours=1)
    r.to_running()
    store = MemoryStorage()
    p = Persistence(store, r.ctl)
    r.run(30000)
    p.save()
    ctl, _, _ = reboot(store, cartridge_hours=1)
    ctl.command(C.CMD_ACK_ALARMS, 0)
    ctl.command(C.CMD_RESUME, 0)
    n = 0
    while ctl.state == C.RUNNING and n < 40000:
        ctl.tick(-800, 1400, 800, 2000, 0)
        n += 1
    assert ctl.state == C.EXCHANGE
    # Exchange due after the remaining time, plus the ramp back to flow.
    assert 36000 - r.ctl.cart_used <= n <= 36000 - r.ctl.cart_used + 30


def test_restart_before_blood_flowed_means_priming_again():
    r = Rig()
    r.to_ready()
    store = MemoryStorage()
    Persistence(store, r.ctl).save()
    ctl, _, _ = reboot(store)
    assert ctl.state == C.IDLE and not ctl.alarms.is_set(C.AL_POWER_RESTORED)
    assert ctl.hep.weight == 700


def test_complete_stays_complete():
    r = Rig()
    r.to_ready()
    r.cmd(C.CMD_STOP)
    store = MemoryStorage()
    Persistence(store, r.ctl).save()
    ctl, _, _ = reboot(store)
    assert ctl.state == C.COMPLETE


def test_alarm_log_survives_with_time_identity_priority_and_value():
    r, store, p = running_rig_with_storage()
    r.p_acc = -2700
    r.run(10)
    assert r.ctl.state == C.SAFE
    p.save()
    ctl, _, _ = reboot(store)
    log = ctl.alarms.log_entries()
    when, aid, prio, value = log[-2]
    assert (aid, prio, value) == (C.AL_ACCESS_LOW, C.PRIO_HIGH, -2700)
    assert when == r.ctl.tick_no
    # The restart itself is logged, at therapy time after the last one.
    assert log[-1][1] == C.AL_POWER_RESTORED and log[-1][0] >= when


def test_watchdog_note_gives_the_reset_cause_once():
    r, store, p = running_rig_with_storage()
    p.note_reset(C.RESET_WATCHDOG, 1234)
    _, _, notice = reboot(store)
    assert notice["cause"] == C.RESET_WATCHDOG and notice["last_tick"] == 1234
    _, _, notice = reboot(store)
    assert notice["cause"] == C.RESET_POWER_ON and notice["last_tick"] == -1


def test_damaged_record_is_ignored_not_trusted():
    store = MemoryStorage()
    store.write_atomic(RECORD, b'{"v": 1, "state": 3, "cart_')
    ctl, p, notice = reboot(store)
    assert not notice["restored"] and ctl.state == C.IDLE and p.errors == 1
    store.write_atomic(RECORD, b'{"v": 1, "state": 3}')
    ctl, p, notice = reboot(store)
    assert not notice["restored"] and ctl.state == C.IDLE


def test_saves_only_what_changed():
    r, store, p = running_rig_with_storage()
    drain(r.ctl)
    writes = p.writes
    p.save()
    assert p.writes == writes
    r.run(1)
    p.save()
    assert p.writes == writes + 1
