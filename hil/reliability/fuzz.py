"""``make fuzz``: hostile input on the serial link of the virtual board.

The firmware runs in the MicroPython VM on a virtual board (a pty opened
with pyserial, as the harness does) and is put in an interesting state
first: weight set, heparin running with its loading bolus given, aPTT in
range, primed and running at 250 mL/min with the clamp open (a few dozen
valid STEP frames with nominal sensor samples get it there; no valid STEP
is sent after that, so the board's time stands still). Then it gets
``--inputs`` hostile inputs (100,000 by default), each from one category:

=====================  =====================================================
random_bytes           line noise, some of it dense with false start bytes
bit_flip               a frame (often a dangerous one: stop, pause, a new
                       flow, a STEP continuing the board's tick) with 1-3 bits flipped
bad_header_check       a frame whose header check byte is wrong
bad_crc                a frame whose CRC-32 is wrong
huge_len               a header claiming more payload than its type allows
                       (up to 0xFFFF), followed by a few bytes only
zero_len               CMD or STEP with LEN 0 and good checks
odd_len                a whole frame with a length its type never has
truncated_then_valid   the start of a frame, then one or two good requests
unknown_type           good checks, a type the board does not serve
wrong_version          VER other than 1 (LEN 0xFFFF among them)
repeated_seq           the same frame twice (or around a damaged copy)
out_of_order_seq       good requests with SEQs in no order
same_seq_new_payload   a new request that reuses the SEQ of the last one
out_of_range_cmd       commands out of range, unknown, or refused in the state
flood                  10-80 frames back to back, some of them damaged
oversized_step         STEP longer than 400 samples
short_cmd              CMD with LEN 1-7 (after a command whose bytes it could reuse)
bad_step               STEP whose sample count or first tick is wrong
=====================  =====================================================

Each input says what the documented protocol (docs/protocol.md, and the
receiving rules: every type's exact length checked at the header, NAK 5; a
refused header is followed by a search from the byte after its start byte;
a failed CRC likewise; a duplicate is TYPE + SEQ + the same bytes) requires
in answer: a reply to each good request (the same bytes again for a
retransmission), a NAK with a given reason for a refused frame, nothing
else. Inputs go out in windows of 25, each closed by a STATUS request with
a fresh SEQ; every 500 inputs that request is a liveness probe sent after
0.25 s of silence. Failures:

- crash: the firmware process exited, announced a new boot, or the link closed;
- hang: a request with a fresh SEQ got no answer within its deadline (2 s)
  while the process lived (the campaign then sends 4 KB, then 64 KB of
  zeros, which end any frame a board may wait for, and asks again; a board
  that still does not answer is restarted);
- probe failed: a liveness probe got no answer within its deadline;
- state change: a status block (in any reply) differs from the one before
  the window, or a reply carries events: nothing sent may change the board;
- wrong reply: an answer the protocol does not allow (a reply to a frame
  that must be refused, a CMD reply for another command or with another
  result, a stale reply resent to a new request, a NAK where the same
  reply is due again, NAK reason 1);
- missed reply: a good request got no reply, or a frame that must be
  refused got no NAK with an allowed reason (in windows without a hang).

NAKs nobody asked for are counted apart (``stray_naks``), not as failures:
noise and cut frames make false headers with any SEQ. ``failures_by_category``
names the category of the input whose answer was wrong or missing (for a
hang: the last input answered before the board went silent).

The process's memory (VmRSS) is read at every probe. ``DIR/fuzz.json``
holds the figures and, for each kind of failure, examples with the hex of
the input and of the whole window that led to it;
``--replay HEX`` sends such bytes to a fresh board in the same state and
prints what comes back. Exit code 0 only when every failure count is 0.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from hil.transport import frames
from hil.transport.frames import Frame
from hil.transport.link import SerialLink
from hil.reliability.common import FrameTap
from hil.reliability.fuzz_board import _Board
from hil.reliability.fuzz_frames import (  # noqa: F401  (names of this module's API)
    CATEGORIES, FAILURES, STATUS_TYPES, WEIGHTS, CampaignError, Case, Expect, raw_frame,
)
from hil.reliability.fuzz_inputs import Generator  # noqa: F401
from hil.reliability.fuzz_oracle import status_dict as _status_dict  # noqa: F401
from hil.reliability.fuzz_oracle import status_of as _status_of  # noqa: F401
from hil.reliability.fuzz_window import Campaign

P, C = frames.P, frames.C

def run_campaign(out: Path | None = None, inputs: int = 100_000, seed: int = 1, **kw: Any) -> dict[str, Any]:
    """Run a campaign; write ``out/fuzz.json`` when out is given; return the figures."""
    res = Campaign(out, inputs, seed, **kw).run()
    if out is not None:
        (out / "fuzz.json").write_text(json.dumps(res, indent=1) + "\n")
    return res


def table(res: dict[str, Any]) -> str:
    rows = [("inputs", f"{res['inputs']:,}"), ("seed", str(res["seed"])),
            ("wall time", f"{res['wall_s']:.1f} s"), ("inputs/s", f"{res['inputs_per_s']:,.0f}"),
            ("probes", str(res["probes"]))]
    rows += [(k.replace("_", " "), str(res[k]) + ("" if not res[k] else "  <- FAIL")) for k in FAILURES]
    rows += [("RSS start/end/max", f"{res['rss_kb_start']} / {res['rss_kb_end']} / {res['rss_kb_max']} kB"),
             ("restarts", str(res["restarts"])), ("stray NAKs", str(res["stray_naks"]))]
    w = max(len(r[0]) for r in rows)
    out = [f"{a:<{w}}  {b}" for a, b in rows]
    out.append("")
    out.append("by category:")
    fb = res.get("failures_by_category", {})
    for c, n in res["by_category"].items():
        f = fb.get(c)
        out.append(f"  {c:<22} {n:>7,}" + (f"   failures: {f}" if f else ""))
    if fb.get("window"):
        out.append(f"  {'(window)':<22} {'':>7}   failures: {fb['window']}")
    return "\n".join(out)


# -- replay -----------------------------------------------------------------------

def replay(data: bytes, board: str = "virtual", firmware: Path | None = None,
           setup: bool = True, wait_s: float = 1.0) -> list[Frame]:
    """Send ``data`` to a fresh board (set up as for the campaign unless
    ``setup`` is False), then a STATUS request after ``wait_s``; return
    every frame that came back after the set-up."""
    camp = Campaign(None, 0, 0, board=board, firmware=firmware)
    vb = _Board(board, firmware)
    vb.start()
    camp.vb = vb
    camp.link = SerialLink(vb.port)
    camp.tap = FrameTap(camp.link).start()
    try:
        camp.tap.wait_for(lambda f: f.ftype == P.T_BOOT, 0, 15.0)
        if setup:
            camp._setup()
        start = camp.tap.mark()
        camp._write(data)
        time.sleep(wait_s)
        s = 0xEE
        camp._write(frames.encode(P.T_STATUS, s))
        camp.tap.wait_reply(P.T_STATUS, s, start, 2.0)
        time.sleep(0.1)
        return camp.tap.since(start)
    finally:
        camp._stop_board()


def describe(f: Frame) -> str:
    if f.ftype == P.T_NAK:
        return f"NAK     seq {f.seq:3d}  reason {f.payload[0] if f.payload else '?'}" \
               f" (type 0x{f.payload[1]:02x})" if len(f.payload) > 1 else f"NAK seq {f.seq}"
    if f.ftype in STATUS_TYPES:
        r = frames.decode_reply(f.payload)
        s = r.status
        return (f"0x{f.ftype:02x}    seq {f.seq:3d}  head {r.head:#06x}  state {s.state_name} pump {s.pump} "
                f"flow_set {s.flow_set} heparin {s.heparin} clamp {int(s.clamp_open)} "
                f"bolus {s.bolus_total} events {len(r.events)}")
    return f"0x{f.ftype:02x}    seq {f.seq:3d}  {len(f.payload)} bytes"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m hil.reliability.fuzz",
                                 description="Hostile inputs on the serial link of the virtual board.")
    ap.add_argument("--out", type=Path, default=Path("out/fuzz"), help="folder for fuzz.json")
    ap.add_argument("--inputs", type=int, default=100_000, help="hostile inputs to send (100,000)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--board", default="virtual", help="board config (virtual)")
    ap.add_argument("--firmware", type=Path, default=None,
                    help="run this firmware folder from source (e.g. an older one from git)")
    ap.add_argument("--window", type=int, default=25, help="inputs between two STATUS requests")
    ap.add_argument("--probe-every", type=int, default=500, help="inputs between liveness probes")
    ap.add_argument("--deadline", type=float, default=2.0, help="seconds a request gets for its answer")
    ap.add_argument("--replay", metavar="HEX", help="send these bytes to a fresh board in the "
                    "campaign's set-up state and print what comes back")
    ap.add_argument("--replay-idle", action="store_true", help="replay on an idle board (no set-up)")
    a = ap.parse_args(argv)
    if a.replay:
        for f in replay(bytes.fromhex(a.replay.replace(" ", "")), a.board, a.firmware,
                        setup=not a.replay_idle):
            print(describe(f))
        return 0
    res = run_campaign(a.out, a.inputs, a.seed, board=a.board, firmware=a.firmware,
                       window=a.window, probe_every=a.probe_every, deadline_s=a.deadline,
                       progress=True)
    print(table(res))
    print(f"\nwritten: {a.out / 'fuzz.json'}")
    return 0 if res["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
