"""Operator commands arriving over MQTT: strict validation, a rate limit,
duplicates answered once, and the queue to the run's thread.

A command is a JSON object (docs/telemetry.md, "Commands")::

    {"id": "c-17", "command": "aptt", "value": 72.5, "user": "nurse1"}

- ``id``: 1-64 letters, digits, ``_ - . :``; it comes back in the answer;
- ``command``: one of :data:`COMMANDS` (or ``ping``, answered without the board);
- ``value``: a JSON number, for the commands that take one and only for them
  (aPTT in s, blood flow in mL/min); rounded to the wire's resolution;
- ``user``: optional, informational (the broker's ACL decides who may
  publish a command, not this field).

Anything else (not JSON, not an object, a duplicate key, NaN, an unknown
field or command, a value of the wrong type, one that does not fit the
wire's 32-bit argument, more than 1 KiB) is answered with ``ok: false`` and
an ``error`` code and a ``message`` naming what is wrong, and never acts.
Ranges are the firmware's to judge (aPTT 10-200 s, flow 150-500 mL/min):
a value out of them reaches the board, which refuses it (``result:
out_of_range``) without acting.
"""

from __future__ import annotations

import json
import math
import queue
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hil.transport import contract, frames

C = frames.C

MAX_BYTES = 1024
_ID = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
_FIELDS = ("id", "command", "value", "user")
INT32 = (-(1 << 31), (1 << 31) - 1)


@dataclass(frozen=True)
class CommandSpec:
    """A command the telemetry takes: its firmware code and its value's unit
    (None: it takes no value)."""

    code: int
    unit: str | None = None


# The operator's commands at a bench; never the test-mode ones (stall,
# time scale) nor those that set a patient up (prime, start, weight).
COMMANDS: dict[str, CommandSpec] = {
    "ack_alarms": CommandSpec(C.CMD_ACK_ALARMS),
    "audio_pause": CommandSpec(C.CMD_AUDIO_PAUSE),
    "pause": CommandSpec(C.CMD_PAUSE),
    "resume": CommandSpec(C.CMD_RESUME),
    "confirm_exchange": CommandSpec(C.CMD_CONFIRM_EXCHANGE),
    "aptt": CommandSpec(C.CMD_APTT, "s"),
    "set_flow": CommandSpec(C.CMD_SET_FLOW, "mL/min"),
}
LOCAL = ("ping",)   # answered by the run itself, never sent to the board


@dataclass(frozen=True)
class Command:
    """A valid command, ready for the board."""

    id: str
    name: str
    code: int
    arg: int               # the CMD frame's argument (wire units)
    value: float | None    # the physical value asked for
    user: str | None = None


class CommandError(ValueError):
    """A command that cannot be carried out: ``code`` names the kind of fault."""

    def __init__(self, code: str, message: str, cmd_id: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.cmd_id = cmd_id


def answer(cmd_id: str | None, ok: bool, *, command: str | None = None, error: str | None = None,
           message: str = "", result: str | None = None, t_s: float | None = None) -> dict[str, Any]:
    """A ``cmd/result`` payload."""
    out: dict[str, Any] = {"id": cmd_id, "ok": ok, "command": command, "result": result,
                           "error": error, "message": message}
    if t_s is not None:
        out["t_s"] = t_s
    return out


def _no_constants(name: str) -> float:
    raise ValueError(f"{name} is not a number JSON allows")


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"the key {k!r} appears twice")
        out[k] = v
    return out


def _load(payload: bytes) -> Any:
    if len(payload) > MAX_BYTES:
        raise CommandError("too_large", f"a command of {len(payload)} bytes: at most {MAX_BYTES}")
    try:
        text = payload.decode("utf-8")
        return json.loads(text, object_pairs_hook=_object, parse_constant=_no_constants)
    except UnicodeDecodeError:
        raise CommandError("invalid_json", "not UTF-8 text") from None
    except ValueError as e:
        raise CommandError("invalid_json", f"not valid JSON: {e}") from None


def _value(name: str, spec: CommandSpec, msg: dict[str, Any], cmd_id: str) -> tuple[float | None, int]:
    if spec.unit is None:
        if "value" in msg:
            raise CommandError("unexpected_value", f"{name} takes no value", cmd_id)
        return None, 0
    if "value" not in msg:
        raise CommandError("missing_value", f"{name} needs a value in {spec.unit}", cmd_id)
    v = msg["value"]
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise CommandError("bad_value", f"value: a number in {spec.unit}, not {type(v).__name__} "
                           f"{json.dumps(v)[:40]}", cmd_id)
    if not math.isfinite(v):
        raise CommandError("bad_value", f"value: a finite number in {spec.unit}", cmd_id)
    try:
        arg = contract.command_arg(spec.code, v)
    except (OverflowError, ValueError):
        arg = INT32[1] + 1
    if not INT32[0] <= arg <= INT32[1]:
        raise CommandError("out_of_range", f"value {v:g} {spec.unit} does not fit the command's "
                           "32-bit argument", cmd_id)
    return float(v), arg


def parse(payload: bytes, accepts: tuple[str, ...] | None = None) -> Command:
    """A command message -> a :class:`Command` (``ping`` has code 0).

    Args:
        accepts: the command names this run takes (None: all of
            :data:`COMMANDS`).

    Raises:
        CommandError: what is wrong with it (never a half-valid command).
    """
    msg = _load(payload)
    if not isinstance(msg, dict):
        raise CommandError("not_an_object", f"a command is a JSON object, not {type(msg).__name__}")
    raw_id = msg.get("id")
    cmd_id = raw_id if isinstance(raw_id, str) and _ID.fullmatch(raw_id) else None
    if "id" not in msg:
        raise CommandError("missing_id", "id missing: every command needs one (1-64 letters, "
                           "digits, '_', '-', '.', ':')")
    if cmd_id is None:
        raise CommandError("bad_id", f"id {json.dumps(raw_id)[:70]}: a string of 1-64 letters, "
                           "digits, '_', '-', '.', ':'")
    unknown = sorted(k for k in msg if k not in _FIELDS)
    if unknown:
        raise CommandError("unknown_field", f"unknown field(s): {', '.join(unknown)[:120]} "
                           f"(a command has {', '.join(_FIELDS)})", cmd_id)
    user = msg.get("user")
    if user is not None and not (isinstance(user, str) and 0 < len(user) <= 64):
        raise CommandError("bad_user", "user: a string of 1-64 characters", cmd_id)
    name = msg.get("command")
    if not isinstance(name, str):
        raise CommandError("missing_command" if name is None else "unknown_command",
                           "command: a string, one of " + ", ".join((*COMMANDS, *LOCAL)), cmd_id)
    allowed = tuple(COMMANDS) if accepts is None else accepts
    if name in LOCAL:
        if "value" in msg:
            raise CommandError("unexpected_value", f"{name} takes no value", cmd_id)
        return Command(cmd_id, name, 0, 0, None, user)
    if name not in COMMANDS or name not in allowed:
        raise CommandError("unknown_command", f"command {name[:40]!r} is not one this run takes: "
                           + ", ".join((*allowed, *LOCAL)), cmd_id)
    spec = COMMANDS[name]
    value, arg = _value(name, spec, msg, cmd_id)
    return Command(cmd_id, name, spec.code, arg, value, user)


class TokenBucket:
    """At most ``burst`` commands at once, refilled at ``per_s`` a second."""

    def __init__(self, burst: int = 5, per_s: float = 2.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.burst = burst
        self.per_s = per_s
        self.clock = clock
        self.tokens = float(burst)
        self.t = clock()

    def take(self) -> bool:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.t) * self.per_s)
        self.t = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class CommandDesk:
    """Takes command messages in the MQTT thread, hands valid ones to the
    run's thread, and remembers the answers by id.

    Args:
        accepts: the command names this run takes (None: all).
        limiter: the rate limit (default: 5 at once, 2 a second).
        remember: how many ids are remembered (a command whose id was seen
            is not carried out again: its answer is published again).
    """

    def __init__(self, accepts: tuple[str, ...] | None = None, limiter: TokenBucket | None = None,
                 remember: int = 512) -> None:
        self.accepts = accepts
        self.limiter = limiter if limiter is not None else TokenBucket()
        self.remember = remember
        self.hook = False          # True once a run thread carries commands out
        self.queue: "queue.SimpleQueue[Command]" = queue.SimpleQueue()
        self.seen: "OrderedDict[str, dict[str, Any] | None]" = OrderedDict()
        self.lock = threading.Lock()
        self.counts = {"received": 0, "rejected": 0, "rate_limited": 0, "executed": 0}

    def receive(self, payload: bytes) -> dict[str, Any] | None:
        """One message from the ``cmd`` topic (MQTT thread). Returns the
        answer to publish now, or None when the command was queued for the
        board (or is a duplicate still being carried out)."""
        self.counts["received"] += 1
        try:
            cmd = parse(payload, self.accepts)
        except CommandError as e:
            self.counts["rejected"] += 1
            return answer(e.cmd_id, False, error=e.code, message=str(e))
        with self.lock:
            if cmd.id in self.seen:
                return self.seen[cmd.id]    # the same answer again (None: still pending)
            if not self.limiter.take():
                self.counts["rate_limited"] += 1
                return answer(cmd.id, False, command=cmd.name, error="rate_limited",
                              message=f"too many commands: at most {self.limiter.burst} at once, "
                                      f"{self.limiter.per_s:g} a second")
            if cmd.name in LOCAL:
                return self._remember(cmd.id, answer(cmd.id, True, command=cmd.name, result="pong"))
            if not self.hook:
                return self._remember(cmd.id, answer(
                    cmd.id, False, command=cmd.name, error="no_command_hook",
                    message="this run publishes telemetry but takes no commands (python -m hil live does)"))
            self._remember(cmd.id, None)
        self.queue.put(cmd)
        return None

    def _remember(self, cmd_id: str, result: dict[str, Any] | None) -> dict[str, Any] | None:
        self.seen[cmd_id] = result
        self.seen.move_to_end(cmd_id)
        while len(self.seen) > self.remember:
            self.seen.popitem(last=False)
        return result

    def take(self) -> list[Command]:
        """The commands waiting for the board (run thread)."""
        out: list[Command] = []
        while True:
            try:
                out.append(self.queue.get_nowait())
            except queue.Empty:
                return out

    def done(self, cmd: Command, result: dict[str, Any]) -> dict[str, Any]:
        """Record a command's answer (run thread) and return it."""
        self.counts["executed"] += 1
        with self.lock:
            self._remember(cmd.id, result)
        return result


__all__ = ["COMMANDS", "Command", "CommandDesk", "CommandError", "CommandSpec", "LOCAL", "MAX_BYTES",
           "TokenBucket", "answer", "parse"]
