"""Protocol v1 codec on the host side (see docs/protocol.md).

The byte layout is defined by ``firmware/protocol.py``; this module builds
and parses frames with :mod:`struct` and :mod:`zlib`, independently of the
firmware's own code, and both are checked against the same test vectors.

Decoded frames keep the wire's integers (``status.pump`` in 0.1 mL/min) and
offer their physical values, computed from the wire contract
(:mod:`hil.transport.contract`): ``status.pump_ml_min``,
``status.heparin_u_h``, ``event.fields(period_s)``.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field, fields
from typing import Any

from hil.board.firmware import firmware_module
from hil.transport import contract

P = firmware_module("protocol")
C = firmware_module("codes")
# The names of the codes live apart from them (the board does not load them).
for _k, _v in vars(firmware_module("names")).items():
    if _k.endswith("_NAMES"):
        setattr(C, _k, _v)

SOF = P.SOF
VERSION = P.VERSION
HEADER = struct.Struct("<BBBBHB")  # SOF, version, type, seq, length, reserved (+ crc8 after)
STATUS = struct.Struct(P.STATUS_FMT)
REPLY_HEAD = struct.Struct(P.REPLY_HEAD_FMT)
EVENT = struct.Struct(P.EVENT_FMT)
CMD = struct.Struct(P.CMD_FMT)
STEP_HEAD = struct.Struct("<IHH")
SAMPLE_BYTES = 2 * len(contract.SAMPLE)
_CRC32 = struct.Struct("<I")
_SOF = bytes([SOF])


class FrameError(ValueError):
    """A frame that cannot be decoded."""


def _crc8_bitwise(data: bytes) -> int:
    c = 0
    for b in data:
        c ^= b
        for _ in range(8):
            c = ((c << 1) ^ 0x07) & 0xFF if c & 0x80 else (c << 1) & 0xFF
    return c


_CRC8 = bytes(_crc8_bitwise(bytes([i])) for i in range(256))
_CRC8_BYTES = [bytes([v]) for v in range(256)]


def crc8(data: bytes) -> int:
    """CRC-8/SMBUS (polynomial 0x07, initial value 0), by a table of the
    bitwise definition's 256 values."""
    c = 0
    t = _CRC8
    for b in data:
        c = t[c ^ b]
    return c


def encode(ftype: int, seq: int, payload: bytes = b"") -> bytes:
    """Build a complete frame.

    Args:
        ftype: frame type (``P.T_*``).
        seq: sequence number, taken modulo 256.
        payload: payload bytes, at most ``P.MAX_PAYLOAD``.

    Returns:
        Header, payload and CRC-32 trailer.
    """
    if len(payload) > P.MAX_PAYLOAD:
        raise FrameError(f"payload of {len(payload)} bytes exceeds {P.MAX_PAYLOAD}")
    head = HEADER.pack(SOF, VERSION, ftype, seq & 0xFF, len(payload), 0)
    body = b"".join((head, _CRC8_BYTES[crc8(head)], payload))
    return body + _CRC32.pack(zlib.crc32(body))


@dataclass
class Frame:
    """A decoded frame."""

    ftype: int
    seq: int
    payload: bytes


class FrameParser:
    """Incremental parser: feed it bytes, take complete frames out.

    Bytes that do not start a valid header are skipped (and counted), so the
    parser resynchronises after noise; a frame whose CRC-32 fails is counted
    and dropped.
    """

    def __init__(self) -> None:
        self.buf = bytearray()
        self.skipped = 0
        self.bad_crc = 0

    def feed(self, data: bytes) -> list[Frame]:
        """Add received bytes; return the frames they complete."""
        self.buf += data
        out: list[Frame] = []
        buf = self.buf
        while True:
            start = buf.find(_SOF)
            if start < 0:
                self.skipped += len(buf)
                buf.clear()
                break
            if start:
                self.skipped += start
                del buf[:start]
            if len(buf) < 8:
                break
            if crc8(bytes(buf[:7])) != buf[7] or buf[1] != VERSION:
                # A damaged header, or a frame of another protocol version:
                # nothing in it can be trusted as v1.
                self.skipped += 1
                del buf[:1]
                continue
            n = buf[4] | (buf[5] << 8)
            if n > P.MAX_PAYLOAD:
                self.skipped += 1
                del buf[:1]
                continue
            total = 8 + n + 4
            if len(buf) < total:
                break
            body = bytes(buf[: 8 + n])
            (crc,) = _CRC32.unpack_from(buf, 8 + n)
            if zlib.crc32(body) != crc:
                self.bad_crc += 1
                del buf[:1]
                continue
            out.append(Frame(buf[2], buf[3], bytes(buf[8 : 8 + n])))
            del buf[:total]
        return out


@dataclass(frozen=True)
class Event:
    """One event reported by the firmware, at a control tick."""

    tick: int
    kind: int
    code: int
    a: int
    b: int

    @property
    def kind_name(self) -> str:
        return C.EVENT_NAMES[self.kind] if self.kind < len(C.EVENT_NAMES) else f"kind{self.kind}"

    @property
    def record_type(self) -> str:
        """The ``type`` of its record (``alarm``, ``cartridge_installed``, ...)."""
        spec = contract.EVENTS.get(self.kind)
        return spec.record if spec is not None else self.kind_name

    def fields(self, period_s: float) -> dict[str, Any]:
        """Its code, a and b in physical units, keyed as in records (the wire
        contract): an alarm's ``value`` with its ``value_unit``, a heparin
        change's ``rate_u_h``, ``flow_time_s``, ..."""
        return contract.event_fields(self.kind, self.code, self.a, self.b, period_s)


class _Physical:
    """A status field in physical units, by the wire contract (read-only)."""

    def __init__(self, wire_field: str) -> None:
        self.field = wire_field
        self.q = contract.STATUS[wire_field]

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        return self.q.physical(getattr(obj, self.field))


@dataclass(frozen=True)
class Status:
    """The status block: firmware state and outputs after its last tick."""

    tick: int
    state: int
    cartridge: int
    top_priority: int
    flags: int
    pump: int          # 0.1 mL/min
    flow_set: int      # 0.1 mL/min
    heparin: int       # 0.1 U/h
    last_aptt: int     # 0.1 s
    bolus_total: int   # U
    cartridge_used: int  # ticks with blood flowing
    active: int
    latched: int
    weight: int        # 0.1 kg
    events_dropped: int

    # The same in physical units (hil.transport.contract.STATUS).
    pump_ml_min = _Physical("pump")
    flow_set_ml_min = _Physical("flow_set")
    heparin_u_h = _Physical("heparin")
    last_aptt_s = _Physical("last_aptt")
    bolus_total_u = _Physical("bolus_total")
    weight_kg = _Physical("weight")

    def cartridge_used_s(self, period_s: float) -> float:
        """Seconds of blood flow on this cartridge."""
        return contract.STATUS["cartridge_used"].physical(self.cartridge_used, period_s)

    @property
    def clamp_open(self) -> bool:
        return bool(self.flags & P.F_CLAMP_OPEN)

    @property
    def state_name(self) -> str:
        names = C.STATE_NAMES
        return names[self.state] if self.state < len(names) else f"state{self.state}"

    def outputs(self) -> tuple[int, int, int, int]:
        """The actuator outputs: pump, clamp, heparin rate, bolus total."""
        return (self.pump, 1 if self.clamp_open else 0, self.heparin, self.bolus_total)


assert [f.name for f in fields(Status)] == list(contract.STATUS), "the status block as in the contract"


@dataclass
class Reply:
    """A STEP, CMD or STATUS reply."""

    head: int
    status: Status
    events: list[Event] = field(default_factory=list)

    @property
    def consumed(self) -> int:
        return self.head

    @property
    def command_code(self) -> int:
        return self.head & 0xFF

    @property
    def result(self) -> int:
        return self.head >> 8


def decode_reply(payload: bytes) -> Reply:
    """Decode the payload of a STEP/CMD/STATUS reply."""
    need = REPLY_HEAD.size + STATUS.size
    if len(payload) < need:
        raise FrameError(f"reply of {len(payload)} bytes is shorter than {need}")
    head, n_events, _ = REPLY_HEAD.unpack_from(payload, 0)
    if len(payload) != need + n_events * EVENT.size:
        raise FrameError(f"reply length {len(payload)} does not match {n_events} events")
    status = Status(*STATUS.unpack_from(payload, REPLY_HEAD.size))
    events = [Event(*EVENT.unpack_from(payload, need + k * EVENT.size)) for k in range(n_events)]
    return Reply(head, status, events)


def step_payload(tick0: int, samples: bytes, ahead: bool = False) -> bytes:
    """Payload of a STEP frame: first tick number, sample count, flags, samples.

    ``ahead`` sets ``STEP_AHEAD``: the frame is written before the reply to
    the one before it, and the board runs it only if that one ran to its
    end without a change (docs/protocol.md, "STEP frames sent ahead")."""
    if len(samples) % SAMPLE_BYTES:
        raise FrameError("samples must be whole records of 5 int16")
    n = len(samples) // SAMPLE_BYTES
    if not 0 < n <= P.MAX_SAMPLES:
        raise FrameError(f"a STEP frame carries 1..{P.MAX_SAMPLES} samples, not {n}")
    return STEP_HEAD.pack(tick0, n, P.STEP_AHEAD if ahead else 0) + samples


def cmd_payload(code: int, arg: int = 0) -> bytes:
    """Payload of a CMD frame."""
    return CMD.pack(code, 0, 0, arg)
