"""The composition root: one run on one board, built in one place.

A :class:`Session` takes a :class:`~hil.board.providers.BoardProvider` and builds,
in order:

1. the board (``provider.start()``): a virtual board, a board on a serial
   port, or a recording; before it starts, the device preset is checked
   against the board config's therapy limits (:func:`check_device_preset`),
   so a mismatch fails before anything runs;
2. the link stack (:class:`LinkStack`)::

       BoardClient -> [RecordingLink] -> FaultyLink -> board.connect()

   so link faults are injected below the client's resend logic, and a
   recording holds exactly what the client saw (a recording's board gets
   no fault layer: the damage is in the recording);
3. the protocol client, and the HELLO check (protocol version); before
   it, on a port of its own (nothing of it is recorded or faulted), the
   board's settings are checked against the run's (:meth:`Session.settle`:
   a mismatch is refused naming both values) and a board on the host's
   clock that is not fresh (tick 0, idle, nothing restored) is brought to
   a known state: stopped if it was delivering therapy, then reset with
   the test-mode command ``test_reset`` (docs/protocol.md);
4. the loop, chosen from the capability the board reports in HELLO:
   ``clock: host`` (the board takes its samples and its time from the
   host) -> :class:`~hil.loop.closed.ClosedLoop` with a plant; ``clock: board``
   (it keeps its own time) -> :class:`~hil.loop.freerun.FreeRunningLoop`. A
   board whose HELLO lacks ``clock`` is judged by ``hal == "sim"``.

The board config (the provider's, or the shipped one the board names in
HELLO) gives the run its :class:`~hil.board.firmware.TherapyLimits`
(``session.limits``, and ``loop.limits`` for the operator).

Everything the run tells the world goes out on one
:class:`~hil.run.observers.Observers` bus. :meth:`Session.drive` steps the loop
in chunks, doing what is due (operator, steps) between them. The demo
(:mod:`hil.run.therapy`), ``hil run`` (:mod:`hil.run.runner`), replay and the
pytest fixtures all build their runs here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from typing import Any

from hil.transport import frames
from hil.board.firmware import (BOARD_CONFIGS, ConfigError, DevicePresetMismatch, TherapyLimits,
                                check_device_preset)
from hil.board.providers import Board, BoardProvider
from hil.transport.client import BoardClient, BoardError, BoardRefused
from hil.transport.faultlink import FaultyLink
from hil.transport.link import Link, LinkError
from hil.run.observers import Observers

P = frames.P
C = frames.C
# States a board may be reset from without being stopped first.
_RESETTABLE = (C.IDLE, C.COMPLETE, C.SAFE)


class RunSetupError(BoardError, ValueError):
    """The run cannot be built as asked: a malformed board config, or a
    device preset that does not fit the board's therapy limits."""


def board_clock(hello: dict[str, Any]) -> str:
    """``host`` if the board takes its samples and time from the host (closed
    loop), ``board`` if it keeps its own time (free run), from HELLO's
    ``clock``; for a board that does not report it, from its HAL."""
    clock = hello.get("clock")
    if clock in ("host", "board"):
        return clock
    return "host" if hello.get("hal") == "sim" else "board"


def patient_params(weight_kg: float, **optional: Any) -> Any:
    """A :class:`host.patient.PatientParams` of that weight, with the
    optional parameters that are not None (``k_pg``, ``cytokine_gain``,
    ``hours_since_onset``, ...)."""
    from host.patient import PatientParams

    known = {f.name for f in fields(PatientParams)}
    kw: dict[str, Any] = {"weight_kg": weight_kg}
    for k, v in optional.items():
        if v is not None:
            if k not in known:
                raise ValueError(f"the patient model has no parameter {k}")
            kw[k] = v
    return PatientParams(**kw)


def make_plant(patient: Any, device: str, seed: int, period_s: float, trace_every_s: float) -> Any:
    """The plant of a closed-loop run on the board's period."""
    from host.patient import DeviceParams
    from host.plant import Plant

    return Plant(patient=patient, device=DeviceParams.preset(device), seed=seed,
                 period_s=period_s, trace_every=max(1, round(trace_every_s / period_s)))


class LinkStack:
    """The host's end of the link (see the module docstring)."""

    def __init__(self, board: Board, recorder: Any | None = None) -> None:
        from hil.output.recording import RecordingLink

        self.board = board
        self.recorder = recorder
        self.bottom: Link = board.connect()
        self.faulty = None if board.replays else FaultyLink(self.bottom)
        inner: Link = self.faulty if self.faulty is not None else self.bottom
        self.top: Link = RecordingLink(inner, recorder) if recorder is not None else inner

    def arm(self, args: dict[str, Any]) -> None:
        """Arm a link fault (a scenario's ``link`` step); a replay has it recorded."""
        if self.faulty is not None:
            self.faulty.arm(args["fault"], args["direction"], args.get("frames", 1),
                            args.get("delay_s", 0.0))

    def reconnect(self) -> None:
        """Close the port and open it again (a scenario's ``disconnect``)."""
        self.bottom = self.board.reconnect(self.bottom)
        if self.faulty is not None:
            self.faulty.reconnect(self.bottom)
            if self.recorder is not None:
                self.recorder.entry("o")

    def injected(self) -> list[dict[str, Any]]:
        return self.faulty.injected if self.faulty is not None else []

    def close(self) -> None:
        if self.board.replays:
            return
        self.bottom.close()


class Session:
    """One run on one board (see the module docstring).

    Args:
        provider: where the board comes from.
        timeout_s: the client's wait for one reply (wall clock).
        recorder: a :class:`~hil.output.recording.Recorder` to record the link.
        observers: the run's notification bus (default: a new one).
        device: the host's device preset (``cytosorb``, ...), checked
            against the board config before the board starts; without it,
            the plant's adsorber is checked when the closed loop is built.
        settings: device settings the board must have, by their HELLO
            ``settings`` key (``{"anticoagulation": "raschke"}``): checked
            before anything runs.
        settle: bring a board on the host's clock to a known state first
            (:meth:`settle`); False leaves it as it is.
    """

    def __init__(self, provider: BoardProvider, *, timeout_s: float = 5.0, recorder: Any | None = None,
                 observers: Observers | None = None, device: str | None = None,
                 settings: dict[str, Any] | None = None, settle: bool = True) -> None:
        self.provider = provider
        self.device = device
        self.settings = dict(settings or {})
        self.settle_first = settle
        self.device_checked = False
        self.limits: TherapyLimits | None = None
        self.timeout_s = timeout_s
        self.recorder = recorder
        self.observers = observers if observers is not None else Observers()
        self.board: Board | None = None
        self.link: LinkStack | None = None
        self.client: BoardClient | None = None
        self.hello: dict[str, Any] = {}
        self.plant: Any = None
        self.loop: Any = None
        self._closed = False

    # -- building ---------------------------------------------------------------

    def board_config(self, hello: dict[str, Any] | None = None) -> str | None:
        """The board config the board runs: the provider's (a virtual board),
        else the shipped config the board names in its HELLO (``hello``, by
        default the session's); None if unknown."""
        config = getattr(self.provider, "config", None)
        if config:
            return str(config)
        name = (self.hello if hello is None else hello).get("board")
        shipped = isinstance(name, str) and name.replace("-", "").isalnum()
        return name if shipped and (BOARD_CONFIGS / f"{name}.json").is_file() else None

    def check_device(self, device: Any) -> None:
        """Check a device preset (a name, or the plant's adsorber) against the
        board config's therapy limits; nothing to check on an unknown board.

        Raises:
            RunSetupError: they do not fit, or the board config is malformed.
        """
        config = self.board_config()
        if config is None:
            return
        try:
            check_device_preset(device, config)
        except (DevicePresetMismatch, ConfigError) as e:
            raise RunSetupError(str(e)) from e
        self.device_checked = True

    def start_board(self) -> Board:
        """Check the device preset, then start (or find) the board; nothing is
        opened yet."""
        if self.board is None:
            if self.device is not None:
                self.check_device(self.device)
            try:
                self.board = self.provider.start()
            except ConfigError as e:
                raise RunSetupError(str(e)) from e
        return self.board

    def _learn_board(self) -> None:
        """After HELLO: the board's limits; the device preset if it could not
        be checked before (a board on a port)."""
        config = self.board_config()
        if config is not None:
            try:
                self.limits = TherapyLimits.of(config)
            except ConfigError as e:
                raise RunSetupError(str(e)) from e
        if self.device is not None and not self.device_checked:
            self.check_device(self.device)

    def open(self) -> dict[str, Any]:
        """Board, link stack, client, HELLO; publish and return the HELLO."""
        board = self.start_board()
        self.link = LinkStack(board, self.recorder)
        if not board.replays and (self.settle_first or self.settings):
            self.settle(self.link.bottom)
        if self.recorder is not None:
            self.recorder.tick = self._tick
        self.client = BoardClient(self.link.top, timeout_s=self.timeout_s)
        hello = self.client.hello()
        if hello.get("protocol", P.VERSION) != P.VERSION:
            raise BoardError(f"the board on {board.port} speaks protocol {hello.get('protocol')}, "
                             f"this harness {P.VERSION}")
        self.hello = hello
        self._learn_board()
        self.observers.hello(hello)
        return hello

    def check_settings(self, hello: dict[str, Any]) -> None:
        """Refuse a board whose settings differ from the run's, naming both.
        A board whose HELLO has no ``settings`` (older firmware) is judged by
        the shipped board config it names, if any.

        Raises:
            RunSetupError: a setting differs.
        """
        if not self.settings:
            return
        have = hello.get("settings")
        if not isinstance(have, dict):
            have = self._shipped_settings(hello)
        port = self.board.port if self.board is not None else "?"
        for key, want in self.settings.items():
            got = have.get(key) if have is not None else None
            if have is not None and got != want:
                raise RunSetupError(f"the run needs {key} {want!r}, the board on {port} "
                                    f"({hello.get('board')}, config {hello.get('config')}) has {got!r}: "
                                    f"configure the board with {key} {want!r} or run a scenario for "
                                    f"{got!r}")

    def _shipped_settings(self, hello: dict[str, Any]) -> dict[str, Any] | None:
        config = self.board_config(hello)
        if config is None:
            return None
        from hil.board.firmware import resolve_board_config

        cfg = resolve_board_config(config)
        return {"anticoagulation": cfg.get("anticoagulation", "cartridge-60-80")}

    def settle(self, link: Link) -> dict[str, Any]:
        """Before the run, on ``link`` (below the recorder and the faults):
        check the settings, then bring a board on the host's clock that is
        not fresh to a known state (stop it if it is delivering therapy,
        then ``test_reset``). Returns its HELLO (the one after a reset).

        Raises:
            RunSetupError: a setting differs, or the board is not fresh and
                not in test mode (it cannot be reset over the link).
            BoardError: the board refused to stop or reset.
        """
        client = BoardClient(link, timeout_s=self.timeout_s)
        client.seq = 0x80    # apart from the run's client's first SEQs
        hello = client.hello()
        self.check_settings(hello)
        boot = hello.get("boot") or {}
        fresh = (hello.get("tick", 0) == 0 and hello.get("state", boot.get("state", 0)) == C.IDLE
                 and not boot.get("restored"))
        if not self.settle_first or board_clock(hello) != "host" or fresh:
            return hello
        port = self.board.port if self.board is not None else "?"
        state = C.STATE_NAMES[hello["state"]] if isinstance(hello.get("state"), int) else "?"
        if not hello.get("test_mode"):
            raise RunSetupError(f"the board on {port} is at tick {hello.get('tick')} in state {state} and "
                                f"is not in test mode, so it cannot be reset over the link: "
                                f"power-cycle it before the run")
        if hello.get("state") not in _RESETTABLE:
            reply = client.command(C.CMD_STOP)
            if reply.result != C.OK:
                raise BoardRefused("stop", reply)
        client.test_reset()
        return client.hello()

    def _tick(self) -> int:
        if self.loop is not None:
            return self.loop.tick
        return self.plant.tick if self.plant is not None else 0

    @property
    def clock(self) -> str:
        """``host`` (closed loop) or ``board`` (free run), from the HELLO."""
        return board_clock(self.hello)

    @property
    def free(self) -> bool:
        """The board keeps its own time: no plant, a free-running loop."""
        return self.clock == "board" and not self.pins

    @property
    def pins(self) -> bool:
        """The board is an emulated Pico (``--board pico-emu``): it keeps its
        own time, but the host holds that time and plays the plant at its
        pins (:mod:`hil.loop.pins`)."""
        return getattr(self.board, "emulator", None) is not None

    @property
    def period_s(self) -> float:
        return self.hello["period_ms"] / 1000.0

    def closed_loop(self, plant: Any, max_batch: int = P.MAX_SAMPLES) -> Any:
        """The closed loop with ``plant``; its adsorber is checked against the
        board's limits unless the session's device preset was."""
        from hil.loop.closed import ClosedLoop

        adsorber = getattr(getattr(plant, "device", None), "adsorber", None)
        if not self.device_checked and adsorber is not None:
            self.check_device(adsorber)
        self.plant = plant
        kw = {"flowing_ml_min": self.limits.flowing_ml_min} if self.limits is not None else {}
        self.loop = ClosedLoop(self.client, plant, max_batch=max_batch, observers=self.observers, **kw)
        self.loop.limits = self.limits
        return self.loop

    def free_loop(self, speed: float | None = None, sleep: bool = True) -> Any:
        from hil.loop.freerun import FreeRunningLoop

        self.loop = FreeRunningLoop(self.client, self.hello, speed=speed, sleep=sleep,
                                    observers=self.observers)
        self.loop.limits = self.limits
        return self.loop

    def pin_loop(self, plant: Any) -> Any:
        """The loop closed through an emulated Pico's pins, with ``plant``."""
        from hil.loop.pins import PinLoop

        self.plant = plant
        self.loop = PinLoop(self.client, self.hello, plant, self.board, observers=self.observers)
        self.loop.limits = getattr(self, "limits", None)
        return self.loop

    def start_loop(self, plant: Callable[[float], Any], max_batch: int = P.MAX_SAMPLES,
                   speed: float | None = None, sleep: bool = True) -> Any:
        """The loop the board's clock calls for: closed, with ``plant(period_s)``,
        or free running at ``speed``."""
        if self.pins:
            return self.pin_loop(plant(self.period_s))
        if self.free:
            return self.free_loop(speed, sleep)
        return self.closed_loop(plant(self.period_s), max_batch)

    # -- running ----------------------------------------------------------------

    def chunk_ticks(self, max_batch: int, paced: bool = False) -> int:
        """Ticks per chunk of :meth:`drive`: about half a second of wall time
        on a free-running board, a frame when paced, else 30 virtual minutes.

        A chunk ends the run of STEP frames sent ahead (the loop sends none
        past it: listeners may talk to the board between chunks), and the
        board waits for the host there: with 10-minute chunks the virtual
        board was busy 96% of a 24 h loop's wall time, with 30-minute ones
        98.5-98.8% (docs/benchmarks.md). At 10,000 times real time 30
        virtual minutes are about 0.2 s of wall time."""
        period = self.period_s
        if self.free:
            return max(1, round(0.5 * self.loop.scale / period))
        return max_batch if paced else max(1, round(1800 / period))

    def drive(self, end: int, chunk: int, due: Callable[[], None], horizon: Callable[[], int],
              pace: Callable[[int], None] | None = None) -> None:
        """Run the loop to tick ``end`` in chunks: do what is ``due`` (it runs
        first, and once more at the end), advance at most ``chunk`` ticks or
        to ``horizon()``, ``pace`` (wall clock), publish ``step``."""
        loop = self.loop
        while True:
            due()
            if loop.tick >= end:
                return
            loop.run_until(min(end, loop.tick + chunk), horizon)
            if pace is not None:
                pace(loop.tick)
            self.observers.step(loop.tick, end)

    def close(self) -> None:
        """Release the port and stop the board (never raises for a port
        that is gone already)."""
        if self._closed:
            return
        self._closed = True
        if self.link is not None:
            try:
                self.link.close()
            except (LinkError, OSError):
                pass   # the port is gone already; nothing left to release
            self.link = None
        if self.board is not None:
            self.board.stop()

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["LinkStack", "RunSetupError", "Session", "board_clock", "make_plant", "patient_params"]
