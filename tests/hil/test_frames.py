"""The host codec against the shared protocol test vectors."""

from __future__ import annotations

import json
import re
import struct
import zlib
from pathlib import Path

import pytest

from hil.transport import frames

VECTORS = json.loads((Path(__file__).parents[1] / "vectors" / "protocol_v1.json").read_text())
P, C = frames.P, frames.C


def test_crc_check_values() -> None:
    v = VECTORS["crc_check"]
    data = v["input_ascii"].encode()
    assert frames.crc8(data) == v["crc8_smbus"]
    assert zlib.crc32(data) == v["crc32_iso_hdlc"]


@pytest.mark.parametrize("vec", VECTORS["frames"], ids=lambda v: v["name"])
def test_encode_matches_vector(vec: dict) -> None:
    assert frames.encode(vec["type"], vec["seq"], bytes.fromhex(vec["payload"])).hex() == vec["frame"]


@pytest.mark.parametrize("vec", VECTORS["frames"], ids=lambda v: v["name"])
def test_parser_decodes_vector_split_anywhere(vec: dict) -> None:
    data = bytes.fromhex(vec["frame"])
    for cut in range(len(data) + 1):
        p = frames.FrameParser()
        got = p.feed(data[:cut]) + p.feed(data[cut:])
        assert len(got) == 1
        assert (got[0].ftype, got[0].seq, got[0].payload.hex()) == (vec["type"], vec["seq"], vec["payload"])


def test_step_vector_fields() -> None:
    vec = next(v for v in VECTORS["frames"] if v["name"] == "step_two_samples")
    samples = b"".join(struct.pack("<5h", *s) for s in vec["fields"]["samples"])
    assert frames.step_payload(vec["fields"]["tick0"], samples).hex() == vec["payload"]


def test_reply_vector_decodes() -> None:
    vec = next(v for v in VECTORS["frames"] if v["name"] == "step_reply_air")
    r = frames.decode_reply(bytes.fromhex(vec["payload"]))
    assert r.consumed == 2
    assert list(r.status.__dict__.values()) == vec["fields"]["status"]
    assert r.status.state_name == "safe"
    assert not r.status.clamp_open and r.status.pump == 0
    assert [[e.tick, e.kind, e.code, e.a, e.b] for e in r.events] == vec["fields"]["events"]


def test_corrupt_vectors() -> None:
    flip, noise = VECTORS["corrupt"]
    p = frames.FrameParser()
    assert p.feed(bytes.fromhex(flip["frame"])) == []
    assert p.bad_crc == 1
    p = frames.FrameParser()
    got = p.feed(bytes.fromhex(noise["frame"]))
    assert [(f.ftype, f.seq) for f in got] == [(noise["type"], noise["seq"])]
    assert p.skipped >= 4


def test_bad_inputs_give_clear_errors() -> None:
    with pytest.raises(frames.FrameError, match="exceeds"):
        frames.encode(P.T_STEP, 1, bytes(P.MAX_PAYLOAD + 1))
    with pytest.raises(frames.FrameError, match="whole records"):
        frames.step_payload(1, bytes(7))
    with pytest.raises(frames.FrameError, match="1..400"):
        frames.step_payload(1, bytes(10 * 401))
    with pytest.raises(frames.FrameError, match="shorter"):
        frames.decode_reply(bytes(10))
    with pytest.raises(frames.FrameError, match="does not match"):
        frames.decode_reply(bytes(4 + 36 + 5))


def test_codes_agree_with_protocol_doc() -> None:
    doc = (Path(__file__).parents[2] / "docs" / "protocol.md").read_text()
    for name, code in (("prime", C.CMD_PRIME), ("set blood flow", C.CMD_SET_FLOW),
                       ("enter aPTT", C.CMD_APTT), ("set weight", C.CMD_SET_WEIGHT)):
        assert f"| {code} | {name}" in doc
    # Every frame quoted in the doc's vector table is a real vector.
    table = doc.split("## Test vectors", 1)[1]
    quoted = [q.replace(" ", "") for q in re.findall(r"`([0-9a-f ]{20,})`", table)]
    assert len(quoted) >= 5
    known = {v["frame"] for v in VECTORS["frames"]}
    assert set(quoted) <= known


def test_parser_takes_no_frame_of_another_version() -> None:
    good = frames.encode(P.T_STATUS | P.REPLY, 4, b"")
    other = bytearray(good)
    other[1] = 2
    other[7] = frames.crc8(bytes(other[:7]))
    body = bytes(other[:-4])
    other[-4:] = struct.pack("<I", zlib.crc32(body))
    p = frames.FrameParser()
    assert [f.seq for f in p.feed(bytes(other) + good)] == [4]


def test_unknown_state_number_has_a_name() -> None:
    vec = next(v for v in VECTORS["frames"] if v["name"] == "step_reply_air")
    payload = bytearray.fromhex(vec["payload"])
    payload[P.REPLY_HEAD_LEN + 4] = 9
    assert frames.decode_reply(bytes(payload)).status.state_name == "state9"
