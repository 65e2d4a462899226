# The receiver against hostile byte streams: each case is a defect an
# outside fuzz campaign found (the hex is the whole input on the wire), and
# the rules of docs/protocol.md, "Receiving".

import io
import struct
import time

import codes as C
import protocol as P
from check import board_config, unhex
from framebuild import cmd_frame, frame, step_frame
from link import Link
from persist import Persistence
from service import Service
from memstorage import MemoryStorage
from hal.sim import SimBoard
from test_fw_controller import Rig
from test_fw_link import parse_frames as replies


class Pipe:
    # Bytes in, bytes out. With `ready`, reads never block: the stream says
    # when it has nothing, as a poll would.
    def __init__(self, data):
        self.rd = io.BytesIO(data)
        self.left = len(data)
        self.out = io.BytesIO()

    def readinto(self, buf):
        k = self.rd.readinto(buf)
        self.left -= k
        return k

    def write(self, data):
        return self.out.write(data)

    def ready(self, ms):
        if self.left:
            return True
        if ms > 0:
            time.sleep(ms / 1000)
        return False


def serve_all(data, ctl=None):
    # Run a virtual board on `data` until the input ends; return it, the
    # frames it wrote, and what recv() handed on.
    pipe = Pipe(data)
    cfg = board_config()
    if ctl is None:
        from controller import Controller
        ctl = Controller(cfg)
    link = Link(pipe, pipe)
    persist = Persistence(MemoryStorage(), ctl)
    svc = Service(ctl, link, cfg, "sim", persist)
    board = SimBoard(ctl, link, svc, cfg, persist)
    try:
        board.run()
    except OSError:
        pass  # end of input
    return board, replies(pipe.out.getvalue())


def kinds(out):
    # Each reply as a type, or ("nak", reason).
    return [("nak", p[0]) if t == P.T_NAK else t for t, _s, p in out]


HELLO = frame(P.T_HELLO, 7, b"")


def test_short_cmd_after_a_refused_one_does_not_run_stale_bytes():
    # A set-flow-450 with a bad CRC, then a CMD with LEN 0 and good checks.
    bad = unhex("a50120410800001006000000c201000000000000")
    short = unhex("a50120420000007b9e9bb0c3")
    board, out = serve_all(bad + short)
    assert kinds(out) == [("nak", P.N_CRC), ("nak", P.N_LENGTH)]
    assert board.ctl.flow_set == board_config()["therapy"]["flow_default_ml_min"] * 10


def test_short_cmd_after_a_refused_start_does_not_start_the_pump():
    rig = Rig()
    rig.to_ready()
    assert rig.cmd(C.CMD_HEPARIN_START) == C.OK
    assert rig.cmd(C.CMD_APTT, 700) == C.OK
    start = bytearray(cmd_frame(0x41, C.CMD_START, 0))
    start[-1] ^= 0xFF                                # refused: bad CRC
    for k in range(P.CMD_LEN):                       # every short length
        hdr = bytearray(P.HEADER_LEN)
        P.put_header(hdr, P.T_CMD, 0x42, k)
        body = bytes(hdr) + bytes(k)
        short = body + struct.pack("<I", P.crc32(body))
        board, out = serve_all(bytes(start) + short, rig.ctl)
        assert kinds(out) == [("nak", P.N_CRC), ("nak", P.N_LENGTH)], k
        assert rig.ctl.state == C.READY
        assert rig.ctl.out_pump == 0 and rig.ctl.out_clamp == 0


def test_long_cmd_and_payload_on_empty_types_are_refused():
    for ftype, n in ((P.T_CMD, 9), (P.T_CMD, 12), (P.T_HELLO, 1), (P.T_STATUS, 8),
                     (P.T_STEP, 8), (P.T_STEP, 17), (P.T_STEP, 19)):
        board, out = serve_all(frame(ftype, 3, bytes(n)) + HELLO)
        assert kinds(out) == [("nak", P.N_LENGTH), P.T_HELLO | P.REPLY], (ftype, n)


def test_wrong_version_is_refused_at_the_header_and_does_not_blind():
    board, out = serve_all(unhex("a5000160ffff004a") + HELLO)
    assert kinds(out) == [("nak", P.N_VERSION), P.T_HELLO | P.REPLY]


def test_impossible_length_is_refused_at_the_header_and_does_not_blind():
    board, out = serve_all(unhex("a5012070001000a9") + HELLO)
    assert kinds(out) == [("nak", P.N_LENGTH), P.T_HELLO | P.REPLY]


def test_unknown_type_is_refused_at_the_header():
    hdr = bytearray(P.HEADER_LEN)
    P.put_header(hdr, 0x55, 9, 300)
    board, out = serve_all(bytes(hdr) + HELLO)
    assert kinds(out) == [("nak", P.N_TYPE), P.T_HELLO | P.REPLY]


def test_good_frame_after_a_truncated_one_is_found():
    # A STATUS cut short: its CRC field swallows the start of a HELLO.
    board, out = serve_all(unhex("a50102800000005de501a5010181000000ed77e999b8"))
    assert kinds(out) == [("nak", P.N_CRC), P.T_HELLO | P.REPLY]
    assert out[1][1] == 0x81


def test_good_frame_inside_a_truncated_step_is_found():
    # A STEP header promising 400 samples, then a whole CMD within them.
    hdr = bytearray(P.HEADER_LEN)
    P.put_header(hdr, P.T_STEP, 1, P.STEP_HEAD + 400 * 10)
    cmd = cmd_frame(2, C.CMD_SET_FLOW, 300)
    data = bytes(hdr) + bytes(20) + cmd + bytes(P.STEP_HEAD + 400 * 10)
    board, out = serve_all(data)
    assert kinds(out)[:2] == [("nak", P.N_CRC), P.T_CMD | P.REPLY]
    assert board.ctl.flow_set == 3000


def test_bad_header_check_is_skipped_silently():
    hdr = bytearray(frame(P.T_STATUS, 5, b""))
    hdr[7] ^= 1
    board, out = serve_all(bytes(hdr) + HELLO)
    assert kinds(out) == [P.T_HELLO | P.REPLY]
    assert board.link.rx_skipped >= 1


def test_reused_seq_with_a_new_payload_is_a_new_request():
    board, out = serve_all(cmd_frame(0x90, C.CMD_SET_FLOW, 300) + cmd_frame(0x90, C.CMD_SET_FLOW, 480))
    assert kinds(out) == [P.T_CMD | P.REPLY] * 2
    assert board.ctl.flow_set == 4800
    # Each reply names its own command and result.
    for (_t, _s, p), arg in zip(out, (300, 480)):
        head = struct.unpack_from(P.REPLY_HEAD_FMT, p, 0)[0]
        assert head == C.CMD_SET_FLOW | (C.OK << 8)


def test_repeated_frame_is_answered_again_without_acting_twice():
    f = cmd_frame(0x31, C.CMD_APTT, 650)
    board, out = serve_all(f + f)
    assert len(out) == 2 and out[0] == out[1]
    # One aPTT entry, not two: the second reply carries no new event.
    n_events = [struct.unpack_from(P.REPLY_HEAD_FMT, p, 0)[1] for _t, _s, p in out]
    assert n_events[0] == n_events[1]
    assert board.ctl.events.count == 0


def test_refused_frame_is_not_taken_for_a_repeat():
    # A STEP refused for its tick, then the same SEQ with the right tick.
    late = step_frame(4, 9, [(-100, 300, 100, 0, 0)])
    good = step_frame(4, 1, [(-100, 300, 100, 0, 0)])
    board, out = serve_all(late + good)
    assert kinds(out) == [("nak", P.N_TICK), P.T_STEP | P.REPLY]
    assert board.ctl.tick_no == 1


def test_partial_frame_times_out_and_the_rest_is_searched():
    # Without a blocking read (a board on its own clock): the half frame is
    # held, then given up once nothing more came for timeout_ms.
    status = frame(P.T_STATUS, 1, b"")
    pipe = Pipe(status[:6])
    link = Link(pipe, pipe, pipe.ready, timeout_ms=30)
    assert link.recv(False) is None
    assert link.n == 6 and link.rx_timeouts == 0
    time.sleep(0.05)
    assert link.recv(False) is None
    assert link.rx_timeouts == 1 and link.n == 0
    # The link is not blinded: the next frame comes through.
    pipe.rd = io.BytesIO(HELLO)
    pipe.left = len(HELLO)
    assert link.recv(False) == (P.T_HELLO, 7, 0)


def test_blocking_receive_times_out_a_partial_frame():
    # The virtual board's blocking receive waits timeout_ms for the rest.
    pipe = Pipe(frame(P.T_STATUS, 1, b"")[:9])
    link = Link(pipe, pipe, pipe.ready, timeout_ms=20)
    calls = []

    def ready(ms):
        calls.append(ms)
        if len(calls) > 8:
            raise OSError("test over")
        return pipe.ready(ms)
    link.ready = ready
    try:
        link.recv()
    except OSError:
        pass
    assert link.rx_timeouts == 1


def test_frames_are_handed_on_from_the_start_of_the_buffer():
    # Noise before a STEP: its samples still land at the aligned view.
    f = step_frame(5, 1, [(-800, 1400, 800, 2000, 0), (-805, 1402, 798, 1995, 1)])
    pipe = Pipe(b"\x00\xa5\x13" + f)
    link = Link(pipe, pipe)
    assert link.recv() == (P.T_STEP, 5, len(f) - 12)
    s = link.samples
    assert (s[2], s[4], s[8], s[10], s[13]) == (2, -800, 0, 1402, 1)


def test_hostile_vectors():
    # tests/vectors/protocol_v1.json "hostile": whole inputs and the replies
    # a board must give, in order.
    from check import vectors
    for v in vectors()["hostile"]:
        board, out = serve_all(unhex(v["input"]))
        got = []
        for i, (t, _s, p) in enumerate(out):
            if t == P.T_NAK:
                got.append(["nak", p[0]])
            elif out[i] in out[:i]:
                got.append(["repeat", 0])
            else:
                got.append(["reply", t])
        assert got == v["replies"], (v["name"], got)
        if "flow_set_ml_min" in v:
            assert board.ctl.flow_set == v["flow_set_ml_min"] * 10, v["name"]
