"""The maintenance command's refusals, seen from the host, on the virtual
board (the firmware in the MicroPython VM, no emulator): ``make flash``'s
script stops with one line naming why and runs no mpremote command when the
board answers HELLO but refuses; ``hil cmd maintenance`` names the result."""

from __future__ import annotations

import argparse
import io
import subprocess
from collections.abc import Iterator

import pytest
from rich.console import Console

from hil.board import flash
from hil.board.virtual import VirtualBoard
from hil.inspect.commands import cmd_cmd
from hil.transport.client import BoardClient
from hil.transport.link import SerialLink

pytestmark = pytest.mark.no_emulator


@pytest.fixture
def board() -> Iterator[str]:
    with VirtualBoard("virtual") as vb:
        yield vb.port


def _cmd(port: str, name: str) -> tuple[int, str]:
    """``hil cmd --port PORT NAME``: its exit code and what it printed."""
    buf = io.StringIO()
    args = argparse.Namespace(cmd="cmd", port=port, timeout=5.0, name=name, value=None,
                              console=Console(file=buf, width=200, highlight=False))
    return cmd_cmd(args), buf.getvalue()


def _flash(port: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    ran: list[list[str]] = []
    real_run = subprocess.run

    def run(cmd: list[str], *a: object, **k: object) -> object:
        if "mpremote" in str(cmd[0]):
            ran.append(cmd)
            return subprocess.CompletedProcess(cmd, 0)
        return real_run(cmd, *a, **k)   # the build's mpy-cross

    monkeypatch.setattr(subprocess, "run", run)
    rc = flash.main(["--port", port, "--board", "pico-emu"])
    assert ran == [], "no mpremote command may run when the board refuses"
    return rc, capsys.readouterr().err


def test_in_therapy_nothing_is_flashed(board: str, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    port = board
    rc, out = _cmd(port, "prime")
    assert rc == 0 and "idle -> priming" in out
    rc, out = _cmd(port, "maintenance")
    assert rc == 1 and out.startswith("maintenance: refused in state priming")
    rc, err = _flash(port, monkeypatch, capsys)
    assert rc == 1
    assert err.strip().splitlines() == [
        f"error: the board on {port} is in state priming: a therapy is under way "
        "(maintenance only from idle); nothing was flashed"]


def test_the_virtual_board_in_idle_has_no_maintenance_mode(board: str, monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    port = board
    rc, out = _cmd(port, "maintenance")
    assert rc == 1 and out.startswith("maintenance: unsupported")
    rc, err = _flash(port, monkeypatch, capsys)
    assert rc == 1 and "(hal sim) is not a Pico" in err and err.rstrip().endswith("nothing was flashed")
    # It still runs the controller: the refusal did nothing.
    link = SerialLink(port)
    try:
        status = BoardClient(link, timeout_s=5.0).status().status
    finally:
        link.close()
    assert status.state_name == "idle"
