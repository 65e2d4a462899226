# The therapy controller: pure logic. Each control period it takes the sensor
# readings as integers and decides the actuator outputs; operator commands
# arrive between periods. It never touches hardware or the link, and the
# control tick allocates nothing (integers only, preallocated buffers).
#
# Units: pressure 0.1 mmHg, flow 0.1 mL/min, heparin 0.1 U/h, aPTT 0.1 s,
# weight 0.1 kg, time in control periods (ticks).

from codes import (IDLE, PRIMING, READY, RUNNING, PAUSED, EXCHANGE, COMPLETE, SAFE,
                   PRIO_LOW, PRIO_MEDIUM, PRIO_HIGH, N_ALARMS,
                   AL_AIR, AL_ACCESS_LOW, AL_RETURN_HIGH, AL_RETURN_LOW, AL_PRE_HIGH,
                   AL_NO_FLOW, AL_FLOW_LOW, AL_CLOT, AL_STASIS, AL_EXCHANGE_DUE,
                   AL_THERAPY_COMPLETE, AL_APTT_DUE, AL_POWER_RESTORED, AL_SENSOR_LOSS,
                   EV_STATE, EV_EXCHANGE_DUE, EV_CARTRIDGE, EV_HEPARIN, EV_APTT, EV_PRIMED,
                   EV_OVERRIDE, EV_RESTORED,
                   CMD_PRIME, CMD_START, CMD_PAUSE, CMD_RESUME, CMD_STOP, CMD_SET_FLOW,
                   CMD_APTT, CMD_CONFIRM_EXCHANGE, CMD_ACK_ALARMS, CMD_AUDIO_PAUSE,
                   CMD_SET_WEIGHT, CMD_HEPARIN_START, CMD_OVERRIDE_APTT, CMD_TEST_HANG,
                   CMD_REQUEST_EXCHANGE, CMD_TIME_SCALE,
                   OK, E_STATE, E_RANGE, E_UNKNOWN, E_CONDITION, E_TEST_ONLY)
from events import EventQueue
from alarms import Alarms
from heparin import Anticoagulation, TABLES
import states

# Priority of each alarm id (index = id).
PRIORITIES = (
    0,
    PRIO_HIGH,    # air in line
    PRIO_HIGH,    # access pressure below limit
    PRIO_HIGH,    # return pressure above limit
    PRIO_HIGH,    # return pressure below limit (disconnection, blood loss)
    PRIO_HIGH,    # pre-cartridge pressure above limit
    PRIO_HIGH,    # no flow
    PRIO_MEDIUM,  # flow below 70% of set
    PRIO_MEDIUM,  # clotting suspected
    PRIO_MEDIUM,  # blood standing still
    PRIO_MEDIUM,  # cartridge exchange due
    PRIO_LOW,     # therapy complete
    PRIO_LOW,     # aPTT check due
    PRIO_HIGH,    # restarted mid-therapy: acknowledge before going on
    PRIO_HIGH,    # sensor data lost
)

# Alarms whose condition is only evaluated while the blood pump runs; they are
# cleared when it stops (latched high ones stay latched until acknowledged).
_RUNNING_ONLY = ((1 << AL_ACCESS_LOW) | (1 << AL_RETURN_HIGH) | (1 << AL_RETURN_LOW)
                 | (1 << AL_PRE_HIGH) | (1 << AL_NO_FLOW) | (1 << AL_FLOW_LOW)
                 | (1 << AL_CLOT))
_SENSOR_LOSS_BIT = 1 << AL_SENSOR_LOSS
_HIGH_MASK = 0
for _i in range(N_ALARMS):
    if PRIORITIES[_i] == PRIO_HIGH:
        _HIGH_MASK |= 1 << _i


_RECORD_KEYS = ("state", "cart_no", "cart_used", "flow_set", "baseline", "weight",
                "hep_started", "rate", "bolus_total", "last_aptt", "streak", "hold_left",
                "recheck_left", "therapy_ticks", "boots")


def _ticks(ms, period_ms):
    # A condition delay of ms, in ticks; at least one tick.
    n = ms // period_ms
    return n if n > 0 else 1


class Controller:
    def __init__(self, cfg):
        period = cfg["period_ms"]
        lim = cfg["limits"]
        th = cfg["therapy"]
        self.period_ms = period
        per_s = 1000 // period
        self.per_s = per_s
        self.per_min = 60 * per_s
        # Limits, converted once to the integer units of the tick.
        self.lim_access_low = lim["access_low_mmhg"] * 10
        self.lim_return_high = lim["return_high_mmhg"] * 10
        self.lim_return_low = lim["return_low_mmhg"] * 10
        self.lim_pre_high = lim["pre_high_mmhg"] * 10
        self.q_no_flow = lim["no_flow_ml_min"] * 10
        self.flow_low_pct = lim["flow_low_pct"]
        self.clot_rise = lim["clot_drop_rise_mmhg"] * 10
        self.clot_settle = lim["clot_settle_s"] * per_s
        self.clot_base_n = lim["clot_baseline_s"] * per_s
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
        delays = [1] * N_ALARMS
        delays[AL_AIR] = _ticks(d["air"], period)
        delays[AL_ACCESS_LOW] = _ticks(d["access_low"], period)
        delays[AL_RETURN_HIGH] = _ticks(d["return_high"], period)
        delays[AL_RETURN_LOW] = _ticks(d["return_low"], period)
        delays[AL_PRE_HIGH] = _ticks(d["pre_high"], period)
        delays[AL_NO_FLOW] = _ticks(d["no_flow"], period)
        delays[AL_FLOW_LOW] = _ticks(d["flow_low"], period)
        delays[AL_CLOT] = _ticks(d["clot"], period)
        delays[AL_STASIS] = _ticks(d["stasis"], period)
        delays[AL_SENSOR_LOSS] = _ticks(d.get("sensor_loss", 500), period)

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
        self.hang = 0            # test mode: ticks the control task stays stalled
        self.time_scale = 1      # test mode: the rp2 HAL's clock runs this much faster
        self.override = False    # start once with aPTT out of range (confirmed)
        self.persist_due = False # the HAL writes the therapy record between ticks
        self.state = IDLE
        self.cart_no = 1
        self.cart_used = 0       # ticks with blood flowing on this cartridge
        self.prime_acc = 0
        self.settle = 0
        self.base_sum = 0
        self.base_n = 0
        self.baseline = -1       # pressure drop of the fresh cartridge, 0.1 mmHg
        # Outputs. They start in the safe state: pump off, clamp closed,
        # heparin stopped.
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
        if flags < 0:
            # No sensor data this period (flag bit 15). Decide nothing from
            # it; if it lasts, that is a high alarm while blood circulates.
            al.check(t, AL_SENSOR_LOSS, st == RUNNING or st == PAUSED, 0)
            if al.new_high:
                al.new_high = False
                self.persist_due = True
                if st == RUNNING or st == PAUSED:
                    self._goto(t, SAFE, 0)
            self._outputs(t)
            return
        if al.active & _SENSOR_LOSS_BIT:
            al.deactivate(t, AL_SENSOR_LOSS)
        al.count[AL_SENSOR_LOSS] = 0
        if st == RUNNING:
            pump = self.out_pump
            ramped = pump == self.flow_set
            al.check(t, AL_AIR, flags & 1, q)
            al.check(t, AL_ACCESS_LOW, p_acc < self.lim_access_low, p_acc)
            al.check(t, AL_RETURN_HIGH, p_ret > self.lim_return_high, p_ret)
            al.check(t, AL_RETURN_LOW, ramped and p_ret < self.lim_return_low, p_ret)
            al.check(t, AL_PRE_HIGH, p_pre > self.lim_pre_high, p_pre)
            al.check(t, AL_NO_FLOW, pump > 0 and q < self.q_no_flow, q)
            al.check(t, AL_FLOW_LOW, q * 100 < pump * self.flow_low_pct, q)
            if ramped:
                self._clot(t, p_pre - p_ret)
            else:
                self.settle = 0
            if q >= self.q_flowing:
                u = self.cart_used + 1
                self.cart_used = u
                if u >= self.cart_limit:
                    self._cartridge_due(t)
                elif u % self.per_min == 0:
                    self.persist_due = True   # cartridge time saved every minute
            hep = self.hep
            if hep.recheck_at >= 0 and t >= hep.recheck_at:
                hep.recheck_at = -1
                al.activate(t, AL_APTT_DUE, hep.last_aptt)
        elif st == PAUSED or st == SAFE:
            al.check(t, AL_AIR, flags & 1, q)
            al.check(t, AL_STASIS, q < self.q_no_flow, q)
        elif st == PRIMING:
            acc = self.prime_acc + q
            self.prime_acc = acc
            if acc >= self.prime_target:
                self.events.push(t, EV_PRIMED, 0, 0, self.prime_ml)
                self._goto(t, READY, 0)
        if al.new_high:
            al.new_high = False
            self.persist_due = True
            if self.state == RUNNING or self.state == PAUSED:
                self._goto(t, SAFE, 0)
        self._outputs(t)

    def _clot(self, t, drop):
        if self.baseline < 0:
            self.settle += 1
            if self.settle > self.clot_settle:
                self.base_sum += drop
                self.base_n += 1
                if self.base_n >= self.clot_base_n:
                    self.baseline = self.base_sum // self.base_n
            return
        self.alarms.check(t, AL_CLOT, drop > self.baseline + self.clot_rise, drop)

    def _cartridge_due(self, t):
        self.events.push(t, EV_EXCHANGE_DUE, self.cart_no, 0, self.cart_used)
        if self.cart_no >= self.cart_max:
            self._goto(t, COMPLETE, 0)
            self.alarms.activate(t, AL_THERAPY_COMPLETE, self.cart_no)
        else:
            self._goto(t, EXCHANGE, 0)
            self.alarms.activate(t, AL_EXCHANGE_DUE, self.cart_no)

    def _outputs(self, t):
        st = self.state
        if st == RUNNING:
            target = self.flow_set
            clamp = 1
            hep = self.hep.infusion(t)
        elif st == READY:
            # Anticoagulation runs before blood flow starts, once begun.
            target = 0
            clamp = 0
            hep = self.hep.infusion(t) if self.hep.started else 0
        elif st == PRIMING:
            target = self.prime_flow
            clamp = 1
            hep = 0
        else:
            target = 0
            clamp = 0
            hep = 0
        pump = self.out_pump
        if target == 0:
            pump = 0  # stopping is never ramped
        elif pump < target:
            pump += self.ramp_step
            if pump > target:
                pump = target
        elif pump > target:
            pump -= self.ramp_step
            if pump < target:
                pump = target
        bolus = self.hep.bolus_total
        if (pump != self.out_pump or clamp != self.out_clamp or hep != self.out_hep
                or bolus != self.out_bolus):
            self.out_pump = pump
            self.out_clamp = clamp
            self.out_hep = hep
            self.out_bolus = bolus
            self.dirty = True
        if self.events.count:
            self.dirty = True

    def _goto(self, t, to, cause):
        frm = self.state
        if not states.allowed(frm, to):
            # A bug, not an operator error: fail safe rather than continue.
            to = SAFE
        if frm == RUNNING:
            al = self.alarms
            aid = 1
            while aid < N_ALARMS:
                if _RUNNING_ONLY & (1 << aid):
                    al.deactivate(t, aid)
                aid += 1
            self.settle = 0
        if to == RUNNING:
            self.alarms.deactivate(t, AL_STASIS)
            self.alarms.count[AL_STASIS] = 0
        self.state = to
        self.events.push(t, EV_STATE, to, frm, cause)
        self.dirty = True
        self.persist_due = True

    # ---- operator commands (between ticks; may allocate; outputs follow at the next tick) -----------------

    def command(self, code, arg):
        result = self._command(code, arg)
        if result == OK:
            self.persist_due = True
        return result

    def _command(self, code, arg):
        t = self.tick_no
        st = self.state
        if code == CMD_TEST_HANG:
            if not self.test_mode:
                return E_TEST_ONLY
            if arg < 1 or arg > 36000:
                return E_RANGE
            self.hang = arg
            return OK
        if code == CMD_TIME_SCALE:
            if not self.test_mode:
                return E_TEST_ONLY
            if arg < 1 or arg > 1000:
                return E_RANGE
            self.time_scale = arg
            return OK
        if code == CMD_HEPARIN_START:
            if st != IDLE and st != PRIMING and st != READY:
                return E_STATE
            if self.hep.started:
                return E_STATE
            if self.hep.weight == 0:
                return E_CONDITION
            before = self.hep.bolus_total
            self.hep.start(t)
            self.events.push(t, EV_HEPARIN, 0, self.hep.bolus_total - before, self.hep.rate)
            return OK
        if code == CMD_OVERRIDE_APTT:
            if st != READY:
                return E_STATE
            self.override = True
            self.events.push(t, EV_OVERRIDE, 1, 0, self.hep.last_aptt)
            return OK
        if code == CMD_SET_FLOW:
            q = arg * 10
            if q < self.flow_min or q > self.flow_max:
                return E_RANGE
            if st == COMPLETE:
                return E_STATE
            if self.baseline >= 0 and self.flow_set > 0:
                # The cartridge's pressure drop scales with flow; keep the
                # fresh-cartridge reference rather than re-learning a clotted one.
                self.baseline = self.baseline * q // self.flow_set
            self.flow_set = q
            return OK
        if code == CMD_APTT:
            if arg < 100 or arg > 2000:
                return E_RANGE
            if st == COMPLETE:
                return E_STATE
            hep = self.hep
            self.events.push(t, EV_APTT, 0, 0, arg)
            if hep.started:
                before = hep.bolus_total
                row = hep.apply_aptt(t, arg)
                self.events.push(t, EV_HEPARIN, row, hep.bolus_total - before, hep.rate)
            else:
                hep.last_aptt = arg
            self.alarms.deactivate(t, AL_APTT_DUE)
            return OK
        if code == CMD_SET_WEIGHT:
            if arg < 300 or arg > 2500:
                return E_RANGE
            if st != IDLE and st != PRIMING and st != READY:
                return E_STATE
            self.hep.weight = arg
            return OK
        if code == CMD_AUDIO_PAUSE:
            if not self.alarms.pause_audio(t, self.audio_pause_ticks):
                return E_CONDITION
            return OK
        if code == CMD_ACK_ALARMS:
            remaining = self.alarms.acknowledge(t)
            if st == SAFE:
                if remaining & _HIGH_MASK:
                    return E_CONDITION
                self._goto(t, states.target(SAFE, CMD_ACK_ALARMS), code)
                return OK
        if code < CMD_PRIME or code > CMD_TIME_SCALE:
            return E_UNKNOWN
        to = states.target(st, code)
        if to < 0:
            return E_STATE
        if code == CMD_START:
            # Blood flows only on therapeutic anticoagulation: heparin started
            # and the last aPTT in the table's target, unless the operator
            # confirmed an override (logged as an event).
            if self.hep.weight == 0 or not self.hep.started:
                return E_CONDITION
            if not self.hep.in_range():
                if not self.override:
                    return E_CONDITION
            self.override = False
        elif code == CMD_PRIME or code == CMD_CONFIRM_EXCHANGE:
            self.prime_acc = 0
            if code == CMD_CONFIRM_EXCHANGE:
                self.alarms.deactivate(t, AL_EXCHANGE_DUE)
                self.cart_no += 1
                self.cart_used = 0
                self.baseline = -1
                self.base_sum = 0
                self.base_n = 0
                self.events.push(t, EV_CARTRIDGE, self.cart_no, 0, 0)
        elif code == CMD_STOP:
            self.alarms.deactivate(t, AL_EXCHANGE_DUE)
        elif code == CMD_REQUEST_EXCHANGE:
            if self.cart_no >= self.cart_max:
                return E_CONDITION   # no cartridge left to change to
            self.events.push(t, EV_EXCHANGE_DUE, self.cart_no, 1, self.cart_used)
            self.alarms.activate(t, AL_EXCHANGE_DUE, self.cart_no)
        self._goto(t, to, code)
        return OK

    # ---- persistence (the HAL stores and loads; this maps the values) -----

    def record(self):
        # The therapy record: what must survive a reset.
        hep = self.hep
        t = self.tick_no
        return {
            "v": 1,
            "state": self.state,
            "cart_no": self.cart_no,
            "cart_used": self.cart_used,
            "flow_set": self.flow_set,
            "baseline": self.baseline,
            "weight": hep.weight,
            "table": hep.table["name"],
            "hep_started": hep.started,
            "rate": hep.rate,
            "bolus_total": hep.bolus_total,
            "last_aptt": hep.last_aptt,
            "streak": hep.streak,
            "hold_left": hep.hold_until - t if hep.hold_until > t else 0,
            "recheck_left": hep.recheck_at - t if hep.recheck_at > t else -1,
            "therapy_ticks": self.base_ticks + t,
            "boots": self.boots,
        }

    def restore(self, rec):
        # Resume after a reset from a stored record. Mid-therapy the board
        # comes back in the safe state with a latched alarm to acknowledge;
        # the cartridge keeps its used time, so it never gets a fresh 24 h
        # without an exchange. Priming must be redone.
        if rec.get("v") != 1 or rec.get("table") != self.hep.table["name"]:
            return False
        for key in _RECORD_KEYS:
            if key not in rec:
                return False   # never half-restore
        hep = self.hep
        self.cart_no = rec["cart_no"]
        self.cart_used = rec["cart_used"]
        self.flow_set = rec["flow_set"]
        self.baseline = rec["baseline"]
        hep.weight = rec["weight"]
        hep.started = rec["hep_started"]
        hep.rate = rec["rate"]
        hep.bolus_total = rec["bolus_total"]
        self.out_bolus = hep.bolus_total  # already given before the reset
        hep.last_aptt = rec["last_aptt"]
        hep.streak = rec["streak"]
        hep.hold_until = rec["hold_left"] if rec["hold_left"] > 0 else -1
        hep.recheck_at = rec["recheck_left"]
        self.base_ticks = rec["therapy_ticks"]
        self.alarms.base = self.base_ticks
        self.boots = rec["boots"] + 1
        was = rec["state"]
        if was == RUNNING or was == PAUSED or was == SAFE or was == EXCHANGE:
            self.state = SAFE
            self.alarms.activate(0, AL_POWER_RESTORED, was)
            self.alarms.new_high = False
            self.alarms.deactivate(0, AL_POWER_RESTORED)   # latched, acknowledgeable
        elif was == COMPLETE:
            self.state = COMPLETE
        else:
            self.state = IDLE
        self.events.push(0, EV_RESTORED, was, self.state, self.cart_used)
        return True

    def shown_alarms(self):
        a = self.alarms
        return a.active | a.latched
