# The firmware's framing against the shared protocol test vectors, and the
# virtual board's STEP handling.

import io
import struct

import codes as C
import protocol as P
from check import vectors, unhex, board_config
from controller import Controller
from link import Link
from service import Service
from persist import Persistence
from memstorage import MemoryStorage
from hal.sim import SimBoard


class Pipe:
    # A read stream of given bytes and a write stream that collects.
    def __init__(self, data):
        self.rd = io.BytesIO(data)
        self.out = io.BytesIO()

    def readinto(self, buf):
        return self.rd.readinto(buf)

    def write(self, data):
        return self.out.write(data)


def parse_frames(data):
    # Minimal independent parser for what the board wrote.
    out = []
    i = 0
    while i < len(data):
        assert data[i] == P.SOF
        n = data[i + 4] | (data[i + 5] << 8)
        out.append((data[i + 2], data[i + 3], bytes(data[i + 8:i + 8 + n])))
        crc = struct.unpack("<I", data[i + 8 + n:i + 12 + n])[0]
        assert crc == P.crc32(data[i:i + 8 + n])
        i += 12 + n
    return out


def test_crc_check_values():
    v = vectors()["crc_check"]
    data = v["input_ascii"].encode()
    assert P.crc8(data, len(data)) == v["crc8_smbus"]
    assert P.crc32(data) == v["crc32_iso_hdlc"]


def test_header_and_trailer_match_every_vector():
    for v in vectors()["frames"]:
        frame = unhex(v["frame"])
        payload = unhex(v["payload"])
        buf = bytearray(P.HEADER_LEN)
        P.put_header(buf, v["type"], v["seq"], len(payload))
        assert bytes(buf) == frame[:P.HEADER_LEN], v["name"]
        assert P.crc32(frame[:-4]) == struct.unpack("<I", frame[-4:])[0], v["name"]


def test_link_receives_vector_frames():
    for v in vectors()["frames"]:
        if v["type"] & P.REPLY or v["type"] == P.T_NAK:
            continue
        pipe = Pipe(unhex(v["frame"]))
        link = Link(pipe, pipe)
        ftype, seq, n = link.recv()
        assert (ftype, seq, n) == (v["type"], v["seq"], len(unhex(v["payload"]))), v["name"]
        assert bytes(link.rx[P.HEADER_LEN:P.HEADER_LEN + n]) == unhex(v["payload"])


def test_corrupt_frames():
    for v in vectors()["corrupt"]:
        # A good STATUS frame follows so that recv() returns.
        tail = unhex(vectors()["frames"][1]["frame"])
        pipe = Pipe(unhex(v["frame"]) + tail)
        link = Link(pipe, pipe)
        ftype, seq, n = link.recv()
        sent = parse_frames(pipe.out.getvalue())
        if v["expect"] == "nak":
            assert (ftype, seq) == (P.T_STATUS, 2)
            assert len(sent) == 1
            assert sent[0][0] == P.T_NAK
            assert sent[0][2][0] == v["reason"]
        else:
            assert (ftype, seq) == (v["type"], v["seq"])
            assert sent == []
            assert link.rx_skipped > 0


def _board(data):
    pipe = Pipe(data)
    ctl = Controller(board_config())
    link = Link(pipe, pipe)
    persist = Persistence(MemoryStorage(), ctl)
    svc = Service(ctl, link, board_config(), "sim", persist)
    return SimBoard(ctl, link, svc, board_config(), persist), pipe


def _serve(board, frames_expected):
    for _ in range(frames_expected):
        ftype, seq, n = board.link.recv()
        board.service.serve(ftype, seq, n, board.step)


def test_step_vector_runs_two_ticks():
    v = [f for f in vectors()["frames"] if f["name"] == "step_two_samples"][0]
    board, pipe = _board(unhex(v["frame"]))
    _serve(board, 1)
    (ftype, seq, payload), = parse_frames(pipe.out.getvalue())
    assert ftype == P.T_STEP | P.REPLY and seq == v["seq"]
    consumed, n_events, _ = struct.unpack_from(P.REPLY_HEAD_FMT, payload, 0)
    assert consumed == 2 and n_events == 0     # idle: nothing changes
    status = struct.unpack_from(P.STATUS_FMT, payload, P.REPLY_HEAD_LEN)
    assert status[0] == 2 and status[1] == C.IDLE


def test_step_that_does_not_continue_is_refused():
    from framebuild import step_frame
    board, pipe = _board(step_frame(7, 5, [(-800, 1400, 800, 2000, 0)]))
    _serve(board, 1)
    (ftype, _seq, payload), = parse_frames(pipe.out.getvalue())
    assert ftype == P.T_NAK and payload[0] == P.N_TICK
    assert board.ctl.tick_no == 0


def test_step_stops_right_after_outputs_change():
    from framebuild import step_frame, cmd_frame
    data = (cmd_frame(1, C.CMD_SET_WEIGHT, 700) + cmd_frame(2, C.CMD_PRIME, 0)
            + step_frame(3, 1, [(-100, 300, 100, 0, 0)] * 50))
    board, pipe = _board(data)
    _serve(board, 3)
    replies = parse_frames(pipe.out.getvalue())
    assert [r[0] for r in replies] == [P.T_CMD | P.REPLY] * 2 + [P.T_STEP | P.REPLY]
    consumed = struct.unpack_from(P.REPLY_HEAD_FMT, replies[2][2], 0)[0]
    # Priming starts the pump ramp in the first tick: the board stops there.
    assert consumed == 1
    status = struct.unpack_from(P.STATUS_FMT, replies[2][2], P.REPLY_HEAD_LEN)
    assert status[5] == 100          # pump at the first ramp step, 10 mL/min
    assert status[4] & P.F_CLAMP_OPEN


def test_duplicate_frame_gets_the_same_reply_without_rerunning():
    from framebuild import step_frame
    f = step_frame(9, 1, [(-100, 300, 100, 0, 0)] * 3)
    board, pipe = _board(f + f)

    try:
        board.run()
    except OSError:
        pass    # end of input
    replies = parse_frames(pipe.out.getvalue())
    assert len(replies) == 2
    assert replies[0] == replies[1]
    assert board.ctl.tick_no == 3
