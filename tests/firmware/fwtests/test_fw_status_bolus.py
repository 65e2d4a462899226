# The status block's bolus total is what the controller released into the
# blood line (out_bolus), not what was asked for: a bolus held while the line
# stands shows only once blood flows, and a restart does not show a held one
# as a new bolus (docs/firmware.md, Anticoagulation; SR-HEP-5).

import struct

import codes as C
import protocol as P
from check import board_config
from framebuild import frame
from link import Link
from persist import Persistence
from service import Service
from memstorage import MemoryStorage
from test_fw_controller import Rig
from test_fw_link import Pipe, parse_frames
from test_fw_persist import reboot

VERIFIES = {
    "test_status_shows_a_held_bolus_only_once_blood_flows": ("SR-HEP-5",),
    "test_a_bolus_held_at_a_restart_is_not_released_after_it": ("SR-HEP-5",),
}

_BOLUS = 9   # the bolus total's place in P.STATUS_FMT


def status_bolus(ctl):
    # The bolus total of the board's answer to a STATUS frame.
    pipe = Pipe(frame(P.T_STATUS, 1, b""))
    link = Link(pipe, pipe)
    svc = Service(ctl, link, board_config(), "sim")
    ftype, seq, n = link.recv()
    svc.serve(ftype, seq, n)
    (rtype, _seq, payload), = parse_frames(pipe.out.getvalue())
    assert rtype == P.T_STATUS | P.REPLY
    return struct.unpack_from(P.STATUS_FMT, payload, P.REPLY_HEAD_LEN)[_BOLUS]


def paused_with_a_held_bolus():
    r = Rig()
    r.to_running()
    assert r.cmd(C.CMD_PAUSE) == C.OK
    r.run(10)
    assert r.cmd(C.CMD_APTT, 500) == C.OK      # 50 s: a 40 U/kg bolus (2800 U) asked for
    r.run(600)
    return r


def test_status_shows_a_held_bolus_only_once_blood_flows():
    r = paused_with_a_held_bolus()
    assert r.ctl.hep.bolus_total == 2800
    assert status_bolus(r.ctl) == 0
    assert r.cmd(C.CMD_RESUME) == C.OK
    r.run(1)
    assert r.ctl.out_pump > 0 and status_bolus(r.ctl) == 2800


def test_a_bolus_held_at_a_restart_is_not_released_after_it():
    r = paused_with_a_held_bolus()
    store = MemoryStorage()
    Persistence(store, r.ctl).save()
    ctl, _p, _notice = reboot(store)
    assert ctl.state == C.SAFE
    # Restored as given: the status shows the record's total at boot ...
    assert status_bolus(ctl) == 2800 and ctl.out_bolus == 2800
    r2 = Rig()
    r2.ctl = ctl
    r2.run(5)
    assert r2.cmd(C.CMD_ACK_ALARMS) == C.OK
    assert r2.cmd(C.CMD_RESUME) == C.OK
    r2.run(50)
    # ... and blood flowing again releases no bolus on top of it.
    assert ctl.out_pump > 0 and status_bolus(ctl) == 2800
