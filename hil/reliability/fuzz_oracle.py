"""Fuzz campaign: the expected-answer oracle. Which required or allowed
answer (:class:`~hil.reliability.fuzz_frames.Expect`) a frame from the board
answers, whether it is right, and how a status block differs from the
set-up state."""

from __future__ import annotations

from typing import Any

from hil.transport import frames
from hil.transport.frames import Frame, Status
from hil.reliability.fuzz_frames import Expect

P, C = frames.P, frames.C


def status_of(f: Frame) -> tuple[Status | None, int]:
    """Status block and event count of a reply that carries them."""
    try:
        r = frames.decode_reply(f.payload)
    except frames.FrameError:
        return None, -1
    return r.status, len(r.events)


def status_dict(st: Status | None) -> dict[str, Any] | None:
    if st is None:
        return None
    d = dict(st.__dict__)
    d["state_name"] = C.STATE_NAMES[st.state] if st.state < len(C.STATE_NAMES) else str(st.state)
    return d


def find_expect(expects: list[Expect], f: Frame) -> Expect | None:
    """The first unanswered expectation that ``f`` answers."""
    if f.ftype == P.T_NAK:
        # Noise can make a header with any SEQ: a NAK answers an
        # expected refusal only if its reason is one allowed there.
        why = f.payload[0] if f.payload else -1
        return next((x for x in expects if x.got is None and x.rtype == P.T_NAK and x.seq == f.seq
                     and (not x.reasons or why in x.reasons)), None)
    return next((x for x in expects if x.got is None and x.rtype == f.ftype and x.seq == f.seq),
                None)


def due_retransmission(expects: list[Expect], f: Frame) -> Expect | None:
    """The retransmission a NAK ``f`` names by type and SEQ, where the
    board's previous reply is due again. (A NAK that only shares a SEQ with
    a new request is a false header in noise; if the request goes
    unanswered, that is a missed reply.)"""
    if f.ftype != P.T_NAK or len(f.payload) != 2:
        return None
    return next((x for x in expects if x.got is None and x.required and x.same_as is not None
                 and x.seq == f.seq and x.rtype == f.payload[1] | P.REPLY), None)


def check_answer(e: Expect, f: Frame) -> str | None:
    """What is wrong with ``f`` as the answer ``e`` (None: nothing)."""
    if f.ftype == P.T_NAK:
        if len(f.payload) != 2:
            return f"NAK for SEQ {f.seq} with a payload of {len(f.payload)} bytes"
        if f.payload[0] == P.N_HEADER:
            return f"NAK reason 1 (reserved, never sent) for SEQ {f.seq}"
        if e.reasons and f.payload[0] not in e.reasons:
            return (f"NAK reason {f.payload[0]} for SEQ {f.seq}; "
                    f"expected {e.describe()}")
        return None
    if e.same_as is not None:
        if e.same_as.got is None or e.same_as.got.payload != f.payload:
            return f"a retransmission (SEQ {f.seq}) did not get the same answer again"
        return None
    if e.cmd is not None:
        try:
            r = frames.decode_reply(f.payload)
        except frames.FrameError as err:
            return f"CMD reply for SEQ {f.seq} does not decode: {err}"
        code, ok = e.cmd
        if r.command_code != code or r.result not in ok:
            return (f"CMD reply for SEQ {f.seq} answers command {r.command_code} with "
                    f"result {r.result}; expected {e.describe()}")
    return None


def diff_status(baseline: Status, st: Status | None, n_ev: int) -> str:
    """How ``st`` (with ``n_ev`` events) differs from the set-up state."""
    if st is None:
        return "a reply's status block does not decode"
    b = baseline
    d = [f"{k} {getattr(b, k)} -> {getattr(st, k)}" for k in Status.__dataclass_fields__
         if getattr(b, k) != getattr(st, k)]
    if n_ev:
        d.append(f"{n_ev} event(s) reported")
    return "status changed: " + ", ".join(d)
