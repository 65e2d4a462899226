"""The fuzz campaign (``make fuzz``), short, and the defects an outside fuzz
campaign found in the board's receiver, each replayed byte for byte from
the report against a fresh virtual board."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hil.transport import frames
from hil.transport.frames import Frame
from hil.transport.link import SerialLink
from hil.reliability import fuzz
from hil.reliability.common import FrameTap
from hil.board.virtual import VirtualBoard

P, C = frames.P, frames.C
DEADLINE_S = 2.0
# Another firmware folder to run from source (e.g. an older one taken out
# of git, to see these tests fail on it); default: firmware/, compiled.
FIRMWARE = Path(os.environ["FUZZ_FIRMWARE"]) if os.environ.get("FUZZ_FIRMWARE") else None


# -- the campaign, short --------------------------------------------------------

def test_short_campaign_finds_nothing_and_tries_everything(tmp_path: Path) -> None:
    res = fuzz.run_campaign(tmp_path, inputs=3000, seed=8, firmware=FIRMWARE)
    written = json.loads((tmp_path / "fuzz.json").read_text())
    assert written["inputs"] == res["inputs"] == 3000
    failures = {k: res[k] for k in fuzz.FAILURES}
    assert failures == dict.fromkeys(fuzz.FAILURES, 0), "\n".join(
        [f"{failures}, by category: {res['failures_by_category']}"]
        + [f"{kind}: {ex['detail']} (input {ex.get('input_hex', '')[:96]})"
           for kind, exs in res["examples"].items() for ex in exs[:2]])
    assert set(res["by_category"]) == set(fuzz.CATEGORIES)
    assert all(n > 0 for n in res["by_category"].values()), res["by_category"]
    assert res["probes"] == 3000 // 500
    assert res["rss_kb_start"] and res["rss_kb_end"]
    assert res["setup_state"]["state_name"] == "running"


def test_the_same_seed_sends_the_same_inputs() -> None:
    def inputs(seed: int) -> list[bytes]:
        import random
        gen = fuzz.Generator(random.Random(seed), 2000, 250)
        out = []
        for c in fuzz.CATEGORIES * 3:
            gen.new_window()
            out.append(gen.make(c).data)
        return out
    assert inputs(5) == inputs(5)
    assert inputs(5) != inputs(6)


# -- defects reported by the outside campaign --------------------------------------

@pytest.fixture
def board() -> Iterator[tuple[VirtualBoard, FrameTap]]:
    with fuzz._Board("virtual", FIRMWARE) as vb:
        link = SerialLink(vb.port)
        tap = FrameTap(link).start()
        try:
            assert tap.wait_for(lambda f: f.ftype == P.T_BOOT, 0, 15.0) is not None
            yield vb, tap
        finally:
            tap.stop()
            link.close()


def _send(tap: FrameTap, hexdata: str, then_status: int | None = 0x33) -> tuple[list[Frame], Frame | None]:
    """Send the bytes, then (unless None) a STATUS request with that fresh
    SEQ; return what came back before its answer, and the answer (None if
    it did not come within the deadline)."""
    start = tap.mark()
    tap.link.write(bytes.fromhex(hexdata))
    if then_status is None:
        time.sleep(0.5)
        return tap.since(start), None
    tap.link.write(frames.encode(P.T_STATUS, then_status))
    i = tap.wait_reply(P.T_STATUS, then_status, start, DEADLINE_S)
    return tap.since(start, i), None if i is None else tap.frames[i]


def _naks(got: list[Frame]) -> list[tuple[int, int]]:
    return [(f.seq, f.payload[0]) for f in got if f.ftype == P.T_NAK]


def _flow_set(status: Frame | None) -> int:
    assert status is not None, "the board did not answer a STATUS request within the deadline"
    return frames.decode_reply(status.payload).status.flow_set


def test_defect1_short_cmd_never_runs_on_stale_payload_bytes(board) -> None:
    # A CMD "set flow 450" whose CRC fails (NAK 2), then a CMD with LEN 0
    # and good checks: it must be refused (NAK 5), not run on the bytes the
    # refused frame left behind.
    _, tap = board
    got, status = _send(tap, "a50120410800001006000000c201000000000000" "a50120420000007b9e9bb0c3")
    assert [f for f in got if f.ftype == P.T_CMD | P.REPLY] == [], "a CMD with LEN 0 was acted on"
    assert _naks(got) == [(0x41, P.N_CRC), (0x42, P.N_LENGTH)]
    assert _flow_set(status) == 2000


@pytest.mark.parametrize("length", range(1, P.CMD_LEN))
def test_defect1_cmd_with_any_short_length_is_refused(board, length: int) -> None:
    _, tap = board
    bad = fuzz.raw_frame(P.T_CMD, 0x41, frames.cmd_payload(C.CMD_SET_FLOW, 450), crc_xor=1)
    short = fuzz.raw_frame(P.T_CMD, 0x42, frames.cmd_payload(C.CMD_SET_FLOW, 450)[:length])
    got, status = _send(tap, (bad + short).hex())
    assert _naks(got) == [(0x41, P.N_CRC), (0x42, P.N_LENGTH)]
    assert _flow_set(status) == 2000


def test_defect2_wrong_version_with_len_ffff_does_not_blind_the_board(board) -> None:
    _, tap = board
    t0 = time.monotonic()
    got, status = _send(tap, "a5000160ffff004a")
    assert status is not None, "no answer to STATUS after VER 0 LEN 0xFFFF: the board is blind"
    assert _naks(got) == [(0x60, P.N_VERSION)]
    assert time.monotonic() - t0 < DEADLINE_S


def test_defect3_cmd_with_len_4096_is_refused_at_the_header(board) -> None:
    _, tap = board
    got, status = _send(tap, "a5012070001000a9")
    assert status is not None, "no answer to STATUS after a CMD with LEN 4096: the board is blind"
    assert _naks(got) == [(0x70, P.N_LENGTH)]


def test_defect4_good_frame_after_a_truncated_one_is_answered(board) -> None:
    # STATUS seq 0x80 cut after two of its CRC bytes, then a whole HELLO
    # seq 0x81: the HELLO must be answered.
    _, tap = board
    got, status = _send(tap, "a50102800000005de501a5010181000000ed77e999b8")
    hello = [f for f in got if f.ftype == P.T_HELLO | P.REPLY and f.seq == 0x81]
    assert len(hello) == 1, f"answers: {[(hex(f.ftype), f.seq) for f in got]}"
    assert json.loads(hello[0].payload)["protocol"] == 1
    assert all(seq == 0x80 and why == P.N_CRC for seq, why in _naks(got))
    assert status is not None


def test_defect5_reused_seq_with_a_new_payload_is_a_new_request(board) -> None:
    # CMD seq 0x50 "set flow 300", then CMD seq 0x50 "set flow 400": the
    # second is a new request, acted on and answered with its own reply.
    _, tap = board
    got, status = _send(tap, "a501205008000061060000002c010000a40468c0"
                             "a501205008000061060000009001000086f5cc97")
    replies = [frames.decode_reply(f.payload) for f in got if f.ftype == P.T_CMD | P.REPLY]
    assert [(r.command_code, r.result) for r in replies] == [(C.CMD_SET_FLOW, C.OK)] * 2
    assert [r.status.flow_set for r in replies] == [3000, 4000], "the second request was dropped"
    assert _flow_set(status) == 4000


def test_retransmission_is_answered_with_the_same_bytes_and_acted_on_once(board) -> None:
    _, tap = board
    cmd = frames.encode(P.T_CMD, 0x51, frames.cmd_payload(C.CMD_SET_FLOW, 300))
    got, status = _send(tap, (cmd + cmd).hex())
    replies = [f for f in got if f.ftype == P.T_CMD | P.REPLY]
    assert len(replies) == 2 and replies[0].payload == replies[1].payload
    assert _flow_set(status) == 3000


def test_retransmission_after_a_damaged_copy_gets_the_reply_not_the_nak(board) -> None:
    # Found by this campaign (repeated_seq): STATUS seq 0x30 is answered;
    # a damaged copy of it gets NAK 2; the host sends it again, whole: the
    # board must send its reply again (docs/protocol.md: "its previous
    # reply again, byte for byte"), not repeat the NAK.
    _, tap = board
    got, _ = _send(tap, "a5010230000000c587121f26" "a5010230000000c587121f06" "a5010230000000c587121f26")
    assert [(hex(f.ftype), f.seq) for f in got] == [
        (hex(P.T_STATUS | P.REPLY), 0x30), (hex(P.T_NAK), 0x30), (hex(P.T_STATUS | P.REPLY), 0x30)]
    assert got[0].payload == got[2].payload
    assert got[1].payload[0] == P.N_CRC


def test_damaged_header_is_skipped_silently(board) -> None:
    # NAK reason 1 is reserved: a header whose check byte is wrong names no
    # SEQ that a NAK could trust.
    _, tap = board
    bad = bytearray(frames.encode(P.T_HELLO, 0x61))
    bad[7] ^= 0x5A
    got, status = _send(tap, bytes(bad).hex())
    assert got == [] and status is not None
