"""The serial link under the frames: a local port is read and written
through its file descriptor (one select and one read per call), a URL
through pyserial; both keep the Link contract (docs/architecture.md)."""

from __future__ import annotations

import os
import select
import tty

import pytest

from hil.transport import frames
from hil.transport.link import LinkError, SerialLink

P = frames.P


@pytest.fixture()
def pty_pair():
    master, slave = os.openpty()
    tty.setraw(master)
    tty.setraw(slave)
    link = SerialLink(os.ttyname(slave))
    yield master, link
    link.close()
    os.close(master)
    os.close(slave)


def _drain(fd: int, n: int) -> bytes:
    got = b""
    while len(got) < n and select.select([fd], [], [], 5.0)[0]:
        got += os.read(fd, n - len(got))
    return got


def test_a_local_port_goes_through_its_descriptor(pty_pair) -> None:
    _, link = pty_pair
    assert isinstance(link._fd, int)


def test_a_longest_step_frame_goes_out_whole_and_a_reply_comes_back(pty_pair) -> None:
    master, link = pty_pair
    samples = bytes(range(256)) * 15 + bytes(240)   # 400 samples of 10 bytes
    frame = frames.encode(P.T_STEP, 9, frames.step_payload(1, samples[:P.MAX_SAMPLES * 10]))
    assert len(frame) == P.MAX_FRAME
    link.write(frame)
    assert _drain(master, len(frame)) == frame
    reply = frames.encode(P.T_STEP | P.REPLY, 9, bytes(P.REPLY_HEAD_LEN + P.STATUS_LEN))
    os.write(master, reply)
    got = b""
    while len(got) < len(reply):
        chunk = link.read(65536, 5.0)
        assert chunk, "the reply did not arrive"
        got += chunk
    assert got == reply


def test_a_read_with_nothing_to_read_returns_nothing_after_its_timeout(pty_pair) -> None:
    _, link = pty_pair
    assert link.read(100, 0.01) == b""
    assert link.read(100, 0.0) == b""


def test_a_read_takes_at_most_what_it_is_asked(pty_pair) -> None:
    master, link = pty_pair
    os.write(master, b"abcdef")
    assert link.read(4, 1.0) == b"abcd"
    assert link.read(100, 1.0) == b"ef"


def test_a_closed_link_fails_as_a_link(pty_pair) -> None:
    _, link = pty_pair
    link.close()
    with pytest.raises(LinkError):
        link.write(b"x")


def test_a_url_port_goes_through_pyserial() -> None:
    link = SerialLink("loop://")
    try:
        assert link._fd is None
        link.write(b"hello")
        assert link.read(100, 1.0) == b"hello"
        assert link.read(100, 0.01) == b""
    finally:
        link.close()
