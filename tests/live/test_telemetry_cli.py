"""``hil demo --mqtt`` and ``hil run --mqtt``: any run publishes its telemetry;
a wrong URL or password stops it before it starts, saying why."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from hil.cli import main
from hil.telemetry.mqtt import client_for


async def _follow(url: Any, topic: str, run: Any) -> list[tuple[str, Any]]:
    got: list[tuple[str, Any]] = []
    async with client_for(url) as sub:
        await sub.subscribe(topic, qos=1)

        async def read() -> None:
            async for m in sub.messages:
                data = m.payload
                got.append((str(m.topic), json.loads(data) if data[:1] == b"{" else data.decode()))

        reader = asyncio.ensure_future(read())
        rc = await asyncio.to_thread(run)
        await asyncio.sleep(0.3)
        reader.cancel()
    got.append(("rc", rc))
    return got


@pytest.mark.asyncio
async def test_demo_and_scenario_runs_publish(mosquitto, tmp_path: Path, capsys) -> None:
    url = mosquitto.url("bench").url(with_password=True)
    demo = await _follow(mosquitto.url("viewer"), "hemosorb/cli-demo/#", lambda: main(
        ["demo", "--hours", "1", "--quiet", "--out", str(tmp_path / "demo"), "--mqtt", url,
         "--board-id", "cli-demo"]))
    assert demo[-1] == ("rc", 0)
    status = [p for t, p in demo if t.endswith("/status")][-1]
    assert status["t_s"] == 3600.0 and status["cartridge_left_h"] == 24.0
    assert status["flow_set_ml_min"] == 200.0
    assert [p for t, p in demo if t.endswith("/online")][-1] == "offline"
    assert {p["type"] for t, p in demo if t.endswith("/events")} >= {"state", "primed", "heparin"}
    run = await _follow(mosquitto.url("viewer"), "hemosorb/virtual/#", lambda: main(
        ["run", "air_in_return_line", "--quiet", "--out", str(tmp_path / "run"), "--mqtt", url]))
    assert run[-1] == ("rc", 0)
    alarms = [p for t, p in run if t.endswith("/alarms")]
    assert alarms[0]["id"] == "air_in_line" and alarms[0]["active"] and alarms[0]["unit"] == "mL/min"
    info = [p for t, p in run if t.endswith("/info")][-1]
    assert info["run"] == "scenarios" and info["commands"] == []


def test_a_wrong_password_or_url_stops_the_run_before_it_starts(mosquitto, tmp_path: Path, capsys) -> None:
    bad = mosquitto.url("bench").as_user("bench", "wrong").url(with_password=True)
    assert main(["demo", "--hours", "1", "--quiet", "--out", str(tmp_path), "--mqtt", bad]) == 2
    assert "Not authorized" in capsys.readouterr().err
    assert main(["demo", "--hours", "1", "--quiet", "--out", str(tmp_path), "--mqtt", "mqtt://"]) == 2
    assert "no host" in capsys.readouterr().err
    assert not (tmp_path / "report.json").exists()
