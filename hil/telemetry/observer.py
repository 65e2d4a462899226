"""The telemetry publisher: a listener on a run's bus (docs/architecture.md,
"Adding an observer").

It is called in the run's thread between frames, so it only builds small
payloads and queues them (:class:`~hil.telemetry.mqtt.MqttLink` does the
network on a background loop):

- ``status``: at most one per ``status_interval_s`` of wall time (the
  latest status block wins), retained, and one more at the end of a run;
- ``alarms``: one per alarm raised, escalated or cleared, at once;
- ``events``: one per firmware event (and per board restart), at once;
- ``info``: retained, when the board is known and when the run's facts change.

Given the run's session (:meth:`TelemetryObserver.on_session`), it also
takes the pressures and the measured blood flow from the plant, and carries
out the operator commands that came over MQTT (validated and rate-limited
by :class:`~hil.telemetry.commands.CommandDesk` on the way in) between two
chunks of the run (``on_step``), each answered on ``cmd/result``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from hil.telemetry import payloads
from hil.telemetry.asyncthread import AsyncThread
from hil.telemetry.commands import COMMANDS, Command, CommandDesk, answer
from hil.telemetry.mqtt import MqttLink
from hil.telemetry.topics import BrokerUrl, TelemetryError, Topics, default_board_id
from hil.transport import frames

C = frames.C


class TelemetryObserver:
    """Publishes a run's telemetry to an MQTT broker.

    Args:
        broker: the broker and the credentials of this bench.
        board_id: the topic level under ``hemosorb/``; None: the board's own
            name from HELLO, else ``fallback_board_id``.
        status_interval_s: least wall time between two status messages.
        io: a background loop to share (default: one of its own).
        accepts: the commands taken over MQTT (default: all of
            :data:`~hil.telemetry.commands.COMMANDS`).
        info: facts of the run for the ``info`` topic (``run``, ``speed``).
        board_config: the board config the run uses (name or path), for the
            limits, until the board names its own in HELLO.
    """

    def __init__(self, broker: BrokerUrl, board_id: str | None = None, *, fallback_board_id: str = "board",
                 status_interval_s: float = 0.25, io: AsyncThread | None = None,
                 accepts: tuple[str, ...] | None = None, info: dict[str, Any] | None = None,
                 board_config: str | None = None) -> None:
        self.broker = broker
        self.board_id = board_id
        self.fallback_board_id = fallback_board_id
        self.status_interval_s = status_interval_s
        self._own_io = io is None
        self.io = io
        self.desk = CommandDesk(accepts)
        self.info_extra: dict[str, Any] = dict(info or {})
        self.topics: Topics | None = None
        self.link: MqttLink | None = None
        self.hello: dict[str, Any] = {}
        self.period_s = 0.1
        self.config: dict[str, Any] | None = _shipped_config(board_config) if board_config else None
        self.session: Any = None
        self.exchange: Callable[[], int] | None = None
        self._last: tuple[int, frames.Status] | None = None
        self._dirty = False
        self._next_status = 0.0
        self._active: dict[int, int] = {}     # alarm id -> priority, as raised
        self.counts = {"status": 0, "alarms": 0, "events": 0, "results": 0}
        self.closed = False

    # -- lifecycle --------------------------------------------------------------

    def start(self, board_id: str | None = None, wait_s: float | None = 10.0) -> Topics:
        """Connect (once) under ``board_id`` (default: as in the constructor)."""
        if self.link is not None:
            assert self.topics is not None
            return self.topics
        if board_id is not None:
            self.board_id = board_id
        if self.board_id is None:
            self.board_id = default_board_id(self.hello.get("board"), self.fallback_board_id)
        self.topics = Topics(self.board_id)
        if self.io is None:
            self.io = AsyncThread("hil-telemetry")
        link = MqttLink(self.broker, self.topics, self.io, self._command_in)
        try:
            link.start(wait_s)
        except TelemetryError:
            if self._own_io:
                self.io.stop()
                self.io = None
            raise
        self.link = link
        self._publish_info()
        return self.topics

    def close(self) -> None:
        """Publish what is pending, answer queued commands, go offline."""
        if self.link is not None:
            self._flush_status()
            self._refuse_pending("run_over", "the run is over")
            self.link.close()
            self.link = None
        self.closed = True
        if self._own_io and self.io is not None:
            self.io.stop()
            self.io = None

    def __enter__(self) -> "TelemetryObserver":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def cartridge_hours(self) -> float | None:
        th = (self.config or {}).get("therapy", {})
        return th.get("cartridge_hours")

    def set_info(self, **facts: Any) -> None:
        """Add facts to the ``info`` topic (e.g. ``speed``) and publish it again."""
        self.info_extra.update(facts)
        if self.link is not None:
            self._publish_info()

    def _publish(self, topic: str, payload: dict[str, Any], qos: int, retain: bool = False) -> None:
        if self.closed:
            return
        if self.link is None:
            self.start()
        assert self.link is not None
        self.link.publish(topic, payloads.dumps(payload), qos, retain)

    def _publish_info(self) -> None:
        assert self.topics is not None
        accepts = self.desk.accepts or tuple(COMMANDS)
        info = payloads.info_payload(self.topics.board, self.hello, self.config,
                                     accepts if self.desk.hook else (), self.info_extra)
        self._publish(self.topics.info, info, 1, True)

    # -- the bus ------------------------------------------------------------------

    def on_hello(self, hello: dict[str, Any]) -> None:
        self.hello = dict(hello)
        self.period_s = hello.get("period_ms", 100) / 1000.0
        if self.config is None and isinstance(hello.get("board"), str):
            self.config = _shipped_config(hello["board"])
        if self.link is not None:
            self._publish_info()

    def on_session(self, session: Any, exchange: Callable[[], int] | None = None) -> None:
        """Attach to the run's session: pressures from its plant, commands
        through its loop (``exchange``: how to confirm a cartridge exchange,
        e.g. the scripted operator's, which also changes the plant's)."""
        self.session = session
        self.exchange = exchange
        if session.hello:
            self.on_hello(session.hello)
        config = session.board_config()
        if config is not None:
            self.config = _shipped_config(config)
        self.desk.hook = True
        if self.link is not None:
            self._publish_info()

    def on_status(self, tick: int, status: frames.Status) -> None:
        self._last = (tick, status)
        self._dirty = True
        now = time.monotonic()
        if now >= self._next_status:
            self._next_status = now + self.status_interval_s
            self._flush_status()

    def on_event(self, e: frames.Event) -> None:
        if self.closed:
            return
        if self.link is None:
            self.start()
        assert self.topics is not None
        if e.kind in (C.EV_ALARM_ON, C.EV_ALARM_OFF):
            escalation = e.kind == C.EV_ALARM_ON and e.code in self._active
            if e.kind == C.EV_ALARM_ON:
                self._active[e.code] = e.a
            else:
                self._active.pop(e.code, None)
            self._publish(self.topics.alarms, payloads.alarm_payload(e, self.period_s, escalation), 1)
            self.counts["alarms"] += 1
        self._publish(self.topics.events, payloads.event_payload(e, self.period_s), 1)
        self.counts["events"] += 1

    def on_boot(self, tick: int, notice: dict[str, Any]) -> None:
        if self.closed:
            return
        if self.link is None:
            self.start()
        assert self.topics is not None
        self._publish(self.topics.events, payloads.boot_payload(tick, notice, self.period_s), 1)

    def on_step(self, tick: int, end_tick: int) -> None:
        if self._dirty and time.monotonic() >= self._next_status:
            self._next_status = time.monotonic() + self.status_interval_s
            self._flush_status()
        if self.session is not None:
            self.execute_pending()

    def on_end(self, result: Any) -> None:
        self._flush_status()
        self._refuse_pending("run_over", "the run is over")
        self._active.clear()

    # -- status -------------------------------------------------------------------

    def _sensors(self) -> dict[str, float] | None:
        plant = getattr(self.session, "plant", None) if self.session is not None else None
        if plant is None:
            return None
        obs = plant.observe()
        return {k: obs[k] for k in payloads.SENSOR_COLUMNS}

    def _flush_status(self) -> None:
        if self._last is None or not self._dirty or self.closed:
            return
        tick, st = self._last
        self._dirty = False
        if self.link is None:
            self.start()
        assert self.topics is not None
        payload = payloads.status_payload(tick, st, self.period_s, self._sensors(), self.cartridge_hours)
        self._publish(self.topics.status, payload, 0, True)
        self.counts["status"] += 1

    # -- commands -------------------------------------------------------------------

    def _command_in(self, payload: bytes) -> bytes | None:
        """A message on ``cmd`` (the MQTT thread): an answer now, or None."""
        out = self.desk.receive(payload)
        if out is not None:
            self.counts["results"] += 1
        return payloads.dumps(out) if out is not None else None

    def execute_pending(self) -> None:
        """Carry out the commands that came in, in order, and answer each
        (the run's thread, between frames)."""
        for cmd in self.desk.take():
            try:
                result = self._execute(cmd)
            except Exception as e:
                # The board or the link failed: say so, then let the run stop.
                self._answer(self.desk.done(cmd, answer(cmd.id, False, command=cmd.name,
                                                        error="board_error", message=str(e))))
                raise
            self._answer(self.desk.done(cmd, result))

    def _answer(self, result: dict[str, Any]) -> None:
        assert self.topics is not None
        self._publish(self.topics.result, result, 1)
        self.counts["results"] += 1

    def _execute(self, cmd: Command) -> dict[str, Any]:
        session = self.session
        loop = session.loop
        tick = loop.tick
        if cmd.code == C.CMD_CONFIRM_EXCHANGE and self.exchange is not None:
            code = self.exchange()
        else:
            code = loop.command(cmd.code, cmd.arg).result
        name = C.RESULT_NAMES[code] if 0 <= code < len(C.RESULT_NAMES) else f"result{code}"
        session.observers.note(tick, {"type": "command", "command": cmd.name, "value": cmd.value,
                                      "result": name, "by": "mqtt", "id": cmd.id,
                                      **({"user": cmd.user} if cmd.user else {})})
        ok = code == C.OK
        return answer(cmd.id, ok, command=cmd.name, result=name, error=None if ok else "board_refused",
                      message="" if ok else f"the board refused {cmd.name}: {name}",
                      t_s=round(tick * self.period_s, 3))

    def _refuse_pending(self, error: str, message: str) -> None:
        for cmd in self.desk.take():
            self._answer(self.desk.done(cmd, answer(cmd.id, False, command=cmd.name, error=error,
                                                    message=message)))


def _shipped_config(name: Any) -> dict[str, Any] | None:
    """A board config, loaded, or None if it cannot be (a board that names a
    config this checkout does not have)."""
    from hil.board.firmware import ConfigError, load_board_config

    try:
        return load_board_config(name)
    except (ConfigError, OSError, ValueError, KeyError):
        return None


__all__ = ["TelemetryObserver"]
