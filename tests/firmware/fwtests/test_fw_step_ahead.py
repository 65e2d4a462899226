# STEP frames sent ahead (docs/protocol.md): a frame flagged STEP_AHEAD runs
# only after a STEP that ran to its end with no change; the board keeps its
# replies to the last two frames it answered, so that either can be sent
# again when the host lost it.

import struct

import codes as C
import protocol as P
from framebuild import cmd_frame, frame, step_frame
from test_fw_link import _board, parse_frames
from test_fw_receiver import serve_all

VERIFIES = {
    "test_a_frame_sent_ahead_runs_after_one_that_ran_unchanged": ("SR-LINK-3",),
    "test_a_frame_sent_ahead_of_a_change_is_refused_and_acts_on_nothing": ("SR-LINK-3",),
    "test_ahead_is_refused_after_boot_and_after_any_other_frame": ("SR-LINK-3",),
    "test_ahead_is_refused_after_a_frame_with_a_tick_fault": ("SR-LINK-3",),
    "test_either_of_the_last_two_replies_is_sent_again_as_it_was": ("SR-LINK-3",),
    "test_a_refused_frame_leaves_the_answered_one_retransmittable": ("SR-LINK-3",),
    "test_a_json_reply_is_not_kept_as_the_one_before": ("SR-LINK-3",),
}

IDLE = (-100, 300, 100, 0, 0)


def _kind(reply):
    ftype, _seq, payload = reply
    if ftype == P.T_NAK:
        return ("nak", payload[0])
    return ("reply", struct.unpack_from(P.REPLY_HEAD_FMT, payload, 0)[0])


def _primed_data():
    # Weight and prime: the first tick after them starts the pump ramp, a
    # change of outputs.
    return cmd_frame(1, C.CMD_SET_WEIGHT, 700) + cmd_frame(2, C.CMD_PRIME, 0)


def test_a_frame_sent_ahead_runs_after_one_that_ran_unchanged():
    data = (step_frame(1, 1, [IDLE] * 3) + step_frame(2, 4, [IDLE] * 3, P.STEP_AHEAD)
            + step_frame(3, 7, [IDLE] * 2, P.STEP_AHEAD))
    board, replies = serve_all(data)
    assert [_kind(r) for r in replies] == [("reply", 3), ("reply", 3), ("reply", 2)]
    assert board.ctl.tick_no == 8


def test_a_frame_sent_ahead_of_a_change_is_refused_and_acts_on_nothing():
    # The frame before changes the outputs on its last sample: it ran to
    # its end, so only the flag can tell the board that the frame ahead is
    # stale. A frame cut short is refused by its tick.
    data = (_primed_data() + step_frame(3, 1, [IDLE]) + step_frame(4, 2, [IDLE] * 5, P.STEP_AHEAD)
            + step_frame(5, 2, [IDLE] * 50) + step_frame(6, 52, [IDLE] * 5, P.STEP_AHEAD)
            + step_frame(7, 3, [IDLE]))
    board, replies = serve_all(data)
    kinds = [_kind(r) for r in replies[2:]]
    assert kinds == [("reply", 1), ("nak", P.N_AHEAD), ("reply", 1), ("nak", P.N_TICK), ("reply", 1)]
    # Every refused frame left the board where it was: three ticks ran.
    assert board.ctl.tick_no == 3
    assert replies[3][1] == 4 and replies[5][1] == 6   # the NAKs name the refused SEQ


def test_ahead_is_refused_after_boot_and_after_any_other_frame():
    data = (step_frame(1, 1, [IDLE] * 2, P.STEP_AHEAD) + step_frame(2, 1, [IDLE] * 2)
            + frame(P.T_STATUS, 3, b"") + step_frame(4, 3, [IDLE] * 2, P.STEP_AHEAD)
            + step_frame(5, 3, [IDLE] * 2, 2) + step_frame(6, 3, [IDLE] * 2, 0x8001))
    board, replies = serve_all(data)
    assert [_kind(r) for r in replies] == [("nak", P.N_AHEAD), ("reply", 2), ("reply", 0),
                                           ("nak", P.N_AHEAD), ("nak", P.N_PAYLOAD),
                                           ("nak", P.N_PAYLOAD)]
    assert board.ctl.tick_no == 2


class _FaultOnce:
    # A tick that raises once, at its call numbered at, then runs the real one.
    def __init__(self, real, at):
        self.real = real
        self.at = at
        self.calls = 0

    def tick(self, a, b, c, q, air):
        self.calls += 1
        if self.calls == self.at:
            raise ValueError("injected tick fault")
        self.real(a, b, c, q, air)


def test_ahead_is_refused_after_a_frame_with_a_tick_fault():
    data = step_frame(1, 1, [IDLE] * 4) + step_frame(2, 5, [IDLE] * 2, P.STEP_AHEAD)
    board, pipe = _board(data)
    probe = _FaultOnce(board.ctl.tick, 2)
    board.ctl.tick = probe.tick
    # Past the first three faults the board prints none (CPython has no
    # sys.print_exception).
    board.tick_errors = 3
    try:
        board.run()
    except OSError:
        pass
    replies = parse_frames(pipe.out.getvalue())
    assert [_kind(r) for r in replies] == [("reply", 4), ("nak", P.N_AHEAD)]
    assert board.tick_errors == 4 and board.ctl.tick_no == 4


def test_either_of_the_last_two_replies_is_sent_again_as_it_was():
    a = step_frame(1, 1, [IDLE] * 3)
    b = step_frame(2, 4, [IDLE] * 3, P.STEP_AHEAD)
    board, replies = serve_all(a + b + a + b + a)
    assert len(replies) == 5
    assert replies[2] == replies[0] and replies[4] == replies[0] and replies[3] == replies[1]
    assert replies[0] != replies[1]
    assert board.ctl.tick_no == 6     # nothing ran twice
    # A third frame pushes the first out: it is judged again (and refused,
    # since it no longer continues from the board's tick).
    c = step_frame(3, 7, [IDLE])
    board, replies = serve_all(a + b + c + a)
    assert [_kind(r) for r in replies] == [("reply", 3), ("reply", 3), ("reply", 1), ("nak", P.N_TICK)]


def test_a_refused_frame_leaves_the_answered_one_retransmittable():
    a = step_frame(3, 1, [IDLE])
    data = _primed_data() + a + step_frame(4, 2, [IDLE] * 5, P.STEP_AHEAD) + a
    board, replies = serve_all(data)
    assert [_kind(r) for r in replies[2:]] == [("reply", 1), ("nak", P.N_AHEAD), ("reply", 1)]
    assert replies[4] == replies[2]     # the same reply, byte for byte
    assert board.ctl.tick_no == 1


def test_a_json_reply_is_not_kept_as_the_one_before():
    # The copy of the reply before the last holds a status reply with a
    # full event queue; HELLO's JSON is longer, so once another frame is
    # answered a HELLO sent again is judged again, while a STEP is not.
    h = frame(P.T_HELLO, 1, b"")
    a = step_frame(3, 1, [IDLE])
    board, replies = serve_all(h + frame(P.T_STATUS, 2, b"") + h)
    assert len(replies[0][2]) + 12 > P.PREV_REPLY_MAX
    assert board.service.prev_key == -1 or board.service.prev_key == (P.T_STATUS << 8) | 2
    board, replies = serve_all(h + frame(P.T_STATUS, 2, b""))
    assert board.service.prev_key == -1      # the HELLO reply was not kept
    board, replies = serve_all(a + frame(P.T_STATUS, 4, b"") + a)
    assert board.service.prev_key == (P.T_STEP << 8) | 3
    assert replies[2] == replies[0] and board.ctl.tick_no == 1
    assert len(board.link.tx_prev) == P.PREV_REPLY_MAX
