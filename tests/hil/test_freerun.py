"""A board that reads its own sensors and keeps its own time: the real rp2
HAL in the MicroPython unix port against the stand-in machine module of
hil/fakepico (board config fake-pico), driven by the free-running loop.

Nothing here is decided on the wall clock: the board's clock is sped up
in test mode so that the runs are short, every check is on the ticks the
board reports, and the wall clock only bounds how long the host waits for
a reply."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

from hil.transport import frames
from hil.transport.client import BoardClient, BoardError
from hil.loop.freerun import FreeRunError, FreeRunningLoop, plant_requirements, time_scale
from hil.transport.link import SerialLink
from hil.run.runner import RunOptions, run_scenario
from hil.scenario import Anchor, load, loads
from hil.board.virtual import FAKE_PICO_DIR, VirtualBoard

C = frames.C
SEQUENCE = Path("tests/hil/data/bench_operator_sequence.yaml")
# Fast enough for short runs, slow enough for a busy 2-core machine: the
# board catches up by itself if its process is held up, and nothing is
# decided on the wall clock.
SCALE = 100


@pytest.fixture
def fake_pico():
    vb = VirtualBoard("fake-pico")
    vb.start()
    link = SerialLink(vb.port)
    try:
        yield vb, BoardClient(link, timeout_s=10.0)
    finally:
        link.close()
        vb.stop()


def _no_test_mode(tmp_path: Path) -> Path:
    cfg = json.loads(Path("board-configs/fake-pico.json").read_text())
    cfg["name"] = "bench-pico"
    cfg["test_mode"] = False
    path = tmp_path / "bench-pico.json"
    path.write_text(json.dumps(cfg))
    return path


def test_the_virtual_board_runs_an_rp2_config_against_the_stand_in() -> None:
    vb = VirtualBoard("fake-pico")
    assert vb.module_path == [FAKE_PICO_DIR]
    assert VirtualBoard("virtual").module_path == []


def test_fake_pico_says_rp2_in_test_mode_and_refuses_step(fake_pico) -> None:
    _vb, client = fake_pico
    hello = client.hello()
    assert hello["hal"] == "rp2" and hello["test_mode"] is True and hello["board"] == "fake-pico"
    tick = client.status().status.tick
    with pytest.raises(BoardError, match="not served by this board's HAL"):
        client.step(tick + 1, bytes(10))


def test_loop_follows_the_board_clock_through_priming(fake_pico) -> None:
    _vb, client = fake_pico
    seen: list[frames.Event] = []
    statuses: list[int] = []
    loop = FreeRunningLoop(client, client.hello(), speed=SCALE, on_event=seen.append,
                           on_status=lambda t, s: statuses.append(t))
    assert loop.scale == SCALE and loop.plant is None and loop.tick == 0
    assert loop.command(C.CMD_SET_WEIGHT, 700).result == C.OK
    reply = loop.command(C.CMD_PRIME)
    assert reply.result == C.OK

    def primed_at() -> int:
        return next((e.tick for e in loop.events if e.kind == C.EV_PRIMED), 1 << 62)

    # 500 mL at 150 mL/min: 200 s, 2,000 periods of the board's clock.
    loop.run_until(loop.tick + 3000, horizon=primed_at)
    assert loop.status.state == C.READY
    prime_tick = next(e.tick for e in seen if e.kind == C.EV_STATE and e.code == C.PRIMING)
    assert 1900 <= primed_at() - prime_tick <= 2100
    # The ticks are the board's: never back, and the status is the last seen.
    assert statuses == sorted(statuses) and loop.tick == statuses[-1]
    assert [e.tick for e in seen] == sorted(e.tick for e in seen)
    assert loop.stats.frames > 0 and loop.stats.resets == 0


def test_operator_steps_run_on_the_board_clock() -> None:
    sc = load(SEQUENCE)
    r = run_scenario(sc, RunOptions(speed=SCALE))
    assert r.outcome == "pass", r.failure_messages()
    assert r.hello["hal"] == "rp2"
    assert r.options["clock"] == "board" and r.options["time_scale"] == SCALE
    tl = r.timeline
    assert not tl.trace_rows
    steps = {d.step.id: d for d in r.steps}
    assert all(d.result == "ok" for d in steps.values())
    ready = tl.anchor_tick(Anchor("state", "ready"))
    assert ready is not None
    # A step runs at the first tick the board reports at or past its time.
    assert steps["heparin"].tick >= ready + tl.ticks(5)
    assert steps["start"].tick >= ready + tl.ticks(30)
    states = [(e["tick"], e["to"]) for e in tl.events if e["type"] == "state"]
    assert [s for _, s in states] == ["priming", "ready", "running", "paused"]
    assert {s: t for t, s in states}["running"] == steps["start"].tick
    assert r.virtual_s >= sc.duration_s


def test_a_recorded_free_running_run_replays_without_a_board(tmp_path: Path) -> None:
    from hil.run.replay import replay

    from hil.run.replay import read_recording

    r = run_scenario(load(SEQUENCE), RunOptions(speed=SCALE, record_dir=str(tmp_path)))
    assert r.outcome == "pass" and r.recording
    s = replay(Path(r.recording))
    assert s["outcome"] == "pass" and s["frames_checked"] > 0
    # The run set the board's clock at its start and back to real time at its end.
    _header, entries, _footer = read_recording(Path(r.recording))
    cmds = [f.payload for kind, _tick, data in entries if kind == "w"
            for f in frames.FrameParser().feed(base64.b64decode(data)) if f.ftype == frames.P.T_CMD]
    assert cmds[0] == frames.cmd_payload(C.CMD_TIME_SCALE, SCALE)
    assert cmds[-1] == frames.cmd_payload(C.CMD_TIME_SCALE, 1)


def test_a_plant_scenario_is_refused_before_anything_runs() -> None:
    sc = load("scenarios/air_in_return_line.yaml")
    air = next(s for s in sc.steps if s.action == "air")
    r = run_scenario(sc, RunOptions(board="fake-pico"))
    assert r.outcome == "skip"
    first = r.error.splitlines()[0]
    assert first.startswith(f"scenarios/air_in_return_line.yaml:{air.line}: step '{air.id}'")
    assert "needs a plant" in first and "reads its own sensors (rp2 HAL)" in first
    assert "scripted operator" in r.error
    assert r.failure_messages() == [r.error]
    assert all(d.tick is None for d in r.steps) and not r.timeline.events


def test_what_needs_a_plant() -> None:
    text = """\
duration: 10 min
operator:
  scripted: false
steps:
  - {at: 1 s, sensor: {channel: p_return, stuck: 5}}
  - {at: 2 s, disconnect: 5 s}
  - {at: 3 s, power_cut: 5 s}
  - {at: 4 s, link: {drop: 1}}
  - {at: 5 s, hang: 1 s}
  - {at: 6 s, pause: true}
  - {at: 7 s, command: {name: set_weight, arg: 700}}
measure:
  - {name: il6, quantity: IL-6, limits: [0, 1000]}
  - {name: rate, quantity: heparin_rate_u_h, limits: [0, 2000]}
"""
    lines = [line for line, _ in plant_requirements(loads(text, "x.yaml"))]
    assert lines == [5, 6, 7, 13]
    with_operator = loads(text.replace("  scripted: false\n", "  scripted: true\n"), "x.yaml")
    assert plant_requirements(with_operator)[-1][0] == 2


def test_scripted_false_takes_no_other_operator_setting() -> None:
    from hil.scenario import ScenarioError

    with pytest.raises(ScenarioError, match=r"x.yaml:4: operator weight_kg has no effect"):
        loads("duration: 1 min\noperator:\n  scripted: false\n  weight_kg: 80\n", "x.yaml")


def test_speed_is_a_whole_time_scale() -> None:
    assert time_scale(None) == 1 and time_scale(50.0) == 50 and time_scale(1000) == 1000
    for bad in (2.5, 0.5, 1001):
        with pytest.raises(FreeRunError, match="whole multiple of real time"):
            time_scale(bad)


def test_time_scale_is_refused_outside_test_mode(tmp_path: Path) -> None:
    with VirtualBoard(str(_no_test_mode(tmp_path))) as vb:
        link = SerialLink(vb.port)
        try:
            client = BoardClient(link, timeout_s=10.0)
            hello = client.hello()
            assert hello["hal"] == "rp2" and hello["test_mode"] is False
            assert client.command(C.CMD_TIME_SCALE, 50).result == C.E_TEST_ONLY
            with pytest.raises(FreeRunError, match="runs in real time only") as e:
                FreeRunningLoop(client, hello, speed=50)
            assert "test_mode" in str(e.value) and "drop --speed" in str(e.value)
            # In real time it runs.
            loop = FreeRunningLoop(client, hello)
            assert loop.scale == 1
            start = loop.tick
            loop.run_until(start + 2)
            assert loop.tick >= start + 2
        finally:
            link.close()


def test_the_runner_says_the_board_runs_in_real_time_only(tmp_path: Path) -> None:
    r = run_scenario(load(SEQUENCE), RunOptions(board=str(_no_test_mode(tmp_path)), speed=20))
    assert r.outcome == "error"
    assert "runs in real time only" in r.error and "drop --speed" in r.error
    assert all(d.tick is None for d in r.steps)


def test_a_restart_keeps_the_run_ticks_going(fake_pico) -> None:
    vb, client = fake_pico
    boots: list[tuple[int, dict]] = []
    loop = FreeRunningLoop(client, client.hello(), speed=SCALE, on_boot=lambda t, n: boots.append((t, n)))
    loop.run_until(loop.tick + 100)
    before = loop.tick
    vb.power_cut()
    vb.power_on()
    loop.run_until(before + 200)
    assert loop.stats.resets == 1 and len(boots) == 1
    t, notice = boots[0]
    assert t == before and notice["cause"] == C.RESET_POWER_ON
    # The board counts from 0 again; the run's ticks go on from where they were.
    assert loop.status.tick < loop.tick and loop.tick >= before + 200
    # It forgot its time scale with its RAM; the loop set it again.
    assert client.command(C.CMD_TIME_SCALE, SCALE).result == C.OK


def test_pytest_plugin_on_a_board_that_keeps_its_own_time(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.mkdir("scenarios")
    pytester.path.joinpath("scenarios", "needs_plant.yaml").write_text(
        "duration: 1 min\noperator: {scripted: false}\nsteps:\n  - {at: 1 s, air: 0.5 s}\n")
    pytester.makepyfile("""
        from hil.loop.freerun import FreeRunningLoop

        def test_loop(hil_client, hil_loop):
            assert isinstance(hil_loop, FreeRunningLoop) and hil_loop.scale == 100
            hil_loop.run_until(hil_loop.tick + 20)
            assert hil_loop.tick >= 20

        def test_plant(hil_plant):
            pass
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rs",
                                           "--hil-board", "fake-pico", "--hil-speed", "100",
                                           "--hil-out", "records")
    result.assert_outcomes(passed=1, skipped=2)
    result.stdout.fnmatch_lines(["*scenarios/needs_plant.yaml:4: step 'air1' (air 0.5 s) needs a plant*"])

