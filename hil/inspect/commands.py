"""The handlers of ``hil info|status|monitor|log|cmd --port P``.

Each opens the port, says HELLO (for the control period and the identity),
does its one request and prints what the board said in names and units
(:mod:`hil.inspect.render`). The port is the harness's too: do not point
these at a board a run is using (the two would take each other's replies).
"""

from __future__ import annotations

import argparse
import difflib
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console

from hil.inspect import render
from hil.transport import contract
from hil.transport.client import BoardClient
from hil.transport.frames import Reply
from hil.transport.link import SerialLink

C = contract.C
# Commands by name: names.py's CMD_NAMES, and for a code it does not name
# yet, codes.py's own name in lower case (CMD_MAINTENANCE: maintenance).
COMMANDS: dict[str, int] = {name: code for code, name in enumerate(C.CMD_NAMES) if name}
for _key, _code in sorted(vars(C).items()):
    if _key.startswith("CMD_") and isinstance(_code, int) and _code not in COMMANDS.values():
        COMMANDS[_key[4:].lower()] = _code
COMMAND_NAMES: dict[int, str] = {code: name for name, code in COMMANDS.items()}
# Command results by code, the same way (E_UNSUPPORTED: unsupported).
RESULTS: dict[int, str] = dict(enumerate(C.RESULT_NAMES))
for _key, _code in sorted(vars(C).items()):
    if _key.startswith("E_") and isinstance(_code, int):
        RESULTS.setdefault(_code, _key[2:].lower())


class CommandError(ValueError):
    """A ``cmd`` request that cannot be sent as asked (unknown name, missing
    or unwanted argument); nothing was sent."""


@contextmanager
def board_client(port: str, timeout_s: float) -> Iterator[tuple[BoardClient, dict[str, Any]]]:
    """A client on ``port`` and the board's HELLO; the port is closed after."""
    link = SerialLink(port)
    try:
        client = BoardClient(link, timeout_s=timeout_s)
        yield client, client.hello()
    finally:
        link.close()


def _period_s(hello: dict[str, Any]) -> float:
    return float(hello.get("period_ms") or 100) / 1000.0


def _console(args: argparse.Namespace) -> Console:
    out = getattr(args, "console", None)
    return out if isinstance(out, Console) else Console(highlight=False)


def _print_events(out: Console, reply: Reply, period_s: float) -> None:
    for e in reply.events:
        out.print(render.event_line(e, period_s), markup=False, soft_wrap=True)


def cmd_info(args: argparse.Namespace) -> int:
    """``hil info``: HELLO (identity, settings, boot) and DIAG."""
    out = _console(args)
    with board_client(args.port, args.timeout) as (client, hello):
        diag = client.diag()
    out.print(render.hello_table(hello))
    out.print(render.diag_table(diag))
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    """``hil status``: the status block, and the events the reply carried."""
    out = _console(args)
    with board_client(args.port, args.timeout) as (client, hello):
        reply = client.status()
    period = _period_s(hello)
    out.print(render.status_table(reply.status, period))
    if reply.events:
        out.print("events:")
        _print_events(out, reply, period)
    return 0


def cmd_log(args: argparse.Namespace) -> int:
    """``hil log``: the alarm log the board keeps in its flash."""
    out = _console(args)
    with board_client(args.port, args.timeout) as (client, _hello):
        log = client.alarm_log()
    if not log.get("entries"):
        out.print("the alarm log is empty")
        return 0
    out.print(render.log_table(log))
    return 0


def cmd_monitor(args: argparse.Namespace) -> int:
    """``hil monitor``: events as they come, and a status line whenever the
    status changes, polling every ``--every`` seconds until Ctrl-C (or
    ``--polls`` polls)."""
    out = _console(args)
    with board_client(args.port, args.timeout) as (client, hello):
        period = _period_s(hello)
        out.print(f"{hello.get('board')} on {args.port}: {render.boot_text(hello.get('boot'))}; "
                  "Ctrl-C stops", markup=False)
        last = None
        n = 0
        try:
            while args.polls is None or n < args.polls:
                if n:
                    time.sleep(args.every)
                n += 1
                reply = client.status()
                _print_events(out, reply, period)
                s = reply.status
                shown = (s.state, s.pump, s.flow_set, s.flags, s.heparin, s.active, s.latched, s.cartridge)
                if shown != last:
                    out.print(render.status_line(s, period), markup=False, soft_wrap=True)
                    last = shown
        except KeyboardInterrupt:
            pass
    return 0


def parse_command(name: str, value: float | None, period_s: float) -> tuple[int, int]:
    """The wire code and argument of an operator command given by name, its
    argument in physical units (``aptt 72.5`` -> (7, 725)).

    Raises:
        CommandError: the name is unknown (the nearest are named), or the
            argument is missing or not wanted.
    """
    code = COMMANDS.get(name.replace("-", "_"))
    if code is None:
        near = difflib.get_close_matches(name, list(COMMANDS), n=3, cutoff=0.5)
        hint = f" (did you mean {', '.join(near)}?)" if near else ""
        raise CommandError(f"unknown command {name!r}{hint}; known: {', '.join(COMMANDS)}")
    q = contract.COMMAND_ARG.get(code)
    if q is None:
        if value is not None:
            raise CommandError(f"{name} takes no argument (got {value:g})")
        return code, 0
    if value is None:
        raise CommandError(f"{name} needs an argument: {argument_help(code)}")
    return code, contract.command_arg(code, value, period_s)


def argument_help(code: int) -> str:
    """``flow_ml_min, in mL/min``: what a command's argument is."""
    q = contract.COMMAND_ARG.get(code)
    if q is None:
        return "none"
    unit = q.physical_unit
    return f"{q.key}" + (f", in {unit}" if unit else "")


def cmd_cmd(args: argparse.Namespace) -> int:
    """``hil cmd NAME [VALUE]``: one operator command; exit code 0 if the
    board accepted it, 1 if it refused, 2 if it could not be sent."""
    out = _console(args)
    with board_client(args.port, args.timeout) as (client, hello):
        period = _period_s(hello)
        code, arg = parse_command(args.name, args.value, period)
        reply = client.command(code, arg)
    result = reply.result
    name = RESULTS.get(result, f"result {result}")
    if result == C.E_STATE:
        name = f"refused in state {reply.status.state_name}"
    out.print(f"{COMMAND_NAMES[code]}: {name.replace('_', ' ')}", markup=False)
    _print_events(out, reply, period)
    out.print(render.status_line(reply.status, period), markup=False, soft_wrap=True)
    if code == C.CMD_TEST_RESET and result == C.OK:
        out.print("the board restarts with its therapy and alarm log erased")
    if code == C.CMD_MAINTENANCE and result == C.OK:
        out.print("the board restarts to its REPL (Ctrl-C on) this once, for mpremote; "
                  "the reset after that runs the controller")
    return 0 if result == C.OK else 1


__all__ = ["COMMANDS", "COMMAND_NAMES", "RESULTS", "CommandError", "argument_help", "board_client",
           "cmd_cmd", "cmd_info", "cmd_log", "cmd_monitor", "cmd_status", "parse_command"]
