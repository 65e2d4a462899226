"""Fuzz campaign: what the protocol requires in answer to a hostile input
(:class:`Expect`, :class:`Case`), frames built by hand so that any field can
be wrong (:func:`raw_frame`), and the campaign's constants."""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field
from typing import Any

from hil.transport import frames
from hil.transport.frames import Frame

P, C = frames.P, frames.C

CATEGORIES = (
    "random_bytes", "bit_flip", "bad_header_check", "bad_crc", "huge_len", "zero_len",
    "odd_len", "truncated_then_valid", "unknown_type", "wrong_version", "repeated_seq",
    "out_of_order_seq", "same_seq_new_payload", "out_of_range_cmd", "flood",
    "oversized_step", "short_cmd", "bad_step",
)
WEIGHTS = {c: 4 for c in CATEGORIES}
WEIGHTS.update(random_bytes=18, bit_flip=14)

FAILURES = ("crashes", "hangs", "probes_failed", "state_changes", "wrong_replies", "missed_replies")
KNOWN_TYPES = (P.T_HELLO, P.T_STATUS, P.T_DIAG, P.T_LOG, P.T_STEP, P.T_CMD)
EMPTY_TYPES = (P.T_HELLO, P.T_STATUS, P.T_DIAG, P.T_LOG)
STATUS_TYPES = (P.T_STATUS | P.REPLY, P.T_CMD | P.REPLY, P.T_STEP | P.REPLY)
MAX_STEP_LEN = P.STEP_HEAD + P.MAX_SAMPLES * 2 * P.SAMPLE_CHANNELS
# Nominal sensor readings (0.1 mmHg) for the setup's STEP frames.
NOMINAL = (-800, 1400, 800)
SEQ_RESERVE = 24          # SEQs of a window kept for its STATUS and a recovery
EXAMPLES_PER_KIND = 5
SEQUENCE_HEX_MAX = 16384  # hex characters of a window kept in an example


class CampaignError(RuntimeError):
    """The campaign could not set the board up (not a finding about it)."""


# -- frames, built by hand so that any field can be wrong ----------------------

def raw_frame(ftype: int, seq: int, payload: bytes = b"", *, ver: int = P.VERSION,
              length: int | None = None, hchk_xor: int = 0, crc_xor: int = 0) -> bytes:
    """A frame with any field set: LEN defaults to the payload's length, the
    check byte and CRC-32 are right unless xor-ed with something."""
    n = len(payload) if length is None else length
    head = struct.pack("<BBBBHB", P.SOF, ver & 0xFF, ftype & 0xFF, seq & 0xFF, n & 0xFFFF, 0)
    head += bytes([frames.crc8(head) ^ (hchk_xor & 0xFF)])
    body = head + payload
    return body + struct.pack("<I", (zlib.crc32(body) ^ crc_xor) & 0xFFFFFFFF)


# -- what an input must get in answer -----------------------------------------

@dataclass
class Expect:
    """An answer the protocol requires (or allows, when not ``required``)."""

    rtype: int                      # request type | 0x80, or T_NAK
    seq: int
    required: bool = True
    reasons: frozenset[int] = frozenset()        # NAK: reasons allowed (empty: any)
    cmd: tuple[int, frozenset[int]] | None = None   # CMD reply: code, results allowed
    same_as: "Expect | None" = None  # a retransmission: the very bytes of that answer
    case: int = -1
    got: Frame | None = None

    def describe(self) -> str:
        if self.rtype == P.T_NAK:
            why = "/".join(str(r) for r in sorted(self.reasons)) or "any"
            return f"NAK {why} for SEQ {self.seq}"
        what = f"reply 0x{self.rtype:02x} to SEQ {self.seq}"
        if self.cmd is not None:
            what += f" (command {self.cmd[0]}, result {'/'.join(str(r) for r in sorted(self.cmd[1]))})"
        if self.same_as is not None:
            what += ", the same bytes as the first answer"
        return what


@dataclass
class Case:
    """One hostile input: its bytes and the answers it must get."""

    category: str
    data: bytes
    expects: list[Expect] = field(default_factory=list)
    seqs: set[int] = field(default_factory=set)


def _reply(ftype: int, seq: int, **kw: Any) -> Expect:
    return Expect(ftype | P.REPLY, seq, **kw)


def _nak(seq: int, *reasons: int, required: bool = True) -> Expect:
    return Expect(P.T_NAK, seq, required=required, reasons=frozenset(reasons))
