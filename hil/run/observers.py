"""What a run tells its listeners, and the bus that fans it out.

A run (the demo, a scenario, a replay, a pytest fixture's loop) publishes
typed notifications on one :class:`Observers` bus; any number of listeners
subscribe to the ones they want. The loop, the time line and the checks,
the scripted operator, the recorder, the progress bar and the report are
all just listeners: adding another (a dashboard, MQTT, a log of alarms)
means subscribing it, not editing the runner.

Notifications (the method an observer object implements, and its arguments):

========== ========================= ==================================================
kind       method                    when
========== ========================= ==================================================
hello      ``on_hello(hello)``       the board answered HELLO (its identity, ``clock``)
session    ``on_session(session,     the run is composed: its session is open and its
           exchange=None)``          loop started (``session.loop``; ``session.plant``,
                                     None on a board on its own clock); ``exchange``:
                                     how the run confirms a cartridge exchange (the
                                     scripted operator's, which also changes the
                                     plant's), None: the plain command. Once per run.
status     ``on_status(tick, st)``   after every reply: the board's status block
event      ``on_event(event)``       a firmware event (:class:`~hil.transport.frames.Event`,
                                     its tick on the run's time line)
boot       ``on_boot(tick, notice)`` the board restarted (power cut, watchdog)
note       ``on_note(tick, rec)``    a harness entry on the time line: an operator
                                     action, a scenario step, an abort
step       ``on_step(tick, end)``    a chunk of the run was stepped (tick reached,
                                     last tick of the run)
trace      ``on_trace(cols, rows)``  the plant's trace of the run, at its end
end        ``on_end(result)``        the run is over (its result object)
========== ========================= ==================================================

Ticks are control periods since the start of the run; ``hello["period_ms"]``
converts them to virtual seconds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# A firmware event as a record entry, in physical units (re-exported).
from hil.output.events import fw_event_record
from hil.transport import frames

KINDS = ("hello", "session", "status", "event", "boot", "note", "step", "trace", "end")


class Observers:
    """A fan-out of run notifications to any number of listeners.

    ``subscribe(obj)`` subscribes every ``on_<kind>`` method ``obj`` has;
    ``subscribe(event=f, status=g)`` subscribes plain callables. Listeners
    are called in the order they subscribed. Publishing is a call:
    ``bus.event(e)``, ``bus.status(tick, st)``, ...
    """

    def __init__(self) -> None:
        self.listeners: dict[str, list[Callable[..., None]]] = {k: [] for k in KINDS}

    def subscribe(self, observer: Any = None, **callbacks: Callable[..., None] | None) -> Any:
        """Subscribe an observer object's ``on_<kind>`` methods and/or the
        callables given by kind; return the observer (or None)."""
        for kind in KINDS:
            f = getattr(observer, "on_" + kind, None) if observer is not None else None
            if f is not None:
                self.listeners[kind].append(f)
        for kind, f in callbacks.items():
            if kind not in self.listeners:
                raise ValueError(f"unknown notification {kind!r}; known: {', '.join(KINDS)}")
            if f is not None:
                self.listeners[kind].append(f)
        return observer

    def unsubscribe(self, observer: Any) -> None:
        """Remove an observer object's methods (or a callable) from every kind."""
        for fs in self.listeners.values():
            fs[:] = [f for f in fs if f != observer and getattr(f, "__self__", None) is not observer]

    def has(self, kind: str) -> bool:
        return bool(self.listeners[kind])

    # -- publishing -------------------------------------------------------------

    def hello(self, hello: dict[str, Any]) -> None:
        for f in self.listeners["hello"]:
            f(hello)

    def session(self, session: Any, exchange: Callable[[], int] | None = None) -> None:
        """The run's composition root has opened ``session`` and started its
        loop: listeners that act on the run (pressures from its plant,
        commands through its loop) take it from here."""
        for f in self.listeners["session"]:
            f(session, exchange=exchange)

    def status(self, tick: int, status: frames.Status) -> None:
        for f in self.listeners["status"]:
            f(tick, status)

    def event(self, event: frames.Event) -> None:
        for f in self.listeners["event"]:
            f(event)

    def boot(self, tick: int, notice: dict[str, Any]) -> None:
        for f in self.listeners["boot"]:
            f(tick, notice)

    def note(self, tick: int, rec: dict[str, Any]) -> None:
        for f in self.listeners["note"]:
            f(tick, rec)

    def step(self, tick: int, end_tick: int) -> None:
        for f in self.listeners["step"]:
            f(tick, end_tick)

    def trace(self, columns: tuple[str, ...], rows: list[tuple[float, ...]]) -> None:
        for f in self.listeners["trace"]:
            f(columns, rows)

    def end(self, result: Any) -> None:
        for f in self.listeners["end"]:
            f(result)


class Progress:
    """Adapts a ``progress(done_s, total_s)`` callable (e.g. a
    :class:`~hil.output.progress.ProgressBar`) to the ``step`` notification."""

    def __init__(self, progress: Callable[[float, float], None], period_s: float) -> None:
        self.progress = progress
        self.period_s = period_s

    def on_step(self, tick: int, end_tick: int) -> None:
        self.progress(tick * self.period_s, end_tick * self.period_s)


__all__ = ["KINDS", "Observers", "Progress", "fw_event_record"]
