"""See a board: ``hil info|status|monitor|log|cmd --port P``.

A bench engineer's view of any board that speaks protocol v1 (the virtual
board ``hil board`` prints, a Pico on USB): its identity and settings
(HELLO), counters (DIAG), status, stored alarm log and events, decoded
into names and physical units; and one operator command by name with its
argument in physical units (``hil cmd --port P set_flow 250``).

``hil/cli.py`` calls :func:`add_commands` with its subparsers.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from hil.inspect.commands import (COMMANDS, CommandError, argument_help, cmd_cmd, cmd_info, cmd_log,
                                  cmd_monitor, cmd_status)


def _guarded(handler: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """A handler whose malformed request is one line on stderr and exit code 2."""
    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except CommandError as e:
            print(f"hil {args.cmd}: error: {e}; nothing was sent", file=sys.stderr)
            return 2
    run.__doc__ = handler.__doc__
    return run


def _positive(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < v <= 3600:
        raise argparse.ArgumentTypeError(f"must be > 0 and <= 3600, got {text}")
    return v


def _port_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--port", required=True, help="serial port or pyserial URL of the board "
                   "(the path 'hil board' prints, /dev/ttyACM0)")
    p.add_argument("--timeout", type=_positive, default=5.0, help="seconds to wait for a reply (default 5)")


def add_commands(subparsers: Any) -> None:
    """Add ``info``, ``status``, ``monitor``, ``log`` and ``cmd`` to the
    subparsers of ``hil`` (``argparse``'s ``add_subparsers()`` result); each
    sets ``func`` to its handler, which returns the exit code."""
    p = subparsers.add_parser("info", help="a board's identity, settings, boot and counters (HELLO, DIAG)")
    _port_args(p)
    p.set_defaults(func=_guarded(cmd_info))

    p = subparsers.add_parser("status", help="a board's status in names and units, and pending events")
    _port_args(p)
    p.set_defaults(func=_guarded(cmd_status))

    p = subparsers.add_parser("log", help="the alarm log a board keeps in its flash")
    _port_args(p)
    p.set_defaults(func=_guarded(cmd_log))

    p = subparsers.add_parser("monitor", help="stream a board's events and status until Ctrl-C")
    _port_args(p)
    p.add_argument("--every", type=_positive, default=0.5, help="seconds between polls (default 0.5)")
    p.add_argument("--polls", type=int, default=None, help="stop after this many polls (default: Ctrl-C)")
    p.set_defaults(func=_guarded(cmd_monitor))

    lines = [f"  {name:17} {argument_help(code)}" for name, code in COMMANDS.items()]
    p = subparsers.add_parser("cmd", help="send one operator command by name",
                              formatter_class=argparse.RawDescriptionHelpFormatter,
                              description="Send one operator command; its argument in physical units.",
                              epilog="commands and their argument:\n" + "\n".join(lines))
    _port_args(p)
    p.add_argument("name", help="command name (set_flow, aptt, ack_alarms, ...; below)")
    p.add_argument("value", nargs="?", type=float, default=None, help="its argument, in physical units")
    p.set_defaults(func=_guarded(cmd_cmd))


__all__ = ["add_commands"]
