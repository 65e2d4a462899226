"""Property tests of the host codec (hil/transport/frames.py): whatever bytes come in,
the decoder returns frames whose checks are good or raises its own
FrameError, never anything else; every layout round-trips. Layouts are
written here from the tables of docs/protocol.md, not taken from the codec."""

from __future__ import annotations

import struct
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hil.transport import frames
from hil.transport.frames import Frame, FrameError, FrameParser


P, C = frames.P, frames.C

# Reproducible in CI: the same examples on every run, nothing remembered.
PROPS = settings(max_examples=200, deadline=None, derandomize=True, database=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# docs/protocol.md, "Reply head, status block, events"
HEAD_DOC = "<HBB"
STATUS_DOC = "<IBBBBHHHHIIIIHH"
EVENT_DOC = "<IBBhi"
STATUS_FIELDS = ("tick", "state", "cartridge", "top_priority", "flags", "pump", "flow_set", "heparin",
                 "last_aptt", "bolus_total", "cartridge_used", "active", "latched", "weight",
                 "events_dropped")


def crc8_doc(data: bytes) -> int:
    # CRC-8/SMBUS from the firmware's table-driven code, not the host codec
    # under test (both are pinned by the check value in the vectors).
    return P.crc8(data, len(data))


def frame_doc(ftype: int, seq: int, payload: bytes, ver: int = 1) -> bytes:
    head = bytes([0xA5, ver, ftype, seq]) + struct.pack("<H", len(payload)) + b"\0"
    body = head + bytes([crc8_doc(head)]) + payload
    return body + struct.pack("<I", zlib.crc32(body))


def good_frames_in(data: bytes) -> set[tuple[int, int, bytes]]:
    """(type, seq, payload) of every frame with both checks good that starts
    anywhere in data."""
    out = set()
    for i in range(len(data) - 11):
        if data[i] != 0xA5 or crc8_doc(data[i:i + 7]) != data[i + 7]:
            continue
        n = data[i + 4] | data[i + 5] << 8
        end = i + 8 + n
        if end + 4 <= len(data) and zlib.crc32(data[i:end]) == struct.unpack_from("<I", data, end)[0]:
            out.add((data[i + 2], data[i + 3], bytes(data[i + 8:end])))
    return out


def feed_in_chunks(data: bytes, cuts: list[int]) -> list[Frame]:
    p = FrameParser()
    got: list[Frame] = []
    i = 0
    for c in cuts:
        got += p.feed(data[i:i + c])
        i += c
    return got + p.feed(data[i:])


# Streams with structure: noise dense in start bytes, whole frames, cut
# frames, damaged ones and bare headers claiming any length.
noise = st.binary(max_size=40).map(lambda b: bytes(0xA5 if x % 3 == 0 else x for x in b))


@st.composite
def pieces(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["noise", "frame", "cut", "badcrc", "header"]))
    if kind == "noise":
        return draw(noise)
    f = frame_doc(draw(st.integers(0, 255)), draw(st.integers(0, 255)), draw(st.binary(max_size=48)),
                  ver=draw(st.sampled_from([1, 1, 1, 0, 2])))
    if kind == "cut":
        return f[:draw(st.integers(1, len(f) - 1))]
    if kind == "badcrc":
        return f[:-1] + bytes([f[-1] ^ draw(st.integers(1, 255))])
    if kind == "header":
        head = bytes([0xA5, 1, draw(st.integers(0, 255)), draw(st.integers(0, 255))]) \
            + struct.pack("<H", draw(st.integers(0, 0xFFFF))) + b"\0"
        return head + bytes([crc8_doc(head)])
    return f


soup = st.lists(pieces(), max_size=12).map(b"".join)


@PROPS
@given(st.one_of(st.binary(max_size=600), soup), st.lists(st.integers(0, 64), max_size=20))
def test_parser_takes_any_bytes_and_returns_only_good_frames(data: bytes, cuts: list[int]) -> None:
    got = feed_in_chunks(data, cuts)          # raises nothing at all
    good = good_frames_in(data)
    for f in got:
        assert isinstance(f, Frame)
        assert (f.ftype, f.seq, f.payload) in good


@PROPS
@given(soup, st.lists(st.integers(1, 64), max_size=20))
def test_parser_result_does_not_depend_on_how_bytes_arrive(data: bytes, cuts: list[int]) -> None:
    whole = FrameParser().feed(data)
    assert feed_in_chunks(data, cuts) == whole


@PROPS
@given(st.integers(0, 255), st.integers(0, 1023), st.binary(max_size=300))
def test_every_frame_type_round_trips(ftype: int, seq: int, payload: bytes) -> None:
    raw = frames.encode(ftype, seq, payload)
    assert raw == frame_doc(ftype, seq & 0xFF, payload)
    assert FrameParser().feed(raw) == [Frame(ftype, seq & 0xFF, payload)]


@settings(PROPS, max_examples=20)
@given(st.sampled_from([P.T_STEP, 0x90, 0x83]), st.integers(0, 255),
       st.integers(P.MAX_PAYLOAD - 40, P.MAX_PAYLOAD + 40))
def test_longest_payloads_round_trip_and_longer_ones_are_refused(ftype: int, seq: int, n: int) -> None:
    payload = bytes(range(256)) * (n // 256) + bytes(n % 256)
    if n > P.MAX_PAYLOAD:
        with pytest.raises(FrameError):
            frames.encode(ftype, seq, payload)
        return
    assert FrameParser().feed(frames.encode(ftype, seq, payload)) == [Frame(ftype, seq, payload)]


@PROPS
@given(soup, st.integers(0, 255), st.integers(0, 255), st.binary(max_size=64),
       st.lists(st.integers(1, 64), max_size=10))
def test_good_frame_after_any_garbage_is_found(garbage: bytes, ftype: int, seq: int, payload: bytes,
                                               cuts: list[int]) -> None:
    # Enough bytes after it to end whatever the garbage claims to start.
    target = frames.encode(ftype, seq, payload)
    got = feed_in_chunks(garbage + target + bytes(P.MAX_PAYLOAD + 12), cuts)
    assert Frame(ftype, seq, payload) in got


# -- payload layouts -------------------------------------------------------------

U8, U16, U32 = st.integers(0, 255), st.integers(0, 2**16 - 1), st.integers(0, 2**32 - 1)
status_values = st.tuples(U32, U8, U8, U8, U8, U16, U16, U16, U16, U32, U32, U32, U32, U16, U16)
event_values = st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 255), st.integers(0, 255),
                         st.integers(-2**15, 2**15 - 1), st.integers(-2**31, 2**31 - 1))


@PROPS
@given(st.integers(0, 2**16 - 1), status_values, st.lists(event_values, max_size=80))
def test_reply_status_and_events_round_trip(head: int, status: tuple, events: list[tuple]) -> None:
    payload = struct.pack(HEAD_DOC, head, len(events), 0) + struct.pack(STATUS_DOC, *status) \
        + b"".join(struct.pack(EVENT_DOC, *e) for e in events)
    r = frames.decode_reply(payload)
    assert r.head == r.consumed == head
    assert (r.command_code, r.result) == (head & 0xFF, head >> 8)
    assert tuple(getattr(r.status, k) for k in STATUS_FIELDS) == status
    assert [(e.tick, e.kind, e.code, e.a, e.b) for e in r.events] == events
    assert r.status.clamp_open == bool(status[4] & 1)
    assert r.status.outputs() == (status[5], status[4] & 1, status[7], status[9])
    for e in r.events:
        assert isinstance(e.kind_name, str)
    # One byte more or less is not a reply.
    for bad in (payload[:-1], payload + b"\0"):
        with pytest.raises(FrameError):
            frames.decode_reply(bad)


@PROPS
@given(st.one_of(st.binary(max_size=200),
                 st.builds(lambda h, s, n, tail: struct.pack(HEAD_DOC, h, n, 0) + struct.pack(STATUS_DOC, *s)
                           + tail, st.integers(0, 2**16 - 1), status_values, st.integers(0, 255),
                           st.binary(max_size=200))))
def test_reply_decoder_takes_any_bytes(payload: bytes) -> None:
    try:
        r = frames.decode_reply(payload)
    except FrameError:
        return
    assert len(payload) == 4 + 36 + 12 * len(r.events)


@PROPS
@given(st.integers(0, 2**32 - 1),
       st.lists(st.tuples(*[st.integers(-2**15, 2**15 - 1)] * 5), min_size=1, max_size=P.MAX_SAMPLES))
def test_step_payload_round_trips(tick0: int, samples: list[tuple]) -> None:
    raw = b"".join(struct.pack("<5h", *s) for s in samples)
    payload = frames.step_payload(tick0, raw)
    assert len(payload) == 8 + 10 * len(samples)
    assert struct.unpack_from("<IHH", payload) == (tick0, len(samples), 0)
    assert [struct.unpack_from("<5h", payload, 8 + 10 * i) for i in range(len(samples))] == samples
    f = FrameParser().feed(frames.encode(P.T_STEP, 5, payload))
    assert f == [Frame(P.T_STEP, 5, payload)]


@PROPS
@given(st.binary(max_size=4100))
def test_step_payload_refuses_what_is_not_1_to_400_samples(raw: bytes) -> None:
    n, r = divmod(len(raw), 10)
    if r or not 1 <= n <= P.MAX_SAMPLES:
        with pytest.raises(FrameError):
            frames.step_payload(0, raw)
    else:
        assert frames.step_payload(0, raw)[8:] == raw


@PROPS
@given(st.integers(0, 255), st.integers(-2**31, 2**31 - 1))
def test_cmd_payload_round_trips(code: int, arg: int) -> None:
    payload = frames.cmd_payload(code, arg)
    assert payload == bytes([code, 0, 0, 0]) + struct.pack("<i", arg)
    assert FrameParser().feed(frames.encode(P.T_CMD, 9, payload)) == [Frame(P.T_CMD, 9, payload)]


@PROPS
@given(st.integers(0, 255), st.integers(0, 255), st.integers(0, 255))
def test_nak_layout(seq: int, reason: int, refused: int) -> None:
    # NAK: reason u8, refused type u8 (the firmware packs it with NAK_FMT).
    payload = struct.pack(P.NAK_FMT, reason, refused)
    assert payload == bytes([reason, refused])
    assert FrameParser().feed(frame_doc(P.T_NAK, seq, payload)) == [Frame(P.T_NAK, seq, payload)]
