"""``python -m hil live``: a therapy run live, its telemetry, and the dashboard.

Composed here, in this order:

1. a background event loop (:class:`~hil.telemetry.asyncthread.AsyncThread`)
   for everything on the network;
2. the broker: the one ``--mqtt`` names (Mosquitto, say; the URL's user is
   the bench), or else an embedded one (amqtt) on a free loopback port with
   three users, ``bench``, ``operator`` and ``viewer`` (passwords printed,
   or taken from $HEMOSORB_OPERATOR_PASSWORD and $HEMOSORB_VIEWER_PASSWORD);
3. the run (:class:`~hil.live.run.LiveRun`) with the telemetry publisher
   (:class:`~hil.telemetry.observer.TelemetryObserver`) on its bus;
4. the dashboard: a :class:`~hil.live.hub.Hub` subscribed to the board's
   topics and the web server (:class:`~hil.live.server.Dashboard`) on
   ``--http`` (default 127.0.0.1:8765).

The run goes in the calling thread; when it is over the page stays up (it
shows the end) until Ctrl-C, unless ``--exit`` is given.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from pathlib import Path
from typing import Any

from hil.live.options import LiveConfig, add_arguments
from hil.live.run import LiveOptions, LiveRun
from hil.run.therapy import TherapyPlan
from hil.telemetry.acl import Acl
from hil.telemetry.asyncthread import AsyncThread
from hil.telemetry.brokers import Accounts, EmbeddedBroker
from hil.telemetry.observer import TelemetryObserver
from hil.telemetry.topics import BrokerUrl, TelemetryError


class LiveApp:
    """The live mode's parts (see the module docstring); :meth:`start`
    builds them up to an open run, :meth:`drive` runs it, :meth:`stop`
    takes everything down."""

    def __init__(self, cfg: LiveConfig, accounts: Accounts | None = None,
                 observers: tuple[Any, ...] = ()) -> None:
        self.cfg = cfg
        self.accounts = accounts
        self.observers = observers
        self.io: AsyncThread | None = None
        self.broker: EmbeddedBroker | None = None
        self.bench: BrokerUrl | None = None
        self.acl: Acl | None = None
        self.telemetry: TelemetryObserver | None = None
        self.run: LiveRun | None = None
        self.hub: Any = None
        self.hub_task: Any = None
        self.runner: Any = None
        self.url = ""

    def _broker(self) -> None:
        cfg = self.cfg
        if cfg.mqtt:
            self.bench = BrokerUrl.parse(cfg.mqtt)
            self.acl = Acl.parse(cfg.acl.read_text()) if cfg.acl is not None else None
            return
        assert self.io is not None
        self.accounts = self.accounts or Accounts.default()
        self.broker = EmbeddedBroker(self.accounts, self.io)
        self.broker.start()
        self.bench = self.broker.url("bench")
        self.acl = self.accounts.acl

    def start(self) -> None:
        """Broker, run (open, with its telemetry), hub and web server."""
        cfg = self.cfg
        self.io = AsyncThread("hil-live")
        self._broker()
        assert self.bench is not None
        speed = cfg.options.speed
        self.telemetry = TelemetryObserver(self.bench, cfg.board_id, io=self.io,
                                           status_interval_s=cfg.status_interval_s,
                                           info={"run": "live", "speed": speed})
        self.run = LiveRun(cfg.plan, cfg.options, observers=[self.telemetry, *self.observers])
        self.run.open()
        topics = self.telemetry.start()
        self.io.run(self._serve(topics), 20.0)

    async def _serve(self, topics: Any) -> None:
        import asyncio

        from aiohttp import web

        from hil.live.hub import Hub
        from hil.live.server import Dashboard, Logins

        assert self.bench is not None
        self.hub = Hub(self.bench, topics)
        self.hub_task = asyncio.ensure_future(self.hub.run())
        try:
            await asyncio.wait_for(self.hub.connected.wait(), 10.0)
        except asyncio.TimeoutError:
            raise TelemetryError(f"the dashboard could not subscribe to {topics.all} on "
                                 f"{self.bench.url()} within 10 s") from None
        logins = Logins(self.bench, self.acl, topics.board)
        self.runner = web.AppRunner(Dashboard(self.hub, logins).app(), access_log=None, shutdown_timeout=2.0)
        await self.runner.setup()
        host, port = self.cfg.http
        site = web.TCPSite(self.runner, host, port)
        try:
            await site.start()
        except OSError as e:
            raise TelemetryError(f"--http {host}:{port}: {e.strerror or e}") from None
        addresses = self.runner.addresses     # the real port, if 0 was asked for
        real_port = addresses[0][1] if addresses else port
        self.url = f"http://{host if ':' not in host else f'[{host}]'}:{real_port}/"

    def set_speed(self, speed: float | None) -> None:
        assert self.run is not None and self.telemetry is not None
        self.run.set_speed(speed)
        self.telemetry.set_info(speed=speed)

    def drive(self) -> None:
        """Run the therapy to its end (or :meth:`LiveRun.stop`) in this thread."""
        assert self.run is not None
        self.run.complete()

    def stop(self) -> None:
        """Everything down: the run, the telemetry (offline), the server, the broker."""
        run = self.run
        if run is not None:
            run.stop()
            if not (run.driving and run.finished.wait(15.0)):
                run.close()
        if self.telemetry is not None:
            self.telemetry.close()
        if self.io is not None and self.io.alive:
            if self.runner is not None:
                try:
                    self.io.run(self.runner.cleanup(), 10.0)
                except Exception:   # noqa: BLE001 - stopping anyway
                    pass
            if self.hub_task is not None:
                self.io.call(self.hub_task.cancel)
            if self.broker is not None:
                self.broker.stop()
            self.io.stop()

    def banner(self) -> str:
        cfg, run = self.cfg, self.run
        assert run is not None and self.bench is not None and self.telemetry is not None
        hello = run.session.hello if run.session is not None else {}
        speed = cfg.options.speed
        pace = "as fast as it goes" if speed is None else f"{speed:g} x real time"
        if run.session is not None and run.session.free:
            pace = f"{cfg.options.free_speed or 1:g} x real time (the board keeps its own time; no plant)"
        lines = [f"Live therapy: {cfg.plan.hours:g} h, board {hello.get('board', '?')} "
                 f"({hello.get('hal', '?')} HAL), {pace}",
                 f"Dashboard:  {self.url}",
                 f"MQTT:       {self.bench.url()}  topics {self.telemetry.topics.base}/#"]
        if self.broker is not None and self.accounts is not None:
            lines.append("Embedded broker users (log in on the page to command):")
            for name, (pw, role) in self.accounts.users.items():
                if role != "bench":
                    lines.append(f"  {role:9} user {name!r:12} password {pw!r}")
        elif self.acl is None:
            lines.append("No --acl given: the page cannot tell operators from viewers; the broker decides.")
        return "\n".join(lines)


def _open_browser(url: str) -> None:
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or sys.platform == "darwin":
        import webbrowser

        threading.Thread(target=webbrowser.open, args=(url,), daemon=True).start()


def _stop_on_sigterm() -> None:
    """SIGTERM (a service manager stopping it) ends the live mode as Ctrl-C
    does: the bench says ``offline`` and everything is taken down."""
    import signal

    def _interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    try:
        signal.signal(signal.SIGTERM, _interrupt)
    except ValueError:   # not the main thread: leave it alone
        pass


def main_live(args: argparse.Namespace) -> int:
    """``python -m hil live``."""
    from hil.run.operator import OperatorPlan

    plan = TherapyPlan(hours=args.hours, seed=args.seed, board=args.board, port=args.port,
                       heapsize=args.heapsize,
                       operator=OperatorPlan(weight_kg=args.weight, flow_ml_min=args.flow))
    out = Path("out/live")
    out.mkdir(parents=True, exist_ok=True)
    options = LiveOptions(speed=60.0 if args.speed is None else args.speed, free_speed=args.speed,
                          manual=args.manual, firmware_log=out / "firmware.log")
    cfg = LiveConfig(plan=plan, options=options, http=args.http, mqtt=args.mqtt, board_id=args.board_id,
                     acl=args.acl)
    app = LiveApp(cfg)
    _stop_on_sigterm()
    try:
        app.start()
        print(app.banner(), flush=True)
        if not args.no_browser:
            _open_browser(app.url)
        app.drive()
        run = app.run
        assert run is not None
        print(f"therapy over at t = {run.virtual_s / 3600:.2f} h" + (f": {run.error}" if run.error else ""),
              flush=True)
        if not args.exit:
            print("the dashboard stays up; Ctrl-C to stop", flush=True)
            threading.Event().wait()
        return 2 if run.error else 0
    except TelemetryError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    finally:
        app.stop()


__all__ = ["LiveApp", "LiveConfig", "add_arguments", "main_live"]
