"""Property tests of the firmware's frame receiver (firmware/link.py) on
CPython, through its public behaviour only: Link(rd, wr) over an in-memory
stream, recv() until the stream ends (OSError), what it returns and what
it writes. The rules are docs/protocol.md, "Receiving"."""

from __future__ import annotations

import struct
import zlib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import protocol as P
from link import Link

# The host codec's own CRC-8 (bitwise, apart from the firmware's table):
# the frames these tests build do not lean on the code under test.
from hil.transport.frames import crc8

PROPS = settings(max_examples=200, deadline=None, derandomize=True, database=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

HOST_TYPES = (P.T_HELLO, P.T_STATUS, P.T_DIAG, P.T_LOG, P.T_STEP, P.T_CMD)
MAX_FRAME = P.MAX_FRAME


def legal_length(ftype: int, n: int) -> bool:
    """docs/protocol.md: the one length (or lengths) of each host type."""
    if ftype in (P.T_HELLO, P.T_STATUS, P.T_DIAG, P.T_LOG):
        return n == 0
    if ftype == P.T_CMD:
        return n == 8
    if ftype == P.T_STEP:
        return 18 <= n <= 4008 and (n - 8) % 10 == 0
    return False


def header(ftype: int, seq: int, n: int, ver: int = 1) -> bytes:
    h = bytes([0xA5, ver, ftype, seq]) + struct.pack("<H", n) + b"\0"
    return h + bytes([crc8(h)])


def frame(ftype: int, seq: int, payload: bytes, ver: int = 1) -> bytes:
    body = header(ftype, seq, len(payload), ver) + payload
    return body + struct.pack("<I", zlib.crc32(body))


class Stream:
    """The bytes of a stream, handed out in chunks of the given sizes; 0 at
    the end, as a closed port."""

    def __init__(self, data: bytes, chunks: list[int]) -> None:
        self.data = data
        self.pos = 0
        self.chunks = chunks or [len(data) or 1]
        self.k = 0
        self.out = bytearray()

    def readinto(self, buf) -> int:
        c = self.chunks[self.k % len(self.chunks)]
        self.k += 1
        n = min(len(buf), max(c, 1), len(self.data) - self.pos)
        buf[:n] = self.data[self.pos:self.pos + n]
        self.pos += n
        return n

    def write(self, data) -> int:
        self.out += bytes(data)
        return len(data)


def receive(data: bytes, chunks: list[int]) -> tuple[list[tuple[int, int, int]], bytes]:
    """Everything recv() returns before the stream ends, and what the
    receiver wrote. Any exception but the end-of-stream OSError fails."""
    s = Stream(data, chunks)
    link = Link(s, s)
    got = []
    for _ in range(len(data) + 2):
        try:
            got.append(tuple(link.recv())[:3])
        except OSError:
            return got, bytes(s.out)
    raise AssertionError("recv() kept returning frames after the stream ended")


def good_frames_in(data: bytes) -> set[tuple[int, int, int]]:
    """(type, seq, LEN) of every whole VER 1 frame with both checks good."""
    out = set()
    for i in range(len(data) - 11):
        if data[i] != 0xA5 or data[i + 1] != 1 or crc8(data[i:i + 7]) != data[i + 7]:
            continue
        n = data[i + 4] | data[i + 5] << 8
        end = i + 8 + n
        if end + 4 <= len(data) and zlib.crc32(data[i:end]) == struct.unpack_from("<I", data, end)[0]:
            out.add((data[i + 2], data[i + 3], n))
    return out


def naks_in(out: bytes) -> list[tuple[int, int, int]]:
    """What the receiver wrote, as (seq, reason, refused type): only whole
    NAK frames with good checks are allowed."""
    naks = []
    i = 0
    while i < len(out):
        assert out[i] == 0xA5 and out[i + 1] == 1 and crc8(out[i:i + 7]) == out[i + 7], out[i:].hex()
        n = out[i + 4] | out[i + 5] << 8
        assert out[i + 2] == P.T_NAK and n == 2, out[i:].hex()
        assert zlib.crc32(out[i:i + 10]) == struct.unpack_from("<I", out, i + 10)[0]
        naks.append((out[i + 3], out[i + 8], out[i + 9]))
        i += 14
    return naks


# -- hostile streams ------------------------------------------------------------

noise = st.binary(max_size=40).map(lambda b: bytes(0xA5 if x % 3 == 0 else x for x in b))


@st.composite
def host_frame(draw: st.DrawFn) -> bytes:
    """A frame of a host type with its legal length and good checks."""
    ftype = draw(st.sampled_from(HOST_TYPES))
    seq = draw(st.integers(0, 255))
    if ftype == P.T_CMD:
        payload = draw(st.binary(min_size=8, max_size=8))
    elif ftype == P.T_STEP:
        n = draw(st.integers(1, 6))
        payload = struct.pack("<IHH", draw(st.integers(0, 2**32 - 1)), n, 0) + draw(
            st.binary(min_size=10 * n, max_size=10 * n))
    else:
        payload = b""
    return frame(ftype, seq, payload)


@st.composite
def piece(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["noise", "good", "cut", "badcrc", "header", "any", "oldver", "short"]))
    if kind == "noise":
        return draw(noise)
    if kind == "good":
        return draw(host_frame())
    if kind == "cut":
        f = draw(host_frame())
        return f[:draw(st.integers(1, len(f) - 1))]
    if kind == "badcrc":
        f = draw(host_frame())
        return f[:-1] + bytes([f[-1] ^ draw(st.integers(1, 255))])
    if kind == "header":     # a good header alone, claiming any length
        return header(draw(st.integers(0, 255)), draw(st.integers(0, 255)), draw(st.integers(0, 0xFFFF)),
                      draw(st.sampled_from([1, 1, 0, 2])))
    if kind == "oldver":     # a whole frame of another version
        return frame(draw(st.sampled_from(HOST_TYPES)), draw(st.integers(0, 255)),
                     draw(st.binary(max_size=16)), draw(st.sampled_from([0, 2, 255])))
    if kind == "short":      # a CMD or STEP shorter than its type, good checks
        return frame(draw(st.sampled_from([P.T_CMD, P.T_STEP])), draw(st.integers(0, 255)),
                     draw(st.binary(max_size=7)))
    # any type, any payload, good checks
    return frame(draw(st.integers(0, 255)), draw(st.integers(0, 255)), draw(st.binary(max_size=24)))


soup = st.lists(piece(), max_size=10).map(b"".join)
chunking = st.lists(st.integers(1, 64), max_size=12)


def pending_end(data: bytes) -> int:
    """Where the last frame that a good header in data could make a
    receiver wait for would end: the bytes needed to settle everything."""
    end = len(data)
    for i in range(len(data) - 7):
        if data[i] == 0xA5 and data[i + 1] == 1 and crc8(data[i:i + 7]) == data[i + 7]:
            n = data[i + 4] | data[i + 5] << 8
            if legal_length(data[i + 2], n):
                end = max(end, i + 12 + n)
    return end


@PROPS
@given(st.one_of(st.binary(max_size=400), soup), chunking)
def test_any_stream_gives_only_good_frames_of_legal_length_and_naks(data: bytes, chunks: list[int]) -> None:
    got, out = receive(data, chunks)
    good = good_frames_in(data)
    for ftype, seq, n in got:
        assert (ftype, seq, n) in good, f"returned a frame that is not in the stream: {(ftype, seq, n)}"
        assert legal_length(ftype, n), f"type 0x{ftype:02x} handed on with LEN {n}"
    for seq, reason, refused in naks_in(out):
        assert reason in (P.N_CRC, P.N_VERSION, P.N_TYPE, P.N_LENGTH), f"NAK reason {reason}"


@PROPS
@given(soup, host_frame(), chunking)
def test_good_frame_after_any_garbage_is_found(garbage: bytes, target: bytes, chunks: list[int]) -> None:
    # Followed by as many bytes as it takes to end whatever the garbage
    # starts (a receiver on a real port would give up after 200 ms).
    data = garbage + target
    data += bytes(pending_end(data) - len(data))
    got, _ = receive(data, chunks)
    want = (target[2], target[3], len(target) - 12)
    assert want in got, f"{want} not found after {garbage.hex()}"


@PROPS
@given(st.lists(host_frame(), min_size=1, max_size=8), chunking)
def test_good_frames_back_to_back_are_all_returned_in_order(fs: list[bytes], chunks: list[int]) -> None:
    got, out = receive(b"".join(fs), chunks)
    assert got == [(f[2], f[3], len(f) - 12) for f in fs]
    assert out == b""


@PROPS
@given(host_frame(), st.integers(0, 7), st.integers(0, 255), chunking)
def test_a_refused_header_gets_its_nak_before_any_payload_arrives(good: bytes, n: int, seq: int,
                                                                  chunks: list[int]) -> None:
    # A CMD header claiming LEN 0..7 with nothing after it but a good
    # frame: refused at once (NAK 5), and the good frame still found.
    data = frame(P.T_CMD, seq, bytes(n))[:8] + good
    got, out = receive(data, chunks)
    assert (seq, P.N_LENGTH, P.T_CMD) in naks_in(out)
    assert got == [(good[2], good[3], len(good) - 12)]
