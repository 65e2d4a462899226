"""Where telemetry goes: the broker's URL and the topic tree of one board.

A broker is named by a URL, ``mqtt://user:password@host:port`` (``mqtts://``
for TLS; the port defaults to 1883, or 8883 with TLS). User name and
password are percent-decoded, so a password with ``@`` or ``:`` is written
``%40``, ``%3A``.

Everything about one board lives under ``hemosorb/<board_id>/``
(docs/telemetry.md has the payloads)::

    hemosorb/<board_id>/online       "online" | "offline"     retained, QoS 1 (offline: the last will)
    hemosorb/<board_id>/info         the board and its limits retained, QoS 1
    hemosorb/<board_id>/status       the latest status        retained, QoS 0, rate-limited
    hemosorb/<board_id>/alarms       one per raise or clear   QoS 1
    hemosorb/<board_id>/events       one per firmware event   QoS 1
    hemosorb/<board_id>/cmd          operator commands in     QoS 1 (operators only)
    hemosorb/<board_id>/cmd/result   one answer per command   QoS 1
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

ROOT = "hemosorb"
# A board id is one topic level: no wildcard, no separator, nothing a shell or
# a file name would trip over.
_BOARD_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


class TelemetryError(ValueError):
    """Telemetry cannot be set up as asked (a malformed URL or board id, a
    broker that refuses the connection)."""


@dataclass(frozen=True)
class BrokerUrl:
    """A broker's address and the credentials to log in with."""

    host: str
    port: int
    username: str | None = None
    password: str | None = None
    tls: bool = False

    @classmethod
    def parse(cls, url: str) -> "BrokerUrl":
        """``mqtt://user:pass@host:port`` -> a :class:`BrokerUrl`.

        Raises:
            TelemetryError: not an mqtt:// or mqtts:// URL with a host.
        """
        try:
            u = urlsplit(url)
            port = u.port
        except ValueError as e:
            raise TelemetryError(f"--mqtt {_redact(url)}: {e}") from None
        if u.scheme not in ("mqtt", "mqtts"):
            raise TelemetryError(f"--mqtt {_redact(url)}: the URL must start with mqtt:// or mqtts://")
        if not u.hostname:
            raise TelemetryError(f"--mqtt {_redact(url)}: no host (mqtt://user:password@host:port)")
        if u.path not in ("", "/") or u.query or u.fragment:
            raise TelemetryError(f"--mqtt {_redact(url)}: only mqtt://user:password@host:port, "
                                 "no path or query")
        tls = u.scheme == "mqtts"
        return cls(host=u.hostname, port=port or (8883 if tls else 1883),
                   username=unquote(u.username) if u.username else None,
                   password=unquote(u.password) if u.password is not None else None, tls=tls)

    def url(self, with_password: bool = False) -> str:
        """The URL again; the password is shown as ``***`` unless asked for."""
        auth = ""
        if self.username:
            auth = self.username
            if self.password is not None:
                auth += ":" + (self.password if with_password else "***")
            auth += "@"
        return f"{'mqtts' if self.tls else 'mqtt'}://{auth}{self.host}:{self.port}"

    def as_user(self, username: str, password: str) -> "BrokerUrl":
        """The same broker, logged in as someone else."""
        return BrokerUrl(self.host, self.port, username, password, self.tls)


def _redact(url: str) -> str:
    """A URL as it may be printed: no password."""
    return re.sub(r"(//[^:/@]*:)[^@]*@", r"\1***@", url)


def board_id(value: str) -> str:
    """A valid board id (one topic level of letters, digits, ``_.-``).

    Raises:
        TelemetryError: it is not one.
    """
    if not isinstance(value, str) or not _BOARD_ID.fullmatch(value):
        raise TelemetryError(f"board id {value!r}: use 1-64 letters, digits, '_', '.' or '-', "
                             "starting with a letter or digit (it is one MQTT topic level)")
    return value


def default_board_id(name: object, fallback: str = "board") -> str:
    """A board id made from what the board calls itself (HELLO ``board``) or
    from a port name: characters that cannot stand in a topic level become
    ``-``."""
    text = str(name or "").rsplit("/", 1)[-1]
    text = re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-._")[:64]
    return text if text and _BOARD_ID.fullmatch(text) else fallback


class Topics:
    """The topic tree of one board (see the module docstring)."""

    KINDS = ("online", "info", "status", "alarms", "events", "cmd", "cmd/result")

    def __init__(self, board: str, root: str = ROOT) -> None:
        self.board = board_id(board)
        self.base = f"{root}/{self.board}"
        self.online = f"{self.base}/online"
        self.info = f"{self.base}/info"
        self.status = f"{self.base}/status"
        self.alarms = f"{self.base}/alarms"
        self.events = f"{self.base}/events"
        self.cmd = f"{self.base}/cmd"
        self.result = f"{self.base}/cmd/result"
        self.all = f"{self.base}/#"

    def kind(self, topic: str) -> str | None:
        """Which of :data:`KINDS` a topic of this board is (None: not one)."""
        if not topic.startswith(self.base + "/"):
            return None
        rest = topic[len(self.base) + 1:]
        return rest if rest in self.KINDS else None


__all__ = ["BrokerUrl", "ROOT", "TelemetryError", "Topics", "board_id", "default_board_id"]
