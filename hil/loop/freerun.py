"""The free-running loop: a board that reads its own sensors and keeps its
own time.

A Pico with the ``rp2`` HAL samples its ADC, flow sensor and air detector
and runs a control tick every period on its own clock; it refuses STEP
frames. The host cannot hand it sensor samples or hold its time, so there
is no plant here: the host only sends operator commands and polls the
board's status, and the run's virtual time is the board's own tick count.

- Ticks are the board's: the run starts at the tick the board reports
  first (its tick 0 is the run's tick 0) and every event keeps the tick
  the board gave it. A restart (the board counts from 0 again) is lined up
  with the ticks before it, as :class:`~hil.loop.closed.ClosedLoop` does; ticks
  the board did not count while it was down are not counted.
- The board's status is known at each poll: a change of outputs is seen at
  the first poll after it, while events (states, alarms) carry the exact
  tick they happened at.
- Speed: real time, unless the board's config has ``"test_mode": true``;
  then the test-only command ``time_scale`` makes its clock run N times
  faster (the control logic still counts one period per tick). A board not
  in test mode refuses it, and so does this loop, with a message that says
  why.

The surface is that of :class:`~hil.loop.closed.ClosedLoop` as the runner and the
expectations use it (``tick``, ``status``, ``events``, ``command``,
``run_until``, ``stats``, the ``observers`` bus), with ``plant`` None.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from hil.transport import frames
from hil.transport.client import BoardClient
from hil.transport.frames import Event, Status
from hil.loop.boardrun import BoardRun, LoopError
from hil.run.observers import Observers

C = frames.C

MAX_TIME_SCALE = 1000   # the firmware's limit for CMD_TIME_SCALE


class FreeRunError(LoopError):
    """The free-running board cannot be run as asked (e.g. faster than real
    time on a board that is not in test mode)."""


def time_scale(speed: float | None) -> int:
    """The board clock's speed-up for a requested speed (None: real time).

    Raises:
        FreeRunError: the speed is not a whole number 1..1000.
    """
    if speed is None:
        return 1
    n = round(speed)
    if abs(speed - n) > 1e-9 or not 1 <= n <= MAX_TIME_SCALE:
        raise FreeRunError(f"a board that keeps its own time runs at a whole multiple of real time, "
                           f"1..{MAX_TIME_SCALE}; speed {speed:g} cannot be honoured")
    return n


def real_time_only(hello: dict[str, Any], scale: int, why: str) -> str:
    board = hello.get("board", "?")
    return (f"the board '{board}' ({hello.get('hal')} HAL) runs in real time only: {why}. "
            f"It cannot run {scale} x faster; drop --speed (or use --realtime), or flash a board "
            "config with \"test_mode\": true to a bench board")


class FreeRunningLoop(BoardRun):
    """Follow a board that runs on its own clock.

    Args:
        client: protocol client of the board.
        hello: the board's HELLO reply (``period_ms``, ``hal``, ``test_mode``).
        speed: None or 1: real time; N: ask the board (test mode only) to
            run its clock N times faster.
        min_poll_s: shortest wall-clock interval between two polls in
            steady running (the interval is one board period, at least this).
        sleep: False to poll without waiting (a replay of a recording).
        observers: the run's notification bus (:mod:`hil.run.observers`): the
            loop publishes ``event`` (each firmware event as it arrives, its
            tick converted to the run's), ``boot`` ((run tick, BOOT notice)
            when the board restarted) and ``status`` ((run tick, status
            block) after every reply). Default: a bus of its own.
        on_event, on_boot, on_status: shorthands that subscribe one callable
            each to those notifications.

    Raises:
        FreeRunError: the board refused the time scale, or the speed is not
            one the board can run at.
    """

    plant = None

    def __init__(self, client: BoardClient, hello: dict[str, Any], speed: float | None = None,
                 min_poll_s: float = 0.02, sleep: bool = True,
                 observers: Observers | None = None,
                 on_event: Callable[[Event], None] | None = None,
                 on_boot: Callable[[int, dict[str, Any]], None] | None = None,
                 on_status: Callable[[int, Status], None] | None = None) -> None:
        self.client = client
        self.hello = hello
        self.period_s = hello["period_ms"] / 1000.0
        self.test_mode = bool(hello.get("test_mode"))
        self.scale = time_scale(speed)
        self.poll_s = max(min_poll_s, self.period_s / self.scale)
        self.sleep = sleep
        self._init_run(observers, on_event, on_boot, on_status)
        reply = self._set_time_scale()
        # The run's tick 0 is the board's tick now.
        self.offset = -reply.status.tick
        self.start_board_tick = reply.status.tick
        self._take_reply(reply)

    @property
    def tick(self) -> int:
        """The run's tick: the board's last reported tick, lined up across restarts."""
        return self.status.tick + self.offset

    def _set_time_scale(self) -> frames.Reply:
        """Put the board's clock at the asked speed; return the reply (its status)."""
        if self.scale == 1 and not self.test_mode:
            return self.client.status()
        # In test mode 1 is sent too: the board may still run at the scale
        # an earlier run left it at.
        reply = self.client.command(C.CMD_TIME_SCALE, self.scale)
        if reply.result == C.E_TEST_ONLY:
            raise FreeRunError(real_time_only(self.hello, self.scale,
                                              "it refused time_scale (allowed in test mode only)"))
        if reply.result != C.OK:
            raise FreeRunError(f"the board refused time_scale {self.scale}: "
                               f"{C.RESULT_NAMES[reply.result]}")
        return reply

    def _status_seen(self) -> None:
        self.observers.status(self.tick, self.status)

    def _update(self, reply: frames.Reply) -> None:
        before = self.status.tick
        if reply.status.tick < before:
            raise LoopError(f"the board's tick went back from {before} to {reply.status.tick} "
                            "without a restart notice")
        self.stats.frames += 1
        self.stats.ticks += reply.status.tick - before
        self._take_reply(reply)

    def command(self, code: int, arg: int = 0) -> frames.Reply:
        """Send an operator command; the board acts on it between two of its ticks."""
        reply = self.client.command(code, arg)
        self._update(reply)
        return reply

    def run_until(self, end_tick: int, horizon: Callable[[], int] | None = None) -> None:
        """Poll the board until its tick reaches ``end_tick``, or the tick
        ``horizon()`` returns if that is earlier (asked again after every
        poll). The board does not stop there: the run's tick afterwards is
        the first one reported at or past the target."""
        while True:
            target = end_tick if horizon is None else min(end_tick, horizon())
            if self.tick >= target:
                return
            if self.sleep:
                # Wake when the target should be reached, or after one poll interval.
                due_s = (target - self.tick) * self.period_s / self.scale
                time.sleep(max(0.001, min(self.poll_s, due_s)))
            self.poll()

    def real_time(self) -> None:
        """Leave the board's clock at real time again (after a run that sped
        it up); the reply is not part of the run."""
        if self.scale != 1:
            self.client.command(C.CMD_TIME_SCALE, 1)

    def _rebooted(self, notice: dict[str, Any]) -> None:
        """The board restarted and counts from 0 again: continue the run's
        ticks from the last tick known before the restart."""
        self.stats.resets += 1
        last = notice.get("last_tick", -1)
        known = self.status.tick
        reached = last if isinstance(last, int) and last >= known else known
        self.offset += reached
        self.observers.boot(self.offset, notice)
        # The board forgot its time scale with everything else in RAM.
        reply = self._set_time_scale()
        self._take_reply(reply)


__all__ = ["MAX_TIME_SCALE", "FreeRunError", "FreeRunningLoop", "plant_requirements", "refusal",
           "time_scale"]


# -- what a scenario needs that a free-running board cannot give ----------------


def plant_requirements(sc: Any) -> list[tuple[int, str]]:
    """What in a scenario needs the host's plant (or its power control), as
    (line, reason) pairs in file order; empty if it can run on a board that
    reads its own sensors."""
    from hil.scenario import ACTIONS, QUANTITIES

    out: list[tuple[int, str]] = []
    for s in sc.steps:
        why = ACTIONS[s.action].needs.get("plant")
        if why is not None:
            out.append((s.line, f"step '{s.id}' ({s.describe()}) needs a plant: {why}"))
    for m in sc.measurements:
        if QUANTITIES[m.quantity].source == "trace":
            out.append((m.line, f"measurement '{m.name}' ({m.quantity}) is a plant quantity"))
    out.sort(key=lambda x: x[0])
    if sc.operator.get("scripted", True):
        why = ("the scripted operator needs a plant: it draws the patient's blood for aPTT and "
               "connects the patient; write 'operator: {scripted: false}' and give the operator's "
               "actions as steps")
        out.append((sc.line_of.get("operator", 0), why))
    return out


def refusal(sc: Any, hello: dict[str, Any]) -> str | None:
    """Why a scenario cannot run on this free-running board, one
    ``file:line: reason`` per problem; None if it can."""
    problems = plant_requirements(sc)
    if not problems:
        return None
    head = (f"the board '{hello.get('board')}' reads its own sensors ({hello.get('hal')} HAL), "
            "so there is no plant")
    lines = [f"{sc.path}:{line}: {reason}" if line else f"{sc.path}: {reason}" for line, reason in problems]
    return f"{lines[0]}; {head}" + "".join(f"\n{x}" for x in lines[1:])
