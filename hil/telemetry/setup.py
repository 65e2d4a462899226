"""Telemetry for ``hil run`` and ``hil demo``: the ``--mqtt URL`` and
``--board-id`` options, and the publisher they ask for.

``telemetry_for(args, run)`` returns None without ``--mqtt`` (nothing is
imported, nothing connects); with it, a started
:class:`~hil.telemetry.observer.TelemetryObserver` (connected, so that a
wrong URL or password fails before the run), to pass to the run as a
listener and to :meth:`close` when it is over.
"""

from __future__ import annotations

import argparse
from typing import Any


def add_arguments(p: argparse.ArgumentParser) -> None:
    """``--mqtt`` and ``--board-id``."""
    p.add_argument("--mqtt", default=None, metavar="URL",
                   help="publish telemetry to this broker: mqtt://user:password@host:port "
                        "(docs/telemetry.md)")
    p.add_argument("--board-id", default=None, help="topic level under hemosorb/ "
                   "(default: the board config's name, or the port's)")


def telemetry_for(args: argparse.Namespace, run: str) -> Any:
    """The publisher ``args`` ask for (None: no ``--mqtt``).

    Raises:
        TelemetryError: a malformed URL or board id, or a broker that
            cannot be reached or refuses the credentials.
    """
    url = getattr(args, "mqtt", None)
    if not url:
        return None
    from hil.telemetry.observer import TelemetryObserver
    from hil.telemetry.topics import BrokerUrl, board_id, default_board_id

    broker = BrokerUrl.parse(url)
    port = getattr(args, "port", None)
    name = board_id(args.board_id) if args.board_id else default_board_id(
        port if port else (getattr(args, "board", None) or "virtual"))
    config = None if port else (getattr(args, "board", None) or "virtual")
    obs = TelemetryObserver(broker, name, info={"run": run}, board_config=config)
    obs.start()
    return obs


__all__ = ["add_arguments", "telemetry_for"]
