# The virtual board's HAL: sensors and actuators travel over the link.
# The host owns time: one STEP frame carries the sensor samples of up to
# MAX_SAMPLES control periods; the board runs one control tick per sample
# and stops early, right after the tick whose outputs or events changed,
# so that the host can apply the new outputs from the next period on.
# The firmware never reads a clock here.

import protocol as P


class SimBoard:
    name = "sim"

    def __init__(self, ctl, link, service, cfg):
        self.ctl = ctl
        self.link = link
        self.service = service

    @staticmethod
    def boot_safe(cfg):
        # Outputs exist only as values sent to the host, and the controller
        # starts with them safe; there is no pin to drive.
        pass

    def run(self):
        link = self.link
        svc = self.service
        while True:
            ftype, seq, n = link.recv()
            key = (ftype << 8) | seq
            if key == svc.last_key:
                # The host did not get our answer and sent the frame again.
                link.resend()
                continue
            if ftype == P.T_STEP:
                ok = self.step(seq, n)
            else:
                ok = svc.handle(ftype, seq, n)
                if not ok:
                    link._nak(seq, P.N_MODE, ftype)
            svc.last_key = key if ok else -1
            svc.account_heap()

    def step(self, seq, n):
        s = self.link.samples
        ctl = self.ctl
        tick0 = (s[0] & 0xFFFF) | ((s[1] & 0xFFFF) << 16)
        count = s[2] & 0xFFFF
        if count == 0 or P.STEP_HEAD + count * 10 != n:
            self.link._nak(seq, P.N_PAYLOAD, P.T_STEP)
            return False
        if tick0 != ctl.tick_no + 1:
            self.link._nak(seq, P.N_TICK, P.T_STEP)
            return False
        ctl.dirty = False
        tick = ctl.tick
        i = 4
        end = 4 + 5 * count
        while i < end:
            tick(s[i], s[i + 1], s[i + 2], s[i + 3], s[i + 4])
            i += 5
            if ctl.dirty:
                break
        self.service.reply(P.T_STEP | P.REPLY, seq, (i - 4) // 5)
        return True
