"""The loop closed through the pins of an emulated Pico.

The firmware on the emulated Pico (:mod:`hil.board.pico_boards`) is the
one flashed to a real Pico, with the ``rp2`` HAL: it samples its ADC, counts
flow-sensor pulses, reads the air detector, drives the pump PWM, the heparin
step pulses and enable, and the clamp pin, on its own clock. Here the host
plays the world around those pins, in virtual time, one control period at a
time:

- at each period boundary it reads the outputs (the pump's PWM duty, the
  clamp pin, the heparin step pulses counted in the period just ended while
  the enable pin was high: the firmware gives each step as one pulse on a
  plain output pin, ``devices/syringe.py``), advances the plant one period with them, and
  sets the inputs for the next period: the three pressures as ADC inputs
  through the board config's calibration (what the firmware will compute
  from them is the plant's reading), the air detector's level, and the flow
  sensor's pulse rate;
- the board's time runs only while the host lets it: between boundaries,
  and while the host waits for a reply on the USB link (the link's reads
  advance the same clock, so the plant keeps pace);
- the host polls the board's status every ``poll_every`` periods (1 s by
  default: a host at the bedside, and often enough for the board's link
  supervision), at once when an output changed at the pins, and when a
  step is due; the events the board reports carry their own ticks;
- between polls, several periods go in one command to the emulator: the
  plant is computed ahead on the assumption that the board's outputs stay
  as they were at the last boundary and its heparin step pulses keep their
  pattern, and the emulator sets each period's inputs at its boundary only
  while what it reads there is what was assumed; it stops at the first
  boundary where it is not, and the plant is taken back to that boundary.
  The board never gets an input computed from outputs it did not have, so
  the run is the one a command per period gives, to the instruction.

Run ticks are host periods since the loop started (the plant's ticks); the
board's event ticks are lined up with them by the offset seen at the first
status after each boot, as :class:`~hil.loop.freerun.FreeRunningLoop`
does. The same scenario and seed give the same run: nothing here reads the
wall clock.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable
from typing import Any

from hil.board.pico_boards import adc_inputs
from hil.board.pico_emu import NS
from hil.loop.boardrun import BoardRun, LoopError
from hil.run.observers import Observers
from hil.transport import frames
from hil.transport.client import BoardClient, BoardReset

C = frames.C


class PinLoop(BoardRun):
    """Advance an emulated Pico and a plant together, through the pins.

    Args:
        client: protocol client of the board.
        hello: the board's HELLO (``period_ms``).
        plant: the plant; its tick 0 is now.
        board: a started :class:`~hil.board.pico_boards.PicoEmuBoard`.
        poll_every: periods between two status polls; the status is also
            polled at the first boundary after the board changed an output
            (so the time line has every change of outputs at its period), and
            whenever a step is due.
        flowing_threshold: plant flow (0.1 mL/min) counted as blood flowing.
        observers: the run's bus (``event``, ``boot``, ``status``).
        batch: periods in one command to the emulator at most (1: one
            command per period; the run is the same either way); by
            default :attr:`default_batch`.
    """

    default_batch = 10

    def __init__(self, client: BoardClient, hello: dict[str, Any], plant: Any, board: Any,
                 poll_every: int = 10, flowing_threshold: int = 500,
                 observers: Observers | None = None, batch: int | None = None) -> None:
        self.client = client
        self.hello = hello
        self.plant = plant
        self.board = board
        self.emu = board.emulator
        self.cfg = cfg = board.config
        self.period_ns = int(hello["period_ms"]) * 1_000_000
        self.period_s = hello["period_ms"] / 1000.0
        self.poll_every = max(1, int(poll_every))
        self.batch = max(1, int(self.default_batch if batch is None else batch))
        self._last: dict[str, Any] | None = None   # the reading at the last boundary
        self._hist: list[int] = []     # step pulses counted in each of the last periods
        self.flowing_threshold = flowing_threshold
        pins = cfg["pins"]
        cal = cfg["calibration"]
        self.pins = pins
        self._read = {"pins": [pins["clamp_open"], pins["heparin_enable"]],
                      "pwm": [pins["pump_pwm"]], "log": True}
        num, den = cal["pump_duty_per_flow"]
        self._flow_per_duty = den / num / 10.0          # mL/min per duty_u16
        self._u_per_step = 1.0 / cal["heparin_steps_per_u"]
        self._hz_per_q = 1.0 / cal["flow_per_pulse_rate"]  # pulses/s per 0.1 mL/min
        self._air = (cal["air_active_level"], 1 - cal["air_active_level"])
        self._sent: dict[str, Any] = {}
        self._step_pin = str(pins["heparin_step"])
        self._steps = 0          # step pulses since the last period boundary
        self._pending: dict[str, Any] = {}
        self.sample: tuple[int, ...] = (0, 0, 0, 0, 0)
        # (tick, pump mL/min, clamp open, heparin enabled) at every change
        self.pin_log: list[tuple[int, float, bool, bool]] = []
        # The emulator's own log of the clamp, pump and heparin-enable pins, to
        # the nanosecond: [ns, pin, level (-1 not driven), PWM duty or None];
        # and the inputs the host changed: (ns, name, value).
        self.pin_events: list[list[Any]] = []
        self.input_events: list[tuple[int, str, Any]] = []
        # Heparin step pulses the syringe got (enable high) in each period, by tick.
        self.heparin_steps = array("H")
        self._init_run(observers, None, None, None)
        # The board's status as the run starts (its time still driven at rest).
        reply = client.status()
        self.offset = self.tick - reply.status.tick
        self._take_reply(reply)
        first = self.emu.command(watch=[pins["heparin_step"]], read=self._read,
                                 log=[pins["clamp_open"], pins["pump_pwm"], pins["heparin_enable"]])
        self.pin_events += first.get("log", [])
        self.act = self._actuators(first, 0)
        self._steps = 0
        self.outputs = self._outputs(first)
        self.changed = False
        # Tick k of the run ends at t_start_ns + k periods of the board's time.
        self.t_start_ns = self.emu.t_ns
        self.next_boundary = self.t_start_ns + self.period_ns
        self.power_events: list[tuple[int, bool]] = []   # (ns, on) of every power switch
        board.driver = self

    # -- time -------------------------------------------------------------------

    @property
    def tick(self) -> int:
        return self.plant.tick

    def _status_seen(self) -> None:
        self.observers.status(self.tick, self.status)

    def _advance(self, until_ns: int, stop_output: bool) -> None:
        """Run the board to ``until_ns`` (virtual ns), the plant stepping at
        every period boundary on the way; stop early at the board's first
        byte if ``stop_output``."""
        emu = self.emu
        while emu.t_ns < until_ns and not (stop_output and emu.rx):
            cmd: dict[str, Any] = dict(self._pending)
            self._pending.clear()
            cmd["run"] = min(until_ns, self.next_boundary)
            cmd["read"] = self._read
            if stop_output:
                cmd["stop_bytes"] = 1
            reply = emu.command(**cmd)
            if reply.get("log"):
                self.pin_events += reply["log"]
            # Every reply takes the step pulses counted since the last one:
            # those of a reply that ends inside a period (waiting for the
            # board's answer) belong to that period too.
            self._steps += reply.get("edges", {}).get(self._step_pin, 0)
            while reply["t"] >= self.next_boundary:
                self._boundary(reply)

    def _batch(self, k: int) -> None:
        """Up to ``k`` periods in one command (see the module docstring)."""
        plant, last, pin = self.plant, self._last, self._step_pin
        assert last is not None
        prior = self._steps
        totals = self._predict(k)
        totals[0] = max(totals[0], prior)
        edges = [totals[0] - prior, *totals[1:]]
        enabled = self._enabled(last)
        snap = plant.snapshot()
        tick0 = self.tick
        sent = dict(self._sent)
        samples: list[tuple[int, ...]] = []
        plans: list[dict[str, Any]] = []
        for j in range(k):
            out = array("h")
            plant.advance(self._actuators(last, totals[j] if enabled else 0), 1, out)
            samples.append(tuple(out))
            if j < k - 1:
                plans.append(self._changes(samples[j], sent))
        cmd: dict[str, Any] = dict(self._pending)
        self._pending.clear()
        cmd["periods"] = {"first": self.next_boundary, "every": self.period_ns, "count": k,
                          "sig": last["sig"], "edges": {pin: edges}, "inputs": plans}
        cmd["read"] = self._read
        reply = self.emu.command(**cmd)
        if reply.get("log"):
            self.pin_events += reply["log"]
        readings = reply["periods"]
        ahead = len(readings) == k and all(
            r["sig"] == last["sig"] and r["edges"].get(pin, 0) == edges[j] for j, r in enumerate(readings))
        if not ahead:
            plant.restore(snap)        # and on again with what the board did
        for j, r in enumerate(readings):
            self._steps += r["edges"].get(pin, 0)
            self._boundary(r, (samples[j], tick0 + j) if ahead else None)
            if j < len(readings) - 1:
                # The emulator set these inputs at this boundary already.
                if self._pending != plans[j]:
                    raise LoopError(f"inputs computed ahead {plans[j]} differ from {self._pending}")
                self._pending.clear()

    def _predict(self, k: int) -> list[int]:
        """Step pulses in each of the next ``k`` periods: the pattern of the
        last ones repeated if they have one (the syringe's integer phase
        accumulator gives a periodic one at a steady rate), else none."""
        h = self._hist
        for p in range(1, 65):
            n = max(2 * p, 48)       # long enough that a shorter period is not seen by chance
            if len(h) < n:
                break
            if h[-n + p:] == h[-n:-p]:
                return [h[len(h) - p + j % p] for j in range(k)]
        return [0] * k

    def _boundary(self, reply: dict[str, Any], ahead: tuple[tuple[int, ...], int] | None = None) -> None:
        """A period ends: outputs in, plant one period on, inputs out.
        ``ahead``: the plant's sample and tick at this boundary, when the
        plant has been advanced past it already with these outputs."""
        # The step pulses of the period, counted while the driver is enabled.
        steps, self._steps = self._steps, 0
        self._hist.append(steps)
        if len(self._hist) > 128:
            del self._hist[0]
        self._last = reply
        if not self._enabled(reply):
            steps = 0
        self.heparin_steps.append(min(steps, 65535))
        act = self._actuators(reply, steps)
        self.act = act
        outputs = self._outputs(reply)
        if outputs != self.outputs:
            # The board changed an output: the host looks at its status now.
            self.outputs = outputs
            self.changed = True
            self.pin_log.append((self.tick if ahead is None else ahead[1], *outputs))
        if ahead is None:
            out = array("h")
            self.plant.advance(act, 1, out)
            s = tuple(out)
        else:
            s = ahead[0]
        self.sample = s
        self._inputs(s, reply["t"])
        st = self.status
        if st.state == C.RUNNING and s[3] >= self.flowing_threshold:
            flows = self.stats.flow_ticks_by_cartridge
            flows[st.cartridge] = flows.get(st.cartridge, 0) + 1
        self.stats.ticks += 1
        self.next_boundary += self.period_ns

    def _enabled(self, reply: dict[str, Any]) -> bool:
        """The syringe's driver is enabled (its pin high, the board powered)."""
        if not reply.get("powered", True) or "pins" not in reply:
            return False
        return reply["pins"][str(self.pins["heparin_enable"])]["level"] == 1

    def _actuators(self, reply: dict[str, Any] | None, steps: int) -> Any:
        """The plant's actuators from the pins and the ``steps`` given in the
        period (all off without power)."""
        from host.plant import Actuators

        if reply is None or not reply.get("powered", True) or "pwm" not in reply:
            return Actuators()
        pins, pwm = reply["pins"], reply["pwm"]
        p = self.pins
        pump = pwm[str(p["pump_pwm"])]
        duty_u16 = pump["duty"] * 65535.0
        flow = round(duty_u16 * self._flow_per_duty, 1)
        clamp = pins[str(p["clamp_open"])]
        hep = steps * self._u_per_step / self.period_s * 3600.0
        return Actuators(pump_ml_min=flow, clamp_open=bool(clamp["out"] and clamp["level"]),
                         heparin_u_h=hep, heparin_bolus_u=0.0)

    def _outputs(self, reply: dict[str, Any]) -> tuple[float, bool, bool]:
        """What the board drives at its pins: pump flow (mL/min, from the
        PWM duty), clamp open, heparin enabled (the step pulses themselves
        vary from period to period and are counted, not compared)."""
        if not reply.get("powered", True) or "pwm" not in reply:
            return (0.0, False, False)
        p = self.pins
        pins, pwm = reply["pins"], reply["pwm"]
        pump = round(pwm[str(p["pump_pwm"])]["duty"] * 65535.0 * self._flow_per_duty, 1)
        clamp = pins[str(p["clamp_open"])]
        return (pump, bool(clamp["out"] and clamp["level"]),
                pins[str(p["heparin_enable"])]["level"] == 1)

    def _inputs(self, s: tuple[int, ...], t_ns: int) -> None:
        """The next period's inputs from the plant's sample (only what changed is sent)."""
        changes = self._changes(s, self._sent)
        if "inputs" in changes:
            self.input_events.append((t_ns, "air", s[4] & C.FLAG_AIR))
        self._pending.update(changes)

    def _changes(self, s: tuple[int, ...], sent: dict[str, Any]) -> dict[str, Any]:
        """The inputs for a sample that differ from ``sent`` (which takes them)."""
        p = self.pins
        want = {
            "adc": adc_inputs(self.cfg, (s[0], s[1], s[2])),
            "inputs": {str(p["air_detect"]): self._air[0] if s[4] & C.FLAG_AIR else self._air[1]},
            "pulses": {str(p["flow_pulse"]): max(0, s[3]) * self._hz_per_q},
        }
        changes = {k: v for k, v in want.items() if sent.get(k) != v}
        sent.update(changes)
        return changes

    # -- the driver the board's link and power ask -----------------------------------

    def wait_output(self, budget_ns: int) -> None:
        self._advance(self.emu.t_ns + budget_ns, True)

    def power(self, on: bool) -> None:
        self.emu.power(on)
        self.power_events.append((self.emu.t_ns, on))

    # -- the loop's surface (as ClosedLoop and FreeRunningLoop) ---------------------------

    def run_until(self, end_tick: int, horizon: Callable[[], int] | None = None) -> None:
        """Advance board and plant to ``end_tick`` (or ``horizon()``, asked
        again after every period), polling the board's status on the way."""
        while True:
            target = end_tick if horizon is None else min(end_tick, horizon())
            if self.tick >= target:
                return
            # To the next poll, the target or the batch's end, whichever is first.
            k = min(target, (self.tick // self.poll_every + 1) * self.poll_every,
                    self.tick + self.batch) - self.tick
            if k >= 2 and self._last is not None and "sig" in self._last:
                self._batch(k)
            else:
                self._advance(self.next_boundary, False)
            if self.changed or self.tick % self.poll_every == 0 or self.tick >= target:
                self.changed = False
                self.poll()

    def command(self, code: int, arg: int = 0) -> frames.Reply:
        """An operator command; the board acts on it at the start of its next period."""
        try:
            reply = self.client.command(code, arg)
        except BoardReset as r:
            self._rebooted(r.notice)
            reply = self.client.command(code, arg)
        self._update(reply)
        return reply

    def _update(self, reply: frames.Reply) -> None:
        if reply.status.tick < self.status.tick:
            raise LoopError(f"the board's tick went back from {self.status.tick} to "
                            f"{reply.status.tick} without a restart notice")
        self.stats.frames += 1
        self._take_reply(reply)

    def _rebooted(self, notice: dict[str, Any]) -> None:
        """The board restarted: line its new ticks up with the run's."""
        self.stats.resets += 1
        self.observers.boot(self.tick, notice)
        reply = self.client.status()
        self.offset = self.tick - reply.status.tick
        self._take_reply(reply)

    def add_outage(self, start_tick: int, end_tick: int) -> None:
        """The board reads its own sensors: a link outage takes no samples away."""

    def power_cycle(self, power: Any, off_s: float = 0.0) -> dict[str, Any]:
        """Cut the board's power now (wherever it is), leave it off for
        ``off_s`` virtual seconds (the plant sees no pump, a closed clamp and
        no heparin: the pins are dead), power it on and wait for its boot."""
        from hil.board.providers import power_control

        switch = power_control(power)
        if switch is None:
            raise LoopError("the harness cannot switch this board's power (no power control)")
        switch.off()
        self._advance(self.emu.t_ns + round(off_s * NS), False)
        self.emu.take()            # nothing comes from a board without power
        switch.on()
        notice = self.client.wait_boot()
        self._rebooted(notice)
        return notice


__all__ = ["PinLoop"]
