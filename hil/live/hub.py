"""The dashboard's view of one board: an MQTT subscriber to
``hemosorb/<board_id>/#`` that keeps what a page needs (the latest status
and a history of it for the charts, the active alarms, the events, the
aPTT entries, the command answers) and passes every change on to the
pages that follow it (their live streams).

It knows the board only through the broker, as any other dashboard would:
what the page shows is what was published.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from typing import Any

import aiomqtt

from hil.telemetry.mqtt import client_for
from hil.telemetry.topics import BrokerUrl, Topics

log = logging.getLogger("hil.live")

# The status fields the charts draw (a history point keeps only these).
CHART_FIELDS = ("t_s", "p_access_mmhg", "p_pre_mmhg", "p_return_mmhg", "blood_flow_ml_min",
                "flow_set_ml_min", "heparin_u_h")


class Hub:
    """What the broker said about one board, and the pages listening.

    Args:
        broker: the broker, logged in as a user who may read the board's topics.
        topics: the board's topic tree.
        history: status points kept for the charts.
        events: events kept for the time line.
    """

    def __init__(self, broker: BrokerUrl, topics: Topics, history: int = 1200, events: int = 500) -> None:
        self.broker = broker
        self.topics = topics
        self.info: dict[str, Any] = {}
        self.online: str | None = None
        self.status: dict[str, Any] = {}
        self.history: deque[dict[str, Any]] = deque(maxlen=history)
        self.alarms: dict[str, dict[str, Any]] = {}
        self.events: deque[dict[str, Any]] = deque(maxlen=events)
        self.aptt: deque[dict[str, Any]] = deque(maxlen=200)
        self.results: deque[dict[str, Any]] = deque(maxlen=50)
        self.listeners: set[asyncio.Queue[dict[str, Any]]] = set()
        self.waiters: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self.connected = asyncio.Event()
        self.messages = 0

    # -- the pages -------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """Everything a page opened now needs."""
        return {"board_id": self.topics.board, "info": self.info, "online": self.online,
                "status": self.status, "history": list(self.history),
                "alarms": list(self.alarms.values()), "events": list(self.events),
                "aptt": list(self.aptt), "results": list(self.results)}

    def listen(self) -> "asyncio.Queue[dict[str, Any]]":
        """A queue of what changes from now on (a page's live stream); a
        page that lets it fill up is dropped from :attr:`listeners`."""
        q: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=2000)
        self.listeners.add(q)
        return q

    def leave(self, q: "asyncio.Queue[dict[str, Any]]") -> None:
        self.listeners.discard(q)

    def close_listeners(self) -> None:
        """End every page's live stream (the server is shutting down)."""
        for q in list(self.listeners):
            self.listeners.discard(q)
            if not q.full():
                q.put_nowait({"kind": "bye", "data": None})

    def _tell(self, kind: str, data: Any) -> None:
        msg = {"kind": kind, "data": data}
        for q in list(self.listeners):
            try:
                q.put_nowait(msg)
            except asyncio.QueueFull:
                # A page that cannot keep up is dropped; it reconnects and
                # starts again from a snapshot.
                self.listeners.discard(q)

    async def wait_result(self, cmd_id: str, timeout_s: float) -> dict[str, Any] | None:
        """The answer to command ``cmd_id`` (None: none within the time)."""
        for r in self.results:
            if r.get("id") == cmd_id:
                return r
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.waiters[cmd_id] = fut
        try:
            return await asyncio.wait_for(fut, timeout_s)
        except asyncio.TimeoutError:
            return None
        finally:
            self.waiters.pop(cmd_id, None)

    # -- the broker ---------------------------------------------------------------------

    async def run(self) -> None:
        """Follow the board's topics until cancelled (reconnecting as needed)."""
        backoff = 0.5
        while True:
            try:
                async with client_for(self.broker, identifier=None) as client:
                    await client.subscribe(self.topics.all, qos=1)
                    self.connected.set()
                    backoff = 0.5
                    async for message in client.messages:
                        self.take(str(message.topic), message.payload)
            except aiomqtt.MqttError as e:
                log.warning("dashboard: MQTT %s: %s (retrying)", self.broker.url(), e)
            self.connected.clear()
            await asyncio.sleep(backoff)
            backoff = min(5.0, backoff * 2)

    def take(self, topic: str, payload: Any) -> None:
        """One message from the broker."""
        kind = self.topics.kind(topic)
        if kind is None or kind == "cmd":
            return
        raw = payload if isinstance(payload, (bytes, bytearray)) else str(payload or "").encode()
        self.messages += 1
        if kind == "online":
            self.online = raw.decode(errors="replace")
            self._tell("online", self.online)
            return
        try:
            data = json.loads(raw)
        except ValueError:
            log.warning("dashboard: %s: not JSON", topic)
            return
        if not isinstance(data, dict):
            return
        getattr(self, "_take_" + kind.replace("/", "_"))(data)

    def _take_info(self, data: dict[str, Any]) -> None:
        self.info = data
        self._tell("info", data)

    def _take_status(self, data: dict[str, Any]) -> None:
        if self.status and data.get("t_s", 0) < self.status.get("t_s", 0):
            # A new run on the same board: start the charts again.
            self.history.clear()
        self.status = data
        self.history.append({k: data.get(k) for k in CHART_FIELDS})
        # An alarm the board no longer has (its clear was missed, or the
        # board restarted): a status at or after its raise without it.
        present = set(data.get("alarms") or ())
        t = data.get("t_s", 0)
        for name, a in list(self.alarms.items()):
            if name not in present and a.get("t_s", 0) <= t:
                del self.alarms[name]
        self._tell("status", data)

    def _take_alarms(self, data: dict[str, Any]) -> None:
        name = str(data.get("id"))
        if data.get("active"):
            self.alarms[name] = data
        else:
            self.alarms.pop(name, None)
        self._tell("alarm", data)

    def _take_events(self, data: dict[str, Any]) -> None:
        self.events.append(data)
        if data.get("type") == "aptt_entered":
            entry = {"t_s": data.get("t_s"), "aptt_s": data.get("aptt_s")}
            self.aptt.append(entry)
        self._tell("event", data)

    def _take_cmd_result(self, data: dict[str, Any]) -> None:
        self.results.append(data)
        fut = self.waiters.get(str(data.get("id")))
        if fut is not None and not fut.done():
            fut.set_result(data)
        self._tell("result", data)


__all__ = ["CHART_FIELDS", "Hub"]
