# The therapy controller: pure logic. Each control period it takes the sensor
# readings as integers and decides the actuator outputs; operator commands
# arrive between periods. It never touches hardware or the link, and the
# control tick allocates nothing (integers only, preallocated buffers).
# Clot detection (clot.py) and cartridge timing (cartridge.py) are pure
# functions it calls; the therapy record is mapped in persist.py.
#
# Units: pressure 0.1 mmHg, flow 0.1 mL/min, heparin 0.1 U/h, aPTT 0.1 s,
# weight 0.1 kg, time in control periods (ticks).

from micropython import const

# The codes (codes.py) this module uses, as private constants (docs/firmware.md, Memory).
_IDLE = const(0)
_PRIMING = const(1)
_READY = const(2)
_RUNNING = const(3)
_PAUSED = const(4)
_COMPLETE = const(6)
_SAFE = const(7)
_PRIO_LOW = const(1)
_PRIO_MEDIUM = const(2)
_PRIO_HIGH = const(3)
_N_ALARMS = const(16)
_AL_AIR = const(1)
_AL_ACCESS_LOW = const(2)
_AL_RETURN_HIGH = const(3)
_AL_RETURN_LOW = const(4)
_AL_PRE_HIGH = const(5)
_AL_NO_FLOW = const(6)
_AL_FLOW_LOW = const(7)
_AL_CLOT = const(8)
_AL_STASIS = const(9)
_AL_EXCHANGE_DUE = const(10)
_AL_APTT_DUE = const(12)
_AL_SENSOR_LOSS = const(14)
_AL_HOST_LINK_LOST = const(15)
_EV_STATE = const(1)
_EV_EXCHANGE_DUE = const(5)
_EV_CARTRIDGE = const(6)
_EV_HEPARIN = const(7)
_EV_APTT = const(8)
_EV_PRIMED = const(10)
_EV_OVERRIDE = const(12)
_CMD_PRIME = const(1)
_CMD_START = const(2)
_CMD_STOP = const(5)
_CMD_SET_FLOW = const(6)
_CMD_APTT = const(7)
_CMD_CONFIRM_EXCHANGE = const(8)
_CMD_ACK_ALARMS = const(9)
_CMD_AUDIO_PAUSE = const(10)
_CMD_SET_WEIGHT = const(11)
_CMD_HEPARIN_START = const(12)
_CMD_OVERRIDE_APTT = const(13)
_CMD_TEST_HANG = const(14)
_CMD_REQUEST_EXCHANGE = const(15)
_CMD_TIME_SCALE = const(16)
_OK = const(0)
_E_STATE = const(1)
_E_RANGE = const(2)
_E_UNKNOWN = const(3)
_E_CONDITION = const(4)
_E_TEST_ONLY = const(5)
# Internal events of the state table (states.T_*; tests/firmware checks them).
_T_PRIMED = const(100)
_T_HIGH_ALARM = const(103)

from events import EventQueue
from alarms import Alarms
from heparin import Anticoagulation, TABLES
import cartridge
import clot
import states

# Priority of each alarm id (index = id).
PRIORITIES = (
    0,
    _PRIO_HIGH,    # air in line
    _PRIO_HIGH,    # access pressure below limit
    _PRIO_HIGH,    # return pressure above limit
    _PRIO_HIGH,    # return pressure below limit (disconnection, blood loss)
    _PRIO_HIGH,    # pre-cartridge pressure above limit
    _PRIO_HIGH,    # no flow
    _PRIO_MEDIUM,  # flow below 70% of set
    _PRIO_MEDIUM,  # clotting suspected
    _PRIO_MEDIUM,  # blood standing still
    _PRIO_MEDIUM,  # cartridge exchange due
    _PRIO_LOW,     # therapy complete
    _PRIO_LOW,     # aPTT check due
    _PRIO_HIGH,    # restarted mid-therapy: acknowledge before going on
    _PRIO_HIGH,    # sensor data lost
    _PRIO_MEDIUM,  # host link lost (boards on their own clock): they go on protecting
)

# Alarms whose condition is only evaluated while the blood pump runs; they are
# cleared when it stops (latched high ones stay latched until acknowledged).
# Private constants too: folded by the compiler, no global names in RAM.
_RUNNING_ONLY = const((1 << _AL_ACCESS_LOW) | (1 << _AL_RETURN_HIGH) | (1 << _AL_RETURN_LOW)
                      | (1 << _AL_PRE_HIGH) | (1 << _AL_NO_FLOW) | (1 << _AL_FLOW_LOW)
                      | (1 << _AL_CLOT))


def _ticks(ms, period_ms):
    # A condition delay of ms, in ticks; at least one tick.
    return ms // period_ms or 1


class Controller:
    def __init__(self, cfg):
        period = cfg["period_ms"]
        lim = cfg["limits"]
        th = cfg["therapy"]
        self.period_ms = period
        per_s = 1000 // period
        self.per_min = 60 * per_s
        # Limits, converted once to the integer units of the tick.
        self.lim_access_low = lim["access_low_mmhg"] * 10
        self.lim_return_high = lim["return_high_mmhg"] * 10
        self.lim_return_low = lim["return_low_mmhg"] * 10
        self.lim_pre_high = lim["pre_high_mmhg"] * 10
        self.q_no_flow = lim["no_flow_ml_min"] * 10
        self.flow_low_pct = lim["flow_low_pct"]
        self.flow_min = th["flow_min_ml_min"] * 10
        self.flow_max = th["flow_max_ml_min"] * 10
        self.flow_set = th["flow_default_ml_min"] * 10
        self.ramp_step = th["ramp_ml_min_per_s"] * 10 // per_s or 1
        self.prime_flow = th["prime_flow_ml_min"] * 10
        # Primed when the sum of flow readings (0.1 mL/min per tick) reaches this.
        self.prime_target = th["prime_volume_ml"] * 10 * (60000 // period)
        self.prime_ml = th["prime_volume_ml"]
        self.q_flowing = th["flowing_ml_min"] * 10
        self.cart_limit = th["cartridge_hours"] * 3600 * per_s
        self.cart_max = th["max_cartridges"]
        self.audio_pause_ticks = th["audio_pause_s"] * per_s
        d = lim["delays_ms"]
        delays = [1] * _N_ALARMS
        delays[_AL_AIR] = _ticks(d["air"], period)
        delays[_AL_ACCESS_LOW] = _ticks(d["access_low"], period)
        delays[_AL_RETURN_HIGH] = _ticks(d["return_high"], period)
        delays[_AL_RETURN_LOW] = _ticks(d["return_low"], period)
        delays[_AL_PRE_HIGH] = _ticks(d["pre_high"], period)
        delays[_AL_NO_FLOW] = _ticks(d["no_flow"], period)
        delays[_AL_FLOW_LOW] = _ticks(d["flow_low"], period)
        delays[_AL_CLOT] = _ticks(d["clot"], period)
        delays[_AL_STASIS] = _ticks(d["stasis"], period)
        delays[_AL_SENSOR_LOSS] = _ticks(d.get("sensor_loss", 500), period)
        # cartridge_exchange_due is raised directly, never through a condition
        # delay: its slots count the wait for confirmation instead, and after
        # this long it escalates to high (the schema allows at most 10 min).
        delays[_AL_EXCHANGE_DUE] = _ticks(d.get("exchange_escalate", 600000), period)
        # Link supervision, only on a board that keeps its own time (rp2 HAL):
        # on the sim HAL the host owns time and missing samples are sensor
        # loss. host_link_lost is a condition with a delay: the host is silent.
        self.link_s = cfg.get("link_timeout_s", 10) if cfg["hal"] == "rp2" else 0   # 0 = off
        delays[_AL_HOST_LINK_LOST] = self.link_s * per_s or 1

        self.events = EventQueue(32)
        self.alarms = Alarms(self.events, PRIORITIES, delays)
        table = cfg.get("anticoagulation", "cartridge-60-80")
        if not isinstance(table, dict):
            table = TABLES[table]
        self.hep = Anticoagulation(table, period)

        self.test_mode = bool(cfg.get("test_mode", False))
        self.tick_no = 0
        self.base_ticks = 0      # therapy ticks before this boot (restored)
        self.boots = 1
        self.tick_us = 0         # sim HAL: microseconds its STEP frames spent in tick()
        self.hang = 0            # test mode: ticks the control task stays stalled
        self.time_scale = 1      # test mode: the rp2 HAL's clock runs this much faster
        self.override = False    # start once with aPTT out of range (confirmed)
        self.persist_due = False # the HAL writes the therapy record between ticks
        self.state = _IDLE
        self.cart_no = 1
        self.cart_used = 0       # ticks with blood flowing on this cartridge
        self.prime_acc = 0
        # Clot detection's state (clot.py); clot[0]: the fresh cartridge's
        # pressure drop, 0.1 mmHg, -1 until learned.
        self.clot = clot.new(lim["clot_settle_s"] * per_s, lim["clot_baseline_s"] * per_s,
                             lim["clot_drop_rise_mmhg"] * 10)
        # Outputs start in the safe state: pump off, clamp closed, no heparin.
        self.out_pump = 0        # 0.1 mL/min
        self.out_clamp = 0       # 1 = open
        self.out_hep = 0         # 0.1 U/h
        self.out_bolus = 0       # U, cumulative
        self.dirty = False       # outputs or events changed since last cleared

    # ---- the control tick -------------------------------------------------

    def tick(self, p_acc, p_pre, p_ret, q, flags):
        t = self.tick_no + 1
        self.tick_no = t
        st = self.state
        al = self.alarms
        if self.link_s:
            # A silent host is said, and we go on protecting on our own
            # sensors (no safe state for this alone); host_seen() ends it.
            al.check(t, _AL_HOST_LINK_LOST, True, self.link_s)
        if al.active & (1 << _AL_EXCHANGE_DUE):
            # Nobody confirmed the exchange yet: in time, the same alarm, high.
            al.unanswered(t, _AL_EXCHANGE_DUE, self.cart_no)
        if flags < 0:
            # No sensor data this period (flag bit 15). Decide nothing from
            # it; if it lasts, that is a high alarm while blood circulates.
            al.check(t, _AL_SENSOR_LOSS, st == _RUNNING or st == _PAUSED, 0)
        else:
            al.check(t, _AL_SENSOR_LOSS, False, 0)
            self._monitor(t, st, p_acc, p_pre, p_ret, q, flags)
        if al.new_high:
            al.new_high = False
            self.persist_due = True
            if self.state == _RUNNING or self.state == _PAUSED:
                self._goto(t, _T_HIGH_ALARM, 0)
        self._outputs(t)

    def _monitor(self, t, st, p_acc, p_pre, p_ret, q, flags):
        # One period of valid sensor data: the conditions of the state.
        al = self.alarms
        if st == _RUNNING:
            pump = self.out_pump
            ramped = pump == self.flow_set
            al.check(t, _AL_AIR, flags & 1, q)
            al.check(t, _AL_ACCESS_LOW, p_acc < self.lim_access_low, p_acc)
            al.check(t, _AL_RETURN_HIGH, p_ret > self.lim_return_high, p_ret)
            al.check(t, _AL_RETURN_LOW, ramped and p_ret < self.lim_return_low, p_ret)
            al.check(t, _AL_PRE_HIGH, p_pre > self.lim_pre_high, p_pre)
            al.check(t, _AL_NO_FLOW, pump > 0 and q < self.q_no_flow, q)
            al.check(t, _AL_FLOW_LOW, q * 100 < pump * self.flow_low_pct, q)
            drop = p_pre - p_ret
            clotting = clot.watch(self.clot, ramped, drop)
            if clotting >= 0:
                al.check(t, _AL_CLOT, clotting, drop)
            if q >= self.q_flowing:
                u = self.cart_used + 1
                self.cart_used = u
                trigger = cartridge.spent(u, self.cart_limit, self.cart_no, self.cart_max)
                if trigger:
                    # Its time is up: to the exchange, or, the last one, to
                    # the end of the therapy.
                    self.events.push(t, _EV_EXCHANGE_DUE, self.cart_no, 0, u)
                    self._goto(t, trigger, 0)
                    al.activate(t, cartridge.alarm(trigger), self.cart_no)
                elif u % self.per_min == 0:
                    self.persist_due = True   # cartridge time saved every minute
            hep = self.hep
            if hep.recheck_at >= 0 and t >= hep.recheck_at:
                hep.recheck_at = -1
                al.activate(t, _AL_APTT_DUE, hep.last_aptt)
        elif states.blood_stands(st):
            # Paused, safe, or the spent circuit waiting for its exchange.
            if st == _PAUSED or st == _SAFE:
                al.check(t, _AL_AIR, flags & 1, q)
            al.check(t, _AL_STASIS, q < self.q_no_flow, q)
        elif st == _PRIMING:
            acc = self.prime_acc + q
            self.prime_acc = acc
            if acc >= self.prime_target:
                self.events.push(t, _EV_PRIMED, 0, 0, self.prime_ml)
                self._goto(t, _T_PRIMED, 0)

    def _outputs(self, t):
        # The outputs of the state (docs/firmware.md, Therapy states); off
        # and closed unless the state says otherwise.
        st = self.state
        target = clamp = hep = 0
        if st == _RUNNING:
            target = self.flow_set
            clamp = 1
            hep = self.hep.infusion(t)
        elif st == _PRIMING:
            target = self.prime_flow
            clamp = 1
        pump = self.out_pump
        if target == 0:
            pump = 0  # stopping is never ramped
        elif pump < target:
            pump = min(pump + self.ramp_step, target)
        elif pump > target:
            pump = max(pump - self.ramp_step, target)
        # Heparin goes into the line only while blood flows to the patient: a
        # bolus asked for while it stands waits for the flow rather than pool
        # (IEC 60601-2-16 over-delivery; docs/firmware.md, SR-HEP-5).
        bolus = self.hep.bolus_total if st == _RUNNING and pump > 0 else self.out_bolus
        if (pump != self.out_pump or clamp != self.out_clamp or hep != self.out_hep
                or bolus != self.out_bolus):
            self.out_pump = pump
            self.out_clamp = clamp
            self.out_hep = hep
            self.out_bolus = bolus
            self.dirty = True
        if self.events.count:
            self.dirty = True

    def _goto(self, t, event, cause):
        # Every change of state is a row of the table (states.py): an
        # operator command or an internal event (_T_*) from this state.
        frm = self.state
        to = states.target(frm, event)
        if to < 0:
            # A bug, not an operator error: fail safe rather than continue.
            to = _SAFE
        if frm == _RUNNING:
            al = self.alarms
            aid = 1
            while aid < _N_ALARMS:
                if _RUNNING_ONLY & (1 << aid):
                    al.deactivate(t, aid)
                aid += 1
        if not states.blood_stands(to):
            # Blood flows again (running), or none stands in the circuit any
            # more (priming a new cartridge, complete): no stasis.
            self.alarms.check(t, _AL_STASIS, False, 0)
        self.state = to
        self.events.push(t, _EV_STATE, to, frm, cause)
        self.dirty = True
        self.persist_due = True

    # ---- the host link (between ticks) -------------------------------------

    def host_seen(self):
        # The service layer calls this for every good frame from the host:
        # the host is not silent (link supervision, tick()).
        self.alarms.check(self.tick_no, _AL_HOST_LINK_LOST, False, 0)

    # ---- operator commands (between ticks; may allocate; outputs follow at the next tick) -----------------

    def command(self, code, arg):
        result = self._command(code, arg)
        if result == _OK:
            self.persist_due = True
        return result

    def _command(self, code, arg):
        # Settings here; commands that move the state machine: _transition.
        t = self.tick_no
        st = self.state
        if code == _CMD_TEST_HANG or code == _CMD_TIME_SCALE:
            # Test mode only: stall the control task for arg ticks, or run
            # the rp2 HAL's own clock arg times faster.
            if not self.test_mode:
                return _E_TEST_ONLY
            if arg < 1 or arg > (36000 if code == _CMD_TEST_HANG else 1000):
                return _E_RANGE
            if code == _CMD_TEST_HANG:
                self.hang = arg
                return _OK
            self.time_scale = arg
            # The link timeout is wall-clock time: the scaled period of
            # hal/rp2.py (at least 1 ms) makes it more ticks.
            al = self.alarms
            al.delay[_AL_HOST_LINK_LOST] = self.link_s * 1000 // (self.period_ms // arg or 1) or 1
            al.count[_AL_HOST_LINK_LOST] = 0
            return _OK
        if code == _CMD_HEPARIN_START:
            # Only once primed (ready): in idle or priming the loading bolus
            # would go to waste with the saline, or reach the patient unmeasured.
            if st != _READY:
                return _E_STATE
            if self.hep.started:
                return _E_STATE
            if self.hep.weight == 0:
                return _E_CONDITION
            bolus = self.hep.start(t)
            self.events.push(t, _EV_HEPARIN, 0, bolus, self.hep.rate)
            return _OK
        if code == _CMD_OVERRIDE_APTT:
            if st != _READY:
                return _E_STATE
            self.override = True
            self.events.push(t, _EV_OVERRIDE, 1, 0, self.hep.last_aptt)
            return _OK
        if code == _CMD_APTT:
            if arg < 100 or arg > 2000:
                return _E_RANGE
            if st == _COMPLETE:
                return _E_STATE
            hep = self.hep
            self.events.push(t, _EV_APTT, 0, 0, arg)
            if hep.started:
                before = hep.bolus_total
                row = hep.apply_aptt(t, arg)
                self.events.push(t, _EV_HEPARIN, row, hep.bolus_total - before, hep.rate)
            else:
                hep.last_aptt = arg
            self.alarms.deactivate(t, _AL_APTT_DUE)
            return _OK
        if code == _CMD_SET_FLOW:
            q = arg * 10
            if q < self.flow_min or q > self.flow_max:
                return _E_RANGE
            if st == _COMPLETE:
                return _E_STATE
            clot.scale(self.clot, self.flow_set, q)
            self.flow_set = q
            return _OK
        if code == _CMD_SET_WEIGHT:
            if arg < 300 or arg > 2500:
                return _E_RANGE
            if st != _IDLE and st != _PRIMING and st != _READY:
                return _E_STATE
            self.hep.weight = arg
            return _OK
        if code == _CMD_AUDIO_PAUSE:
            if not self.alarms.pause_audio(t, self.audio_pause_ticks):
                return _E_CONDITION
            return _OK
        return self._transition(code, arg)

    def _transition(self, code, arg):
        # The commands that move the state machine (and acknowledging).
        t = self.tick_no
        st = self.state
        if code == _CMD_ACK_ALARMS:
            remaining = self.alarms.acknowledge(t)
            if st == _SAFE:
                if remaining:    # latched alarms are high ones
                    return _E_CONDITION
                self._goto(t, _CMD_ACK_ALARMS, code)
                return _OK
        if code < _CMD_PRIME or code > _CMD_TIME_SCALE:
            return _E_UNKNOWN
        if states.target(st, code) < 0:
            return _E_STATE
        if code == _CMD_START:
            # Blood flows only on therapeutic anticoagulation: heparin started
            # and the last aPTT in the table's target, unless the operator
            # confirmed an override (logged as an event).
            if self.hep.weight == 0 or not self.hep.started:
                return _E_CONDITION
            if not self.hep.in_range() and not self.override:
                return _E_CONDITION
            self.override = False
        elif code == _CMD_PRIME or code == _CMD_CONFIRM_EXCHANGE:
            self.prime_acc = 0
            if code == _CMD_CONFIRM_EXCHANGE:
                self.alarms.deactivate(t, _AL_EXCHANGE_DUE)
                self.cart_no += 1
                self.cart_used = 0
                clot.rebase(self.clot, -1)   # a fresh cartridge: learn its drop
                self.events.push(t, _EV_CARTRIDGE, self.cart_no, 0, 0)
        elif code == _CMD_STOP:
            self.alarms.deactivate(t, _AL_EXCHANGE_DUE)
        elif code == _CMD_REQUEST_EXCHANGE:
            if self.cart_no >= self.cart_max:
                return _E_CONDITION   # no cartridge left to change to
            self.events.push(t, _EV_EXCHANGE_DUE, self.cart_no, 1, self.cart_used)
            self.alarms.activate(t, _AL_EXCHANGE_DUE, self.cart_no)
        self._goto(t, code, code)
        return _OK
