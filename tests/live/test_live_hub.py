"""The dashboard's hub: what it keeps of the broker's messages for a page."""

from __future__ import annotations

import asyncio
import json

import pytest

from hil.live.hub import Hub
from hil.telemetry.topics import BrokerUrl, Topics


def _hub() -> Hub:
    return Hub(BrokerUrl("127.0.0.1", 1), Topics("b1"))


def _take(hub: Hub, kind: str, data: object) -> None:
    hub.take(f"hemosorb/b1/{kind}", json.dumps(data).encode() if not isinstance(data, str) else data.encode())


def test_the_hub_keeps_what_a_page_needs() -> None:
    hub = _hub()
    q = hub.listen()
    _take(hub, "online", "online")
    _take(hub, "info", {"board_id": "b1"})
    _take(hub, "status", {"t_s": 10.0, "state": "running", "p_access_mmhg": -70.0, "alarms": []})
    _take(hub, "alarms", {"id": "air_in_line", "active": True, "t_s": 11.0, "priority": "high"})
    _take(hub, "events", {"t_s": 12.0, "type": "aptt_entered", "aptt_s": 66.6})
    _take(hub, "cmd", {"id": "x", "command": "pause"})          # commands are not shown
    hub.take("hemosorb/other/status", b"{}")                     # another board's
    hub.take("hemosorb/b1/status", b"not json")
    snap = hub.snapshot()
    assert snap["online"] == "online" and snap["info"] == {"board_id": "b1"}
    assert snap["status"]["state"] == "running" and snap["history"][0]["p_access_mmhg"] == -70.0
    assert [a["id"] for a in snap["alarms"]] == ["air_in_line"]
    assert snap["aptt"] == [{"t_s": 12.0, "aptt_s": 66.6}]
    kinds = []
    while not q.empty():
        kinds.append(q.get_nowait()["kind"])
    assert kinds == ["online", "info", "status", "alarm", "event"]
    # A status from before the raise keeps it; one after it without it drops it.
    _take(hub, "status", {"t_s": 10.5, "alarms": []})
    assert "air_in_line" in hub.alarms
    _take(hub, "status", {"t_s": 11.0, "alarms": ["air_in_line"]})
    assert "air_in_line" in hub.alarms
    _take(hub, "status", {"t_s": 20.0, "alarms": []})
    assert hub.alarms == {}
    _take(hub, "alarms", {"id": "no_flow", "active": True, "t_s": 21.0})
    _take(hub, "alarms", {"id": "no_flow", "active": False, "t_s": 22.0})
    assert hub.alarms == {}
    # A new run on the same board starts the charts again.
    _take(hub, "status", {"t_s": 0.0, "alarms": []})
    assert len(hub.history) == 1


@pytest.mark.asyncio
async def test_a_command_answer_reaches_who_waits_for_it() -> None:
    hub = _hub()
    waiting = asyncio.ensure_future(hub.wait_result("c1", 2.0))
    await asyncio.sleep(0)
    _take(hub, "cmd/result", {"id": "c1", "ok": True})
    assert (await waiting) == {"id": "c1", "ok": True}
    assert await hub.wait_result("c1", 0.1) == {"id": "c1", "ok": True}   # already answered
    assert await hub.wait_result("never", 0.05) is None
    # A page that does not read its stream is dropped, not waited for.
    q = hub.listen()
    for i in range(2100):
        _take(hub, "events", {"t_s": float(i), "type": "x"})
    assert q not in hub.listeners
