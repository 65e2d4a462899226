"""The link-fault campaign, short: thirty runs with every kind of fault in
both directions, none unsafe, all recovered; and its detectors, shown to
fire on a fault beyond what the protocol rides through and on unsafe
statuses."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from hil.reliability import linkfault
from hil.reliability.linkfault import KINDS, Fault, Rig

C = linkfault.C


def test_thirty_runs_through_link_faults_are_safe_and_recover(tmp_path: Path) -> None:
    fig = linkfault.run_campaign(runs=30, seed=1, block_size=30, jobs=1, timeout_s=0.2, out=tmp_path)
    assert json.loads((tmp_path / "linkfault.json").read_text())["runs"] == 30
    assert fig["runs"] == 30 and fig["bench_errors"] == 0, fig["errors"]
    assert fig["unsafe_outcomes"] == 0, fig["examples"]
    assert fig["pump_with_high_alarm"] == 0 and fig["state_disagreements"] == 0
    assert fig["recovered"] == 30, fig["examples"]
    # It did what it claims: every kind of fault injected, frame faults in
    # both directions, and the client had to resend.
    inj = fig["faults_injected"]
    for kind in KINDS:
        assert sum(inj[kind].values()) >= 1, (kind, inj)
    frame_dirs = {d for k in ("corrupt", "drop", "delay", "noise") for d in inj[k]}
    assert frame_dirs == {"to_board", "to_host"}
    assert fig["frames_damaged"] >= 30 and fig["resends"] >= 10
    # The host wrote STEP frames ahead of the reply before, through all of it.
    assert fig["frames_sent_ahead"] > 0 and fig["frames_ahead_refused"] > 0
    assert fig["states_at_fault"].get("running", 0) >= 10


def test_the_detectors_fire(tmp_path: Path) -> None:
    rig = Rig(seed=3, timeout_s=0.1)
    try:
        ok = rig.run(0, 0, 3, 0.1, Fault("drop", "to_host", 3), "aptt")
        assert ok.recovered and ok.frames_damaged == 3 and ok.resends == 3
        # Four lost frames in a row are more than three resends can carry:
        # the client gives up, and the run does not count as recovered.
        lost = rig.run(1, 0, 3, 0.1, Fault("drop", "to_board", 4), "status")
        assert not lost.recovered and lost.link_lost and "no valid reply" in lost.link_lost
        # The pump running with a high alarm latched, in any reply.
        r = linkfault.RunResult(2, 0, 0.0, "running", "", "drop", "to_board", "step")
        rig.watch = r
        s = rig.loop.status
        rig.check_safe(dataclasses.replace(s, pump=2000, latched=1 << C.AL_AIR), 5)
        assert r.pump_with_high_alarm and r.unsafe
        # A state event lost on the way: the next one does not follow on.
        rig._on_event(frames_event(C.EV_STATE, C.PAUSED, C.SAFE))
        rig.check_events(dataclasses.replace(s, state=C.RUNNING))
        assert len(r.event_gaps) == 2 and r.disagreement
    finally:
        rig.watch = None
        rig.close()


def frames_event(kind: int, code: int, a: int) -> linkfault.frames.Event:
    return linkfault.frames.Event(tick=1, kind=kind, code=code, a=a, b=0)
