"""The fault-injecting link: what each fault does to frames, and that the
client's resends and the board's duplicate detection carry a closed-loop
run through damaged, lost, delayed and noisy frames with exactly the
result of a clean run."""

from __future__ import annotations

import dataclasses

import time

from hil.transport import frames
from hil.transport.faultlink import FaultyLink, damage, noise_bytes, split_frames
from hil.transport.link import Link
from hil.run.runner import run_scenario
from hil.scenario import load

P = frames.P


class _Pipe(Link):
    """An in-memory far end: records writes, hands out queued bytes."""

    name = "pipe"

    def __init__(self) -> None:
        self.sent: list[bytes] = []
        self.incoming = bytearray()

    def write(self, data: bytes) -> None:
        self.sent.append(data)

    def read(self, max_bytes: int, timeout_s: float) -> bytes:
        if not self.incoming:
            time.sleep(min(timeout_s, 0.01))
            return b""
        out = bytes(self.incoming[:max_bytes])
        del self.incoming[:max_bytes]
        return out

    def close(self) -> None:
        pass


def _frame(seq: int, payload: bytes = b"abcdefgh") -> bytes:
    return frames.encode(P.T_STATUS | P.REPLY, seq, payload)


def test_split_frames_keeps_noise_and_tail() -> None:
    a, b = _frame(1), _frame(2)
    parts, tail = split_frames(bytearray(b"xy" + a + b[:5]))
    assert parts == [(False, b"xy"), (True, a)] and bytes(tail) == b[:5]


def test_damage_breaks_the_crc_and_noise_has_false_starts() -> None:
    f = _frame(3)
    assert frames.FrameParser().feed(damage(f)) == []
    n = noise_bytes(24)
    assert len(n) == 24 and P.SOF in n
    parser = frames.FrameParser()
    assert [x.seq for x in parser.feed(n + f)] == [3]


def test_faults_act_on_the_next_frames_in_one_direction_only() -> None:
    pipe = _Pipe()
    link = FaultyLink(pipe)
    link.arm("drop", "to_board", 1)
    link.arm("corrupt", "to_host", 1)
    link.write(_frame(1))           # dropped
    link.write(_frame(2))           # passes
    assert pipe.sent == [_frame(2)]
    pipe.incoming += _frame(7) + _frame(8)
    got = b""
    while len(got) < 2 * len(_frame(7)):
        got += link.read(4096, 0.2)
    assert got == damage(_frame(7)) + _frame(8)
    assert [(i["kind"], i["direction"]) for i in link.injected] == [("drop", "to_board"), ("corrupt", "to_host")]


def test_delay_holds_a_frame_back_for_the_wall_time_asked() -> None:
    pipe = _Pipe()
    link = FaultyLink(pipe)
    link.arm("delay", "to_host", 1, delay_s=0.2)
    pipe.incoming += _frame(5)
    t0 = time.monotonic()
    assert link.read(4096, 0.05) == b""
    got = b""
    while not got:
        got = link.read(4096, 0.5)
    assert got == _frame(5) and time.monotonic() - t0 >= 0.19


def test_boot_notices_are_never_faulted() -> None:
    pipe = _Pipe()
    link = FaultyLink(pipe)
    link.arm("drop", "to_host", 1)
    boot = frames.encode(P.T_BOOT, 0, b"{}")
    pipe.incoming += boot + _frame(1)
    got = b""
    deadline = time.monotonic() + 1
    while time.monotonic() < deadline and len(got) < len(boot):
        got += link.read(4096, 0.1)
    assert got == boot


def test_a_run_through_link_faults_equals_a_clean_run() -> None:
    damaged_sc = load("scenarios/link_frames_damaged.yaml")
    clean_sc = load("scenarios/link_frames_damaged.yaml")
    clean_sc.steps = []
    # A clean link needs no short reply timeout; a long one keeps a busy
    # machine from resending on its own.
    clean_sc.board = dataclasses.replace(clean_sc.board, timeout_s=5.0)
    damaged = run_scenario(damaged_sc)
    clean = run_scenario(clean_sc)
    assert damaged.outcome == "pass", damaged.failure_messages()
    # Every fault was injected and cost resends ...
    assert len(damaged.link["faults_injected"]) >= 8
    assert damaged.link["resends"] >= 5 and clean.link["resends"] == 0
    # Frames went ahead of the reply before in both (docs/protocol.md).
    assert damaged.link["sent_ahead"] > 0 and clean.link["sent_ahead"] > 0
    # ... and the therapy never noticed: same events, same plant trace.
    events = [e for e in damaged.timeline.events if e["type"] != "step"]
    assert events == clean.timeline.events
    assert damaged.timeline.trace_rows == clean.timeline.trace_rows
