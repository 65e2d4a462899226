"""The virtual board: the firmware in the MicroPython VM on a pty, opened
with pyserial like a real port. Bad input gets a clear answer and the board
keeps working."""

from __future__ import annotations

import os
import time

import pytest
import serial

from hil.transport import frames
from hil.transport.client import BoardClient, BoardError
from hil.transport.link import LinkError, SerialLink
from hil.board.virtual import VirtualBoard

P, C = frames.P, frames.C


@pytest.fixture
def board():
    with VirtualBoard() as vb:
        yield vb


def _read_frames(ser: serial.Serial, want: int, timeout_s: float = 5.0) -> list[frames.Frame]:
    parser = frames.FrameParser()
    got: list[frames.Frame] = []
    deadline = time.monotonic() + timeout_s
    while len(got) < want and time.monotonic() < deadline:
        got += parser.feed(ser.read(ser.in_waiting or 1))
    return got


def test_pyserial_opens_the_pty_and_hello_names_micropython(board: VirtualBoard) -> None:
    assert board.port.startswith("/dev/")
    with SerialLink(board.port) as link:
        hello = BoardClient(link).hello()
    assert hello["implementation"] == "micropython"
    assert hello["protocol"] == 1 and hello["board"] == "virtual" and hello["hal"] == "sim"
    assert hello["period_ms"] == 100


def test_port_can_be_closed_and_reopened(board: VirtualBoard) -> None:
    for _ in range(2):
        with SerialLink(board.port) as link:
            assert BoardClient(link).status().status.tick == 0
    assert board.alive()


def test_garbage_and_damaged_frames_are_answered_and_survived(board: VirtualBoard) -> None:
    ser = serial.Serial(board.port, timeout=0.2)
    good = frames.encode(P.T_STATUS, 7)
    damaged = bytearray(frames.encode(P.T_CMD, 8, frames.cmd_payload(C.CMD_PAUSE)))
    damaged[12] ^= 0x40
    unknown = frames.encode(0x55, 9)
    ser.write(os.urandom(64).replace(b"\xa5", b"\x00") + bytes(damaged) + unknown + good)
    got = [f for f in _read_frames(ser, 4) if f.ftype != P.T_BOOT]
    ser.close()
    assert [(f.ftype, f.seq) for f in got] == [(P.T_NAK, 8), (P.T_NAK, 9), (P.T_STATUS | P.REPLY, 7)]
    assert got[0].payload[0] == P.N_CRC and got[1].payload[0] == P.N_TYPE
    assert board.alive()


def test_out_of_range_command_is_refused_with_a_code(board: VirtualBoard) -> None:
    with SerialLink(board.port) as link:
        client = BoardClient(link)
        assert client.command(C.CMD_SET_FLOW, 600).result == C.E_RANGE
        assert client.command(C.CMD_SET_FLOW, 100).result == C.E_RANGE
        assert client.command(C.CMD_START).result == C.E_STATE
        assert client.command(77).result == C.E_UNKNOWN
        r = client.command(C.CMD_SET_FLOW, 300)
        assert r.result == C.OK and r.status.flow_set == 3000


def test_step_out_of_sequence_is_refused(board: VirtualBoard) -> None:
    with SerialLink(board.port) as link:
        client = BoardClient(link)
        with pytest.raises(BoardError, match="does not continue"):
            client.step(5, bytes(10))
        assert client.step(1, bytes(10)).consumed == 1


def test_missing_port_is_a_clear_error() -> None:
    with pytest.raises(LinkError, match="cannot open serial port /dev/no-such-port"):
        SerialLink("/dev/no-such-port")


def test_vanished_board_is_a_clear_error() -> None:
    vb = VirtualBoard()
    vb.start()
    link = SerialLink(vb.port)
    client = BoardClient(link, timeout_s=0.5, retries=1)
    assert client.status().status.state == C.IDLE
    vb.stop()
    with pytest.raises((LinkError, BoardError)) as info:
        client.status()
    assert link.name in str(info.value)
    link.close()
