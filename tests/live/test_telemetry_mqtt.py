"""Telemetry of real runs through a real Mosquitto (and the embedded broker):
the topic tree and its payloads, the last will, operator commands with
their answers, and the broker's ACL keeping viewers from commanding."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from typing import Any

import aiomqtt
import pytest

from hil.live.run import LiveOptions, LiveRun
from hil.run.therapy import TherapyPlan
from hil.telemetry.asyncthread import AsyncThread
from hil.telemetry.brokers import EmbeddedBroker
from hil.telemetry.mqtt import client_for
from hil.telemetry.observer import TelemetryObserver
from hil.transport import frames

C = frames.C
STATUS_KEYS = ("t_s", "state", "blood_flow_ml_min", "flow_set_ml_min", "p_access_mmhg", "p_pre_mmhg",
               "p_return_mmhg", "heparin_u_h", "aptt_s", "cartridge", "cartridge_left_h")


async def _collect(client: aiomqtt.Client, seconds: float, until: Any = None) -> list[tuple[str, Any]]:
    """Messages for ``seconds`` (or until ``until(topic, payload)`` is true)."""
    out: list[tuple[str, Any]] = []

    async def read() -> None:
        async for m in client.messages:
            payload = m.payload.decode() if isinstance(m.payload, (bytes, bytearray)) else m.payload
            try:
                payload = json.loads(payload)
            except ValueError:
                pass
            out.append((str(m.topic), payload))
            if until is not None and until(str(m.topic), payload):
                return

    try:
        await asyncio.wait_for(read(), seconds)
    except asyncio.TimeoutError:
        pass
    return out


def _of(msgs: list[tuple[str, Any]], suffix: str) -> list[Any]:
    return [p for t, p in msgs if t.endswith("/" + suffix)]


def _wait(predicate: Any, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


@pytest.mark.asyncio
async def test_a_run_publishes_its_telemetry_in_physical_units(mosquitto, run_thread) -> None:
    telemetry = TelemetryObserver(mosquitto.url("bench"), "tel-run", info={"run": "test"})
    run = LiveRun(TherapyPlan(hours=48.0), LiveOptions(speed=None), observers=[telemetry])
    async with client_for(mosquitto.url("viewer")) as viewer:
        await viewer.subscribe("hemosorb/tel-run/#", qos=1)
        task = asyncio.ensure_future(
            _collect(viewer, 60.0, lambda t, p: t.endswith("/online") and p == "offline"))
        await asyncio.to_thread(run.open)
        rt = run_thread(run)
        await asyncio.to_thread(rt.wait_state, C.RUNNING)
        # Air in the return line: a high alarm, the safe state; the scripted
        # operator acknowledges and resumes once it has passed.
        run.set_speed(120.0)
        # The new speed takes effect between two chunks (an unpaced chunk
        # is up to 10 virtual minutes); from then on a chunk is one frame.
        await asyncio.to_thread(_wait, lambda: run.speed == 120.0)
        await asyncio.sleep(0.5)
        air_at = run.virtual_s
        run.inject("air", 1.0)
        def cleared() -> bool:
            return any(e["type"] == "alarm_clear" and e["alarm"] == "air_in_line" for e in run.log.events)

        await asyncio.to_thread(_wait, lambda: cleared() and rt.status().state == C.RUNNING)
        await asyncio.to_thread(rt.stop)
        await asyncio.to_thread(telemetry.close)
        msgs = await task
    assert run.error is None
    online = _of(msgs, "online")
    assert online[0] == "online" and online[-1] == "offline"
    info = _of(msgs, "info")[-1]
    assert info["board_id"] == "tel-run" and info["firmware"]["board"] == "virtual"
    assert info["limits"]["p_return_mmhg"] == {"low": 20, "high": 300} and info["run"] == "test"
    assert "aptt" in info["commands"]
    statuses = _of(msgs, "status")
    last = statuses[-1]
    assert all(k in last for k in STATUS_KEYS)
    assert last["t_s"] == pytest.approx(run.virtual_s) and last["state"] == "running"
    assert last["cartridge"] == 1 and 0 < last["cartridge_left_h"] < 24
    assert -250 < last["p_access_mmhg"] < 0 < last["p_return_mmhg"] < last["p_pre_mmhg"]
    assert last["flow_set_ml_min"] == 200.0 and last["heparin_u_h"] > 0 and last["aptt_s"] > 10
    assert [s["t_s"] for s in statuses] == sorted(s["t_s"] for s in statuses)
    events = _of(msgs, "events")
    types = [e["type"] for e in events]
    assert {"state", "primed", "heparin", "aptt_entered", "alarm", "alarm_clear"} <= set(types)
    assert all(isinstance(e["t_s"], float) for e in events)
    heparin = next(e for e in events if e["type"] == "heparin")
    assert heparin["rate_u_h"] == 1260.0 and heparin["bolus_u"] == 0   # loading dose: IV, by the nurse
    alarms = _of(msgs, "alarms")
    air = [a for a in alarms if a["id"] == "air_in_line"]
    assert air[0]["active"] is True and air[0]["priority"] == "high" and air[0]["unit"] == "mL/min"
    assert air_at <= air[0]["t_s"] <= air_at + 30.0 and air[0]["value"] > 100
    assert any(a["active"] is False for a in air)
    # A subscriber who comes later gets the retained state at once.
    async with client_for(mosquitto.url("viewer")) as late:
        await late.subscribe("hemosorb/tel-run/#")
        retained = await _collect(late, 2.0, lambda t, p: t.endswith("/status"))
    assert any(t.endswith("/status") and p["t_s"] == last["t_s"] for t, p in retained)


@pytest.mark.asyncio
async def test_the_last_will_says_offline_when_the_bench_dies(mosquitto) -> None:
    script = ("import sys, time\nfrom hil.telemetry.observer import TelemetryObserver\n"
              "from hil.telemetry.topics import BrokerUrl\n"
              f"t = TelemetryObserver(BrokerUrl.parse({mosquitto.url('bench').url(True)!r}), 'tel-will')\n"
              "t.start(); print('up', flush=True); time.sleep(60)\n")
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "up"
        async with client_for(mosquitto.url("viewer")) as viewer:
            await viewer.subscribe("hemosorb/tel-will/online", qos=1)
            first = await _collect(viewer, 3.0, lambda t, p: p == "online")
            assert first and first[-1][1] == "online"
            proc.kill()
            t0 = time.monotonic()
            after = await _collect(viewer, 5.0, lambda t, p: p == "offline")
            assert after and after[-1][1] == "offline" and time.monotonic() - t0 < 5.0
    finally:
        proc.kill()
        proc.wait()


async def _command(client: aiomqtt.Client, results: aiomqtt.Client, msg: dict[str, Any] | bytes,
                   wait_s: float = 5.0, board: str = "tel-cmd") -> dict[str, Any] | None:
    payload = msg if isinstance(msg, bytes) else json.dumps(msg).encode()
    await client.publish(f"hemosorb/{board}/cmd", payload, qos=1)
    want = msg.get("id") if isinstance(msg, dict) else None
    got = await _collect(results, wait_s, lambda t, p: t.endswith("/cmd/result") and isinstance(p, dict)
                         and (want is None or p.get("id") == want))
    answers = [p for t, p in got if t.endswith("/cmd/result")]
    return answers[-1] if answers else None


@pytest.mark.asyncio
async def test_operators_command_over_mqtt_and_viewers_cannot(mosquitto, run_thread) -> None:
    telemetry = TelemetryObserver(mosquitto.url("bench"), "tel-cmd")
    run = LiveRun(TherapyPlan(hours=48.0), LiveOptions(speed=None), observers=[telemetry])
    await asyncio.to_thread(run.open)
    rt = run_thread(run)
    try:
        await asyncio.to_thread(rt.wait_state, C.RUNNING)
        run.set_speed(5.0)
        async with client_for(mosquitto.url("operator")) as op, client_for(mosquitto.url("viewer")) as vw, \
                client_for(mosquitto.url("viewer")) as watch:
            await watch.subscribe("hemosorb/tel-cmd/cmd/result", qos=1)
            ok = await _command(op, watch, {"id": "op-1", "command": "aptt", "value": 72.5, "user": "t"})
            assert ok is not None and ok["ok"] and ok["result"] == "ok" and ok["command"] == "aptt"
            assert rt.status().last_aptt == 725
            # Again with the same id: the same answer, not carried out twice.
            entered = sum(1 for e in run.log.events if e["type"] == "aptt_entered")
            again = await _command(op, watch, {"id": "op-1", "command": "aptt", "value": 72.5, "user": "t"})
            assert again == ok and sum(1 for e in run.log.events if e["type"] == "aptt_entered") == entered
            far = await _command(op, watch, {"id": "op-2", "command": "aptt", "value": 500})
            assert far is not None and not far["ok"] and far["result"] == "out_of_range"
            assert far["error"] == "board_refused" and rt.status().last_aptt == 725
            bad = await _command(op, watch, {"id": "op-3", "command": "resume"})
            assert bad is not None and bad["result"] == "refused_in_state"
            # Hostile messages: answered, named, never acted on.
            for msg, code in ((b"{oops", "invalid_json"), (b'{"command": "pause"}', "missing_id"),
                              ({"id": "h1", "command": "pause", "value": 3}, "unexpected_value"),
                              ({"id": "h2", "command": "aptt", "value": "70"}, "bad_value"),
                              ({"id": "h3", "command": "self_destruct"}, "unknown_command")):
                ans = await _command(op, watch, msg)
                assert ans is not None and ans["ok"] is False and ans["error"] == code, (msg, ans)
                assert ans["message"]
            assert rt.status().state == C.RUNNING and rt.status().last_aptt == 725
            # A flood is rate-limited.
            for i in range(20):
                ping = json.dumps({"id": f"f{i}", "command": "ping"})
                await op.publish("hemosorb/tel-cmd/cmd", ping, qos=1)
            flood = await _collect(watch, 3.0, lambda t, p: isinstance(p, dict) and p.get("id") == "f19")
            limited = [p for _, p in flood if isinstance(p, dict) and p.get("error") == "rate_limited"]
            assert len(limited) >= 12
            # A viewer's command never reaches the bench (the broker drops it).
            await asyncio.sleep(1.0)
            assert await _command(vw, watch, {"id": "vw-1", "command": "pause"}, wait_s=1.5) is None
            assert rt.status().state == C.RUNNING
            # An operator's pause does.
            paused = await _command(op, watch, {"id": "op-4", "command": "pause"})
            assert paused is not None and paused["ok"] and rt.status().state == C.PAUSED
            notes = [e for e in run.log.events if e.get("type") == "command" and e.get("by") == "mqtt"]
            assert [n["id"] for n in notes] == ["op-1", "op-2", "op-3", "op-4"]
    finally:
        rt.stop()
        telemetry.close()


@pytest.mark.asyncio
async def test_viewers_cannot_publish_telemetry_and_strangers_cannot_log_in(mosquitto) -> None:
    async with client_for(mosquitto.url("viewer")) as vw, client_for(mosquitto.url("operator")) as op:
        await vw.subscribe("hemosorb/spoof/#", qos=1)
        await vw.publish("hemosorb/spoof/status", b'{"state": "running"}', qos=1)
        await op.publish("hemosorb/spoof/alarms", b'{"id": "x"}', qos=1)
        assert await _collect(vw, 1.0) == []
    viewer = mosquitto.url("viewer")
    for url in (viewer.as_user("viewer", "wrong"), viewer.as_user("ghost", "x")):
        with pytest.raises(aiomqtt.MqttError):
            async with client_for(url):
                pass


def test_the_embedded_broker_enforces_the_same_acl(accounts) -> None:
    io = AsyncThread("test-embedded")
    broker = EmbeddedBroker(accounts, io)
    broker.start()

    async def check() -> tuple[list[tuple[str, Any]], bool]:
        async with client_for(broker.url("viewer")) as vw:
            await vw.subscribe("hemosorb/#", qos=1)
            async with client_for(broker.url("operator")) as op:
                await op.publish("hemosorb/emb/cmd", b'{"id": "a", "command": "pause"}', qos=1)
            await vw.publish("hemosorb/emb/cmd", b'{"id": "b", "command": "pause"}', qos=1)
            await vw.publish("hemosorb/emb/status", b"{}", qos=1)
            got = await _collect(vw, 1.0)
        try:
            async with client_for(broker.url("viewer").as_user("viewer", "nope")):
                refused = False
        except aiomqtt.MqttError:
            refused = True
        return got, refused

    try:
        got, refused = io.run(check())
    finally:
        broker.stop()
        io.stop()
    assert got == [("hemosorb/emb/cmd", {"id": "a", "command": "pause"})]
    assert refused


@pytest.mark.asyncio
async def test_a_board_on_its_own_clock_publishes_without_a_plant(mosquitto, run_thread) -> None:
    # The rp2 HAL on the virtual board: it keeps its own time and reads its own sensors.
    telemetry = TelemetryObserver(mosquitto.url("bench"), "tel-free")
    run = LiveRun(TherapyPlan(board="fake-pico", hours=1.0), LiveOptions(), observers=[telemetry])
    try:
        await asyncio.to_thread(run.open)
        assert run.session.free and run.op is None
        with pytest.raises(ValueError):
            run.inject("air", 1.0)
        rt = run_thread(run)
        async with client_for(mosquitto.url("operator")) as op, \
                client_for(mosquitto.url("viewer")) as watch:
            await watch.subscribe("hemosorb/tel-free/#", qos=1)
            ans = await _command(op, watch, {"id": "fp-1", "command": "set_flow", "value": 250},
                                 board="tel-free")
            assert ans is not None and ans["ok"], ans
            assert rt.status().flow_set == 2500
            got = await _collect(watch, 3.0,
                                 lambda t, p: t.endswith("/status") and p["flow_set_ml_min"] == 250)
        status = [p for t, p in got if t.endswith("/status")][-1]
        assert status["sensors"] == "none" and status["p_access_mmhg"] is None
        assert status["blood_flow_ml_min"] == status["pump_ml_min"]
    finally:
        run.stop()
        await asyncio.to_thread(telemetry.close)
