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


async def _follow(url: Any, topic: str, run: Any, command: dict[str, Any] | None = None,
                  operator: Any = None) -> list[tuple[str, Any]]:
    """Everything published under ``topic`` while ``run`` runs (in a thread);
    with ``command``, an operator publishes it on ``cmd`` once the first
    status with blood flowing has arrived."""
    got: list[tuple[str, Any]] = []
    flowing = asyncio.Event()
    async with client_for(url) as sub:
        await sub.subscribe(topic, qos=1)

        async def read() -> None:
            async for m in sub.messages:
                data = m.payload
                p = json.loads(data) if data[:1] == b"{" else data.decode()
                got.append((str(m.topic), p))
                if str(m.topic).endswith("/status") and p["state"] == "running":
                    flowing.set()

        async def send() -> None:
            await flowing.wait()
            async with client_for(operator) as op:
                await op.publish(topic.replace("#", "cmd"), json.dumps(command).encode(), qos=1)

        reader = asyncio.ensure_future(read())
        sender = asyncio.ensure_future(send()) if command else None
        rc = await asyncio.to_thread(run)
        await asyncio.sleep(0.3)
        reader.cancel()
        if sender is not None:
            sender.cancel()
    got.append(("rc", rc))
    return got


def _plant_pressures(status: dict[str, Any]) -> None:
    """The circuit's pressures while blood flows at 200 mL/min, from the
    plant: access below zero, the cartridge's inlet above the return."""
    assert status["sensors"] == "plant"
    assert -250 < status["p_access_mmhg"] < 0 < status["p_return_mmhg"] < status["p_pre_mmhg"] < 450


@pytest.mark.asyncio
async def test_demo_and_scenario_runs_publish(mosquitto, tmp_path: Path, capsys) -> None:
    url = mosquitto.url("bench").url(with_password=True)
    demo = await _follow(mosquitto.url("viewer"), "hemosorb/cli-demo/#", lambda: main(
        ["demo", "--hours", "1", "--quiet", "--out", str(tmp_path / "demo"), "--mqtt", url,
         "--board-id", "cli-demo"]))
    assert demo[-1] == ("rc", 0)
    status = [p for t, p in demo if t.endswith("/status")][-1]
    assert status["t_s"] == 3600.0 and status["cartridge"] == 1
    assert status["cartridge_left_h"] + status["cartridge_used_h"] == pytest.approx(24.0)
    assert status["flow_set_ml_min"] == 200.0
    assert [p for t, p in demo if t.endswith("/online")][-1] == "offline"
    assert {p["type"] for t, p in demo if t.endswith("/events")} >= {"state", "primed", "heparin"}


@pytest.mark.asyncio
async def test_the_demo_publishes_pressures_and_carries_out_commands(mosquitto, tmp_path: Path,
                                                                     capsys) -> None:
    url = mosquitto.url("bench").url(with_password=True)
    cmd = {"id": "demo-1", "command": "aptt", "value": 71.5}
    demo = await _follow(mosquitto.url("viewer"), "hemosorb/cli-demo2/#", lambda: main(
        ["demo", "--hours", "6", "--quiet", "--out", str(tmp_path / "demo"), "--mqtt", url,
         "--board-id", "cli-demo2"]), command=cmd, operator=mosquitto.url("operator"))
    assert demo[-1] == ("rc", 0)
    running = [p for t, p in demo if t.endswith("/status") and p["state"] == "running"]
    assert running
    _plant_pressures(running[-1])
    answers = [p for t, p in demo if t.endswith("/cmd/result")]
    assert len(answers) == 1 and answers[0]["id"] == "demo-1" and answers[0]["ok"], answers
    assert answers[0]["result"] == "ok"


@pytest.mark.asyncio
async def test_a_scenario_run_publishes_pressures_and_carries_out_commands(mosquitto, tmp_path: Path,
                                                                          capsys) -> None:
    url = mosquitto.url("bench").url(with_password=True)
    # Paced (3,600 x real time: two virtual hours in about 2 s) so that the
    # command arrives while the run is still going.
    cmd = {"id": "cli-1", "command": "aptt", "value": 71.5, "user": "t"}
    run = await _follow(mosquitto.url("viewer"), "hemosorb/virtual/#", lambda: main(
        ["run", "air_in_return_line", "--quiet", "--speed", "3600", "--out", str(tmp_path / "run"),
         "--mqtt", url]), command=cmd, operator=mosquitto.url("operator"))
    assert run[-1] == ("rc", 0)
    alarms = [p for t, p in run if t.endswith("/alarms")]
    assert alarms[0]["id"] == "air_in_line" and alarms[0]["active"] and alarms[0]["unit"] == "mL/min"
    info = [p for t, p in run if t.endswith("/info")][-1]
    assert info["run"] == "scenarios" and "aptt" in info["commands"]
    running = [p for t, p in run if t.endswith("/status") and p["state"] == "running"]
    assert running and all(p["p_access_mmhg"] is not None for p in running)
    _plant_pressures(running[-1])
    answers = [p for t, p in run if t.endswith("/cmd/result")]
    assert len(answers) == 1 and answers[0]["id"] == "cli-1", answers
    assert answers[0]["ok"] and answers[0]["result"] == "ok" and 0 < answers[0]["t_s"] <= 7200
    # The board took it: the record's time line has the note and the entry.
    rec = json.loads((tmp_path / "run" / "air_in_return_line.json").read_text())
    note = next(e for e in rec["events"] if e["type"] == "command" and e.get("by") == "mqtt")
    assert note["id"] == "cli-1" and note["result"] == "ok"
    assert any(e["type"] == "aptt_entered" and e["aptt_s"] == 71.5 and e["t_s"] >= note["t_s"]
               for e in rec["events"])


def test_a_wrong_password_or_url_stops_the_run_before_it_starts(mosquitto, tmp_path: Path, capsys) -> None:
    bad = mosquitto.url("bench").as_user("bench", "wrong").url(with_password=True)
    assert main(["demo", "--hours", "1", "--quiet", "--out", str(tmp_path), "--mqtt", bad]) == 2
    assert "Not authorized" in capsys.readouterr().err
    assert main(["demo", "--hours", "1", "--quiet", "--out", str(tmp_path), "--mqtt", "mqtt://"]) == 2
    assert "no host" in capsys.readouterr().err
    assert not (tmp_path / "report.json").exists()
