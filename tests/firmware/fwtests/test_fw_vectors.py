# The reply vectors of tests/vectors/protocol_v1.json are what the board
# really sends: each is rebuilt here from the firmware in a known situation
# and compared byte for byte (in CPython and in the MicroPython VM).

import io

import codes as C
import protocol as P
from check import board_config, unhex, vectors
from framebuild import step_frame
from link import Link
from persist import Persistence
from service import Service
from memstorage import MemoryStorage
from hal.sim import SimBoard
from test_fw_controller import Rig


def step_reply_air():
    # A running therapy (the controller tests' rig: 70 kg, primed, heparin,
    # aPTT 70 s, started), then one STEP of two periods, the second with
    # air at the detector. Returns the frame the board sends.
    rig = Rig()
    rig.to_running()
    ctl = rig.ctl
    ctl.events.drop(ctl.events.count)
    q = ctl.out_pump
    normal = (-4 * q // 10, 50 + 7 * q // 10, 50 + 4 * q // 10, q, 0)
    air = normal[:4] + (1,)
    out = io.BytesIO()

    class Stream:
        def __init__(self, data):
            self.rd = io.BytesIO(data)

        def readinto(self, buf):
            return self.rd.readinto(buf)

        def write(self, data):
            return out.write(data)
    s = Stream(step_frame(5, ctl.tick_no + 1, [normal, air]))
    cfg = board_config()
    link = Link(s, s)
    persist = Persistence(MemoryStorage(), ctl)
    board = SimBoard(ctl, link, Service(ctl, link, cfg, "sim", persist), cfg, persist)
    ftype, seq, n = link.recv()
    board.service.serve(ftype, seq, n, board.step)
    return out.getvalue()


def test_step_reply_air_vector_is_what_the_board_sends():
    v = [f for f in vectors()["frames"] if f["name"] == "step_reply_air"][0]
    got = step_reply_air()
    assert got == unhex(v["frame"]), "".join("%02x" % b for b in got)
    # And what it says: the board went to the safe state in the air tick.
    status = v["fields"]["status"]
    assert status[1] == C.SAFE and status[5] == 0
    assert not status[4] & P.F_CLAMP_OPEN
