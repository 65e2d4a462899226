# The meaning of host frames common to every HAL: identity, status,
# diagnostics and operator commands. Replies carry the status block and
# drain the event queue.

import gc
import json
import struct
import sys

from micropython import const

import protocol as P

# The codes (codes.py) this module uses, as private constants (docs/firmware.md, Memory).
_IDLE = const(0)
_COMPLETE = const(6)
_SAFE = const(7)
_CMD_TEST_RESET = const(17)
_CMD_MAINTENANCE = const(18)
_OK = const(0)
_E_STATE = const(1)
_E_TEST_ONLY = const(5)
_SIM_EXIT = const(75)   # hal/sim.py RESET_EXIT: the virtual board's supervisor restarts us


class Service:
    def __init__(self, ctl, link, cfg, hal_name, persist=None, identity=None):
        self.ctl = ctl
        self.link = link
        self.persist = persist
        self.board_name = cfg["name"]
        self.hal_name = hal_name
        # The firmware's version and build and the config's digest
        # (version.identity), computed once: the config is let go after
        # boot. app.py passes them in, computed before the heap filled up.
        if identity is None:
            import version
            identity = version.identity(cfg)
        self.firmware, self.build, self.config = identity
        # Called after a test-mode reset was answered (tests replace it).
        self.restart = self._restart
        # The frames last answered and the one before (the link keeps both
        # replies), to tell a retransmission (same TYPE, SEQ and bytes: same
        # CRC-32) from a new request that reuses a SEQ.
        self.last_key = -1   # type << 8 | seq, or -1
        self.last_crc = 0
        self.prev_key = -1
        self.prev_crc = 0
        self.boot_notice = None  # this boot's BOOT notice, repeated in HELLO
        # Heap accounting for benchmarks: when on, the board collects after
        # every frame and records the most heap in use just before (live
        # data plus one frame's garbage). Off in normal use: it costs time.
        self.heap_stats = False
        self.heap_peak = -1

    def account_heap(self):
        if self.heap_stats:
            used = gc.mem_alloc()
            if used > self.heap_peak:
                self.heap_peak = used
            gc.collect()

    def reply(self, rtype, seq, head):
        # Pack reply head, status block and as many pending events as fit.
        ctl = self.ctl
        al = ctl.alarms
        hep = ctl.hep
        ev = ctl.events
        buf = self.link.tx
        off = P.HEADER_LEN + P.REPLY_HEAD_LEN
        flags = 0
        if ctl.out_clamp:
            flags |= P.F_CLAMP_OPEN
        if al.audible(ctl.tick_no):
            flags |= P.F_AUDIBLE
        if ctl.tick_no < hep.hold_until:
            flags |= P.F_HEPARIN_HOLD
        # The bolus total is what the controller released into the line
        # (out_bolus), not what was asked for: a bolus held while blood
        # stands shows only once it is given (docs/firmware.md, SR-HEP-5).
        struct.pack_into(P.STATUS_FMT, buf, off, ctl.tick_no, ctl.state, ctl.cart_no,
                         al.top, flags, ctl.out_pump, ctl.flow_set, ctl.out_hep,
                         hep.last_aptt, ctl.out_bolus, ctl.cart_used, al.active,
                         al.latched, hep.weight, ev.dropped & 0xFFFF)
        off += P.STATUS_LEN
        room = (len(buf) - off - P.TRAILER_LEN) // P.EVENT_LEN
        n = ev.count if ev.count < room else room
        e = ev.buf
        for k in range(n):
            i = ev.peek(k)
            struct.pack_into(P.EVENT_FMT, buf, off, e[i], e[i + 1], e[i + 2], e[i + 3], e[i + 4])
            off += P.EVENT_LEN
        ev.drop(n)
        struct.pack_into(P.REPLY_HEAD_FMT, buf, P.HEADER_LEN, head, n, 0)
        self.link.send(rtype, seq, off - P.HEADER_LEN)

    def send_json(self, rtype, seq, obj):
        data = json.dumps(obj).encode()
        buf = self.link.tx
        buf[P.HEADER_LEN:P.HEADER_LEN + len(data)] = data
        self.link.send(rtype, seq, len(data))

    def serve(self, ftype, seq, n, step=None, save=None):
        # Answer one good frame from the link: a retransmission of one of
        # the two frames last answered gets the same reply again without
        # acting twice; a STEP goes to step(seq, n) (HALs that take samples
        # from the host); anything else to handle(). save() stores what a
        # frame changed before the reply goes out.
        link = self.link
        self.ctl.host_seen()
        key = (ftype << 8) | seq
        crc = link.crc
        if key == self.last_key and crc == self.last_crc:
            link.resend()
            return
        if key == self.prev_key and crc == self.prev_crc:
            link.resend(True)
            return
        if self.last_key >= 0:
            # The last reply becomes the one before (if the link could keep
            # it); one that was refused leaves the answered one in place.
            self.prev_key = self.last_key if link.rotate() else -1
            self.prev_crc = self.last_crc
        if ftype == P.T_STEP and step is not None:
            ok = step(seq, n)
        else:
            ok = self.handle(ftype, seq, n, save)
        if ok:
            self.last_key = key
            self.last_crc = crc
        else:
            self.last_key = -1
        self.account_heap()

    def settings(self):
        # The settings a run must agree with (the host checks a scenario's
        # device against them), from the controller: the anticoagulation
        # table and the therapy limits, in the config's units.
        ctl = self.ctl
        return {
            "anticoagulation": ctl.hep.table["name"],
            "cartridge_hours": ctl.cart_limit * ctl.period_ms // 3600000,
            "max_cartridges": ctl.cart_max,
            "flow_min_ml_min": ctl.flow_min // 10,
            "flow_max_ml_min": ctl.flow_max // 10,
        }

    def hello(self):
        impl = sys.implementation
        # MicroPython's version line ("MicroPython v1.25.0 on 2025-04-15").
        line = sys.version
        return {
            "implementation": impl.name,
            "version": "%d.%d.%d" % impl.version[:3],
            "firmware": self.firmware,
            "protocol": P.VERSION,
            "board": self.board_name,
            "hal": self.hal_name,
            "period_ms": self.ctl.period_ms,
            "max_samples": P.MAX_SAMPLES,
            "test_mode": self.ctl.test_mode,
            # host: samples and time come from the host (sim HAL); board: own clock
            "clock": "host" if self.hal_name == "sim" else "board",
            "boot": self.boot_notice,
            "tick": self.ctl.tick_no,
            "state": self.ctl.state,
            # The board as MicroPython knows it, os.uname().machine
            # ("Raspberry Pi Pico with RP2040").
            "machine": getattr(impl, "_machine", None),
            "micropython": line[line.find(";") + 2:],
            "build": self.build,
            "config": self.config,
            "settings": self.settings(),
            # STEP frames may be sent ahead of the reply before (P.STEP_AHEAD).
            "step_ahead": self.hal_name == "sim",
        }

    def test_reset(self):
        # May the board forget its therapy and restart (CMD_TEST_RESET)? Only
        # in test mode, and only where nothing is being delivered: idle,
        # complete, or the safe state.
        ctl = self.ctl
        if not ctl.test_mode:
            return _E_TEST_ONLY
        st = ctl.state
        if st != _IDLE and st != _COMPLETE and st != _SAFE:
            return _E_STATE
        return _OK

    def _restart(self):
        # Erase the stored therapy and alarm log, then reset: a Pico by
        # machine.reset() (after its USB has sent the reply), the unix port
        # by the exit code its supervisor restarts (hal/sim.py).
        if self.persist is not None:
            self.persist.erase()
        if sys.platform == "rp2":
            import machine
            import time
            time.sleep_ms(100)
            machine.reset()
        sys.exit(_SIM_EXIT)

    def diag(self):
        self.account_heap()
        gc.collect()
        link = self.link
        return {
            "heap_peak": self.heap_peak,
            "heap_total": gc.mem_alloc() + gc.mem_free(),
            "mem_alloc": gc.mem_alloc(),
            "mem_free": gc.mem_free(),
            "rx_frames": link.rx_frames,
            "rx_errors": link.rx_errors,
            "rx_skipped": link.rx_skipped,
            "rx_timeouts": link.rx_timeouts,
            "tx_frames": link.tx_frames,
            "events_dropped": self.ctl.events.dropped,
            "storage_writes": self.persist.writes if self.persist else 0,
            "storage_errors": self.persist.errors if self.persist else 0,
            "boots": self.ctl.boots,
            "tick_us": self.ctl.tick_us,
        }

    def handle(self, ftype, seq, n, before_reply=None):
        # Answer a non-STEP frame; a type not served here gets a NAK and
        # False. before_reply runs between acting on a command and answering.
        if ftype == P.T_CMD:
            code, _r, _r2, arg = struct.unpack_from(P.CMD_FMT, self.link.rx, P.HEADER_LEN)
            if code == _CMD_TEST_RESET:
                result = self.test_reset()
                self.reply(P.T_CMD | P.REPLY, seq, code | (result << 8))
                if result == _OK:
                    self.restart()
                return True
            if code == _CMD_MAINTENANCE:
                import maintenance   # a Pico in idle restarts to its REPL once
                maintenance.handle(self, seq)
                return True
            result = self.ctl.command(code, arg)
            if before_reply is not None:
                before_reply()
            self.reply(P.T_CMD | P.REPLY, seq, code | (result << 8))
        elif ftype == P.T_STATUS:
            self.reply(P.T_STATUS | P.REPLY, seq, 0)
        elif ftype == P.T_HELLO:
            self.send_json(P.T_HELLO | P.REPLY, seq, self.hello())
        elif ftype == P.T_DIAG:
            self.send_json(P.T_DIAG | P.REPLY, seq, self.diag())
        elif ftype == P.T_LOG:
            al = self.ctl.alarms
            self.send_json(P.T_LOG | P.REPLY, seq, {"period_ms": self.ctl.period_ms,
                                                     "entries": al.log_entries()})
        else:
            self.link.nak(seq, P.N_MODE, ftype)
            return False
        return True
