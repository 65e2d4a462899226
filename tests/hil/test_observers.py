"""Listeners on a run's bus (hil/run/observers.py): fan-out to any number of
them, the example observer of docs/architecture.md on a real scenario run,
and the loop chosen from the clock the board reports in HELLO."""

from __future__ import annotations

import io
from pathlib import Path

from hil.transport import frames
from hil.run.observers import Observers
from hil.run.runner import RunOptions, run_scenario
from hil.scenario import load
from hil.run.session import board_clock

C = frames.C
SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


class AlarmPrinter:
    """Prints each alarm as the board raises it (docs/architecture.md)."""

    def __init__(self, out=None) -> None:
        self.out = out
        self.period_s = 0.1

    def on_hello(self, hello: dict) -> None:
        self.period_s = hello["period_ms"] / 1000.0

    def on_event(self, e: frames.Event) -> None:
        if e.kind == C.EV_ALARM_ON:
            print(f"t={e.tick * self.period_s:9.1f} s  ALARM {C.ALARM_NAMES[e.code]} "
                  f"({C.PRIO_NAMES[e.a]})", file=self.out, flush=True)


def test_every_listener_gets_every_notification_in_order() -> None:
    bus = Observers()
    seen: list[tuple[str, object]] = []

    class Both:
        def on_event(self, e: object) -> None:
            seen.append(("obj", e))

        def on_step(self, tick: int, end: int) -> None:
            seen.append(("step", (tick, end)))

    both = bus.subscribe(Both())
    bus.subscribe(event=lambda e: seen.append(("fn", e)))
    bus.event("e1")
    bus.session("the session", exchange=None)   # nobody listens to it here
    bus.step(5, 10)
    bus.status(5, "ignored: nobody listens")
    assert seen == [("obj", "e1"), ("fn", "e1"), ("step", (5, 10))]
    bus.unsubscribe(both)
    bus.event("e2")
    assert seen[-1] == ("fn", "e2") and len(seen) == 4


def test_the_example_alarm_printer_on_a_scenario_run() -> None:
    out = io.StringIO()
    steps: list[int] = []
    ends: list[object] = []
    sc = load(SCENARIOS / "air_in_return_line.yaml")
    sessions: list[tuple[object, object, int]] = []
    opts = RunOptions(observers=(AlarmPrinter(out), _Steps(steps), _Ends(ends), _Sessions(sessions, steps)))
    r = run_scenario(sc, opts)
    assert r.outcome == "pass"
    # The virtual board (sim HAL) takes its time from the host: closed loop.
    assert r.hello["clock"] == "host" and "clock" not in r.options
    printed = out.getvalue().splitlines()
    alarms = [e for e in r.timeline.events if e["type"] == "alarm"]
    # One line per alarm the board raised, as it came, with its virtual time.
    assert len(printed) == len(alarms) >= 1
    for line, e in zip(printed, alarms):
        assert f"ALARM {e['alarm']} ({e['priority']})" in line
        assert line.startswith(f"t={e['t_s']:9.1f} s")
    assert any("ALARM air_in_line (high)" in line for line in printed)
    # Other listeners on the same run: the chunks were stepped up to the
    # end, and the end was announced once, with the result.
    assert steps and steps == sorted(steps) and steps[-1] == round(sc.duration_s / 0.1)
    assert ends == [r]
    # The run handed its session over once, composed (loop and plant), before
    # the first chunk, with the scripted operator's exchange.
    assert len(sessions) == 1
    session, exchange, steps_before = sessions[0]
    assert steps_before == 0 and session.loop is not None and session.plant is not None
    assert session.hello == r.hello and callable(exchange) and exchange.__self__.loop is session.loop


class _Steps:
    def __init__(self, ticks: list[int]) -> None:
        self.ticks = ticks

    def on_step(self, tick: int, end: int) -> None:
        self.ticks.append(tick)


class _Sessions:
    def __init__(self, got: list[tuple[object, object, int]], steps: list[int]) -> None:
        self.got = got
        self.steps = steps

    def on_session(self, session: object, exchange: object = None) -> None:
        self.got.append((session, exchange, len(self.steps)))


class _Ends:
    def __init__(self, results: list[object]) -> None:
        self.results = results

    def on_end(self, result: object) -> None:
        self.results.append(result)


def test_the_loop_follows_the_clock_in_hello_and_falls_back_to_the_hal() -> None:
    assert board_clock({"clock": "host", "hal": "rp2"}) == "host"
    assert board_clock({"clock": "board", "hal": "sim"}) == "board"
    # A board whose HELLO predates the key: judged by its HAL.
    assert board_clock({"hal": "sim"}) == "host"
    assert board_clock({"hal": "rp2"}) == "board"
