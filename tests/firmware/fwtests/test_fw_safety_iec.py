# Protective behaviour asked for by IEC 60601-2-16 / 60601-1-8 minded
# reviews (issue 8, items 7 and 8): link supervision on a board that keeps
# its own time, blood stasis wherever blood stands in the circuit, the
# escalation of an unconfirmed cartridge exchange, and heparin only once
# the circuit is primed.

import board
import codes as C
from check import IS_MICROPYTHON, board_config, heap_growth, raises
from controller import Controller
from test_fw_controller import Rig, drain

# The requirements (requirements/*.yaml) these tests verify; a dict, not a pytest
# marker, because the module runs in the MicroPython VM too (hil/trace/pytest_plugin.py).
VERIFIES = {
    "test_host_link_lost_after_the_timeout_on_a_board_on_its_own_clock": ("SR-LINK-2",),
    "test_host_link_lost_clears_when_a_frame_arrives": ("SR-LINK-2",),
    "test_blood_stasis_in_exchange_after_60_s": ("SR-STASIS-1",),
    "test_blood_stasis_in_the_safe_state_and_from_paused_into_exchange": ("SR-STASIS-1",),
    "test_blood_stasis_ends_when_flow_resumes": ("SR-STASIS-1",),
    "test_unconfirmed_exchange_escalates_to_high_after_10_minutes": ("SR-CART-3",),
    "test_heparin_start_is_refused_before_the_circuit_is_primed": ("SR-HEP-1",),
    "test_new_paths_of_the_tick_do_not_allocate": ("SR-MEM-1",),
}


def rp2_rig(**therapy):
    # The controller as a board on its own clock runs it (cfg hal "rp2");
    # the controller reads no pins, so the virtual board's limits will do.
    r = Rig(**therapy)
    cfg = board_config(**therapy)
    cfg["hal"] = "rp2"
    r.ctl = Controller(cfg)
    return r


def to_exchange(r):
    # Run blood flow until the cartridge is used up; stop in that tick.
    n = 0
    while r.ctl.state != C.EXCHANGE:
        assert n < 40000 and r.ctl.state == C.RUNNING, r.ctl.state
        r.run(1)
        n += 1


def raised(events, aid):
    # Priorities of the raise events of alarm aid, in order.
    return [e[3] for e in events if e[1] == C.EV_ALARM_ON and e[2] == aid]


# ---- 1. link supervision ----------------------------------------------------

def test_shipped_configs_carry_link_timeout_and_exchange_escalation():
    for name in ("virtual", "pico", "pico2", "picow", "fake-pico", "pico-pil"):
        cfg = board.load("board-configs/%s.json" % name)
        assert cfg["link_timeout_s"] == 10, name
        assert cfg["limits"]["delays_ms"]["exchange_escalate"] <= 600000, name


def test_link_timeout_is_checked_by_the_schema():
    cfg = board_config()
    del cfg["link_timeout_s"]
    assert "link_timeout_s" in str(raises(board.ConfigError, board.check, cfg))
    for bad in (-1, 601):
        cfg = board_config()
        cfg["link_timeout_s"] = bad
        assert "link_timeout_s" in str(raises(board.ConfigError, board.check, cfg)), bad
    cfg = board_config()
    cfg["link_timeout_s"] = 0
    board.check(cfg)


def test_host_link_lost_after_the_timeout_on_a_board_on_its_own_clock():
    r = rp2_rig()
    r.to_running()
    ctl = r.ctl
    ctl.host_seen()
    drain(ctl)
    r.run(99)                                   # 9.9 s of silence
    assert not ctl.alarms.is_set(C.AL_HOST_LINK_LOST)
    r.run(1)                                    # 10 s
    assert ctl.alarms.is_set(C.AL_HOST_LINK_LOST)
    assert raised(drain(ctl), C.AL_HOST_LINK_LOST) == [C.PRIO_MEDIUM]
    assert ctl.alarms.top == C.PRIO_MEDIUM
    # No safe state for this alone: the therapy goes on ...
    r.run(600)
    assert ctl.state == C.RUNNING and ctl.out_pump == 2000 and ctl.out_clamp == 1
    assert raised(drain(ctl), C.AL_HOST_LINK_LOST) == []    # raised once
    # ... and the board still protects on its own sensors.
    r.air = 1
    r.run(1)
    assert ctl.state == C.SAFE and ctl.out_pump == 0 and ctl.out_clamp == 0


def test_host_link_lost_clears_when_a_frame_arrives():
    r = rp2_rig()
    r.to_running()
    ctl = r.ctl
    r.run(100)
    assert ctl.alarms.is_set(C.AL_HOST_LINK_LOST)
    drain(ctl)
    ctl.host_seen()
    assert not ctl.alarms.is_set(C.AL_HOST_LINK_LOST)
    assert ctl.alarms.top == C.PRIO_NONE
    assert (C.EV_ALARM_OFF, C.AL_HOST_LINK_LOST) in [(e[1], e[2]) for e in drain(ctl)]
    # The count starts again from that frame.
    r.run(99)
    assert not ctl.alarms.is_set(C.AL_HOST_LINK_LOST)
    r.run(1)
    assert ctl.alarms.is_set(C.AL_HOST_LINK_LOST)


def test_frames_keep_the_link_supervision_quiet():
    r = rp2_rig()
    r.to_running()
    for _ in range(50):
        r.run(90)
        r.ctl.host_seen()
    assert not r.ctl.alarms.is_set(C.AL_HOST_LINK_LOST)


def test_no_link_supervision_where_the_host_owns_time():
    # The sim HAL: the host's silence is missing samples, i.e. sensor loss.
    r = Rig()
    r.to_running()
    r.run(3000)
    assert not r.ctl.alarms.is_set(C.AL_HOST_LINK_LOST)
    assert r.ctl.link_s == 0


def test_link_timeout_zero_turns_it_off():
    cfg = board_config()
    cfg["hal"] = "rp2"
    cfg["link_timeout_s"] = 0
    ctl = Controller(cfg)
    n = 0
    while n < 3000:
        ctl.tick(0, 0, 0, 0, 0)
        n += 1
    assert not ctl.alarms.is_set(C.AL_HOST_LINK_LOST)


def test_link_timeout_stays_in_real_time_under_a_test_time_scale():
    r = rp2_rig()
    ctl = r.ctl
    assert ctl.command(C.CMD_TIME_SCALE, 10) == C.OK   # 10 ms per period
    r.run(999)
    assert not ctl.alarms.is_set(C.AL_HOST_LINK_LOST)
    r.run(1)
    assert ctl.alarms.is_set(C.AL_HOST_LINK_LOST)
    ctl.host_seen()
    assert ctl.command(C.CMD_TIME_SCALE, 1000) == C.OK  # 1 ms per period at most
    r.run(9999)
    assert not ctl.alarms.is_set(C.AL_HOST_LINK_LOST)
    r.run(1)
    assert ctl.alarms.is_set(C.AL_HOST_LINK_LOST)


# ---- 2. blood stasis ---------------------------------------------------------

def test_blood_stasis_in_exchange_after_60_s():
    r = Rig(cartridge_hours=1)
    r.to_running()
    to_exchange(r)
    ctl = r.ctl
    assert ctl.state == C.EXCHANGE
    r.run(599)
    assert not ctl.alarms.is_set(C.AL_STASIS)
    r.run(1)
    assert ctl.alarms.is_set(C.AL_STASIS)
    assert ctl.alarms.prio[C.AL_STASIS] == C.PRIO_MEDIUM
    assert ctl.state == C.EXCHANGE            # no new transition
    # The exchange goes on: confirming it clears the stasis alarm, and
    # priming the new cartridge does not raise it again.
    assert r.cmd(C.CMD_CONFIRM_EXCHANGE) == C.OK
    assert not ctl.alarms.is_set(C.AL_STASIS)
    r.run(3000)
    assert ctl.state == C.READY
    assert not ctl.alarms.is_set(C.AL_STASIS)
    assert r.cmd(C.CMD_START) == C.OK
    r.run(30)
    assert ctl.state == C.RUNNING


def test_blood_stasis_in_the_safe_state_and_from_paused_into_exchange():
    r = Rig()
    r.to_running()
    r.air = 1
    r.run(1)
    r.air = 0
    assert r.ctl.state == C.SAFE
    r.run(600)
    assert r.ctl.alarms.is_set(C.AL_STASIS)
    # Blood keeps standing: paused, then an early exchange.
    assert r.cmd(C.CMD_ACK_ALARMS) == C.OK
    assert r.ctl.state == C.PAUSED
    assert r.cmd(C.CMD_REQUEST_EXCHANGE) == C.OK
    r.run(10)
    assert r.ctl.state == C.EXCHANGE
    assert r.ctl.alarms.is_set(C.AL_STASIS)
    # Ending therapy instead: no blood left standing, no stasis alarm.
    assert r.cmd(C.CMD_STOP) == C.OK
    assert not r.ctl.alarms.is_set(C.AL_STASIS)
    r.run(1000)
    assert not r.ctl.alarms.is_set(C.AL_STASIS)


def test_blood_stasis_ends_when_flow_resumes():
    r = Rig()
    r.to_running()
    r.cmd(C.CMD_PAUSE)
    r.run(700)
    assert r.ctl.alarms.is_set(C.AL_STASIS)
    assert r.cmd(C.CMD_RESUME) == C.OK
    r.run(1)
    assert not r.ctl.alarms.is_set(C.AL_STASIS)


# ---- 3. escalation of an unconfirmed exchange --------------------------------

def test_unconfirmed_exchange_escalates_to_high_after_10_minutes():
    r = Rig(cartridge_hours=1)
    r.to_running()
    to_exchange(r)
    ctl = r.ctl
    al = ctl.alarms
    assert ctl.state == C.EXCHANGE
    ev = drain(ctl)
    assert raised(ev, C.AL_EXCHANGE_DUE) == [C.PRIO_MEDIUM]
    # The operator silences it; the escalation is never hidden by that.
    assert r.cmd(C.CMD_AUDIO_PAUSE) == C.OK
    r.run(5999)                                  # 9 min 59.9 s
    assert al.prio[C.AL_EXCHANGE_DUE] == C.PRIO_MEDIUM
    assert raised(drain(ctl), C.AL_EXCHANGE_DUE) == []
    r.run(1)                                     # 10 min
    ev = drain(ctl)
    # An alarm event with the new priority, for the host to see.
    assert raised(ev, C.AL_EXCHANGE_DUE) == [C.PRIO_HIGH]
    assert al.top == C.PRIO_HIGH and al.audible(ctl.tick_no)
    entry = al.log_entries()[-1]
    assert entry[1:3] == [C.AL_EXCHANGE_DUE, C.PRIO_HIGH]
    # Blood is already stopped: no new safe-state transition, and the
    # board stays waiting for the exchange.
    assert ctl.state == C.EXCHANGE
    assert not [e for e in ev if e[1] == C.EV_STATE]
    assert (ctl.out_pump, ctl.out_clamp, ctl.out_hep) == (0, 0, 0)
    r.run(6000)
    assert raised(drain(ctl), C.AL_EXCHANGE_DUE) == []       # escalated once
    # Confirming the exchange ends it; the next cartridge's alarm is medium again.
    assert r.cmd(C.CMD_CONFIRM_EXCHANGE) == C.OK
    clears = [e for e in drain(ctl) if e[1] == C.EV_ALARM_OFF and e[2] == C.AL_EXCHANGE_DUE]
    assert [e[3] for e in clears] == [C.PRIO_HIGH]
    assert not al.is_set(C.AL_EXCHANGE_DUE) and al.latched == 0
    assert al.prio[C.AL_EXCHANGE_DUE] == C.PRIO_MEDIUM
    r.run(3000)
    assert r.cmd(C.CMD_START) == C.OK
    to_exchange(r)
    assert raised(drain(ctl), C.AL_EXCHANGE_DUE) == [C.PRIO_MEDIUM]


def test_alarms_escalate_only_an_active_alarm_upwards():
    from alarms import Alarms
    from events import EventQueue
    ev = EventQueue(16)
    prio = [0] * C.N_ALARMS
    prio[C.AL_EXCHANGE_DUE] = C.PRIO_MEDIUM
    al = Alarms(ev, prio, [1] * C.N_ALARMS)
    al.activate(1, C.AL_EXCHANGE_DUE, 1, C.PRIO_HIGH)      # not raised: nothing
    assert ev.count == 0 and al.top == C.PRIO_NONE
    al.activate(2, C.AL_EXCHANGE_DUE, 1)
    al.activate(3, C.AL_EXCHANGE_DUE, 1, C.PRIO_LOW)       # never downwards
    al.activate(4, C.AL_EXCHANGE_DUE, 1, C.PRIO_HIGH)
    al.activate(5, C.AL_EXCHANGE_DUE, 1, C.PRIO_HIGH)      # once
    got = []
    for k in range(ev.count):
        i = ev.peek(k)
        got.append(tuple(ev.buf[i:i + 5]))
    assert got == [(2, C.EV_ALARM_ON, C.AL_EXCHANGE_DUE, C.PRIO_MEDIUM, 1),
                   (4, C.EV_ALARM_ON, C.AL_EXCHANGE_DUE, C.PRIO_HIGH, 1)]
    assert al.top == C.PRIO_HIGH and al.latched == 0 and not al.new_high
    al.deactivate(6, C.AL_EXCHANGE_DUE)
    assert al.top == C.PRIO_NONE and al.prio[C.AL_EXCHANGE_DUE] == C.PRIO_MEDIUM


def test_exchange_confirmed_in_time_does_not_escalate():
    r = Rig(cartridge_hours=1)
    r.to_running()
    to_exchange(r)
    drain(r.ctl)
    r.run(5999)
    assert r.cmd(C.CMD_CONFIRM_EXCHANGE) == C.OK
    r.run(6000)
    assert C.PRIO_HIGH not in raised(drain(r.ctl), C.AL_EXCHANGE_DUE)
    assert r.ctl.alarms.top < C.PRIO_HIGH


def test_escalation_delay_comes_from_the_board_config():
    cfg = board_config()
    cfg["limits"]["delays_ms"]["exchange_escalate"] = 600001
    assert "exchange_escalate" in str(raises(board.ConfigError, board.check, cfg))
    r = Rig()
    cfg = board_config()
    cfg["limits"]["delays_ms"]["exchange_escalate"] = 120000   # 2 min
    r.ctl = Controller(cfg)
    r.to_running()
    r.cmd(C.CMD_PAUSE)
    r.run(1)
    # An exchange asked for early escalates the same way.
    assert r.cmd(C.CMD_REQUEST_EXCHANGE) == C.OK
    drain(r.ctl)
    r.run(1199)
    assert r.ctl.alarms.prio[C.AL_EXCHANGE_DUE] == C.PRIO_MEDIUM
    r.run(1)
    assert raised(drain(r.ctl), C.AL_EXCHANGE_DUE) == [C.PRIO_HIGH]
    # Stop ends it too.
    assert r.cmd(C.CMD_STOP) == C.OK
    assert not r.ctl.alarms.is_set(C.AL_EXCHANGE_DUE)
    assert r.ctl.alarms.top == C.PRIO_NONE


# ---- 4. heparin only once primed ---------------------------------------------

def test_heparin_start_is_refused_before_the_circuit_is_primed():
    r = Rig()
    assert r.cmd(C.CMD_SET_WEIGHT, 700) == C.OK
    assert r.cmd(C.CMD_HEPARIN_START) == C.E_STATE          # idle
    assert r.cmd(C.CMD_PRIME) == C.OK
    r.run(10)
    assert r.ctl.state == C.PRIMING
    assert r.cmd(C.CMD_HEPARIN_START) == C.E_STATE          # priming
    r.run(1)
    assert r.ctl.out_bolus == 0 and r.ctl.out_hep == 0 and not r.ctl.hep.started
    r.run(3000)
    assert r.ctl.state == C.READY
    assert r.cmd(C.CMD_HEPARIN_START) == C.OK               # ready
    r.run(1)
    # Started, but nothing into the line until blood flows through it.
    assert r.ctl.hep.started and r.ctl.out_bolus == 0 and r.ctl.out_hep == 0


# ---- 5. allocation-free ------------------------------------------------------

def test_new_paths_of_the_tick_do_not_allocate():
    if not IS_MICROPYTHON:
        return  # only the MicroPython VM can tell
    cfg = board_config(cartridge_hours=1)
    cfg["hal"] = "rp2"
    cfg["limits"]["delays_ms"]["exchange_escalate"] = 60000
    r = Rig()
    r.ctl = Controller(cfg)
    r.to_running()
    ctl = r.ctl
    ctl.cart_used = ctl.cart_limit - 10

    def step(n):
        # Running into the exchange, link lost and found again every
        # 15 s, stasis after 60 s and the escalation after 1 min.
        ctl.tick(-800, 1400, 800, ctl.out_pump, 0)
        if n % 150 == 149:
            ctl.host_seen()

    assert heap_growth(ctl, 10000, step) == 0
    assert ctl.state == C.EXCHANGE
    assert ctl.alarms.prio[C.AL_EXCHANGE_DUE] == C.PRIO_HIGH
    assert ctl.alarms.is_set(C.AL_STASIS)
    assert ctl.alarms.log_next > 3
