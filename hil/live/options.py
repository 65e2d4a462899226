"""The options of ``python -m hil live`` (kept apart from the live mode's
parts, so that building the command line imports no network library)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path

from hil.live.run import LiveOptions
from hil.run.therapy import TherapyPlan


def parse_http(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:8765`` for IPv6) -> (host, port)."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise argparse.ArgumentTypeError(f"--http {text}: HOST:PORT, e.g. 127.0.0.1:8765")
    return host.strip("[]") or "127.0.0.1", int(port)


@dataclass
class LiveConfig:
    """Everything ``hil live`` is asked for."""

    plan: TherapyPlan = field(default_factory=TherapyPlan)
    options: LiveOptions = field(default_factory=LiveOptions)
    http: tuple[str, int] = ("127.0.0.1", 8765)
    mqtt: str | None = None            # None: the embedded broker
    board_id: str | None = None        # None: the board's own name
    acl: Path | None = None            # the broker's ACL file (roles), with --mqtt
    status_interval_s: float = 0.25


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The ``live`` subcommand's options."""
    p.add_argument("--hours", type=float, default=48.0, help="therapy duration, virtual hours")
    p.add_argument("--speed", type=float, default=None, help="N x real time (default 60; 1: real time; "
                   "a board on its own clock: real time unless given, test mode only)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--weight", type=float, default=70.0, help="patient weight, kg")
    p.add_argument("--flow", type=int, default=200, help="blood flow set point, mL/min")
    p.add_argument("--board", default="virtual", help="board config of the virtual board")
    p.add_argument("--port", default=None, help="serial port of a real board (default: a virtual board)")
    p.add_argument("--heapsize", default="192K")
    p.add_argument("--http", type=parse_http, default=("127.0.0.1", 8765), metavar="HOST:PORT",
                   help="where the dashboard listens (default 127.0.0.1:8765)")
    p.add_argument("--mqtt", default=None, metavar="URL", help="broker, mqtt://user:password@host:port "
                   "(the bench's account); default: an embedded broker on this machine")
    p.add_argument("--board-id", default=None, help="topic level under hemosorb/ (default: the board's name)")
    p.add_argument("--acl", type=Path, default=None, help="the broker's ACL file, for the page's roles "
                   "(with --mqtt; e.g. deploy/mosquitto/acl)")
    p.add_argument("--manual", action="store_true", help="the person acknowledges alarms and confirms "
                   "exchanges (the scripted operator does not)")
    p.add_argument("--exit", action="store_true", help="exit when the therapy ends (default: keep serving)")
    p.add_argument("--no-browser", action="store_true", help="do not open a browser")


__all__ = ["LiveConfig", "add_arguments", "parse_http"]
