"""Brokers on this machine: the embedded one (amqtt, pure Python, what
``hil live`` starts when no ``--mqtt`` URL is given) and a Mosquitto of
one's own (the tests' and ``make bench``'s), both on a free port of the
loopback interface, both with users, passwords and an ACL by role
(:mod:`hil.telemetry.acl`).

:class:`Accounts` holds the users (name -> password and role); a broker
takes it and gives :meth:`url` for any of them.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from amqtt.contexts import Action
from amqtt.plugins.base import BaseAuthPlugin, BaseTopicPlugin

from hil.telemetry.acl import Acl, hash_password, password_file, verify_password
from hil.telemetry.asyncthread import AsyncThread
from hil.telemetry.topics import BrokerUrl, TelemetryError


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def wait_listening(host: str, port: int, timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.02)
    return False


@dataclass
class Accounts:
    """The broker's users: ``{name: (password, role)}``."""

    users: dict[str, tuple[str, str]] = field(default_factory=dict)

    @classmethod
    def default(cls, operator_password: str | None = None, viewer_password: str | None = None) -> "Accounts":
        """``bench`` (a random password), ``operator`` and ``viewer`` (given,
        else from $HEMOSORB_OPERATOR_PASSWORD / $HEMOSORB_VIEWER_PASSWORD,
        else random)."""
        op = operator_password or os.environ.get("HEMOSORB_OPERATOR_PASSWORD") or secrets.token_urlsafe(9)
        vw = viewer_password or os.environ.get("HEMOSORB_VIEWER_PASSWORD") or secrets.token_urlsafe(9)
        return cls({"bench": (secrets.token_urlsafe(18), "bench"), "operator": (op, "operator"),
                    "viewer": (vw, "viewer")})

    def add(self, name: str, password: str, role: str) -> None:
        self.users[name] = (password, role)

    def password(self, name: str) -> str:
        return self.users[name][0]

    def first(self, role: str) -> str:
        """The first user of a role."""
        return next(n for n, (_, r) in self.users.items() if r == role)

    @property
    def acl(self) -> Acl:
        return Acl.for_roles({n: r for n, (_, r) in self.users.items()})

    def hashes(self) -> dict[str, str]:
        return {n: hash_password(p) for n, (p, _) in self.users.items()}


class _Broker:
    host = "127.0.0.1"
    port = 0
    accounts: Accounts

    def url(self, user: str | None = None) -> BrokerUrl:
        """The broker's URL, logged in as ``user`` (default: the bench)."""
        name = user or self.accounts.first("bench")
        return BrokerUrl(self.host, self.port, name, self.accounts.password(name))

    def __enter__(self) -> Any:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError


# -- the embedded broker (amqtt) ------------------------------------------------------


class PasswordAuth(BaseAuthPlugin):
    """amqtt plugin: users and their ``$7$`` hashes, as in Mosquitto's file;
    no anonymous login."""

    @dataclass
    class Config:
        users: dict[str, str] = field(default_factory=dict)

    async def authenticate(self, *, session: Any) -> bool | None:
        hashed = self.config.users.get(session.username or "")
        return bool(hashed) and verify_password(session.password or "", hashed)


class AclCheck(BaseTopicPlugin):
    """amqtt plugin: the Mosquitto ACL (publish, subscribe and delivery)."""

    @dataclass
    class Config:
        acl: str = ""

    def __init__(self, context: Any) -> None:
        super().__init__(context)
        self.acl = Acl.parse(self.config.acl)

    async def topic_filtering(self, *, session: Any = None, topic: str | None = None,
                              action: Action | None = None) -> bool | None:
        if session is None or not topic:
            return False
        user = session.username
        if action == Action.SUBSCRIBE:
            return self.acl.allows_filter(user, topic)
        if action == Action.PUBLISH:
            return self.acl.allows(user, "write", topic)
        return self.acl.allows(user, "read", topic)


class EmbeddedBroker(_Broker):
    """An amqtt broker on the loopback interface, run on ``io``'s loop."""

    def __init__(self, accounts: Accounts, io: AsyncThread, host: str = "127.0.0.1", port: int = 0) -> None:
        self.accounts = accounts
        self.io = io
        self.host = host
        self.port = port or free_port(host)
        self.broker: Any = None

    def start(self) -> None:
        from amqtt.broker import Broker

        for name in ("amqtt", "transitions"):
            logging.getLogger(name).setLevel(logging.ERROR)
        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
            "plugins": {f"{__name__}.PasswordAuth": {"users": self.accounts.hashes()},
                        f"{__name__}.AclCheck": {"acl": self.accounts.acl.text()}},
        }

        async def _start() -> Any:
            broker = Broker(config)
            await broker.start()
            return broker

        try:
            self.broker = self.io.run(_start(), 15.0)
        except Exception as e:
            raise TelemetryError(f"the embedded MQTT broker did not start on {self.host}:{self.port}: "
                                 f"{e}") from e

    def stop(self) -> None:
        if self.broker is not None and self.io.alive:
            try:
                self.io.run(self.broker.shutdown(), 10.0)
            except Exception:   # noqa: BLE001 - stopping anyway
                pass
        self.broker = None


# -- a Mosquitto of one's own -------------------------------------------------------------


def mosquitto_executable() -> str | None:
    """The ``mosquitto`` executable (Debian puts it in /usr/sbin), or None."""
    return shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin:/sbin:/usr/local/sbin")


class LocalMosquitto(_Broker):
    """A Mosquitto process on a free loopback port, with a password file and
    an ACL written from ``accounts`` into a private folder; stopped (and the
    folder removed) by :meth:`stop`."""

    def __init__(self, accounts: Accounts, host: str = "127.0.0.1", port: int = 0) -> None:
        self.accounts = accounts
        self.host = host
        self.port = port or free_port(host)
        self.proc: subprocess.Popen[bytes] | None = None
        self.dir: tempfile.TemporaryDirectory[str] | None = None

    def start(self) -> None:
        exe = mosquitto_executable()
        if exe is None:
            raise TelemetryError("mosquitto is not installed (Debian: apt-get install mosquitto)")
        self.dir = tempfile.TemporaryDirectory(prefix="hil-mosquitto-")
        d = Path(self.dir.name)
        (d / "passwd").write_text(password_file({n: p for n, (p, _) in self.accounts.users.items()}))
        (d / "acl").write_text(self.accounts.acl.text())
        (d / "mosquitto.conf").write_text(
            f"listener {self.port} {self.host}\nallow_anonymous false\npassword_file {d / 'passwd'}\n"
            f"acl_file {d / 'acl'}\npersistence false\nlog_dest stderr\nlog_type error\n"
            "log_type warning\nmax_queued_messages 100000\n")
        for f in d.iterdir():
            os.chmod(f, 0o600)
        _give_to_mosquitto_user(d)
        self.proc = subprocess.Popen([exe, "-c", str(d / "mosquitto.conf")], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if not wait_listening(self.host, self.port):
            err = self._stop_process()
            raise TelemetryError(f"mosquitto did not start on {self.host}:{self.port}: {err.strip()[-400:]}")

    def _stop_process(self) -> str:
        proc, self.proc = self.proc, None
        if proc is None:
            return ""
        proc.terminate()
        try:
            _, err = proc.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
        return (err or b"").decode(errors="replace")

    def stop(self) -> None:
        self._stop_process()
        if self.dir is not None:
            self.dir.cleanup()
            self.dir = None


def _give_to_mosquitto_user(d: Path) -> None:
    """Run as root, Mosquitto drops to its own user before it reads the
    password and ACL files: let that user read them (and only it)."""
    if os.geteuid() != 0:
        return
    try:
        import pwd

        pw = pwd.getpwnam("mosquitto")
    except (ImportError, KeyError):
        return
    for p in (d, *d.iterdir()):
        os.chown(p, pw.pw_uid, pw.pw_gid)


__all__ = ["Accounts", "AclCheck", "EmbeddedBroker", "LocalMosquitto", "PasswordAuth", "free_port",
           "mosquitto_executable", "wait_listening"]
