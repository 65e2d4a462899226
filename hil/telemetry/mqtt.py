"""The run's MQTT connection (aiomqtt), on the background event loop.

The run's thread only ever calls :meth:`MqttLink.publish`, which queues the
message and returns: the network is the background loop's business. The
connection announces ``online`` (retained) and leaves ``offline`` as its
last will, so a run that dies, or a network that drops, shows as offline;
a run that ends publishes ``offline`` itself before it disconnects. If the
broker goes away, messages wait in a bounded queue (the oldest are dropped
past :data:`MAX_QUEUED`) and the retained ones (``info``, the latest
``status``) are published again on reconnection.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import threading
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiomqtt

try:
    from aiomqtt.exceptions import MqttConnectError
except ImportError:   # pragma: no cover - older aiomqtt
    MqttConnectError = aiomqtt.MqttCodeError  # type: ignore[misc,assignment]

from hil.telemetry.asyncthread import AsyncThread
from hil.telemetry.topics import BrokerUrl, TelemetryError, Topics

log = logging.getLogger("hil.telemetry")

MAX_QUEUED = 20_000


@dataclass(frozen=True)
class Message:
    topic: str
    payload: bytes
    qos: int = 0
    retain: bool = False


def client_for(broker: BrokerUrl, identifier: str | None = None, will: aiomqtt.Will | None = None,
               keepalive: int = 10, timeout: float = 5.0) -> aiomqtt.Client:
    """An aiomqtt client for ``broker`` (MQTT 3.1.1, TLS for mqtts://)."""
    return aiomqtt.Client(broker.host, broker.port, username=broker.username, password=broker.password,
                          identifier=identifier, will=will, keepalive=keepalive, timeout=timeout,
                          protocol=aiomqtt.ProtocolVersion.V311,
                          tls_context=ssl.create_default_context() if broker.tls else None)


class MqttLink:
    """Publishes a board's telemetry and takes its commands.

    Args:
        broker: where to, and as whom.
        topics: the board's topic tree.
        io: the background event loop.
        on_command: called on the loop with each payload received on
            ``cmd``; returns an answer to publish on ``cmd/result`` (or None).
            None: the link does not subscribe to commands.
    """

    def __init__(self, broker: BrokerUrl, topics: Topics, io: AsyncThread,
                 on_command: Callable[[bytes], bytes | None] | None = None) -> None:
        self.broker = broker
        self.topics = topics
        self.io = io
        self.on_command = on_command
        self.identifier = f"hemosorb-{topics.board}-{uuid.uuid4().hex[:8]}"
        self.outbox: deque[Message] = deque()
        self.retained: dict[str, Message] = {}
        self.connected = threading.Event()
        self.error: str | None = None
        self.fatal = False
        self.closing = False
        self.published = 0
        self.dropped = 0
        self._wake: asyncio.Event | None = None
        self._task: Any = None
        self._main_task: asyncio.Task[Any] | None = None
        self._client: aiomqtt.Client | None = None

    # -- the run's side (any thread) ---------------------------------------------

    def start(self, wait_s: float | None = 10.0) -> None:
        """Connect in the background; with ``wait_s``, wait for the first
        connection and raise if the broker refuses or cannot be reached."""
        self._task = self.io.submit(self._main())
        if wait_s is None:
            return
        if not self.connected.wait(wait_s) or self.fatal:
            why = self.error or f"no connection within {wait_s:g} s"
            self.close(1.0)
            raise TelemetryError(f"MQTT broker {self.broker.url()}: {why}")

    def publish(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> None:
        """Queue one message; never blocks."""
        self.io.call(self._enqueue, Message(topic, payload, qos, retain))

    def close(self, timeout: float = 5.0) -> None:
        """Send what is queued (up to ``timeout``), publish ``offline``,
        disconnect."""
        if self._task is None or not self.io.alive:
            return
        try:
            self.io.run(self._close(timeout), timeout + 2.0)
        except Exception as e:   # noqa: BLE001 - closing: say so, go on
            log.warning("telemetry: closing the MQTT link: %s", e)
        self._task = None

    # -- the loop's side -----------------------------------------------------------

    def _enqueue(self, msg: Message) -> None:
        if msg.retain:
            self.retained[msg.topic] = msg
        if len(self.outbox) >= MAX_QUEUED:
            self.outbox.popleft()
            self.dropped += 1
        self.outbox.append(msg)
        if self._wake is not None:
            self._wake.set()

    async def _main(self) -> None:
        self._main_task = asyncio.current_task()
        self._wake = asyncio.Event()
        backoff = 0.5
        online = self.topics.online
        while not self.closing:
            try:
                will = aiomqtt.Will(online, b"offline", qos=1, retain=True)
                async with client_for(self.broker, self.identifier, will) as client:
                    self._client = client
                    await client.publish(online, b"online", qos=1, retain=True)
                    queued = {m.topic for m in self.outbox}
                    for m in list(self.retained.values()):
                        if m.topic not in queued:
                            await client.publish(m.topic, m.payload, m.qos, True)
                    if self.on_command is not None:
                        await client.subscribe(self.topics.cmd, qos=1)
                    self.error = None
                    self.connected.set()
                    backoff = 0.5
                    await self._pump(client)
            except MqttConnectError as e:
                # Refused (bad credentials, not authorised): trying again will not help.
                self.error, self.fatal = f"connection refused: {e}", True
                self.connected.set()
                log.debug("telemetry: MQTT broker %s refused the connection: %s", self.broker.url(), e)
                return
            except aiomqtt.MqttError as e:
                self.error = str(e)
                log.warning("telemetry: MQTT %s: %s (retrying)", self.broker.url(), e)
            except Exception as e:   # noqa: BLE001 - a bug here must not pass in silence
                self.error, self.fatal = f"{type(e).__name__}: {e}", True
                self.connected.set()
                log.exception("telemetry: the MQTT link failed")
                return
            finally:
                self._client = None
                if not self.fatal:
                    self.connected.clear()
            if not self.closing:
                await asyncio.sleep(backoff)
                backoff = min(5.0, backoff * 2)

    async def _pump(self, client: aiomqtt.Client) -> None:
        tasks = [asyncio.ensure_future(self._send(client))]
        if self.on_command is not None:
            tasks.append(asyncio.ensure_future(self._receive(client)))
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for t in done:
                t.result()
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _send(self, client: aiomqtt.Client) -> None:
        wake = self._wake
        assert wake is not None
        while True:
            while self.outbox:
                m = self.outbox[0]
                await client.publish(m.topic, m.payload, m.qos, m.retain)
                if self.outbox and self.outbox[0] is m:
                    self.outbox.popleft()
                self.published += 1
            wake.clear()
            await wake.wait()

    async def _receive(self, client: aiomqtt.Client) -> None:
        assert self.on_command is not None
        async for message in client.messages:
            if str(message.topic) != self.topics.cmd:
                continue
            payload = message.payload
            data = payload if isinstance(payload, (bytes, bytearray)) else str(payload or "").encode()
            try:
                out = self.on_command(bytes(data))
            except Exception:   # noqa: BLE001 - one bad command must not end the link
                log.exception("telemetry: a command could not be handled")
                continue
            if out is not None:
                self._enqueue(Message(self.topics.result, out, 1, False))

    async def _close(self, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.outbox and self._client is not None and loop.time() < deadline:
            await asyncio.sleep(0.01)
        self.closing = True
        client = self._client
        if client is not None:
            try:
                await client.publish(self.topics.online, b"offline", qos=1, retain=True,
                                     timeout=max(0.1, deadline - loop.time()))
            except aiomqtt.MqttError:
                pass
        task = self._main_task
        if task is not None and not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


__all__ = ["MAX_QUEUED", "Message", "MqttLink", "client_for"]
