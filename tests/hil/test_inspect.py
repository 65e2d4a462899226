"""``hil info|status|monitor|log|cmd --port P`` on a virtual board started
apart: what the board says, decoded into names and units; one operator
command by name with its argument in physical units."""

from __future__ import annotations

import argparse
import io
from collections.abc import Iterator

import pytest
from rich.console import Console

from hil.board.virtual import VirtualBoard
from hil.inspect import add_commands
from hil.inspect.commands import CommandError, parse_command
from hil.transport import frames

C = frames.C


@pytest.fixture(scope="module")
def port() -> Iterator[str]:
    with VirtualBoard("virtual") as vb:
        yield vb.port


def _hil(*argv: str) -> tuple[int, str]:
    """Run one of the commands; its exit code and what it printed."""
    p = argparse.ArgumentParser(prog="hil")
    add_commands(p.add_subparsers(dest="cmd", required=True))
    args = p.parse_args(list(argv))
    buf = io.StringIO()
    args.console = Console(file=buf, width=160, highlight=False)
    return args.func(args), buf.getvalue()


def test_info_decodes_identity_settings_and_counters(port: str) -> None:
    rc, out = _hil("info", "--port", port)
    assert rc == 0
    assert "virtual (sim HAL, clock: host)" in out
    assert "(the shipped config 'virtual')" in out
    assert "anticoagulation  cartridge-60-80" in out and "flow max         500 mL/min" in out
    assert "boot 1, power on" in out and "KiB" in out and "build " in out


def test_a_command_in_physical_units_then_status_and_monitor(port: str) -> None:
    rc, out = _hil("cmd", "--port", port, "set_weight", "72.5")
    assert rc == 0 and out.startswith("set_weight: ok")
    rc, out = _hil("cmd", "--port", port, "prime")
    assert rc == 0 and "idle -> priming" in out
    rc, out = _hil("status", "--port", port)
    assert rc == 0 and "72.5 kg" in out and "priming" in out and "venous clamp" in out
    rc, out = _hil("cmd", "--port", port, "set_flow", "999")
    assert rc == 1 and "set_flow: out of range" in out
    rc, out = _hil("cmd", "--port", port, "start")
    assert rc == 1 and "start: refused in state priming" in out
    rc, out = _hil("cmd", "--port", port, "stop")
    assert rc == 0
    rc, out = _hil("monitor", "--port", port, "--polls", "2", "--every", "0.05")
    assert rc == 0 and out.count("complete") == 1      # one status line: nothing changed


def test_a_malformed_command_sends_nothing(port: str, capsys: pytest.CaptureFixture[str]) -> None:
    rc, _ = _hil("cmd", "--port", port, "stp")
    err = capsys.readouterr().err
    assert rc == 2 and "did you mean stop" in err and "nothing was sent" in err
    with pytest.raises(CommandError, match="needs an argument: aptt_s, in s"):
        parse_command("aptt", None, 0.1)
    with pytest.raises(CommandError, match="takes no argument"):
        parse_command("prime", 3, 0.1)
    assert parse_command("aptt", 72.5, 0.1) == (C.CMD_APTT, 725)
    assert parse_command("test-hang", 3, 0.1) == (C.CMD_TEST_HANG, 30)


def test_the_alarm_log_in_names_and_units(port: str) -> None:
    rc, out = _hil("log", "--port", port)
    assert rc == 0 and "the alarm log is empty" in out
    from hil.inspect.render import log_table

    buf = io.StringIO()
    Console(file=buf, width=160).print(log_table({"period_ms": 100, "entries": [
        [36000, C.AL_RETURN_HIGH, C.PRIO_HIGH, 3589], [36010, C.AL_EXCHANGE_DUE, C.PRIO_MEDIUM, 2]]}))
    text = buf.getvalue()
    assert "1:00:00" in text and "Return pressure high" in text and "358.9 mmHg" in text
    assert "cartridge 2" in text and "medium" in text
