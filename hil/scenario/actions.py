"""The step actions, each declared once: its name, its typed arguments, a
line of description, what it needs of the board, how a step shows it, and
how it is applied. The reader (:mod:`hil.scenario.steps`), the runner
(:class:`hil.run.steps.StepRunner`), the scripted operator's plant faults,
the free-running loop's refusals (:func:`hil.loop.freerun.plant_requirements`)
and the tables of docs/scenarios.md (:func:`table`) all read :data:`ACTIONS`.

An action's ``apply(run, args)`` gets the run it acts on and the step's
arguments. ``run`` offers ``plant`` (None on a board that keeps its own
time), ``period_s``, ``command(code, arg=0)`` (the board's answer by name),
``loop``, ``session`` (``link``, ``board.power``, ``client`` for the
board's LOG and DIAG, ``observers`` to put what it read on the time line,
``free``: the board keeps its own time), ``op`` (the scripted operator)
and ``tl`` (the run's time line). What ``apply`` returns is the
board's answer if the action ``answers`` (``expect_result`` then applies),
else a note for the record.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

from hil.transport import contract, frames
from hil.transport.contract import SENSOR_CHANNELS

C = frames.C
COMMANDS = tuple(n for n in C.CMD_NAMES if n)
RESULTS = tuple(C.RESULT_NAMES)


@dataclass(frozen=True)
class Arg:
    """One typed argument.

    Attributes:
        type: ``number``, ``integer``, ``duration`` (seconds), ``flag`` (must be
            true), ``choice`` (one of ``choices``).
        what: what the value is, for errors and the docs.
        unit: its unit, for errors and the docs.
        lo, hi: the range of a number.
        choices: the names of a choice, or a mapping of names to the values stored.
        key: where the value goes in the step's args (default: ``value``, or a
            mapping's own key; "": not kept).
        default: the value when a mapping leaves the key out (None: required).
        only_with: a mapping's key allowed only with these of the action's ``one_of``.
    """

    type: str
    what: str = ""
    unit: str = ""
    lo: float | None = None
    hi: float | None = None
    choices: tuple[str, ...] | dict[str, Any] = ()
    key: str | None = None
    default: Any = None
    only_with: tuple[str, ...] = ()

    def doc(self) -> str:
        """The argument as the docs describe it."""
        if self.type == "flag":
            text = "`true`"
        elif self.choices:
            many = len(self.choices) > 6
            text = f"a {self.what} name" if many else " \\| ".join(f"`{c}`" for c in self.choices)
        else:
            rng = f"{self.lo:g}..{self.hi:g}" if self.lo is not None and self.hi is not None else ""
            kind = self.type if self.type in ("duration", "integer") else ""
            text = ", ".join(x for x in (self.what, kind, rng, self.unit) if x)
        extra = [f"default `{self.default}`"] * (self.default is not None) + [
            f"with `{'`, `'.join(self.only_with)}` only"] * bool(self.only_with)
        return text + (f" ({'; '.join(extra)})" if extra else "")


@dataclass(frozen=True)
class Action:
    """A step action (see the module docstring).

    Attributes:
        name: its key in a step.
        group: ``plant``, ``board`` (link and board faults) or ``operator``: its docs table.
        doc: one line: what it does.
        example: how a step writes it, for the docs.
        apply: ``apply(run, args)``: carry it out.
        value: the argument of an action written as a plain value; or, for
            an action written as a mapping:
        fields: its keys, and
        one_of: keys of which it has exactly one, whose name goes to
            ``args[kind]`` (``kind``: ``kind`` by default).
        show: how a step shows its args: a format of them, or a function.
        needs: what it needs of the board (``plant``: the host's plant;
            ``power``: a switchable power supply; ``cut``: a virtual board
            whose storage can fail inside a write), each with the reason a
            board without it cannot run the step.
        answers: the board answers it (a command): ``expect_result`` applies.
    """

    name: str
    group: str
    doc: str
    example: str
    apply: Callable[[Any, dict[str, Any]], str | None]
    value: Arg | None = None
    fields: dict[str, Arg] = field(default_factory=dict)
    one_of: dict[str, Arg] = field(default_factory=dict)
    kind: str = "kind"
    show: str | Callable[[dict[str, Any]], str] = ""
    needs: dict[str, str] = field(default_factory=dict)
    answers: bool = False

    def describe(self, args: dict[str, Any]) -> str:
        rest = self.show(args) if callable(self.show) else self.show.format(**args)
        return f"{self.name} {rest}" if rest else self.name

    def arguments(self) -> str:
        """The arguments as the docs describe them."""
        if self.value is not None:
            return self.value.doc()
        keys = "; ".join(f"`{k}`: {a.doc()}" for k, a in self.fields.items())
        one = "; ".join(f"`{k}`: {a.doc()}" for k, a in self.one_of.items())
        return "<br>".join([keys] * bool(keys) + [f"one of {one}"] * bool(one))


# -- how actions are applied -------------------------------------------------------


def set_fault(name: str, per_tick: bool = False) -> Callable[[Any, dict[str, Any]], None]:
    """Set the plant fault ``name`` (a field of :class:`host.faults.Faults`)
    to the step's value, or to that many seconds in ticks."""
    def apply(run: Any, a: dict[str, Any]) -> None:
        v = a["value"]
        setattr(run.plant.faults, name, max(1, round(v / run.period_s)) if per_tick else v)
    return apply


def _sensor(run: Any, a: dict[str, Any]) -> None:
    from host.sensors import SensorFault

    faults = run.plant.faults.sensor
    if a["kind"] == "clear":
        faults.pop(a["channel"], None)
    else:
        faults[a["channel"]] = SensorFault(a["kind"], a["value"])


def _disconnect(run: Any, a: dict[str, Any]) -> str:
    run.session.link.reconnect()
    now, n = run.loop.tick, max(1, round(a["value"] / run.period_s))
    run.loop.add_outage(now + 1, now + 1 + n)
    return f"link down for ticks {now + 1}..{now + n}"


def _power_cut(run: Any, a: dict[str, Any]) -> str:
    # Without power the board drives nothing until it has booted.
    now = run.loop.tick
    run.tl.power_off(now, now + round(a["value"] / run.period_s))
    notice = run.loop.power_cycle(run.session.board.power, a["value"])
    return f"board back after {a['value']:g} s off; boot notice {notice}"


def _power_cut_in_write(run: Any, a: dict[str, Any]) -> str:
    # The board dies in the next STEP frame, when it stores; the loop
    # restarts it (hil/run/cutboard.py).
    run.session.board.arm_cut(a["written"], a["off_s"])
    return (f"armed: the power fails after {a['written']} B of the next frame's first storage write, "
            f"off {a['off_s']:g} s")


def _confirm_exchange(run: Any, a: dict[str, Any]) -> str:
    if run.plant is not None:
        return C.RESULT_NAMES[run.op.exchange()]
    # No plant cartridge to change: the bench's is changed by hand.
    return run.command(C.CMD_CONFIRM_EXCHANGE)


def _start(run: Any, a: dict[str, Any]) -> str:
    result = run.command(C.CMD_START)
    if result == "ok" and not run.op.connected and run.plant is not None:
        run.plant.connect_patient()
        run.op.connected = True
    return result


def _host_silent(run: Any, a: dict[str, Any]) -> str:
    if not run.session.free:
        return "no effect: this board takes its time from the host, so its clock stood still as well"
    if getattr(run.loop, "sleep", True):     # a replay does not wait
        time.sleep(a["value"])
    return f"the host sent nothing for {a['value']:g} s (wall clock)"


def log_entry(entry: list[int], period_s: float) -> dict[str, Any]:
    """One entry of the board's alarm log (``[therapy tick, alarm id,
    priority, value]``) in the names and units of the run's alarm events."""
    tick, aid, prio, value = entry
    return {"therapy_tick": tick, "therapy_s": round(tick * period_s, 3),
            **contract.event_fields(C.EV_ALARM_ON, aid, prio, value, period_s)}


def _alarm_log(run: Any, a: dict[str, Any]) -> str:
    log = run.session.client.alarm_log()
    period_s = log.get("period_ms", round(run.period_s * 1000)) / 1000.0
    entries = [log_entry(e, period_s) for e in log.get("entries", [])]
    run.session.observers.note(run.loop.tick, {"type": "alarm_log", "entries": entries})
    return f"{len(entries)} entries"


def _diag(run: Any, a: dict[str, Any]) -> str:
    d = run.session.client.diag()
    kb = {k: round(d[k] / 1024, 3) if isinstance(d.get(k), int) and d[k] >= 0 else None
          for k in ("heap_total", "mem_alloc", "heap_peak")}
    rec = {"type": "diag", "heap_total_kb": kb["heap_total"], "heap_live_kb": kb["mem_alloc"],
           "heap_peak_kb": kb["heap_peak"]}
    run.session.observers.note(run.loop.tick, rec)
    return f"heap {kb['mem_alloc']} KB live of {kb['heap_total']} KB"


def _command(code: int, arg: Callable[[Any, dict[str, Any]], int] = lambda run, a: 0) -> Any:
    return lambda run, a: run.command(code, arg(run, a))


def _show_link(a: dict[str, Any]) -> str:
    size = {"delay": f"{a.get('delay_s', 0):g} s x{a['frames']} frame(s)",
            "noise": f"{a['frames']} byte(s)"}.get(a["fault"], f"{a['frames']} frame(s)")
    return f"{a['fault']} {size} {a['direction']}"


# -- the actions ----------------------------------------------------------------------

_FLAG = Arg("flag", key="")
_FRAMES = Arg("integer", "number of frames", lo=1, hi=1000, key="frames")

_ACTIONS = (
    Action("clotting", "plant", "the cartridge clots (1 + factor) times faster", "clotting: 300",
           set_fault("clot_boost"), Arg("number", "extra clot growth factor", lo=0, hi=10000),
           show="{value:g}x clot growth", needs={"plant": "it changes the plant's cartridge"}),
    Action("access_occlusion", "plant", "the access line narrows (kink, catheter against the vessel wall)",
           "access_occlusion: 0.7", set_fault("access_occlusion"),
           Arg("number", "fraction of the line blocked", lo=0, hi=1), show="{value:g} occluded",
           needs={"plant": "it changes the plant's access line"}),
    Action("air", "plant", "air at the return-line detector", "air: 0.5 s",
           set_fault("air_ticks_remaining", per_tick=True),
           Arg("duration", "air at the detector", "s"), show="{value:g} s",
           needs={"plant": "it puts air at the plant's detector"}),
    Action("sensor", "plant", "a sensor fault: the reading held at a value, drifting from now on, with extra "
           "noise, pinned at a rail (broken wire), or working again", "sensor: {channel: p_return, stuck: 5}",
           _sensor, fields={"channel": Arg("choice", "sensor channel", choices=SENSOR_CHANNELS)},
           one_of={"stuck": Arg("number", "held reading", "mmHg, mL/min"),
                   "drift": Arg("number", "drift", "per second"), "noise": Arg("number", "extra noise SD"),
                   "range": Arg("choice", "rail", choices={"high": 1.0, "low": -1.0}),
                   "clear": _FLAG},
           show=lambda a: f"{a['channel']} {a['kind']}" + (f" {a['value']:g}" if "value" in a else ""),
           needs={"plant": "it changes what the plant's sensors read"}),
    Action("clear_faults", "plant", "all plant faults removed", "clear_faults: true",
           lambda run, a: run.plant.faults.clear(), _FLAG,
           needs={"plant": "it clears the plant's faults"}),
    Action("link", "board", "the next frames going `direction` (default `both`) corrupted (a bit flipped in "
           "each), dropped, held back (wall clock) or preceded by line noise with false frame starts",
           "link: {corrupt: 2, direction: to_host}", lambda run, a: run.session.link.arm(a),
           one_of={"corrupt": _FRAMES, "drop": _FRAMES, "delay": Arg("duration", "hold", "s", key="delay_s"),
                   "noise": Arg("integer", "number of bytes", lo=1, hi=1000, key="frames")},
           fields={"frames": Arg("integer", "frames held back", lo=1, hi=1000, default=1,
                                 only_with=("delay",)),
                   "direction": Arg("choice", "link direction", choices=("to_board", "to_host", "both"),
                                    default="both")},
           kind="fault", show=_show_link),
    Action("disconnect", "board", "the port is closed and opened again, and for that long no sensor data "
           "reaches the board", "disconnect: 5 s", _disconnect, Arg("duration", "without the link", "s"),
           show="{value:g} s",
           needs={"plant": "the outage it makes is of the sensor samples the host sends"}),
    Action("power_cut", "board", "the board loses power for that long, then boots; unpowered it drives "
           "nothing (pump 0, clamp closed, heparin 0, state `off` in the trace)", "power_cut: 30 s",
           _power_cut, Arg("duration", "without power", "s"), show="{value:g} s off",
           needs={"plant": "the harness switches a virtual board's power and the plant runs on while it "
                           "is off", "power": "the harness switches the board's power"}),
    Action("power_cut_in_write", "board", "the power fails inside the board's next storage write (the first "
           "of the next STEP frame: the therapy record, or the alarm log), after that many of its bytes "
           "reached the temporary file, not renamed; off that long, then the board boots on that flash",
           "power_cut_in_write: {written: 40, off: 30 s}", _power_cut_in_write,
           fields={"written": Arg("integer", "bytes of the write on the flash", lo=0, hi=100, default=0),
                   "off": Arg("duration", "without power", "s", key="off_s", default=0)},
           show="after {written} B, {off_s:g} s off",
           needs={"plant": "the plant runs on while the board is off",
                  "power": "the harness switches the board's power",
                  "cut": "the harness arms the storage of a virtual board it starts itself"}),
    Action("host_silent", "board", "the host sends the board nothing for that long (wall clock): a board "
           "that keeps its own time runs on alone; on a board on the host's clock time stands still and it "
           "has no effect", "host_silent: 12 s", _host_silent,
           Arg("duration", "without a frame from the host", "s"), show="{value:g} s"),
    Action("hang", "board", "test mode only: the control task stalls; the watchdog resets the board",
           "hang: 3 s", _command(C.CMD_TEST_HANG, lambda run, a: max(1, round(a["value"] / run.period_s))),
           Arg("duration", "stall of the control task", "s"), show="{value:g} s", answers=True),
    Action("aptt", "operator", "enter an aPTT result", "aptt: 42",
           _command(C.CMD_APTT, lambda run, a: round(a["value"] * 10)),
           Arg("number", "aPTT result", "s", lo=10, hi=200), show="{value:g} s", answers=True),
    Action("confirm_exchange", "operator", "change the cartridge and confirm it", "confirm_exchange: true",
           _confirm_exchange, _FLAG, answers=True),
    Action("start", "operator", "start blood flow (and connect the patient the first time)", "start: true",
           _start, _FLAG, answers=True),
    *(Action(name, "operator", doc, f"{name}: true", _command(code), _FLAG, answers=True)
      for name, code, doc in (
        ("acknowledge", C.CMD_ACK_ALARMS, "acknowledge alarms"),
        ("audio_pause", C.CMD_AUDIO_PAUSE, "silence the alarm for 2 min"),
        ("pause", C.CMD_PAUSE, "pause therapy"), ("resume", C.CMD_RESUME, "resume therapy"),
        ("stop", C.CMD_STOP, "stop therapy"))),
    Action("alarm_log", "operator", "read the board's alarm log (a LOG frame); its entries go on the run's "
           "time line, for an `alarm_log` expectation", "alarm_log: true", _alarm_log, _FLAG),
    Action("diag", "board", "read the board's diagnostics (a DIAG frame): its heap goes on the run's time "
           "line, for the `heap_*` measurements", "diag: true", _diag, _FLAG),
    Action("set_flow", "operator", "blood flow set point", "set_flow: 300",
           _command(C.CMD_SET_FLOW, lambda run, a: a["value"]), Arg("integer", "blood flow", "mL/min"),
           show="{value:g} mL/min", answers=True),
    Action("command", "operator", "any protocol command by name, with its integer argument (default 0)",
           "command: {name: set_weight, arg: 800}",
           lambda run, a: run.command(C.CMD_NAMES.index(a["name"]), a["arg"]),
           fields={"name": Arg("choice", "command", choices=COMMANDS),
                   "arg": Arg("integer", default=0)},
           show=lambda a: a["name"] + (f" {a['arg']}" if a["arg"] else ""), answers=True),
)
ACTIONS: dict[str, Action] = {a.name: a for a in _ACTIONS}


def table(group: str) -> str:
    """The docs' table of one group of actions (docs/scenarios.md, "Steps")."""
    rows = [f"| `{a.example}` | {a.arguments()} | {a.doc} |" for a in _ACTIONS if a.group == group]
    return "\n".join(["| action | argument | effect |", "|---|---|---|", *rows])


__all__ = ["ACTIONS", "Action", "Arg", "COMMANDS", "RESULTS", "log_entry", "set_fault", "table"]
