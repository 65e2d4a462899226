"""Who may do what on the broker: users, their passwords and the ACL, in
Mosquitto's own formats, read and written here, so that Mosquitto, the
embedded broker and the dashboard all judge by the same files.

Three roles (docs/telemetry.md, "Security"):

- ``bench``: the HIL bench (the run): publishes ``online``, ``info``,
  ``status``, ``alarms``, ``events`` and ``cmd/result`` of any board, and
  reads everything under ``hemosorb/`` (it takes its commands from ``cmd``);
- ``operator``: reads everything, and may publish on ``hemosorb/+/cmd``;
- ``viewer``: reads everything, publishes nothing.

The password file holds Mosquitto 2's ``$7$`` hashes (PBKDF2-SHA512,
salted), exactly as ``mosquitto_passwd`` writes them; the ACL file is
Mosquitto's (``user NAME`` then ``topic [read|write|readwrite|deny] PATTERN``
lines; ``pattern`` lines with ``%u``/``%c`` for every user).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from dataclasses import dataclass, field

from hil.telemetry.topics import ROOT

ITERATIONS = 101     # mosquitto_passwd's default for $7$
ROLES = ("bench", "operator", "viewer")

# The ACL lines of each role.
ROLE_TOPICS: dict[str, tuple[tuple[str, str], ...]] = {
    "bench": (("read", f"{ROOT}/#"),) + tuple(
        ("write", f"{ROOT}/+/{kind}") for kind in ("online", "info", "status", "alarms", "events",
                                                  "cmd/result")),
    "operator": (("read", f"{ROOT}/#"), ("write", f"{ROOT}/+/cmd")),
    "viewer": (("read", f"{ROOT}/#"),),
}


def hash_password(password: str, salt: bytes | None = None, iterations: int = ITERATIONS) -> str:
    """A Mosquitto 2 password hash (``$7$<iterations>$<salt>$<hash>``)."""
    salt = salt if salt is not None else os.urandom(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def verify_password(password: str, hashed: str) -> bool:
    """Whether ``password`` matches a ``$7$`` hash (constant-time compare)."""
    parts = hashed.split("$")
    if len(parts) != 5 or parts[1] != "7":
        return False
    try:
        iterations = int(parts[2])
        salt = base64.b64decode(parts[3], validate=True)
        want = base64.b64decode(parts[4], validate=True)
    except ValueError:
        return False
    if not 1 <= iterations <= 10_000_000:
        return False
    got = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    return hmac.compare_digest(got, want)


def password_file(users: dict[str, str]) -> str:
    """A Mosquitto password file for ``{user: password}``."""
    return "".join(f"{u}:{hash_password(p)}\n" for u, p in users.items())


def read_password_file(text: str) -> dict[str, str]:
    """``{user: hash}`` from a Mosquitto password file."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#") and ":" in line:
            user, hashed = line.split(":", 1)
            out[user] = hashed
    return out


def _levels_match(pattern: list[str], levels: list[str], as_filter: bool) -> bool:
    """Whether a pattern covers a topic's levels, or (``as_filter``) every
    topic a subscription filter with these levels can match: a filter's
    ``+`` needs a ``+`` or ``#`` in the pattern, its ``#`` a ``#``."""
    for i, p in enumerate(pattern):
        if p == "#":
            return True
        if i >= len(levels):
            return False
        t = levels[i]
        if as_filter and (t == "#" or (t == "+" and p != "+")):
            return False
        if p not in ("+", t):
            return False
    return len(pattern) == len(levels)


def topic_matches(pattern: str, topic: str) -> bool:
    """MQTT wildcard match of one concrete topic (``+`` one level, ``#`` the rest)."""
    if topic.startswith("$") and not pattern.startswith("$"):
        return False
    return _levels_match(pattern.split("/"), topic.split("/"), False)


def filter_covered(pattern: str, topic_filter: str) -> bool:
    """Whether every topic a subscription filter can match is matched by
    ``pattern`` (a filter's ``+`` needs a ``+`` or ``#``, its ``#`` a ``#``)."""
    return _levels_match(pattern.split("/"), topic_filter.split("/"), True)


@dataclass(frozen=True)
class Rule:
    user: str | None      # None: every user (a ``pattern`` line), or anonymous before any ``user``
    access: str           # read | write | readwrite | deny
    pattern: str
    every_user: bool = False


@dataclass
class Acl:
    """A Mosquitto ACL: :meth:`allows` judges one topic, :meth:`allows_filter`
    a subscription."""

    rules: list[Rule] = field(default_factory=list)

    @classmethod
    def for_roles(cls, roles: dict[str, str]) -> "Acl":
        """The ACL of ``{user: role}`` (:data:`ROLE_TOPICS`)."""
        rules = []
        for user, role in roles.items():
            if role not in ROLE_TOPICS:
                raise ValueError(f"user {user}: role {role!r} is not one of {', '.join(ROLES)}")
            rules += [Rule(user, access, pattern) for access, pattern in ROLE_TOPICS[role]]
        return cls(rules)

    @classmethod
    def parse(cls, text: str) -> "Acl":
        """Read a Mosquitto ACL file's text."""
        rules: list[Rule] = []
        user: str | None = None
        for raw in text.splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            word, _, rest = line.partition(" ")
            rest = rest.strip()
            if word == "user":
                user = rest
            elif word in ("topic", "pattern"):
                access, _, pat = rest.partition(" ")
                if access not in ("read", "write", "readwrite", "deny"):
                    access, pat = "readwrite", rest
                every = word == "pattern"
                rules.append(Rule(None if every else user, access, pat.strip(), every))
        return cls(rules)

    def text(self) -> str:
        """The ACL as a Mosquitto ACL file."""
        lines: list[str] = []
        user: object = object()
        for r in self.rules:
            if r.every_user:
                lines.append(f"pattern {r.access} {r.pattern}")
                continue
            if r.user != user:
                user = r.user
                lines += ["", f"user {r.user}"]
            lines.append(f"topic {r.access} {r.pattern}")
        return "\n".join(lines).lstrip() + "\n"

    def _patterns(self, user: str | None, client_id: str = "") -> list[Rule]:
        out = []
        for r in self.rules:
            if r.every_user:
                out.append(Rule(user, r.access, r.pattern.replace("%u", user or "").replace("%c", client_id)))
            elif r.user == user:
                out.append(r)
        return out

    def allows(self, user: str | None, access: str, topic: str, client_id: str = "") -> bool:
        """Whether ``user`` may ``read`` or ``write`` ``topic``."""
        rules = self._patterns(user, client_id)
        if any(r.access == "deny" and topic_matches(r.pattern, topic) for r in rules):
            return False
        return any(r.access in (access, "readwrite") and topic_matches(r.pattern, topic) for r in rules)

    def allows_filter(self, user: str | None, topic_filter: str, client_id: str = "") -> bool:
        """Whether ``user`` may subscribe to ``topic_filter``."""
        rules = self._patterns(user, client_id)
        return any(r.access in ("read", "readwrite") and filter_covered(r.pattern, topic_filter)
                   for r in rules)

    def role_of(self, user: str, board: str = "+") -> str | None:
        """The role ``user`` has for ``board`` by this ACL (None: no access)."""
        base = f"{ROOT}/{board if board != '+' else 'any'}"
        if self.allows(user, "write", f"{base}/status"):
            return "bench"
        if self.allows(user, "write", f"{base}/cmd"):
            return "operator"
        if self.allows(user, "read", f"{base}/status"):
            return "viewer"
        return None


__all__ = ["Acl", "ITERATIONS", "ROLES", "ROLE_TOPICS", "Rule", "filter_covered", "hash_password",
           "password_file", "read_password_file", "topic_matches", "verify_password"]
